"""The scoring service (考核): turns appeals and approvals events and its own inputs (enterprise evaluations,
undercover visits, adjustments, criticisms) into facts in an append-only ledger, and the ledger into a
period's ranking under the versioned rule file; closing a period publishes it (scoring.results_published)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

from nameko.extensions import DependencyProvider
from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.http import api
from services.kernel.messaging import consume_event
from services.kernel.seed import seed_empty

# mixins imported as modules, so that `nameko run` finds only our class
from . import ledger, reports, store
from .domain import CONSUMED, PERIOD_HELP, Rules, business_moment, facts_of, month_of, parse_period
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
from .writer import FactWriter

log = logging.getLogger(__name__)

READERS = ("assessor", "monitor")
WRITERS = ("assessor",)
DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
CONFLICT = {409: "not allowed now (reason in English and Chinese)"}
# clocks of callers drift: a moment up to this far ahead of ours is not "in the future"
_TOLERANCE = timedelta(minutes=5)
UNKNOWN_DEPARTMENT = "unknown department; see GET /api/v1/departments / 未登记的部门，请先登记"


class ScoringSettings(DependencyProvider):
    """The rule file (RULES_FILE, default rules.yaml beside this module) and the department seed."""

    def setup(self):
        path = self.container.config.get("RULES_FILE") or DEFAULT_RULES
        self.rules = Rules.load(path)

    def start(self):
        # after every dependency's setup (the database is the Platform's), before any entrypoint starts
        db = base.Platform.of(self.container).db
        self.writer = FactWriter(db, f"{self.container.service_name}.on_event")
        path = self.container.config.get("SEED_DEPARTMENTS")
        if path:
            seed_departments(self.writer.db, path)

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
        moment = business_moment(event.event_type, event.payload, event.occurred_at)
        period = month_of(moment)
        rows = [dict(department=f.department, period=period, metric=f.metric, value=f.value, ref=f.ref,
                     detail=f.detail, at=moment, source_event_id=event.event_id,
                     source_event_type=event.event_type, occurred_at=event.occurred_at)
                for f in facts_of(event.event_type, event.payload)]
        # the inbox record and the facts commit together, with those of the handlers running alongside
        self.settings.writer.write(event, rows)

    def _own_fact(self, uow, kind: str, row_id: int, department: str, period: str, metrics: dict, at, now,
                  ref=None, detail=None):
        """An own input's facts: the same ledger, with the input's id as their source."""
        store.add_facts(uow.session, [dict(
            department=department, period=period, metric=m, value=float(v), ref=ref, detail=detail, at=at,
            source_event_id=f"{kind}-{row_id}", source_event_type=f"scoring.{kind}", occurred_at=now,
            recorded_at=now) for m, v in metrics.items()])

    def _require_department(self, session, code: str, field: str = "department") -> dict:
        d = store.get_department(session, code)
        if d is None:
            raise BadRequest({field: [UNKNOWN_DEPARTMENT]})
        return d

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
            row, created = store.upsert_department(uow.session, call.body, clock.now())
        return (201 if created else 200), row

    # -- enterprise evaluations -------------------------------------------------------------------

    @api("POST", "/api/v1/evaluations", roles=WRITERS, body=EvaluationIn, response=EvaluationOut, status=201,
         summary="an enterprise's evaluation of a department (企业评议): once per enterprise, department, period",
         tags=("inputs",), responses={409: "this enterprise already evaluated this department in this period"})
    def add_evaluation(self, call):
        b = call.body
        now = clock.now()
        duplicate = Conflict(
            f"{b['enterprise']} already evaluated {b['department']} for {b['period']}",
            message_zh=f"该企业本期（{b['period']}）已评议过该部门，每个企业每期对每个部门只能评议一次")
        score = round(sum(b["scores"].values()) / len(b["scores"]), 4)
        try:
            with self.platform.unit_of_work() as uow:
                self._require_department(uow.session, b["department"])
                if store.evaluation_exists(uow.session, b["enterprise"], b["department"], b["period"]):
                    raise duplicate
                row = store.insert_row(uow.session, store.evaluations, dict(
                    enterprise=b["enterprise"], department=b["department"], period=b["period"],
                    scores=json.dumps(b["scores"], ensure_ascii=False, sort_keys=True), score=score,
                    recorded_by=call.actor.name, recorded_at=now))
                self._own_fact(uow, "evaluation", row["id"], b["department"], b["period"],
                               {"evaluations": 1, "evaluation_score": score}, now, now, detail=b["enterprise"][:200])
        except IntegrityError:  # the same evaluation sent twice at once: the other one won
            raise duplicate from None
        return store.evaluation_out(row)

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
            row, created = store.upsert_point(uow.session, call.body, clock.now())
        return (201 if created else 200), row

    def _visit_out(self, row: dict) -> dict:
        return {**row, "overdue": ledger.visit_overdue(row, clock.now())}

    @api("POST", "/api/v1/visits", roles=WRITERS, body=VisitIn, response=VisitOut, status=201,
         summary="a finding of an undercover visit (暗访台账): open until closed out with evidence (销号)",
         tags=("visits",))
    def add_visit(self, call):
        b = call.body
        now = clock.now()
        if b["due_at"] < b["visited_at"]:
            raise BadRequest({"due_at": ["must not be before visited_at / 整改期限不能早于暗访时间"]})
        if b["visited_at"] > now + _TOLERANCE:
            raise BadRequest({"visited_at": ["cannot be in the future / 暗访时间不能晚于当前时间"]})
        with self.platform.unit_of_work() as uow:
            self._require_department(uow.session, b["department"])
            if b["point_code"] and store.get_point(uow.session, b["point_code"]) is None:
                raise BadRequest({"point_code": ["unknown monitoring point; see GET /api/v1/monitoring-points "
                                                 "/ 未登记的效能监督点"]})
            row = store.insert_row(uow.session, store.visits, dict(
                department=b["department"], point_code=b["point_code"], visited_at=b["visited_at"],
                finding=b["finding"], due_at=b["due_at"], visitor=b["visitor"], state="open", evidence=None,
                closed_at=None, closed_by=None, closed_recorded_at=None, recorded_at=now))
            self._own_fact(uow, "visit", row["id"], b["department"], month_of(b["visited_at"]),
                           {"visit_findings": 1}, b["visited_at"], now, ref=str(row["id"]))
        return self._visit_out(row)

    @api("POST", "/api/v1/visits/<int:visit_id>/close", roles=WRITERS, body=VisitCloseIn, response=VisitOut,
         summary="close out a finding with evidence (销号)", tags=("visits",), responses=CONFLICT)
    def close_visit(self, call, visit_id):
        b = call.body
        now = clock.now()
        closed_at = b["closed_at"] or now
        with self.platform.unit_of_work() as uow:
            row = store.get_visit(uow.session, visit_id)
            if row is None:
                raise NotFound(f"no visit finding {visit_id}", message_zh="暗访记录不存在")
            if closed_at > now + _TOLERANCE:
                raise BadRequest({"closed_at": ["cannot be in the future / 销号时间不能晚于当前时间"]})
            if closed_at < row["visited_at"]:
                raise BadRequest({"closed_at": ["must not be before visited_at / 销号时间不能早于暗访时间"]})
            if not store.close_visit(uow.session, visit_id, b["evidence"], closed_at, call.actor.name, now):
                raise Conflict(f"visit finding {visit_id} is already closed", message_zh="该问题已销号，不能重复销号")
            row = store.get_visit(uow.session, visit_id)
        return self._visit_out(row)

    @api("GET", "/api/v1/visits", roles=READERS, query=VisitsQuery, response=VisitOut, many=True,
         summary="the undercover-visit ledger", tags=("visits",))
    def list_visits(self, call):
        with self.platform.session() as session:
            return [self._visit_out(v) for v in store.list_visits(session, **call.query)]

    # -- adjustments and criticisms ---------------------------------------------------------------

    @api("POST", "/api/v1/adjustments", roles=WRITERS, body=AdjustmentIn, response=AdjustmentOut, status=201,
         summary="a manual adjustment of a department's final score, with its reason and approver",
         tags=("inputs",))
    def add_adjustment(self, call):
        b = call.body
        now = clock.now()
        with self.platform.unit_of_work() as uow:
            self._require_department(uow.session, b["department"])
            row = store.insert_row(uow.session, store.adjustments, dict(
                department=b["department"], period=b["period"], value=b["value"], reason=b["reason"],
                approved_by=b["approved_by"], recorded_by=call.actor.name, recorded_at=now))
            self._own_fact(uow, "adjustment", row["id"], b["department"], b["period"], {"adjustment": b["value"]},
                           now, now, ref=b["approved_by"][:100], detail=b["reason"][:200])
        return row

    @api("GET", "/api/v1/adjustments", roles=READERS, query=ListQuery, response=AdjustmentOut, many=True,
         summary="manual adjustments", tags=("inputs",))
    def list_adjustments(self, call):
        with self.platform.session() as session:
            return store.list_rows(session, store.adjustments, call.query["department"])

    @api("POST", "/api/v1/criticisms", roles=WRITERS, body=CriticismIn, response=CriticismOut, status=201,
         summary="a public criticism (通报批评) of a unit: a serious case, no advanced unit in that period",
         tags=("inputs",))
    def add_criticism(self, call):
        b = call.body
        now = clock.now()
        with self.platform.unit_of_work() as uow:
            self._require_department(uow.session, b["department"])
            row = store.insert_row(uow.session, store.criticisms, dict(
                department=b["department"], issued_at=b["issued_at"], document=b["document"], reason=b["reason"],
                recorded_by=call.actor.name, recorded_at=now))
            self._own_fact(uow, "criticism", row["id"], b["department"], month_of(b["issued_at"]),
                           {"criticisms": 1}, b["issued_at"], now, ref=b["document"][:100], detail=b["reason"][:200])
        return row

    @api("GET", "/api/v1/criticisms", roles=READERS, query=ListQuery, response=CriticismOut, many=True,
         summary="public criticisms", tags=("inputs",))
    def list_criticisms(self, call):
        with self.platform.session() as session:
            return store.list_rows(session, store.criticisms, call.query["department"])

    # -- scores -----------------------------------------------------------------------------------

    def scores(self, session, period, now=None) -> dict:
        """The period's result: the published snapshot when closed (with the facts that came late), else
        computed from the ledger now."""
        now = now or clock.now()
        rules = self.settings.rules
        state = store.get_period(session, period.text)
        out = {"period": period.text, "label_zh": period.label_zh(), "rules_version": rules.version,
               "metrics": [{"code": m.code, "label_zh": m.label_zh, "weight": m.weight, "kind": m.kind,
                            "inputs": m.inputs()} for m in rules.metrics],
               "state": "open", "revision": 0, "closed_at": None, "late_facts": []}
        if state is not None:
            out["revision"] = state["revision"]
        if state is not None and state["state"] == "closed":
            snap = ledger.snapshot_of(state["results"])
            late = [dict(f, late=True) for f in store.facts_recorded_after(session, period.year, state["closed_at"])
                    if ledger.in_period(period, f["period"])]
            out.update(state="closed", rules_version=state["rules_version"], closed_at=state["closed_at"],
                       as_of=snap["as_of"], rows=snap["rows"], late_facts=late)
            return out
        result = ledger.compute(session, rules, period, now)
        out.update(as_of=result["as_of"], rows=result["rows"])
        return out

    @api("GET", "/api/v1/scores", roles=READERS, query=ScoresQuery, response=ScoresOut,
         summary="a period's ranking (2026, 2026-Q3, 2026-09): one row per department", tags=("scores",))
    def get_scores(self, call):
        period = period_or_400(call.query["period"])
        with self.platform.session() as session:
            return self.scores(session, period)

    @api("GET", "/api/v1/scores/<department>", roles=READERS, query=ScoresQuery, response=DepartmentScoreOut,
         summary="one department's score down to every fact and its source event", tags=("scores",),
         responses={404: "no such department in the register"})
    def get_department_score(self, call, department):
        period = period_or_400(call.query["period"])
        now = clock.now()
        with self.platform.session() as session:
            if store.get_department(session, department) is None:
                raise NotFound(f"no department {department} in the register", message_zh="未登记的部门")
            result = self.scores(session, period, now)
            row = next((r for r in result["rows"] if r["department"] == department), None)
            if row is None:  # registered after the period was published
                raise NotFound(f"{department} is not in the published results of {period.text}",
                               message_zh="该部门不在本期已发布的考核结果中")
            closed_at = result["closed_at"]
            i = ledger.inputs(session, period, now, closed_at)
            t = i.totals.get(department, {})
            facts = [dict(f, late=closed_at is not None and f["recorded_at"] > closed_at)
                     for f in store.department_facts(session, department, period.year)
                     if ledger.in_period(period, f["period"])]
            metrics = [{"code": m.code, "label_zh": m.label_zh, "weight": m.weight, "kind": m.kind,
                        "score": row["metrics"].get(m.code), "inputs": {i: t.get(i, 0.0) for i in m.inputs()}}
                       for m in self.settings.rules.metrics]
            adj = [a for a in store.list_rows(session, store.adjustments, department)
                   if ledger.in_period(period, a["period"])]
            crit = [c for c in store.list_rows(session, store.criticisms, department)
                    if ledger.in_period(period, month_of(c["issued_at"]))]
        return {"period": period.text, "state": result["state"], "rules_version": result["rules_version"],
                "row": row, "metrics": metrics, "totals": t, "facts": facts,
                "visits_overdue": [dict(v, overdue=True) for v in i.overdue_visits if v["department"] == department],
                "adjustments": adj, "criticisms": crit, "unresolved_red_cards": i.red_cards.get(department, [])}

    @api("GET", "/api/v1/red-black-lists", roles=READERS, query=MonthQuery, response=ListsOut,
         summary="a month's red and black lists (红黑榜): the best five and the worst five", tags=("scores",))
    def red_black_lists(self, call):
        period = period_or_400(call.query["period"])
        with self.platform.session() as session:
            result = self.scores(session, period)
        return {"period": period.text, **lists_of(result["rows"], self.settings.rules.list_size)}

    # -- periods ----------------------------------------------------------------------------------

    def _period_path(self, text: str):
        try:
            return parse_period(text)
        except ValueError:
            raise NotFound(f"no period {text!r}: {PERIOD_HELP}",
                           message_zh="考核期间格式应为 2026、2026-Q3 或 2026-09") from None

    def _period_out(self, session, period, event_id=None) -> dict:
        state = store.get_period(session, period.text) or {"period": period.text, "state": "open", "revision": 0,
                                                             "closed_at": None, "closed_by": None,
                                                             "rules_version": None, "results": None}
        out = {k: state[k] for k in ("period", "state", "revision", "closed_at", "closed_by", "rules_version")}
        out.update(event_id=event_id, audit=store.audit_of(session, period.text), replay_matches=None, late_facts=0)
        if state["state"] == "closed":
            snap = ledger.snapshot_of(state["results"])
            again = ledger.compute(session, self.settings.rules, period, state["closed_at"], state["closed_at"])
            out["replay_matches"] = json.loads(ledger.snapshot_json(again)) == json.loads(
                ledger.snapshot_json(snap))
            out["late_facts"] = sum(1 for f in store.facts_recorded_after(session, period.year, state["closed_at"])
                                    if ledger.in_period(period, f["period"]))
        return out

    @api("GET", "/api/v1/periods/<period>", roles=READERS, response=PeriodOut,
         summary="a period's state, its audit trail, and whether replaying the ledger gives the published result",
         tags=("periods",))
    def get_period(self, call, period):
        p = self._period_path(period)
        with self.platform.session() as session:
            return self._period_out(session, p)

    @api("POST", "/api/v1/periods/<period>/close", roles=WRITERS, response=PeriodOut,
         summary="close a period: freeze its results and publish them (scoring.results_published)",
         tags=("periods",), responses=CONFLICT)
    def close_period(self, call, period):
        p = self._period_path(period)
        now = clock.now()
        rules = self.settings.rules
        if p.end > now:
            raise Conflict(f"{p.text} has not ended yet (it ends {p.end.isoformat()})",
                           message_zh=f"{p.label_zh()}考核期尚未结束，不能关闭")
        with self.platform.unit_of_work() as uow:
            s = uow.session
            state = store.get_period(s, p.text, lock=True)
            if state is not None and state["state"] == "closed":
                raise Conflict(f"{p.text} is already closed; reopen it first (with a reason)",
                               message_zh="该考核期已关闭发布；如需变更须先说明理由重新开启")
            result = ledger.compute(s, rules, p, now, now)
            revision = (state["revision"] if state else 0) + 1
            store.save_period(s, dict(period=p.text, state="closed", revision=revision, closed_at=now,
                                      closed_by=call.actor.name, rules_version=rules.version,
                                      results=ledger.snapshot_json(result)))
            store.insert_row(s, store.period_audit, dict(period=p.text, action="close", revision=revision,
                                                         by=call.actor.name, reason=None, at=now))
            event = uow.publish("scoring.results_published", {
                "period": p.text, "revision": revision, "rules_version": rules.version, "published_at": now,
                "by": call.actor.name, "results": [{k: r[k] for k in (
                    "department", "composite", "rank", "tier", "bonus", "advanced_unit", "efficiency_warnings",
                    "deduction", "adjustment", "final")} for r in result["rows"]]})
            return self._period_out(s, p, event["event_id"])

    @api("POST", "/api/v1/periods/<period>/reopen", roles=WRITERS, body=ReopenIn, response=PeriodOut,
         summary="reopen a published period (audited, with a reason); late facts count after the next close",
         tags=("periods",), responses=CONFLICT)
    def reopen_period(self, call, period):
        p = self._period_path(period)
        now = clock.now()
        with self.platform.unit_of_work() as uow:
            s = uow.session
            state = store.get_period(s, p.text, lock=True)
            if state is None or state["state"] != "closed":
                raise Conflict(f"{p.text} is not closed", message_zh="该考核期未关闭，无需重新开启")
            store.save_period(s, {**state, "state": "open"})
            store.insert_row(s, store.period_audit, dict(period=p.text, action="reopen", revision=state["revision"],
                                                         by=call.actor.name, reason=call.body["reason"], at=now))
            event = uow.publish("scoring.period_reopened", {
                "period": p.text, "revision": state["revision"], "reason": call.body["reason"],
                "by": call.actor.name, "reopened_at": now})
            return self._period_out(s, p, event["event_id"])

