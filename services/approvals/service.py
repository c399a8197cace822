"""The approvals service (网上审批 + 电子监察): the item catalogue, the window-system contract (applications and
the window actions on them, each with its `at`), the statutory clock, and the electronic monitor (warnings,
yellow and red cards, irregularities) with its alerts.

Entrypoints only: each parses, authorises, calls one use case of handlers.py and shapes the answer."""

from __future__ import annotations

from marshmallow import ValidationError

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.errors import BadRequest
from services.kernel.http import api, json_response

# the monitor and supervision are mixin modules, so that `nameko run` finds only our class
from . import (
    console_commands,
    enforcement,
    handlers,
    monitor,
    naming,
    penalties,
    projects,
    public,
    reform,
    reviews,
    store,
    supervision,
    windows,
)
from .dependencies import ApprovalSettings
from .rectification import endpoints as rectification  # a module, so that `nameko run` finds only our class
from .schemas import (
    ACTION_REF,
    AckIn,
    ActionIn,
    AlertOut,
    AlertPage,
    AlertsQuery,
    ApplicationDetailOut,
    ApplicationIn,
    ApplicationOut,
    ApplicationPage,
    ApplicationsQuery,
    ApplicationSubmittedOut,
    DecideIn,
    EndIn,
    ExtendIn,
    ItemIn,
    ItemOut,
    RefuseIn,
    ResolveIn,
    SpecialProcedureIn,
    SupplementIn,
)
from .views import present

WINDOW = ("window_system", "department_handler")
READERS = ("window_system", "department_handler", "monitor", "operator")
MONITOR = ("monitor",)
CATALOGUE_EDITORS = ("operator",)
CONFLICT = {409: "not allowed in the application's current state (reason in English and Chinese); an "
                 "irregular attempt is stored as an alert all the same; or the action_ref / Idempotency-Key was "
                 "used before for another request"}
# The window system's reference of an action may come as this header instead of the body's `action_ref`.
IDEMPOTENCY_KEY = "Idempotency-Key"
# appended to every window action's summary
RETRY = "; retry-safe with `action_ref` or the Idempotency-Key header (same reference, same content: the first answer)"
# declared on every window action (the OpenAPI document's header parameter)
RETRY_HEADERS = {IDEMPOTENCY_KEY: {
    "description": "the window system's own reference of this action (1-128 printable ASCII characters, no spaces), "
                   "instead of the body's `action_ref` (both given: equal). The same reference with the same content "
                   "answers the first successful result again and records nothing; with other content: 409. Kept "
                   "ACTION_REFS.KEEP_DAYS days (default 7).",
    "required": False, "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[\\x21-\\x7e]+$"}}}


class ApprovalsService(base.ServiceBase, monitor.MonitorTimer, supervision.SupervisionEndpoints,
                       projects.ProjectEndpoints, rectification.RectificationEndpoints,
                       console_commands.ConsoleCommands, public.PublicEndpoints, reviews.ReviewEndpoints,
                       windows.WindowEndpoints, naming.NamingEndpoints, enforcement.InspectionEndpoints,
                       penalties.PenaltyEndpoints, reform.ReformEndpoints):
    """网上审批与电子监察 — online approval watched by the electronic monitor."""

    name = "approvals"
    # the open records waiting for a calendar year: /health and calendar.waiting say how many
    platform = base.Platform(store.metadata, calendar_waiting=store.calendar_waiting)
    settings = ApprovalSettings()

    # -- the catalogue ------------------------------------------------------------------------------

    @api("GET", "/api/v1/items", roles=(), response=ItemOut, many=True,
         summary="the catalogue of approval items (审批事项)", tags=("catalogue",))
    def list_items(self, call):
        with self.platform.session() as s:
            items = store.list_items(s)
        return [{**i, "department_name": self.settings.departments.name(i["department"])} for i in items]

    @api("PUT", "/api/v1/items", roles=CATALOGUE_EDITORS, body=ItemIn, response=ItemOut,
         summary="add or change an approval item (by code); a change of its name, department, kind, limits or "
                 "joint flag is kept in its history with `document` and `effective_on` (default today)",
         tags=("catalogue",), responses={409: "the item is retired or merged, or effective_on is before its last "
                                              "recorded change"})
    def put_item(self, call):
        item = handlers.put_item(self.platform, self.settings, call.body, clock.now(), call.principal.name)
        return {**item, "department_name": self.settings.departments.name(item["department"])}

    # -- applications -------------------------------------------------------------------------------

    @api("POST", "/api/v1/applications", roles=("window_system",), body=ApplicationIn,
         response=ApplicationSubmittedOut,
         status=201, summary="an application received at a window (idempotent by external_ref)",
         tags=("applications",), responses={200: "this external_ref was submitted before: the existing application",
                                            409: "the time of submission is in the future (recorded as an "
                                                 "irregularity all the same)"})
    def submit_application(self, call):
        now = clock.now()
        created, app = handlers.receive_application(self.platform, self.settings, call.body, call.actor, now)
        names = windows.usecases.names_of(self.settings)  # warmed by the submission
        return (201 if created else 200), {**present(app.row, app, now, self.settings.departments, names),
                                           "query_code": app.row.get("query_code")}

    @api("GET", "/api/v1/applications", roles=READERS, query=ApplicationsQuery, response=ApplicationPage,
         summary="applications, green channel first then newest (department handlers: their own only)",
         tags=("applications",))
    def list_applications(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        return call.page(*handlers.list_applications(self.platform, self.settings, query, clock.now()))

    @api("GET", "/api/v1/applications/<int:application_id>", roles=READERS, response=ApplicationDetailOut,
         summary="one application: state, clock and history", tags=("applications",))
    def get_application(self, call, application_id):
        return handlers.application_detail(self.platform, self.settings, application_id, clock.now(),
                                           scope=call.department_scope)

    # -- window actions -----------------------------------------------------------------------------

    def _act(self, call, application_id: int, action: str):
        """A window action: `handlers.run_action` at the body's `at`, answered with the application's view; under
        the window system's reference (`action_ref` or `Idempotency-Key`), a retry is answered as the first."""
        now = clock.now()
        data = call.body or {}
        ref = action_ref(call, data)
        result = handlers.run_action(
            self.platform, self.settings, application_id, action, data, call.actor, now,
            scope=call.department_scope, ref=None if ref is None else handlers.ActionRef.of(ref, application_id,
                                                                                            action, data),
            shape=lambda app: APPLICATION_OUT.dump(present(app.row, app, now, self.settings.departments,
                                                           windows.usecases.names_of(self.settings))))
        if isinstance(result, handlers.Replay):
            return json_response(result.status, result.body, call.request_id)
        return json_response(200, result.answer, call.request_id)

    @api("POST", "/api/v1/applications/<int:application_id>/accept", roles=WINDOW, body=ActionIn,
         response=ApplicationOut, summary="accept (受理): the clock starts the working day after" + RETRY,
         tags=("window actions",), responses=CONFLICT, headers=RETRY_HEADERS)
    def accept(self, call, application_id):
        return self._act(call, application_id, "accept")

    @api("POST", "/api/v1/applications/<int:application_id>/refuse", roles=WINDOW, body=RefuseIn,
         response=ApplicationOut, summary="refuse (不予受理), with the reason" + RETRY, tags=("window actions",),
         responses=CONFLICT, headers=RETRY_HEADERS)
    def refuse(self, call, application_id):
        return self._act(call, application_id, "refuse")

    @api("POST", "/api/v1/applications/<int:application_id>/request-supplement", roles=WINDOW, body=SupplementIn,
         response=ApplicationOut, summary="the one-time notice of every missing material (一次告知)" + RETRY,
         tags=("window actions",), responses=CONFLICT, headers=RETRY_HEADERS)
    def request_supplement(self, call, application_id):
        return self._act(call, application_id, "request_supplement")

    @api("POST", "/api/v1/applications/<int:application_id>/supplement-received", roles=WINDOW, body=ActionIn,
         response=ApplicationOut, summary="the requested materials arrived" + RETRY, tags=("window actions",),
         responses=CONFLICT, headers=RETRY_HEADERS)
    def supplement_received(self, call, application_id):
        return self._act(call, application_id, "supplement_received")

    @api("POST", "/api/v1/applications/<int:application_id>/special-procedure/start", roles=WINDOW,
         body=SpecialProcedureIn, response=ApplicationOut,
         summary="a special procedure starts (特别程序): the clock stops" + RETRY, tags=("window actions",),
         responses=CONFLICT, headers=RETRY_HEADERS)
    def start_special_procedure(self, call, application_id):
        return self._act(call, application_id, "start_special_procedure")

    @api("POST", "/api/v1/applications/<int:application_id>/special-procedure/end", roles=WINDOW, body=ActionIn,
         response=ApplicationOut, summary="the special procedure ends: the clock runs again" + RETRY,
         tags=("window actions",), responses=CONFLICT, headers=RETRY_HEADERS)
    def end_special_procedure(self, call, application_id):
        return self._act(call, application_id, "end_special_procedure")

    @api("POST", "/api/v1/applications/<int:application_id>/extend", roles=WINDOW, body=ExtendIn,
         response=ApplicationOut, summary="extend the limit once, before the due time (延期)" + RETRY,
         tags=("window actions",), responses=CONFLICT, headers=RETRY_HEADERS)
    def extend(self, call, application_id):
        return self._act(call, application_id, "extend")

    @api("POST", "/api/v1/applications/<int:application_id>/decide", roles=WINDOW, body=DecideIn,
         response=ApplicationOut, summary="approve or deny (准予 / 不予许可)" + RETRY, tags=("window actions",),
         responses=CONFLICT, headers=RETRY_HEADERS)
    def decide(self, call, application_id):
        return self._act(call, application_id, "decide")

    @api("POST", "/api/v1/applications/<int:application_id>/deliver", roles=WINDOW, body=ActionIn,
         response=ApplicationOut, summary="the decision was delivered (送达)" + RETRY, tags=("window actions",),
         responses=CONFLICT, headers=RETRY_HEADERS)
    def deliver(self, call, application_id):
        return self._act(call, application_id, "deliver")

    @api("POST", "/api/v1/applications/<int:application_id>/withdraw", roles=WINDOW, body=EndIn,
         response=ApplicationOut, summary="the applicant withdraws the application (撤回): the clock stops, alarms are "
                                          "are cancelled, open alerts resolved by the system" + RETRY,
         tags=("window actions",), responses=CONFLICT, headers=RETRY_HEADERS)
    def withdraw(self, call, application_id):
        return self._act(call, application_id, "withdraw")

    @api("POST", "/api/v1/applications/<int:application_id>/terminate", roles=WINDOW, body=EndIn,
         response=ApplicationOut,
         summary="the law ends the case (终止, e.g. the applicant died, the matter lapsed): the clock stops, alarms "
                 "are cancelled, open alerts resolved by the system" + RETRY,
         tags=("window actions",), responses=CONFLICT, headers=RETRY_HEADERS)
    def terminate(self, call, application_id):
        return self._act(call, application_id, "terminate")

    # -- alerts -------------------------------------------------------------------------------------

    @api("GET", "/api/v1/alerts", roles=("monitor", "department_handler"), query=AlertsQuery, response=AlertPage,
         summary="the monitor's alerts, newest first (department handlers: their own only)", tags=("monitor",))
    def list_alerts(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            return call.page(*store.list_alerts(s, **query))

    @api("POST", "/api/v1/alerts/<int:alert_id>/acknowledge", roles=MONITOR, body=AckIn, response=AlertOut,
         summary="acknowledge an open alert", tags=("monitor",), responses=CONFLICT)
    def acknowledge_alert(self, call, alert_id):
        with self.platform.unit_of_work() as uow:
            return handlers.act_on_alert(uow, self.settings, alert_id, "acknowledge", call.principal.name,
                                         call.body["note"], clock.now())

    @api("POST", "/api/v1/alerts/<int:alert_id>/resolve", roles=MONITOR, body=ResolveIn, response=AlertOut,
         summary="resolve an alert: who, and what was corrected (纠错)", tags=("monitor",), responses=CONFLICT)
    def resolve_alert(self, call, alert_id):
        with self.platform.unit_of_work() as uow:
            return handlers.act_on_alert(uow, self.settings, alert_id, "resolve", call.principal.name,
                                         call.body["note"], clock.now())


APPLICATION_OUT = ApplicationOut()


def action_ref(call, data: dict) -> str | None:
    """The window system's reference of an action: the `Idempotency-Key` header or the body's `action_ref`
    (either; both: equal), else None."""
    header = call.request.headers.get(IDEMPOTENCY_KEY)
    field = data.get("action_ref")
    if header is not None:
        try:
            ACTION_REF(header)
        except ValidationError:
            raise BadRequest({IDEMPOTENCY_KEY: ["1 to 128 printable ASCII characters, no spaces"]}) from None
        if field is not None and field != header:
            raise BadRequest({"action_ref": [f"differs from the {IDEMPOTENCY_KEY} header; send one, or both equal"]})
    return field if field is not None else header
