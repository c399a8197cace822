"""The scoring service (考核): turns appeals and approvals events and its own inputs (enterprise evaluations,
undercover visits, adjustments, criticisms) into facts in an append-only ledger, and the ledger into a
period's ranking under the versioned rule file; closing a period publishes it (scoring.results_published)."""

from __future__ import annotations

import logging
from pathlib import Path

from nameko.extensions import DependencyProvider

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.http import api
from services.kernel.messaging import consume_event
from services.kernel.seed import seed_empty

# mixins imported as modules, so that `nameko run` finds only our class
from . import handlers, reports, store
from .domain import CONSUMED, Rules
from .domain import red_black_lists as lists_of
from .schemas import (
    AdjustmentIn,
    AdjustmentOut,
    CriticismIn,
    CriticismOut,
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
    PeriodOut,
    PointIn,
    PointOut,
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
DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
CONFLICT = {409: "not allowed now (reason in English and Chinese)"}


class ScoringSettings(DependencyProvider):
    """The rule file (RULES_FILE, default rules.yaml beside this module) and the department seed."""

    def setup(self):
        path = self.container.config.get("RULES_FILE") or DEFAULT_RULES
        self.rules = Rules.load(path)

    def start(self):
        # after every dependency's setup (the database is the Platform's), before any entrypoint starts
        path = self.container.config.get("SEED_DEPARTMENTS")
        if path:
            seed_departments(base.Platform.of(self.container).db, path)

    def get_dependency(self, worker_ctx):
        return self


def seed_departments(db, path: str) -> int:
    """Load a department file into an empty register; an edited register is never touched."""
    return seed_empty(db, path, what="department register", has_rows=store.list_departments,
                      upsert=store.upsert_department, schema=DepartmentIn)


def consumes(fn):
    """Subscribe one handler to every event type assessment counts (one queue per type)."""
    for source, types in CONSUMED.items():
        for event_type in types:
            fn = consume_event(source, event_type)(fn)
    return fn


class ScoringService(reports.ReportEndpoints, base.ServiceBase):
    """考核 — explainable, replayable assessment of departments."""

    name = "scoring"
    platform = base.Platform(store.metadata)
    settings = ScoringSettings()

    # -- events in --------------------------------------------------------------------------------

    @consumes
    def on_event(self, event):
        # the inbox record and the facts commit together, with those of the handlers running alongside
        self.platform.consuming_batched(event, handlers.ledger_rows(event), handlers.record_facts)

    # -- the ledger -------------------------------------------------------------------------------

    @api("GET", "/api/v1/facts", roles=READERS, query=FactsQuery, response=FactOut, many=True,
         summary="facts of the ledger, each with its source event", tags=("ledger",))
    def list_facts(self, call):
        with self.platform.session() as session:
            return store.list_facts(session, **call.query)

    # -- the department register ------------------------------------------------------------------

    @api("GET", "/api/v1/departments", roles=READERS, response=DepartmentOut, many=True,
         summary="the department register (code, name, approval/enforcement functions, tier)",
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

    @api("GET", "/api/v1/evaluations", roles=READERS, query=ListQuery, response=EvaluationOut, many=True,
         summary="enterprise evaluations", tags=("inputs",))
    def list_evaluations(self, call):
        with self.platform.session() as session:
            return store.list_evaluations(session, **call.query)

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
            return handlers.add_visit(uow, call.body, clock.now())

    @api("POST", "/api/v1/visits/<int:visit_id>/close", roles=WRITERS, body=VisitCloseIn, response=VisitOut,
         summary="close out a finding with evidence (销号)", tags=("visits",), responses=CONFLICT)
    def close_visit(self, call, visit_id):
        with self.platform.unit_of_work() as uow:
            return handlers.close_visit(uow, visit_id, call.body["evidence"], call.body["closed_at"],
                                        call.actor.name, clock.now())

    @api("GET", "/api/v1/visits", roles=READERS, query=VisitsQuery, response=VisitOut, many=True,
         summary="the undercover-visit ledger", tags=("visits",))
    def list_visits(self, call):
        now = clock.now()
        with self.platform.session() as session:
            return [handlers.visit_view(v, now) for v in store.list_visits(session, **call.query)]

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
            return store.list_rows(session, store.adjustments, call.query["department"])

    @api("POST", "/api/v1/criticisms", roles=WRITERS, body=CriticismIn, response=CriticismOut, status=201,
         summary="a public criticism (通报批评) of a unit: a serious case, no advanced unit in that period",
         tags=("inputs",))
    def add_criticism(self, call):
        with self.platform.unit_of_work() as uow:
            return handlers.add_criticism(uow, call.body, call.actor.name, clock.now())

    @api("GET", "/api/v1/criticisms", roles=READERS, query=ListQuery, response=CriticismOut, many=True,
         summary="public criticisms", tags=("inputs",))
    def list_criticisms(self, call):
        with self.platform.session() as session:
            return store.list_rows(session, store.criticisms, call.query["department"])

    # -- scores -----------------------------------------------------------------------------------

    @api("GET", "/api/v1/scores", roles=READERS, query=ScoresQuery, response=ScoresOut,
         summary="a period's ranking (2026, 2026-Q3, 2026-09): one row per department", tags=("scores",))
    def get_scores(self, call):
        period = period_or_400(call.query["period"])
        with self.platform.session() as session:
            return handlers.scores(session, self.settings.rules, period, clock.now())

    @api("GET", "/api/v1/scores/<department>", roles=READERS, query=ScoresQuery, response=DepartmentScoreOut,
         summary="one department's score down to every fact and its source event", tags=("scores",),
         responses={404: "no such department in the register"})
    def get_department_score(self, call, department):
        period = period_or_400(call.query["period"])
        with self.platform.session() as session:
            return handlers.department_score(session, self.settings.rules, period, department, clock.now())

    @api("GET", "/api/v1/red-black-lists", roles=READERS, query=MonthQuery, response=ListsOut,
         summary="a month's red and black lists (红黑榜): the best five and the worst five", tags=("scores",))
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

    @api("POST", "/api/v1/periods/<period>/close", roles=WRITERS, response=PeriodOut,
         summary="close a period: freeze its results and publish them (scoring.results_published)",
         tags=("periods",), responses=CONFLICT)
    def close_period(self, call, period):
        p = handlers.period_named(period)
        with self.platform.unit_of_work() as uow:
            return handlers.close_period(uow, self.settings.rules, p, call.actor.name, clock.now())

    @api("POST", "/api/v1/periods/<period>/reopen", roles=WRITERS, body=ReopenIn, response=PeriodOut,
         summary="reopen a published period (audited, with a reason); late facts count after the next close",
         tags=("periods",), responses=CONFLICT)
    def reopen_period(self, call, period):
        p = handlers.period_named(period)
        with self.platform.unit_of_work() as uow:
            return handlers.reopen_period(uow, self.settings.rules, p, call.body["reason"], call.actor.name,
                                          clock.now())
