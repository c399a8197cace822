"""The appeals service (民意直通): one intake for every channel, dispatch by the catalogue, handling by the
departments, call-back, supervision, efficiency complaints, and the deadline monitor. Its entrypoints only
translate: parse, authorise, call one use case (handlers.py), shape the answer."""

import eventlet
from nameko.timer import timer

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.http import api

# mixins imported as modules, so that `nameko run` finds only our class
from . import desk, exposure, handlers, open311, reports, rewards, store, supervision
from .dependencies import AppealSettings
from .schemas import (
    AppealDetailOut,
    AppealIn,
    AppealOut,
    AppealPage,
    AppealsQuery,
    AssistReplyIn,
    At,
    CallbackIn,
    CloseOnCallIn,
    CorrectIn,
    DispatchIn,
    ExtensionDecisionIn,
    ExtensionIn,
    FindingIn,
    InvalidateIn,
    MergeIn,
    ReasonIn,
    ReplyIn,
    ReturnReviewIn,
    RuleIn,
    RuleOut,
    SplitIn,
    SplitOut,
    SuperviseIn,
)
from .views import listed, shown

INTAKE = ("operator", "window_system")
READERS = ("operator", "window_system", "department_handler", "monitor")
HANDLER = ("department_handler",)
OPERATOR = ("operator",)
MONITOR = ("monitor",)
MONITOR_INTERVAL = 0.2
CONFLICT = {409: "not allowed in the case's current state, or `at` before the case's previous step (reason in "
                 "English and Chinese)"}


class AppealsService(base.ServiceBase, open311.Open311Endpoints, reports.HotIssueEndpoints,
                     supervision.SupervisionEndpoints, desk.DeskEndpoints, exposure.ExposureEndpoints,
                     rewards.RewardEndpoints):
    """民意直通 — appeals from every channel, from intake to call-back."""

    name = "appeals"
    # the open records waiting for a calendar year: /health and calendar.waiting say how many
    platform = base.Platform(store.metadata, calendar_waiting=store.calendar_waiting)
    settings = AppealSettings()

    def _shown(self, call, record):
        """The answer about one appeal to this caller, with the names of its codes (views.shown)."""
        return shown(call, record, self.settings.labels(self.platform))

    # -- intake -------------------------------------------------------------------------------------

    @api("POST", "/api/v1/appeals", roles=INTAKE, body=AppealIn, response=AppealOut, status=201,
         summary="take in an appeal (idempotent by channel + external_ref; repeats are linked)", tags=("appeals",),
         responses={200: "this channel + external_ref was taken in before: the existing appeal"})
    def create_appeal(self, call):
        created, record = handlers.receive_appeal(self.platform, self.settings, call.body, call.actor, clock.now())
        return (201 if created else 200), self._shown(call, record)

    # -- reading ------------------------------------------------------------------------------------

    @api("GET", "/api/v1/appeals", roles=READERS, query=AppealsQuery, response=AppealPage,
         summary="search the appeals (case number, caller's phone: operators only, keywords in content and reply, "
                 "the case's fields), newest first or sorted (department handlers: their department's only; "
                 "docs/appeals-desk.md)", tags=("appeals",))
    def list_appeals(self, call):
        desk.usecases.check_allowed(call.query, call.actor.role)
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            records, total = desk.usecases.search(s, query, call.actor.role)
        labels = self.settings.labels(self.platform)
        return call.page([listed(r, labels) for r in records], total)

    @api("GET", "/api/v1/appeals/<int:appeal_id>", roles=READERS, response=AppealDetailOut,
         summary="one appeal with its history", tags=("appeals",))
    def get_appeal(self, call, appeal_id):
        with self.platform.session() as s:
            record, history = handlers.appeal_detail(s, appeal_id, call.department_scope)
        return {**self._shown(call, record), "history": history}

    # -- commands -----------------------------------------------------------------------------------

    def _command(self, call, appeal_id, command):
        """Run a domain command through the one use case of commands, at the body's `at` (default now)."""
        with self.platform.unit_of_work() as uow:
            record = handlers.run_command(uow, self.settings, appeal_id, command, call.actor, call.department_scope,
                                          (call.body or {}).get("at"), clock.now())
        return self._shown(call, record)

    @api("POST", "/api/v1/appeals/<int:appeal_id>/dispatch", roles=OPERATOR, body=DispatchIn, response=AppealOut,
         summary="(re-)dispatch to a department (a return waiting for review is reviewed first: 409)",
         tags=("handling",), responses=CONFLICT)
    def dispatch(self, call, appeal_id):
        b = call.body
        with self.platform.unit_of_work() as uow:
            record = handlers.dispatch_appeal(uow, self.settings, appeal_id, b["department"], b["assisting"],
                                              call.actor, b.get("at"), clock.now())
        return self._shown(call, record)

    @api("POST", "/api/v1/appeals/<int:appeal_id>/assist/accept", roles=HANDLER, body=At, response=AppealOut,
         summary="an assisting department signs for its part (协办签收)", tags=("handling",), responses=CONFLICT)
    def assist_accept(self, call, appeal_id):
        return self._assist(call, appeal_id, "accept", None)

    @api("POST", "/api/v1/appeals/<int:appeal_id>/assist/reply", roles=HANDLER, body=AssistReplyIn,
         response=AppealOut, tags=("handling",), responses=CONFLICT,
         summary="an assisting department gives its part of the reply (协办答复); the lead's reply shows it")
    def assist_reply(self, call, appeal_id):
        return self._assist(call, appeal_id, "reply", call.body["part"])

    def _assist(self, call, appeal_id, step, part):
        with self.platform.unit_of_work() as uow:
            record = handlers.assist_step(uow, self.settings, appeal_id, step, part, call.actor,
                                          call.department_scope, (call.body or {}).get("at"), clock.now())
        return self._shown(call, record)

    @api("POST", "/api/v1/appeals/<int:appeal_id>/accept", roles=HANDLER, body=At, response=AppealOut,
         summary="sign for the case (签收)", tags=("handling",), responses=CONFLICT)
    def accept(self, call, appeal_id):
        return self._command(call, appeal_id, lambda c, at, a: c.accept(at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/return", roles=HANDLER, body=ReasonIn, response=AppealOut,
         summary="return as misassigned (退回), with a reason: the case waits for the hotline centre's review",
         tags=("handling",), responses=CONFLICT)
    def return_case(self, call, appeal_id):
        return self._command(call, appeal_id, lambda c, at, a: c.return_(call.body["reason"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/review-return", roles=OPERATOR, body=ReturnReviewIn,
         response=AppealOut, tags=("handling",),
         summary="review a return (退单审核): approved, the case waits for re-dispatch; rejected, back to the "
                 "department that returned it",
         responses={409: "no return of the case is waiting for review, or `at` before the case's previous step"})
    def review_return(self, call, appeal_id):
        b = call.body
        return self._command(call, appeal_id, lambda c, at, a: c.review_return(b["decision"], b["note"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/reply", roles=HANDLER, body=ReplyIn, response=AppealOut,
         summary="answer the appellant (答复)", tags=("handling",), responses=CONFLICT)
    def reply(self, call, appeal_id):
        return self._command(call, appeal_id, lambda c, at, a: c.reply(call.body["reply"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/extension", roles=HANDLER, body=ExtensionIn, response=AppealOut,
         summary="ask for an extension, before the deadline (延期申请)", tags=("handling",), responses=CONFLICT)
    def request_extension(self, call, appeal_id):
        b = call.body
        return self._command(call, appeal_id, lambda c, at, a: c.request_extension(b["days"], b["reason"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/extension/decision", roles=OPERATOR, body=ExtensionDecisionIn,
         response=AppealOut, summary="approve or deny the pending extension", tags=("handling",),
         responses=CONFLICT)
    def decide_extension(self, call, appeal_id):
        b = call.body
        return self._command(call, appeal_id, lambda c, at, a: c.decide_extension(b["approved"], b["note"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/callback", roles=OPERATOR, body=CallbackIn, response=AppealOut,
         summary="record the call-back (回访); unsatisfied reopens once, else the case closes", tags=("handling",),
         responses=CONFLICT)
    def callback(self, call, appeal_id):
        b = call.body
        return self._command(call, appeal_id,
                             lambda c, at, a: c.record_callback(b["satisfaction"], b["resolved"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/supervise", roles=MONITOR, body=SuperviseIn, response=AppealOut,
         summary="order the department to act by a date (督办); exposed: on the media board", tags=("supervision",),
         responses=CONFLICT)
    def supervise(self, call, appeal_id):
        with self.platform.unit_of_work() as uow:
            record = handlers.record_supervision_order(uow, self.settings, appeal_id, call.body, call.actor,
                                                       call.department_scope, call.body.get("at"), clock.now())
        return self._shown(call, record)

    @api("POST", "/api/v1/appeals/<int:appeal_id>/finding", roles=("monitor", "department_handler"), body=FindingIn,
         response=AppealOut, summary="the finding of an efficiency complaint (有案必查、查必有果)",
         tags=("supervision",), responses=CONFLICT)
    def finding(self, call, appeal_id):
        b = call.body
        warning_id = f"EW-{appeal_id}"
        return self._command(call, appeal_id, lambda c, at, a: c.record_finding(
            b["finding"], b["reasons"], b["person"], b["reward"], at, a, warning_id))

    # -- the operator's desk (#14) ------------------------------------------------------------------

    @api("POST", "/api/v1/appeals/<int:appeal_id>/close-on-call", roles=OPERATOR, body=CloseOnCallIn,
         response=AppealOut, tags=("desk",),
         summary="close a consultation answered on the call (直接办结): the answer is its reply; no department, "
                 "no clock, no call-back (only before any dispatch; at intake: `close_on_call`)",
         responses={409: "not a type closed on the call, or not waiting for dispatch, or `at` before the case's "
                         "previous step"})
    def close_on_call(self, call, appeal_id):
        return self._command(call, appeal_id, lambda c, at, a: c.close_on_call(call.body["answer"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/invalidate", roles=OPERATOR, body=InvalidateIn,
         response=AppealOut, tags=("desk",),
         summary="end the case as invalid (无效: prank, wrong number, test, other), with a reason: its clocks "
                 "stop, and it is counted nowhere (appeal.voided)", responses=CONFLICT)
    def invalidate(self, call, appeal_id):
        b = call.body
        return self._command(call, appeal_id, lambda c, at, a: c.void("invalid", b["kind"], b["reason"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/withdraw", roles=OPERATOR, body=ReasonIn, response=AppealOut,
         tags=("desk",),
         summary="the caller withdraws the case (撤诉), with a reason: its clocks stop, and it is counted nowhere "
                 "(appeal.voided); an efficiency complaint cannot be withdrawn", responses=CONFLICT)
    def withdraw(self, call, appeal_id):
        return self._command(call, appeal_id, lambda c, at, a: c.void("withdrawn", None, call.body["reason"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/correct", roles=OPERATOR, body=CorrectIn, response=AppealOut,
         tags=("desk",),
         summary="correct category, town-street, address or type after intake (更正), with a reason; the history "
                 "keeps old → new; a type change recomputes a running clock's limit", responses=CONFLICT)
    def correct(self, call, appeal_id):
        with self.platform.unit_of_work() as uow:
            record = handlers.correct_appeal(uow, self.settings, appeal_id, call.body, call.actor,
                                             call.department_scope, call.body.get("at"), clock.now())
        return self._shown(call, record)

    @api("POST", "/api/v1/appeals/<int:appeal_id>/merge", roles=OPERATOR, body=MergeIn, response=AppealOut,
         tags=("desk",),
         summary="merge the case into the main case of the same matter (合并): it ends as merged, its clocks "
                 "stopped; the main case's history names it", responses={
             409: "either case is not open, they are with different departments, or `at` before the case's previous "
                  "step"})
    def merge(self, call, appeal_id):
        b = call.body
        with self.platform.unit_of_work() as uow:
            record = handlers.merge_appeal(uow, self.settings, appeal_id, b["into"], b["reason"], call.actor,
                                           b.get("at"), clock.now())
        return self._shown(call, record)

    @api("POST", "/api/v1/appeals/<int:appeal_id>/split", roles=OPERATOR, body=SplitIn, response=SplitOut,
         tags=("desk",),
         summary="split the case's other matters into new cases (拆分), each dispatched with its own number and "
                 "clock and linked to this one, which keeps its first matter; a retry answers the same split",
         responses={409: "the case is not open or was split differently before, or `at` before its previous step"})
    def split(self, call, appeal_id):
        b = call.body
        with self.platform.unit_of_work() as uow:
            record, parts = handlers.split_appeal(uow, self.settings, appeal_id, b["parts"], b["reason"], call.actor,
                                                  b.get("at"), clock.now())
        return {**self._shown(call, record), "parts": [self._shown(call, p) for p in parts]}

    # -- the dispatch catalogue ---------------------------------------------------------------------

    @api("GET", "/api/v1/catalogue", roles=(), response=RuleOut, many=True,
         summary="the dispatch catalogue: category [+ town-street] → department", tags=("catalogue",))
    def list_catalogue(self, call):
        with self.platform.session() as s:
            return handlers.dispatch_rules(s)

    @api("PUT", "/api/v1/catalogue", roles=OPERATOR, body=RuleIn, response=RuleOut,
         summary="add or change a dispatch rule", tags=("catalogue",))
    def put_rule(self, call):
        return handlers.put_rule(self.platform.unit_of_work, self.settings, call.body, clock.now())

    @api("DELETE", "/api/v1/catalogue/<int:rule_id>", roles=OPERATOR, summary="remove a dispatch rule",
         tags=("catalogue",), status=204)
    def delete_rule(self, call, rule_id):
        handlers.delete_rule(self.platform.unit_of_work, self.settings, rule_id)
        return 204, None

    # -- the deadline monitor -----------------------------------------------------------------------

    # At start and every CALENDAR_CHECK_SECONDS (60): the calendar follows CALENDAR_FILE (a year imported into it
    # is swapped in, no restart), then the open cases whose due time, or escalation, could not be computed for
    # want of that year get them (moments already past fire at the next tick), and calendar.waiting says how many
    # still wait when that changed.
    @base.calendar_timer
    def recalculate_after_calendar(self):
        handlers.recalculate_after_calendar(self.settings, self.platform.session, self.platform.unit_of_work)
        self.platform.report_calendar_waiting()

    # every 0.2 s: an idle tick is one indexed query, and a due alarm waits at most one interval
    @timer(interval=MONITOR_INTERVAL)
    def fire_alarms(self):
        """Warnings, overdue + urging, escalation: each once, when its moment has come."""
        while True:
            with self.platform.unit_of_work() as uow:
                claimed = handlers.fire_due_alarms(uow, self.settings, clock.now())
            if claimed < handlers.ALARM_BATCH:
                return
            eventlet.sleep(0)  # let the relay publish this batch while the next is prepared
