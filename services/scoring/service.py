"""The scoring service (考核): turns appeals and approvals events and its own inputs (enterprise evaluations,
undercover visits, adjustments, criticisms) into facts in an append-only ledger, and the ledger into a
period's ranking under the versioned rule file; closing a period publishes it (scoring.results_published)."""

from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.config import ConfigError
from services.kernel.http import api
from services.kernel.messaging import consume_event
from services.kernel.seed import seed_empty
from services.kernel.workcal import WorkCalendar

# mixins imported as modules, so that `nameko run` finds only our class
from . import corrections, handlers, reports, sanctions, store, targets
from .domain import (
    CONSUMED,
    DEFAULT_RECTIFICATION_DAYS,
    DEFAULT_RULES,  # noqa: F401  (tests and tools read the shipped rules from here)
    MERGED_APPEAL,
    VOIDED_APPEAL,
    Rules,
    parse_period,
    rules_path,
)
from .domain import red_black_lists as lists_of
from .schemas import (
    AdjustmentIn,
    AdjustmentOut,
    ClosePeriodIn,
    CriticismIn,
    CriticismOut,
    DecisionIn,
    DepartmentIn,
    DepartmentOut,
    DepartmentScoreOut,
    EvaluationIn,
    EvaluationOut,
    FactOut,
    FactsQuery,
    ListQuery,
    ListsOut,
    MonthQuery,
    ObjectionIn,
    ObjectionOut,
    ObjectionsQuery,
    PeriodOut,
    PointIn,
    PointOut,
    RectificationAcceptIn,
    RectificationIn,
    RectificationOut,
    RectificationReturnIn,
    RectificationsQuery,
    ReopenIn,
    ScoresOut,
    ScoresQuery,
    VisitCloseIn,
    VisitIn,
    VisitOut,
    VisitsQuery,
    period_or_400,
)

log = logging.getLogger(__name__)

READERS = ("assessor", "monitor")
WRITERS = ("assessor",)
# what a department handler reads too, confined to its own department (call.department_scope): another
# department's is answered as a missing one (404) or an empty list, as the other services do
OWN_READERS = (*READERS, "department_handler")
OBJECTORS = ("department_handler", "assessor")
HIDDEN = "（不公开）"  # who evaluated or visited a department is not shown to it
CONFLICT = {409: "not allowed now (reason in English and Chinese)"}
RECTIFICATION_CHECK_SECONDS = 0.5


class ScoringSettings(DependencyProvider):
    """The rule file (RULES_FILE, default rules.yaml beside this module), the department seed, and the
    rectification clock (CALENDAR_FILE, VISIT_RECTIFICATION_DAYS)."""

    def setup(self):
        cfg = self.container.config
        path = rules_path(cfg)
        self.rules = Rules.load(path)
        self.calendar = WorkCalendar.load(cfg.get("CALENDAR_FILE"))
        days = cfg.get("VISIT_RECTIFICATION_DAYS")
        try:
            self.rectification_days = DEFAULT_RECTIFICATION_DAYS if days in (None, "") else int(days)
        except (TypeError, ValueError):
            raise ConfigError(f"VISIT_RECTIFICATION_DAYS must be a whole number of working days, not {days!r}") \
                from None
        if self.rectification_days < 1:
            raise ConfigError(f"VISIT_RECTIFICATION_DAYS must be at least 1, not {days!r}")

    def start(self):
        # after every dependency's setup (the database is the Platform's), before any entrypoint starts
        # the register of organisations every service reads (DEPARTMENTS_FILE) unless another seed is named
        path = self.container.config.get("SEED_DEPARTMENTS") or self.container.config.get("DEPARTMENTS_FILE")
        if path:
            seed_departments(base.Platform.of(self.container).db, path)

    def get_dependency(self, worker_ctx):
        return self


def seed_departments(db, path: str) -> int:
    """Load a department file into an empty register; an edited register is never touched."""
    return seed_empty(db, path, what="department register", has_rows=store.list_departments,
                      upsert=store.upsert_department, schema=DepartmentIn)


def _marked(session, kind: str, rows: list[dict]) -> list[dict]:
    """Own inputs as listed: each says whether it was voided (its corrections: GET of one)."""
    gone = handlers.voided_items(session, kind)
    return [dict(r, voided=r["id"] in gone) for r in rows]


def consumes(fn):
    """Subscribe one handler to every event type assessment counts (one queue per type)."""
    for source, types in CONSUMED.items():
        for event_type in types:
            fn = consume_event(source, event_type)(fn)
    return fn


class ScoringService(reports.ReportEndpoints, corrections.CorrectionEndpoints, sanctions.SanctionEndpoints,
                     targets.TargetEndpoints, base.ServiceBase):
    """考核 — explainable, replayable assessment of departments."""

    name = "scoring"
    platform = base.Platform(store.metadata)
    settings = ScoringSettings()

    # -- events in --------------------------------------------------------------------------------

    @consumes
    def on_event(self, event):
        # the inbox record and the facts commit together, with those of the handlers running alongside
        self.platform.consuming_batched(event, handlers.ledger_rows(event), handlers.record_facts)

    @consume_event("appeals", VOIDED_APPEAL)
    def on_appeal_voided(self, event):
        # the appeal counted nowhere: its facts, recorded or still to come, stop counting
        with self.platform.consuming(event) as uow:
            handlers.void_appeal(uow, event, clock.now())

    @consume_event("appeals", MERGED_APPEAL)
    def on_appeal_merged(self, event):
        # the matter counts through the main case: the merged appeal's volume facts stop counting
        with self.platform.consuming(event) as uow:
            handlers.merge_appeal(uow, event, clock.now())

    # -- the ledger -------------------------------------------------------------------------------

    @api("GET", "/api/v1/facts", roles=OWN_READERS, query=FactsQuery, response=FactOut, many=True,
         summary="facts of the ledger, each with its source event (department handlers: their department's)",
         tags=("ledger",))
    def list_facts(self, call):
        query = call.scoped_query()
        if query is None:
            return []
        period = query.pop("period")
        if period is not None:
            query["periods"] = parse_period(period).parts()
        with self.platform.session() as session:
            found = store.list_facts(session, **query)
        if call.department_scope is not None:
            found = [dict(f, detail=HIDDEN) if f["metric"] in ("evaluations", "evaluation_score") else f
                     for f in found]
        return found

    # -- the department register ------------------------------------------------------------------

    @api("GET", "/api/v1/departments", roles=READERS, response=DepartmentOut, many=True,
         summary="the department register (code, name, approval/enforcement functions, tier, superior)",
         tags=("departments",))
    def list_departments(self, call):
        with self.platform.session() as session:
            return store.list_departments(session)

    @api("POST", "/api/v1/departments", roles=WRITERS, body=DepartmentIn, response=DepartmentOut,
         summary="register a department or change it (by code)", tags=("departments",),
         responses={201: "registered", 200: "changed"})
    def upsert_department(self, call):
        with self.platform.unit_of_work() as uow:
            row, created = handlers.register_department(uow, call.body, clock.now())
        return (201 if created else 200), row

    # -- enterprise evaluations -------------------------------------------------------------------

    @api("POST", "/api/v1/evaluations", roles=WRITERS, body=EvaluationIn, response=EvaluationOut, status=201,
         summary="an enterprise's evaluation of a department (企业评议): once per enterprise, department, period",
         tags=("inputs",), responses={409: "this enterprise already evaluated this department in this period"})
    def add_evaluation(self, call):
        with self.platform.unit_of_work() as uow:
            return handlers.add_evaluation(uow, call.body, call.actor.name, clock.now())

    @api("GET", "/api/v1/evaluations", roles=OWN_READERS, query=ListQuery, response=EvaluationOut, many=True,
         summary="enterprise evaluations (department handlers: their department's, the enterprise not shown)",
         tags=("inputs",))
    def list_evaluations(self, call):
        query = call.scoped_query()
        if query is None:
            return []
        with self.platform.session() as session:
            found = _marked(session, "evaluation", store.list_evaluations(session, **query))
        return found if call.department_scope is None else [dict(e, enterprise=HIDDEN) for e in found]

    # -- monitoring points and the undercover-visit ledger ----------------------------------------

    @api("GET", "/api/v1/monitoring-points", roles=READERS, response=PointOut, many=True,
         summary="efficiency monitoring points (效能监督点): enterprises and villages", tags=("visits",))
    def list_points(self, call):
        with self.platform.session() as session:
            return store.list_points(session)

    @api("POST", "/api/v1/monitoring-points", roles=WRITERS, body=PointIn, response=PointOut,
         summary="add or change a monitoring point (by code)", tags=("visits",),
         responses={201: "added", 200: "changed"})
    def upsert_point(self, call):
        with self.platform.unit_of_work() as uow:
            row, created = handlers.register_point(uow, call.body, clock.now())
        return (201 if created else 200), row

    @api("POST", "/api/v1/visits", roles=WRITERS, body=VisitIn, response=VisitOut, status=201,
         summary="a finding of an undercover visit (暗访台账): open until closed out with evidence (销号)",
         tags=("visits",))
    def add_visit(self, call):
        with self.platform.unit_of_work() as uow:
            return handlers.add_visit(uow, call.body, clock.now(), self.settings.calendar,
                                      self.settings.rectification_days)

    @api("POST", "/api/v1/visits/<int:visit_id>/close", roles=WRITERS, body=VisitCloseIn, response=VisitOut,
         summary="close out a finding with evidence (销号)", tags=("visits",), responses=CONFLICT)
    def close_visit(self, call, visit_id):
        with self.platform.unit_of_work() as uow:
            return handlers.close_visit(uow, visit_id, call.body["evidence"], call.body["closed_at"],
                                        call.actor.name, clock.now())

    @api("GET", "/api/v1/visits", roles=OWN_READERS, query=VisitsQuery, response=VisitOut, many=True,
         summary="the undercover-visit ledger (department handlers: their department's findings, the visitor not "
                 "shown)", tags=("visits",))
    def list_visits(self, call):
        query = call.scoped_query()
        if query is None:
            return []
        now = clock.now()
        with self.platform.session() as session:
            found = _marked(session, "visit", [handlers.visit_view(v, now)
                                               for v in store.list_visits(session, **query)])
        return found if call.department_scope is None else [dict(v, visitor=HIDDEN) for v in found]

    # -- rectification of visit findings (整改) ----------------------------------------------------

    @api("POST", "/api/v1/visits/<int:visit_id>/rectification", roles=OBJECTORS, body=RectificationIn,
         response=RectificationOut, status=201,
         summary="the department's rectification report (整改报告) for a finding of its own; retry-safe (the same "
                 "report again answers the first)", tags=("visits",),
         responses={200: "the same report was submitted before: the rectification as it is",
                    404: "no such finding (or another department's)",
                    409: "a report waits for review already, or the finding is closed out"})
    def submit_rectification(self, call, visit_id):
        with self.platform.unit_of_work() as uow:
            view, created = handlers.submit_rectification(uow, visit_id, call.body, call.actor.name,
                                                           call.department_scope, clock.now())
        return (201 if created else 200), view

    # a resource of its own beside the rectifications' listing (an id beyond any database is 404 on every path:
    # services/kernel/http.py match_route)
    @api("GET", "/api/v1/visit-rectifications/<int:visit_id>", roles=OWN_READERS, response=RectificationOut,
         summary="a finding's rectification: state, due time, overdue, every report and its review", tags=("visits",),
         responses={404: "no such finding (or another department's)"})
    def get_rectification(self, call, visit_id):
        with self.platform.session() as session:
            return handlers.get_rectification(session, visit_id, call.department_scope, clock.now())

    @api("POST", "/api/v1/visits/<int:visit_id>/rectification/accept", roles=WRITERS, body=RectificationAcceptIn,
         response=RectificationOut, summary="accept the waiting report: the finding is closed out with it (销号); "
                                            "retry-safe", tags=("visits",),
         responses={404: "no such finding", 409: "no report waits for review"})
    def accept_rectification(self, call, visit_id):
        with self.platform.unit_of_work() as uow:
            return handlers.review_rectification(uow, visit_id, "accept", call.body["note"], call.actor.name,
                                                 clock.now())

    @api("POST", "/api/v1/visits/<int:visit_id>/rectification/return", roles=WRITERS, body=RectificationReturnIn,
         response=RectificationOut, summary="send the waiting report back with a reason (退回); the department "
                                            "submits again; retry-safe", tags=("visits",),
         responses={404: "no such finding", 409: "no report waits for review"})
    def return_rectification(self, call, visit_id):
        with self.platform.unit_of_work() as uow:
            return handlers.review_rectification(uow, visit_id, "return", call.body["reason"], call.actor.name,
                                                 clock.now())

    @api("GET", "/api/v1/visit-rectifications", roles=OWN_READERS, query=RectificationsQuery,
         response=RectificationOut, many=True, tags=("visits",),
         summary="rectifications of visit findings (state submitted: the reports waiting for review; department "
                 "handlers: their own)")
    def list_rectifications(self, call):
        query = call.scoped_query()
        if query is None:
            return []
        with self.platform.session() as session:
            return handlers.find_rectifications(session, query, clock.now())

    @timer(interval=RECTIFICATION_CHECK_SECONDS)
    def check_rectifications(self):
        """Each rectification past its due time with the department's report still missing: overdue, once."""
        self.platform.drain_due(store.any_rectification_due, handlers.check_due_rectifications,
                                handlers.RECTIFICATION_BATCH)

    # -- adjustments and criticisms ---------------------------------------------------------------

    @api("POST", "/api/v1/adjustments", roles=WRITERS, body=AdjustmentIn, response=AdjustmentOut, status=201,
         summary="a manual adjustment of a department's final score, with its reason and approver",
         tags=("inputs",))
    def add_adjustment(self, call):
        with self.platform.unit_of_work() as uow:
            return handlers.add_adjustment(uow, call.body, call.actor.name, clock.now())

    @api("GET", "/api/v1/adjustments", roles=READERS, query=ListQuery, response=AdjustmentOut, many=True,
         summary="manual adjustments", tags=("inputs",))
    def list_adjustments(self, call):
        with self.platform.session() as session:
            return _marked(session, "adjustment", store.list_rows(session, store.adjustments, call.query["department"]))

    @api("POST", "/api/v1/criticisms", roles=WRITERS, body=CriticismIn, response=CriticismOut, status=201,
         summary="a public criticism (通报批评) of a unit: a serious case, no advanced unit in that period",
         tags=("inputs",))
    def add_criticism(self, call):
        with self.platform.unit_of_work() as uow:
            return handlers.add_criticism(uow, call.body, call.actor.name, clock.now())

    @api("GET", "/api/v1/criticisms", roles=OWN_READERS, query=ListQuery, response=CriticismOut, many=True,
         summary="public criticisms (department handlers: their department's)", tags=("inputs",))
    def list_criticisms(self, call):
        query = call.scoped_query()
        if query is None:
            return []
        with self.platform.session() as session:
            return _marked(session, "criticism", store.list_rows(session, store.criticisms, query["department"]))

    # -- scores -----------------------------------------------------------------------------------

    @api("GET", "/api/v1/scores", roles=OWN_READERS, query=ScoresQuery, response=ScoresOut,
         summary="a period's ranking (2026, 2026-H1, 2026-Q3, 2026-09): one row per department, ranked within "
                 "its group (department handlers: their own row only)", tags=("scores",))
    def get_scores(self, call):
        period = period_or_400(call.query["period"])
        with self.platform.session() as session:
            return handlers.scores_seen_by(session, self.settings.rules, period, clock.now(), call.department_scope)

    @api("GET", "/api/v1/scores/<department>", roles=OWN_READERS, query=ScoresQuery, response=DepartmentScoreOut,
         summary="one department's score down to every fact and its source event (department handlers: their "
                 "own; another's is answered 404 as a missing one)", tags=("scores",),
         responses={404: "no such department in the register"})
    def get_department_score(self, call, department):
        period = period_or_400(call.query["period"])
        with self.platform.session() as session:
            return handlers.department_score(session, self.settings.rules, period, department, clock.now(),
                                             call.department_scope)

    # -- objections (申诉) ------------------------------------------------------------------------

    @api("POST", "/api/v1/objections", roles=OBJECTORS, body=ObjectionIn, response=ObjectionOut, status=201,
         summary="object to a fact (申诉): a department handler to its own department's, or the assessment office "
                 "on its behalf; one objection per fact", tags=("objections",),
         responses={200: "the same objection was lodged before: the existing one",
                    409: "the fact was objected to already, is voided, or its period is closed"})
    def lodge_objection(self, call):
        with self.platform.unit_of_work() as uow:
            row, created = handlers.lodge_objection(uow, call.body, call.actor, call.department_scope, clock.now())
        return (201 if created else 200), row

    @api("GET", "/api/v1/objections", roles=OWN_READERS, query=ObjectionsQuery, response=ObjectionOut, many=True,
         summary="objections with their history (department handlers: their department's)", tags=("objections",))
    def list_objections(self, call):
        query = call.scoped_query()
        if query is None:
            return []
        with self.platform.session() as session:
            return handlers.find_objections(session, query)

    @api("GET", "/api/v1/objections/<int:objection_id>", roles=OWN_READERS, response=ObjectionOut,
         summary="one objection with its fact and history", tags=("objections",),
         responses={404: "no such objection (or another department's)"})
    def get_objection(self, call, objection_id):
        with self.platform.session() as session:
            return handlers.get_objection(session, objection_id, call.department_scope)

    @api("POST", "/api/v1/objections/<int:objection_id>/uphold", roles=WRITERS, body=DecisionIn,
         response=ObjectionOut, summary="uphold an objection: its fact is voided (the objection the reason) and "
                                        "the score recomputed", tags=("objections",), responses=CONFLICT)
    def uphold_objection(self, call, objection_id):
        with self.platform.unit_of_work() as uow:
            return handlers.decide_objection(uow, objection_id, "uphold", call.body["reasons"], call.actor.name,
                                             clock.now())

    @api("POST", "/api/v1/objections/<int:objection_id>/reject", roles=WRITERS, body=DecisionIn,
         response=ObjectionOut, summary="reject an objection with reasons: the fact stands", tags=("objections",),
         responses=CONFLICT)
    def reject_objection(self, call, objection_id):
        with self.platform.unit_of_work() as uow:
            return handlers.decide_objection(uow, objection_id, "reject", call.body["reasons"], call.actor.name,
                                             clock.now())

    @api("GET", "/api/v1/red-black-lists", roles=READERS, query=MonthQuery, response=ListsOut,
         summary="a month's red and black lists (红黑榜): the best five and the worst five of each ranking group",
         tags=("scores",))
    def red_black_lists(self, call):
        period = period_or_400(call.query["period"])
        rules = self.settings.rules
        with self.platform.session() as session:
            result = handlers.scores(session, rules, period, clock.now())
        return {"period": period.text, **lists_of(result["rows"], rules.list_size)}

    # -- periods ----------------------------------------------------------------------------------

    @api("GET", "/api/v1/periods/<period>", roles=READERS, response=PeriodOut,
         summary="a period's state, its audit trail, and whether replaying the ledger gives the published result",
         tags=("periods",))
    def get_period(self, call, period):
        p = handlers.period_named(period)
        with self.platform.session() as session:
            return handlers.period_view(session, self.settings.rules, p)

    @api("POST", "/api/v1/periods/<period>/close", roles=WRITERS, body=ClosePeriodIn, response=PeriodOut,
         summary="close a period: freeze its results and publish them (scoring.results_published); open "
                 "objections on its facts refuse it unless with_open_objections", tags=("periods",),
         responses=CONFLICT)
    def close_period(self, call, period):
        p = handlers.period_named(period)
        with self.platform.unit_of_work() as uow:
            return handlers.close_period(uow, self.settings.rules, p, call.actor.name, clock.now(),
                                         call.body["with_open_objections"])

    @api("POST", "/api/v1/periods/<period>/reopen", roles=WRITERS, body=ReopenIn, response=PeriodOut,
         summary="reopen a published period (audited, with a reason); late facts count after the next close",
         tags=("periods",), responses=CONFLICT)
    def reopen_period(self, call, period):
        p = handlers.period_named(period)
        with self.platform.unit_of_work() as uow:
            return handlers.reopen_period(uow, self.settings.rules, p, call.body["reason"], call.actor.name,
                                          clock.now())
