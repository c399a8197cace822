"""The approvals service (网上审批 + 电子监察): the item catalogue, the window-system contract (applications and
the window actions on them, each with its `at`), the statutory clock, and the electronic monitor (warnings,
yellow and red cards, irregularities) with its alerts."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.domain import Actor
from services.kernel.http import api

# the monitor and supervision are mixin modules, so that `nameko run` finds only our class
from . import console_commands, handlers, monitor, projects, store, supervision
from .dependencies import ApprovalSettings
from .domain import Application, IllegalTransition, Irregularity
from .schemas import (
    AckIn,
    AlertOut,
    AlertPage,
    AlertsQuery,
    ApplicationDetailOut,
    ApplicationIn,
    ApplicationOut,
    ApplicationPage,
    ApplicationsQuery,
    At,
    DecideIn,
    ExtendIn,
    ItemIn,
    ItemOut,
    RefuseIn,
    ResolveIn,
    SpecialProcedureIn,
    SupplementIn,
)
from .views import present, visible

WINDOW = ("window_system", "department_handler")
READERS = ("window_system", "department_handler", "monitor", "operator")
MONITOR = ("monitor",)
CATALOGUE_EDITORS = ("operator",)
CONFLICT = {409: "not allowed in the application's current state (reason in English and Chinese); an "
                 "irregular attempt is stored as an alert all the same"}


class ApprovalsService(base.ServiceBase, monitor.MonitorTimer, supervision.SupervisionEndpoints,
                       projects.ProjectEndpoints, console_commands.ConsoleCommands):
    """网上审批与电子监察 — online approval watched by the electronic monitor."""

    name = "approvals"
    platform = base.Platform(store.metadata)
    settings = ApprovalSettings()

    # -- the catalogue ------------------------------------------------------------------------------

    @api("GET", "/api/v1/items", roles=(), response=ItemOut, many=True,
         summary="the catalogue of approval items (审批事项)", tags=("catalogue",))
    def list_items(self, call):
        with self.platform.session() as s:
            return store.list_items(s)

    @api("PUT", "/api/v1/items", roles=CATALOGUE_EDITORS, body=ItemIn, response=ItemOut,
         summary="add or change an approval item (by code)", tags=("catalogue",))
    def put_item(self, call):
        with self.platform.unit_of_work() as uow:
            out = store.upsert_item(uow.session, call.body, clock.now())
        self.settings.items.forget()
        return out

    # -- applications -------------------------------------------------------------------------------

    def _item(self, session, code: str):
        return self.settings.items.get(session, code)

    def _app(self, session, row: dict, now, items: dict | None = None) -> Application:
        return handlers.load_application(self.settings, session, row, now, items)

    @api("POST", "/api/v1/applications", roles=("window_system",), body=ApplicationIn, response=ApplicationOut,
         status=201, summary="an application received at a window (idempotent by external_ref)",
         tags=("applications",), responses={200: "this external_ref was submitted before: the existing application",
                                            409: "the time of submission is in the future (recorded as an "
                                                 "irregularity all the same)"})
    def submit_application(self, call):
        data = call.body
        now = clock.now()
        try:
            with self.platform.unit_of_work() as uow:
                return self._submit_in(uow, call, data, now)
        except IllegalTransition as exc:
            self._alert_refused_submission(data, exc, now)
            raise
        except IntegrityError:
            # the same external_ref submitted at the same moment by a retry: the other one won
            with self.platform.session() as s:
                existing = store.find_by_ref(s, data["external_ref"])
                if existing is None:
                    raise
                return 200, present(existing, self._app(s, existing, now), now)

    def _submit_in(self, uow, call, data, now):
        # kept for the key-projects mixin until it calls handlers.submit itself (issue 12)
        created, app = handlers.submit(uow, self.settings, data, call.actor, now)
        return (201 if created else 200), present(app.row, app, now)

    def _alert_refused_submission(self, data: dict, exc: IllegalTransition, now) -> None:
        with self.platform.unit_of_work() as uow:
            handlers.alert_refused_submission(uow, self.settings, data, exc, now)

    @api("GET", "/api/v1/applications", roles=READERS, query=ApplicationsQuery, response=ApplicationPage,
         summary="applications, green channel first then newest (department handlers: their own only)",
         tags=("applications",))
    def list_applications(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        page, per_page, light = query.pop("page"), query.pop("per_page"), query.pop("light")
        now = clock.now()
        items: dict = {}
        with self.platform.session() as s:
            if light is None:
                rows, total = store.list_applications(s, **query, page=page, per_page=per_page)
                out = [present(r, self._app(s, r, now, items), now) for r in rows]
            else:
                # the light is computed, not stored: filtered here (first cut; an index comes with the benchmark)
                views = [present(r, self._app(s, r, now, items), now) for r in store.all_matching(s, **query)]
                views = [v for v in views if v["clock"] is not None and v["clock"]["light"] == light]
                total = len(views)
                out = views[(page - 1) * per_page: page * per_page]
        return call.page(out, total)

    @api("GET", "/api/v1/applications/<int:application_id>", roles=READERS, response=ApplicationDetailOut,
         summary="one application: state, clock and history", tags=("applications",))
    def get_application(self, call, application_id):
        now = clock.now()
        with self.platform.session() as s:
            row = self._visible(call, s, application_id)
            out = present(row, self._app(s, row, now), now)
            out["history"] = store.history_of(s, application_id)
        return out

    def _visible(self, call, session, application_id, lock=False):
        return visible(call, session, application_id, lock)

    # -- window actions -----------------------------------------------------------------------------

    def _command(self, call, application_id, run):
        """Load the application (locked), run a domain command at the body's `at`, write its outcome in one
        unit of work. A refusal (409) that revealed irregularities stores and publishes them in a unit of
        work of their own, since the refused action's own rolled back."""
        now = clock.now()
        at = (call.body or {}).get("at") or now
        actor = call.actor
        try:
            with self.platform.unit_of_work() as uow:
                row = self._visible(call, uow.session, application_id, lock=True)
                app = self._app(uow.session, row, now)
                outcome = run(app, at, actor)
                app = self.apply(uow, app, outcome, actor, at, now)
                return present(app.row, app, now)
        except IllegalTransition as exc:
            if exc.irregularities:
                with self.platform.unit_of_work() as uow:
                    row = store.get(uow.session, application_id)
                    app = self._app(uow.session, row, now)
                    for irregularity in exc.irregularities:
                        self.alert_irregularity(uow, app, irregularity, now, refused=True)
            raise

    def apply(self, uow, app: Application, outcome, actor: Actor, at, now) -> Application:
        return handlers.apply(uow, app, outcome, actor, at, now)

    def alert_irregularity(self, uow, app: Application, irregularity: Irregularity, now, *, refused: bool) -> None:
        handlers.alert_irregularity(uow, app, irregularity, now, refused=refused)

    @api("POST", "/api/v1/applications/<int:application_id>/accept", roles=WINDOW, body=At,
         response=ApplicationOut, summary="accept (受理): the clock starts the working day after",
         tags=("window actions",), responses=CONFLICT)
    def accept(self, call, application_id):
        return self._command(call, application_id, lambda app, at, a: app.accept(at, a))

    @api("POST", "/api/v1/applications/<int:application_id>/refuse", roles=WINDOW, body=RefuseIn,
         response=ApplicationOut, summary="refuse (不予受理), with the reason", tags=("window actions",),
         responses=CONFLICT)
    def refuse(self, call, application_id):
        return self._command(call, application_id, lambda app, at, a: app.refuse(call.body["reason"], at, a))

    @api("POST", "/api/v1/applications/<int:application_id>/request-supplement", roles=WINDOW, body=SupplementIn,
         response=ApplicationOut, summary="the one-time notice of every missing material (一次告知)",
         tags=("window actions",), responses=CONFLICT)
    def request_supplement(self, call, application_id):
        b = call.body
        return self._command(call, application_id,
                             lambda app, at, a: app.request_supplement(b["missing"], b["note"], at, a))

    @api("POST", "/api/v1/applications/<int:application_id>/supplement-received", roles=WINDOW, body=At,
         response=ApplicationOut, summary="the requested materials arrived", tags=("window actions",),
         responses=CONFLICT)
    def supplement_received(self, call, application_id):
        return self._command(call, application_id, lambda app, at, a: app.supplement_received(at, a))

    @api("POST", "/api/v1/applications/<int:application_id>/special-procedure/start", roles=WINDOW,
         body=SpecialProcedureIn, response=ApplicationOut,
         summary="a special procedure starts (特别程序): the clock stops", tags=("window actions",),
         responses=CONFLICT)
    def start_special_procedure(self, call, application_id):
        return self._command(call, application_id,
                             lambda app, at, a: app.start_special_procedure(call.body["kind"], at, a))

    @api("POST", "/api/v1/applications/<int:application_id>/special-procedure/end", roles=WINDOW, body=At,
         response=ApplicationOut, summary="the special procedure ends: the clock runs again",
         tags=("window actions",), responses=CONFLICT)
    def end_special_procedure(self, call, application_id):
        return self._command(call, application_id, lambda app, at, a: app.end_special_procedure(at, a))

    @api("POST", "/api/v1/applications/<int:application_id>/extend", roles=WINDOW, body=ExtendIn,
         response=ApplicationOut, summary="extend the limit once, before the due time (延期)",
         tags=("window actions",), responses=CONFLICT)
    def extend(self, call, application_id):
        b = call.body
        return self._command(call, application_id,
                             lambda app, at, a: app.extend(b["days"], b["approver"], b["reason"], at, a))

    @api("POST", "/api/v1/applications/<int:application_id>/decide", roles=WINDOW, body=DecideIn,
         response=ApplicationOut, summary="approve or deny (准予 / 不予许可)", tags=("window actions",),
         responses=CONFLICT)
    def decide(self, call, application_id):
        b = call.body
        return self._command(call, application_id, lambda app, at, a: app.decide(b["approved"], b["reason"], at, a))

    @api("POST", "/api/v1/applications/<int:application_id>/deliver", roles=WINDOW, body=At,
         response=ApplicationOut, summary="the decision was delivered (送达)", tags=("window actions",),
         responses=CONFLICT)
    def deliver(self, call, application_id):
        return self._command(call, application_id, lambda app, at, a: app.deliver(at, a))

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
