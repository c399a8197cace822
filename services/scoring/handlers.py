"""The scoring service's use cases, as plain functions of a unit of work (or a reading session), the rules and
the command's data: taking events into the ledger, the assessment office's own inputs, the scores of a period
and closing / reopening it. The HTTP endpoints (service.py, reports.py) and the event consumer only translate."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.workcal import WorkCalendar

from . import ledger, store
from .domain import (
    CORRECTABLE,
    DECISIONS,
    DEFAULT_RECTIFICATION_DAYS,
    INSUFFICIENT,
    KIND_ZH,
    MERGED,
    NOT_ASSESSED,
    NOT_RANKED,
    PENALISED,
    PERIOD_HELP,
    PERIOD_HELP_ZH,
    RANKED,
    RECTIFICATION_ZH,
    Period,
    Rules,
    business_moment,
    effective_weights,
    evaluation_score,
    facts_of,
    item_facts,
    merged_reason,
    month_of,
    open_at,
    parse_period,
    rectification_due,
    rectification_overdue,
    rectification_step,
    stationed_report,
    statuses_of,
    touched_periods,
)

# clocks of callers drift: a moment up to this far ahead of ours is not "in the future"
TOLERANCE = timedelta(minutes=5)
UNKNOWN_DEPARTMENT = "unknown department; see GET /api/v1/departments / 未登记的部门，请先登记"


# -- events into the ledger --------------------------------------------------------------------------

def ledger_rows(event) -> list[dict]:
    """The ledger rows (facts, without `recorded_at`) a consumed event brings: its period is the month of the
    moment it reports."""
    moment = business_moment(event.event_type, event.payload, event.occurred_at)
    period = month_of(moment)
    return [dict(department=f.department, period=period, metric=f.metric, value=f.value, ref=f.ref,
                 detail=f.detail, at=moment, source_event_id=event.event_id, source_event_type=event.event_type,
                 occurred_at=event.occurred_at)
            for f in facts_of(event.event_type, event.payload)]


def record_facts(uow, batch: list[list[dict]]) -> None:
    """The facts of the events new to the ledger, each event's rows as `ledger_rows` made them, stored in the
    transaction that records the events as consumed (`platform.consuming_batched`)."""
    now = clock.now()
    store.add_facts(uow.session, [{**row, "recorded_at": now} for rows in batch for row in rows])


def void_appeal(uow, event, now: datetime) -> bool:
    """appeal.voided: the appeal ended as invalid or withdrawn, counted nowhere. Recorded once (the first
    voiding stands); every fact of that appeal, recorded or still to come, stops counting (ledger.voided)."""
    p = event.payload
    return _void(uow, event, now, p["kind"], p.get("invalid_kind"), str(p["reason"]))


def merge_appeal(uow, event, now: datetime) -> bool:
    """appeal.merged: the appeal was merged into the main case of the same matter, which counts for both. Recorded
    once (the first voiding stands), with the main case as the reason; the appeal's volume facts (domain.
    MERGED_VOIDS), recorded or still to come, stop counting, the rest of its facts stay (ledger.voided)."""
    p = event.payload
    return _void(uow, event, now, MERGED, None, merged_reason(p["main_case_no"], str(p["reason"])))


def _void(uow, event, now: datetime, kind: str, invalid_kind: str | None, reason: str) -> bool:
    p = event.payload
    if store.get_voided_appeal(uow.session, p["appeal_id"]) is not None:
        return False
    store.insert_row(uow.session, store.voided_appeals, dict(
        appeal_id=p["appeal_id"], kind=kind, invalid_kind=invalid_kind, reason=reason[:2000], by=p["by"][:100],
        at=event.occurred_at, source_event_id=event.event_id, recorded_at=now))
    return True


# -- the department register and the own inputs ------------------------------------------------------

def require_department(session, code: str, field: str = "department") -> dict:
    d = store.get_department(session, code)
    if d is None:
        raise BadRequest({field: [UNKNOWN_DEPARTMENT]})
    return d


def own_facts(uow, kind: str, row_id: int, department: str, period: str, metrics: dict, at, now, ref=None,
               detail=None) -> None:
    """An own input's facts: the same ledger, with the input's id as their source."""
    store.add_facts(uow.session, [dict(
        department=department, period=period, metric=m, value=float(v), ref=ref, detail=detail, at=at,
        source_event_id=f"{kind}-{row_id}", source_event_type=f"scoring.{kind}", occurred_at=now,
        recorded_at=now) for m, v in metrics.items()])


def register_department(uow, data: dict, now: datetime) -> tuple[dict, bool]:
    """Register a department or change it (by code): (row, created)."""
    return store.upsert_department(uow.session, data, now)


def add_evaluation(uow, data: dict, by: str, now: datetime) -> dict:
    """An enterprise's evaluation of a department: once per enterprise, department and period."""
    duplicate = Conflict(
        f"{data['enterprise']} already evaluated {data['department']} for {data['period']}",
        message_zh=f"该企业本期（{data['period']}）已评议过该部门，每个企业每期对每个部门只能评议一次")
    score = evaluation_score(data["scores"])
    require_department(uow.session, data["department"])
    if store.evaluation_exists(uow.session, data["enterprise"], data["department"], data["period"]):
        raise duplicate
    try:
        row = store.insert_row(uow.session, store.evaluations, dict(
            enterprise=data["enterprise"], department=data["department"], period=data["period"],
            scores=json.dumps(data["scores"], ensure_ascii=False, sort_keys=True), score=score,
            recorded_by=by, recorded_at=now))
    except IntegrityError:  # the same evaluation sent twice at once: the other one won
        raise duplicate from None
    own_facts(uow, "evaluation", row["id"], data["department"], data["period"],
               {"evaluations": 1, "evaluation_score": score}, now, now, detail=data["enterprise"][:200])
    return store.evaluation_out(row)


def register_point(uow, data: dict, now: datetime) -> tuple[dict, bool]:
    """Add or change a monitoring point (by code): (row, created)."""
    return store.upsert_point(uow.session, data, now)


def visit_view(row: dict, now: datetime) -> dict:
    return {**row, "overdue": ledger.visit_overdue(row, now)}


def add_visit(uow, data: dict, now: datetime, calendar: WorkCalendar | None = None,
              days: int = DEFAULT_RECTIFICATION_DAYS) -> dict:
    """A finding of an undercover visit, open until closed out; its rectification waits for the department."""
    if data["due_at"] < data["visited_at"]:
        raise BadRequest({"due_at": ["must not be before visited_at / 整改期限不能早于暗访时间"]})
    if data["visited_at"] > now + TOLERANCE:
        raise BadRequest({"visited_at": ["cannot be in the future / 暗访时间不能晚于当前时间"]})
    require_department(uow.session, data["department"])
    if data["point_code"] and store.get_point(uow.session, data["point_code"]) is None:
        raise BadRequest({"point_code": ["unknown monitoring point; see GET /api/v1/monitoring-points "
                                         "/ 未登记的效能监督点"]})
    row = store.insert_row(uow.session, store.visits, dict(
        department=data["department"], point_code=data["point_code"], visited_at=data["visited_at"],
        finding=data["finding"], due_at=data["due_at"], visitor=data["visitor"], state="open", evidence=None,
        closed_at=None, closed_by=None, closed_recorded_at=None, recorded_at=now))
    own_facts(uow, "visit", row["id"], data["department"], month_of(data["visited_at"]), {"visit_findings": 1},
               data["visited_at"], now, ref=str(row["id"]))
    # its rectification's clock: the department's report is due within `days` working days of the visit
    due, error = rectification_due(calendar or WorkCalendar.load(None), data["visited_at"], days)
    store.save_rectification(uow.session, dict(visit_id=row["id"], department=data["department"], state="pending",
                                               due_at=due, clock_error=error, overdue_at=None, check_at=due,
                                               updated_at=now))
    return visit_view(row, now)


def close_visit(uow, visit_id: int, evidence: str, closed_at: datetime | None, by: str, now: datetime) -> dict:
    """Close out a finding with evidence (销号), once."""
    closed_at = closed_at or now
    row = store.get_visit(uow.session, visit_id)
    if row is None:
        raise NotFound(f"no visit finding {visit_id}", message_zh="暗访记录不存在")
    if closed_at > now + TOLERANCE:
        raise BadRequest({"closed_at": ["cannot be in the future / 销号时间不能晚于当前时间"]})
    if closed_at < row["visited_at"]:
        raise BadRequest({"closed_at": ["must not be before visited_at / 销号时间不能早于暗访时间"]})
    if not store.close_visit(uow.session, visit_id, evidence, closed_at, by, now):
        raise Conflict(f"visit finding {visit_id} is already closed", message_zh="该问题已销号，不能重复销号")
    rect = store.get_rectification(uow.session, visit_id, lock=True)
    if rect is not None and rect["state"] not in ("accepted", "closed"):  # closed out otherwise: its clock ends
        store.save_rectification(uow.session, {**rect, "state": "closed", "check_at": None, "updated_at": now})
    return visit_view(store.get_visit(uow.session, visit_id), now)


def add_adjustment(uow, data: dict, by: str, now: datetime) -> dict:
    """A manual adjustment of a department's final score, with its reason and approver."""
    require_department(uow.session, data["department"])
    row = store.insert_row(uow.session, store.adjustments, dict(
        department=data["department"], period=data["period"], value=data["value"], reason=data["reason"],
        approved_by=data["approved_by"], recorded_by=by, recorded_at=now))
    own_facts(uow, "adjustment", row["id"], data["department"], data["period"], {"adjustment": data["value"]},
               now, now, ref=data["approved_by"][:100], detail=data["reason"][:200])
    return row


def add_criticism(uow, data: dict, by: str, now: datetime) -> dict:
    """A public criticism (通报批评) of a unit: no advanced unit in that period."""
    require_department(uow.session, data["department"])
    row = store.insert_row(uow.session, store.criticisms, dict(
        department=data["department"], issued_at=data["issued_at"], document=data["document"],
        reason=data["reason"], recorded_by=by, recorded_at=now))
    own_facts(uow, "criticism", row["id"], data["department"], month_of(data["issued_at"]), {"criticisms": 1},
               data["issued_at"], now, ref=data["document"][:100], detail=data["reason"][:200])
    return row


# -- corrections (更正) --------------------------------------------------------------------------------

TABLES = {"evaluation": store.evaluations, "visit": store.visits, "criticism": store.criticisms,
          "adjustment": store.adjustments}
NO_ITEM_ZH = {k: f"{v}记录不存在" for k, v in KIND_ZH.items()}


def _item(session, kind: str, item_id: int, scope: str | None = None, lock: bool = False) -> dict:
    row = store.get_row(session, TABLES[kind], item_id, lock=lock)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no {kind} {item_id}", message_zh=NO_ITEM_ZH[kind])
    return store.evaluation_out(row) if kind == "evaluation" else row


def item_view(session, kind: str, row: dict, history: list[dict] | None = None) -> dict:
    """An own input as it stands, whether it was voided, and every correction (the original and each change)."""
    history = store.corrections_of(session, kind, row["id"]) if history is None else history
    void = next((c for c in history if c["action"] == "void"), None)
    return {**row, "voided": void is not None, "void_reason": void["reason"] if void else None,
            "corrections": history}


def voided_items(session, kind: str) -> set[int]:
    return {c["item_id"] for c in store.list_corrections(session, kind=kind, action="void", limit=None)}


def get_item(session, kind: str, item_id: int, scope: str | None = None) -> dict:
    return item_view(session, kind, _item(session, kind, item_id, scope))


def _closed_refusal(session, periods: set[str]) -> None:
    closed = sorted({c for p in periods for c in _closed_containing(session, p)})
    if closed:
        raise Conflict(f"the correction touches the closed period(s) {', '.join(closed)}: reopen them first "
                       f"(POST /api/v1/periods/{{period}}/reopen with a reason)",
                       message_zh=f"该更正涉及已关闭发布的考核期（{'、'.join(closed)}），已发布结果不能悄然变更；"
                                  f"如确需更正，请先说明理由重新开启该考核期")


def _checked_changes(session, kind: str, row: dict, changes: dict, now: datetime) -> dict:
    """The input with `changes` applied, validated as a new entry would be (400 on changes.<field>)."""
    new = {**row, **changes}
    errors: dict[str, list[str]] = {}
    if "department" in changes and store.get_department(session, changes["department"]) is None:
        errors["department"] = [UNKNOWN_DEPARTMENT]
    if kind == "visit":
        if changes.get("point_code") and store.get_point(session, changes["point_code"]) is None:
            errors["point_code"] = ["unknown monitoring point; see GET /api/v1/monitoring-points / 未登记的效能监督点"]
        if new["due_at"] < new["visited_at"]:
            errors["due_at"] = ["must not be before visited_at / 整改期限不能早于暗访时间"]
    if kind == "criticism" and new["issued_at"] > now + TOLERANCE:
        errors["issued_at"] = ["cannot be in the future / 印发时间不能晚于当前时间"]
    if errors:
        raise BadRequest({"changes": errors})
    if kind == "evaluation":
        new["score"] = evaluation_score(new["scores"])
        if (new["enterprise"], new["department"], new["period"]) != (row["enterprise"], row["department"],
                                                                     row["period"]) and store.evaluation_exists(
                session, new["enterprise"], new["department"], new["period"]):
            raise Conflict(f"{new['enterprise']} already evaluated {new['department']} for {new['period']}",
                           message_zh="更正后的企业、部门和考核期已有一份评议，每个企业每期对每个部门只能评议一次")
    return new


def correct_item(uow, kind: str, item_id: int, action: str, data: dict, by: str, now: datetime) -> dict:
    """Void an own input entered wrongly (it no longer counts) or correct some of its fields, with a reason and the
    assessor's name: its facts get a voiding entry (cause `correction`), a correction's values come in as facts of
    their own, and the correction is kept with the input before and after. The ranking follows at once. A change
    touching a closed period is a 409 (reopen it first); a voided input is not changed again (409). The same void
    sent again answers as the first."""
    s = uow.session
    row = _item(s, kind, item_id, lock=True)
    history = store.corrections_of(s, kind, item_id)
    if any(c["action"] == "void" for c in history):
        last = history[-1]
        if action == "void" and last["reason"] == data["reason"] and last["assessor"] == data["assessor"]:
            return item_view(s, kind, row, history)
        raise Conflict(f"{kind} {item_id} was voided already", message_zh=f"该{KIND_ZH[kind]}已作废，不能再更正或作废")
    changes = {k: v for k, v in (data.get("changes") or {}).items() if k in CORRECTABLE[kind]}
    new = _checked_changes(s, kind, row, changes, now) if action == "correct" else None
    if new is not None and all(new[k] == row[k] for k in changes):
        raise BadRequest({"changes": {"_schema": ["nothing to correct: the values are those recorded / "
                                                  "更正内容与原记录相同"]}})
    periods = touched_periods(kind, row) | (touched_periods(kind, new) if new is not None else set())
    _closed_refusal(s, periods)
    revision = len(history) + 1
    sources = [f"{kind}-{item_id}"] + [f"{kind}-{item_id}-r{c['revision']}" for c in history]
    current = [f for source in sources for f in store.facts_of_source(s, source)]
    done = store.facts_with_void(s, [f["id"] for f in current])
    for f in current:
        if f["id"] not in done:
            store.add_fact_void(s, dict(
                fact_id=f["id"], cause="correction", ref=f"{kind}-{item_id}",
                reason=f"{'作废' if action == 'void' else '更正'}{KIND_ZH[kind]}（第 {revision} 次，"
                       f"{data['assessor']}）：{data['reason']}"[:4000], by=by, at=now, recorded_at=now))
    if new is not None:
        stored = {k: new[k] for k in changes}
        if kind == "evaluation":
            stored = {**stored, "score": new["score"]}
            if "scores" in stored:
                stored["scores"] = json.dumps(new["scores"], ensure_ascii=False, sort_keys=True)
        store.update_row(s, TABLES[kind], item_id, stored)
        if kind == "visit" and "department" in changes:
            rect = store.get_rectification(s, item_id, lock=True)
            if rect is not None:
                store.save_rectification(s, {**rect, "department": new["department"], "updated_at": now})
        period, metrics, at, ref, detail = item_facts(kind, new)
        store.add_facts(s, [dict(department=new["department"], period=period, metric=m, value=float(v), ref=ref,
                                 detail=detail, at=at, source_event_id=f"{kind}-{item_id}-r{revision}",
                                 source_event_type=f"scoring.{kind}", occurred_at=now, recorded_at=now)
                            for m, v in metrics.items()])
    elif kind == "visit":  # a voided finding: its rectification clock stops
        rect = store.get_rectification(s, item_id, lock=True)
        if rect is not None and rect["state"] not in ("accepted", "closed"):
            store.save_rectification(s, {**rect, "state": "closed", "check_at": None, "updated_at": now})
    try:
        store.add_correction(s, dict(
            kind=kind, item_id=item_id, revision=revision, action=action, department=row["department"],
            department_after=new["department"] if new is not None else None, periods=sorted(periods),
            reason=data["reason"], by=by, assessor=data["assessor"], at=now, before=_plain(row),
            after=_plain(new) if new is not None else None))
    except IntegrityError:  # corrected twice at once: the other one won
        raise Conflict(f"{kind} {item_id} was corrected at the same time; look again",
                       message_zh="该记录正被同时更正，请刷新后重试") from None
    return get_item(s, kind, item_id)


def _plain(row: dict) -> dict:
    out = {k: v for k, v in row.items() if k not in ("voided", "corrections", "void_reason")}
    if isinstance(out.get("scores"), str):
        out["scores"] = json.loads(out["scores"])
    return out


def find_corrections(session, query: dict) -> list[dict]:
    period = query.get("period")
    p = parse_period(period) if period else None
    rows = store.list_corrections(session, kind=query.get("kind"), action=query.get("action"),
                                  department=query.get("department"), year=p.year if p else None,
                                  limit=query.get("limit", 1000))
    return [c for c in rows if p is None or any(ledger.in_period(p, x) for x in c["periods"])]


# -- 驻莱单位: the stationed units' enterprise-evaluation report ---------------------------------------------

def stationed_units(session, rules: Rules, period: Period, now: datetime) -> dict:
    """The enterprise evaluations of the units stationed in the city under a superior authority (驻莱单位) in
    `period`, from the ledger (voided and corrected evaluations as they count now): per unit its count, mean,
    distribution over the rule file's bands and rank among the stationed units; grouped by superior."""
    units = [d for d in ledger.departments(session) if d.superior]
    codes = {d.code for d in units}
    gone = {f["id"] for f in ledger.voided(session, year=period.year)}
    scores: dict[str, list[float]] = {}
    for f in store.fact_values(session, "evaluation_score", period.year):
        if f["department"] in codes and f["id"] not in gone and ledger.in_period(period, f["period"]):
            scores.setdefault(f["department"], []).append(f["value"])
    rows = stationed_report(units, scores, rules.evaluation_bands)
    superiors: dict[str, list[dict]] = {}
    for r in rows:
        superiors.setdefault(r["superior"], []).append(r)
    return {"period": period.text, "label_zh": period.label_zh(), "as_of": now, "rules_version": rules.version,
            "bands": [{"label_zh": label, "min": low} for label, low in rules.evaluation_bands], "rows": rows,
            "superiors": [{"superior": k, "units": v} for k, v in sorted(superiors.items())]}


# -- scores ------------------------------------------------------------------------------------------

def _metric_list(rules: Rules) -> list[dict]:
    return [{"code": m.code, "label_zh": m.label_zh, "weight": m.weight, "kind": m.kind, "inputs": m.inputs(),
             "min_sample": m.min_sample, "basis": list(m.basis), "basis_label_zh": m.basis_label_zh}
            for m in rules.metrics]


def scores_seen_by(session, rules: Rules, period: Period, now: datetime, scope: str | None) -> dict:
    """`scores` as a reader sees them: a department handler (`scope`) its own department's row only (and its own
    late facts and open objections), whether the period is open or published."""
    out = scores(session, rules, period, now)
    if scope is not None:
        for key in ("rows", "late_facts", "open_objections"):
            out[key] = [r for r in out[key] if r.get("department") == scope]
    return out


def scores(session, rules: Rules, period: Period, now: datetime) -> dict:
    """The period's result: the published snapshot when closed (with the facts that came late), else computed
    from the ledger now."""
    state = store.get_period(session, period.text)
    out = {"period": period.text, "label_zh": period.label_zh(), "rules_version": rules.version,
           "metrics": _metric_list(rules), "notes_zh": list(rules.notes_zh), "state": "open", "revision": 0,
           "closed_at": None, "late_facts": [],
           "open_objections": open_objections(session, period, state["closed_at"] if state
                                              and state["state"] == "closed" else None)}
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


def department_score(session, rules: Rules, period: Period, department: str, now: datetime,
                     scope: str | None = None) -> dict:
    """One department's score down to every fact and its source event. A department handler (`scope`) asking
    for another department's is answered as for a department not registered."""
    if store.get_department(session, department) is None or (scope is not None and department != scope):
        raise NotFound(f"no department {department} in the register", message_zh="未登记的部门")
    result = scores(session, rules, period, now)
    row = next((r for r in result["rows"] if r["department"] == department), None)
    if row is None:  # registered after the period was published
        raise NotFound(f"{department} is not in the published results of {period.text}",
                       message_zh="该部门不在本期已发布的考核结果中")
    closed_at = result["closed_at"]
    i = ledger.inputs(session, period, now, closed_at)
    t = i.totals.get(department, {})
    voids = {f["id"]: f for f in ledger.voided(session, year=period.year, department=department)}
    facts = [dict(f, late=closed_at is not None and f["recorded_at"] > closed_at, **_void_of(voids.get(f["id"])))
             for f in store.department_facts(session, department, period.year)
             if ledger.in_period(period, f["period"])]
    statuses = statuses_of(rules, t)
    shares = effective_weights(rules, statuses)
    assessed = row.get("standing") != NOT_ASSESSED
    metrics = [{"code": m.code, "label_zh": m.label_zh, "weight": m.weight, "kind": m.kind,
                "score": row["metrics"].get(m.code), "inputs": {i: t.get(i, 0.0) for i in m.inputs()},
                "status": statuses[m.code] if assessed else NOT_ASSESSED,
                "sample": m.sample(t) if m.basis else None, "min_sample": m.min_sample,
                "basis_label_zh": m.basis_label_zh, "effective_weight": shares[m.code] if assessed else 0.0,
                "explanation_zh": m.explain_zh(t) if assessed else row.get("standing_reason", "")}
               for m in rules.metrics]
    void_adj, void_crit = voided_items(session, "adjustment"), voided_items(session, "criticism")
    adj = [dict(a, voided=a["id"] in void_adj) for a in store.list_rows(session, store.adjustments, department)
           if ledger.in_period(period, a["period"])]
    crit = [dict(c, voided=c["id"] in void_crit) for c in store.list_rows(session, store.criticisms, department)
            if ledger.in_period(period, month_of(c["issued_at"]))]
    return {"period": period.text, "state": result["state"], "rules_version": result["rules_version"],
            "row": row, "standing": row.get("standing", RANKED), "standing_zh": row.get("standing_zh", ""),
            "standing_reason": row.get("standing_reason", ""), "explanation_zh": _explain(rules, row, metrics),
            "notes_zh": list(rules.notes_zh), "metrics": metrics, "totals": t, "facts": facts,
            "visits_overdue": [dict(v, overdue=True) for v in i.overdue_visits if v["department"] == department],
            "adjustments": adj, "criticisms": crit, "unresolved_red_cards": i.red_cards.get(department, [])}


def _void_of(v: dict | None) -> dict:
    if v is None:
        return {"voided": False}
    return {"voided": True, "void": {k: v[k] for k in ("void_cause", "void_reason", "void_ref", "voided_by",
                                                       "voided_at", "void_recorded_at")}}


def _explain(rules: Rules, row: dict, metrics: list[dict]) -> list[str]:
    """The breakdown's sentences: the standing and why, which metrics had not enough data, the weights used."""
    standing = row.get("standing", RANKED)
    if standing == NOT_ASSESSED:
        return [f"{row.get('standing_zh', '')}：{row.get('standing_reason', '')}"]
    out = []
    if standing == NOT_RANKED:
        out.append(f"{row.get('standing_zh', '')}：{row.get('standing_reason', '')}")
    short = [m for m in metrics if m["status"] == INSUFFICIENT]
    if short:
        out.append("数据不足、未计入综合得分的指标：" + "；".join(f"{m['label_zh']}（{m['explanation_zh']}）"
                                                   for m in short))
    penalised = [m for m in metrics if m["status"] == PENALISED]
    if penalised:
        out.append("样本不足但已发生扣分、照常计入的指标：" + "、".join(m["label_zh"] for m in penalised))
    if standing == RANKED and short:
        out.append("计入指标的权重按比例重新分配：" + "、".join(
            f"{m['label_zh']} {m['effective_weight']:g}%" for m in metrics if m["status"] != INSUFFICIENT))
    return out


# -- periods -----------------------------------------------------------------------------------------

def period_named(text: str) -> Period:
    """The period a path names, or 404."""
    try:
        return parse_period(text)
    except ValueError:
        raise NotFound(f"no period {text!r}: {PERIOD_HELP}",
                       message_zh=PERIOD_HELP_ZH) from None


def period_view(session, rules: Rules, period: Period, event_id=None) -> dict:
    """A period's state, its audit trail and whether replaying the ledger gives the published result."""
    state = store.get_period(session, period.text) or {"period": period.text, "state": "open", "revision": 0,
                                                         "closed_at": None, "closed_by": None,
                                                         "rules_version": None, "results": None}
    out = {k: state[k] for k in ("period", "state", "revision", "closed_at", "closed_by", "rules_version")}
    out.update(event_id=event_id, audit=store.audit_of(session, period.text), replay_matches=None, late_facts=0,
               replay_note=None, open_objections=open_objections(session, period, state["closed_at"]))
    if state["state"] == "closed":
        snap = ledger.snapshot_of(state["results"])
        if state["rules_version"] == rules.version:
            again = ledger.compute(session, rules, period, state["closed_at"], state["closed_at"])
            out["replay_matches"] = json.loads(ledger.snapshot_json(again)) == json.loads(
                ledger.snapshot_json(snap))
        else:  # published under other rules: it keeps them; replaying under these would compare nothing
            out["replay_note"] = (f"published under rules {state['rules_version']}, these are {rules.version}: "
                                  f"not replayed / 已发布结果按考核细则 {state['rules_version']} 计算，"
                                  f"当前细则为 {rules.version}，不重算比对")
        out["late_facts"] = sum(1 for f in store.facts_recorded_after(session, period.year, state["closed_at"])
                                if ledger.in_period(period, f["period"]))
    return out


def close_period(uow, rules: Rules, period: Period, by: str, now: datetime,
                 with_open_objections: bool = False) -> dict:
    """Freeze a period's results and publish them (scoring.results_published); its view after. Objections open
    on its facts refuse the close (409), unless `with_open_objections`: then they are listed as open in the
    published result."""
    if period.end > now:
        raise Conflict(f"{period.text} has not ended yet (it ends {period.end.isoformat()})",
                       message_zh=f"{period.label_zh()}考核期尚未结束，不能关闭")
    s = uow.session
    state = store.get_period(s, period.text, lock=True)
    if state is not None and state["state"] == "closed":
        raise Conflict(f"{period.text} is already closed; reopen it first (with a reason)",
                       message_zh="该考核期已关闭发布；如需变更须先说明理由重新开启")
    pending = open_objections(s, period)
    if pending and not with_open_objections:
        raise Conflict(f"{len(pending)} objection(s) on facts of {period.text} are open: decide them, or close "
                       f"with with_open_objections: true to publish them as open "
                       f"({', '.join(str(o['id']) for o in pending)})",
                       message_zh=f"本期尚有 {len(pending)} 件申诉未处理（申诉编号 "
                                  f"{'、'.join(str(o['id']) for o in pending)}），请先处理，或注明带未结申诉发布")
    result = ledger.compute(s, rules, period, now, now)
    revision = (state["revision"] if state else 0) + 1
    store.save_period(s, dict(period=period.text, state="closed", revision=revision, closed_at=now, closed_by=by,
                              rules_version=rules.version, results=ledger.snapshot_json(result)))
    store.insert_row(s, store.period_audit, dict(period=period.text, action="close", revision=revision, by=by,
                                                 reason=None, at=now))
    event = uow.publish("scoring.results_published", {
        "period": period.text, "revision": revision, "rules_version": rules.version, "published_at": now,
        "by": by, "results": [{k: r[k] for k in (
            "department", "composite", "rank", "tier", "bonus", "advanced_unit", "efficiency_warnings",
            "deduction", "adjustment", "final", "ranking_group", "ranking_group_zh", "group_size")}
            for r in result["rows"] if r["standing"] == RANKED],
        "unranked": [{k: r[k] for k in (
            "department", "standing", "standing_reason", "insufficient", "efficiency_warnings", "deduction",
            "adjustment", "final")} for r in result["rows"] if r["standing"] != RANKED],
        "open_objections": [{"objection_id": str(o["id"]), "fact_id": str(o["fact_id"]),
                             "department": o["department"], "metric": o["metric"], "lodged_at": o["lodged_at"]}
                            for o in pending]})
    return period_view(s, rules, period, event["event_id"])


def reopen_period(uow, rules: Rules, period: Period, reason: str, by: str, now: datetime) -> dict:
    """Reopen a published period (audited, with a reason; scoring.period_reopened); its view after."""
    s = uow.session
    state = store.get_period(s, period.text, lock=True)
    if state is None or state["state"] != "closed":
        raise Conflict(f"{period.text} is not closed", message_zh="该考核期未关闭，无需重新开启")
    store.save_period(s, {**state, "state": "open"})
    store.insert_row(s, store.period_audit, dict(period=period.text, action="reopen", revision=state["revision"],
                                                 by=by, reason=reason, at=now))
    event = uow.publish("scoring.period_reopened", {
        "period": period.text, "revision": state["revision"], "reason": reason, "by": by, "reopened_at": now})
    return period_view(s, rules, period, event["event_id"])


# -- objections (申诉) ---------------------------------------------------------------------------------

UNKNOWN_FACT = "unknown fact; see GET /api/v1/facts / 未找到该考核事实"


def _closed_containing(session, fact_period: str) -> list[str]:
    """The closed periods a fact of `fact_period` counts in."""
    try:
        year = parse_period(fact_period).year
    except ValueError:
        return []
    return [p["period"] for p in store.closed_periods(session, year)
            if ledger.in_period(parse_period(p["period"]), fact_period)]


def objection_view(session, row: dict) -> dict:
    """An objection with its fact and its history (lodged, then decided), as both sides see it."""
    fact = store.get_fact(session, row["fact_id"])
    history = [{"action": "lodged", "by": row["lodged_by"], "at": row["lodged_at"], "reasons": row["reasons"],
                "on_behalf": row["on_behalf"]}]
    if row["state"] != "open":
        history.append({"action": row["state"], "by": row["decided_by"], "at": row["decided_at"],
                        "reasons": row["decision_reasons"]})
    return {**row, "fact": fact, "history": history}


def lodge_objection(uow, data: dict, actor, scope: str | None, now: datetime) -> tuple[dict, bool]:
    """A department's objection to a fact of its own (a department handler), or entered for it by the assessment
    office: (the objection, created). The same objection sent again answers the first (a retried request);
    another one to a fact already objected to is a 409: one objection per fact."""
    s = uow.session
    fact = store.get_fact(s, data["fact_id"])
    # another department's fact is answered as a missing one: its existence is not confirmed
    if fact is None or fact["department"] is None or (scope is not None and fact["department"] != scope):
        raise BadRequest({"fact_id": [UNKNOWN_FACT]})
    existing = store.objection_of_fact(s, fact["id"])
    if existing is not None:
        if existing["reasons"] == data["reasons"] and existing["department"] == fact["department"]:
            return objection_view(s, existing), False
        raise Conflict(f"fact {fact['id']} was objected to already (objection {existing['id']})",
                       message_zh=f"该事实已提出过申诉（申诉编号 {existing['id']}），每项事实只能申诉一次")
    if any(v["id"] == fact["id"] for v in ledger.voided(s, department=fact["department"])):
        raise Conflict(f"fact {fact['id']} no longer counts (voided)", message_zh="该事实已作废，不计入考核，无需申诉")
    closed = _closed_containing(s, fact["period"])
    if closed:
        raise Conflict(f"the period {', '.join(closed)} of this fact is closed; the assessment office may reopen it",
                       message_zh=f"该事实所属考核期（{'、'.join(closed)}）已关闭发布，如需申诉请联系考核办重新开启")
    values = dict(fact_id=fact["id"], department=fact["department"], period=fact["period"], metric=fact["metric"],
                  reasons=data["reasons"], lodged_by=actor.name, on_behalf=scope is None, lodged_at=now,
                  state="open", decision_reasons=None, decided_by=None, decided_at=None)
    try:
        row = store.insert_row(s, store.objections, values)
    except IntegrityError:  # sent twice at once: the other one won (one objection all the same)
        raise Conflict(f"fact {fact['id']} was objected to already", message_zh="该事实已提出过申诉") from None
    uow.publish("objection.lodged", {
        "objection_id": str(row["id"]), "fact_id": str(fact["id"]), "department": fact["department"],
        "period": fact["period"], "metric": fact["metric"], "on_behalf": row["on_behalf"], "by": actor.name,
        "lodged_at": now}, department=fact["department"])
    return objection_view(s, row), True


def get_objection(session, objection_id: int, scope: str | None) -> dict:
    row = store.get_objection(session, objection_id)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no objection {objection_id}", message_zh="申诉不存在")
    return objection_view(session, row)


def find_objections(session, query: dict) -> list[dict]:
    period = query.get("period")
    p = parse_period(period) if period else None
    rows = store.list_objections(session, department=query.get("department"), state=query.get("state"),
                                 year=p.year if p else None)
    return [objection_view(session, r) for r in rows if p is None or ledger.in_period(p, r["period"])]


def decide_objection(uow, objection_id: int, action: str, reasons: str, by: str, now: datetime) -> dict:
    """The assessment office upholds an objection (its fact and the other facts of the same source event are
    voided, the objection the reason: voiding entries, the facts stay) or rejects it, with reasons. The same
    decision sent again answers as the first; another
    decision of a decided objection is a 409."""
    s = uow.session
    row = store.get_objection(s, objection_id, lock=True)
    if row is None:
        raise NotFound(f"no objection {objection_id}", message_zh="申诉不存在")
    state = DECISIONS[action]
    if row["state"] != "open":
        if row["state"] == state and row["decision_reasons"] == reasons:
            return objection_view(s, row)
        raise Conflict(f"objection {objection_id} was decided already ({row['state']})",
                       message_zh="该申诉已作出处理决定，不能重复处理")
    values = dict(state=state, decision_reasons=reasons, decided_by=by, decided_at=now)
    if not store.decide_objection(s, objection_id, values):
        raise Conflict(f"objection {objection_id} was decided already", message_zh="该申诉已作出处理决定，不能重复处理")
    if state == "upheld":
        # the fact and the others its source brought (an event's facts are one record: a late decision's count
        # and its in-time flag go together, or the rate would be skewed), each with its voiding entry
        fact = store.get_fact(s, row["fact_id"])
        done = {v["id"] for v in ledger.voided(s, department=row["department"])}
        for f in store.facts_of_source(s, fact["source_event_id"]):
            if f["id"] not in done:
                store.add_fact_void(s, dict(fact_id=f["id"], cause="objection", ref=str(objection_id),
                                            reason=f"申诉成立（申诉编号 {objection_id}）：{row['reasons']}"[:4000],
                                            by=by, at=now, recorded_at=now))
    uow.publish("objection.decided", {
        "objection_id": str(objection_id), "fact_id": str(row["fact_id"]), "department": row["department"],
        "period": row["period"], "metric": row["metric"], "decision": state, "by": by, "decided_at": now},
        department=row["department"])
    return objection_view(s, {**row, **values})


def open_objections(session, period: Period, moment: datetime | None = None) -> list[dict]:
    """The objections on facts of `period` open at `moment` (now: open)."""
    rows = store.list_objections(session, year=period.year)
    return [{k: r[k] for k in ("id", "fact_id", "department", "metric", "period", "lodged_at")}
            for r in rows if ledger.in_period(period, r["period"])
            and (r["state"] == "open" if moment is None else open_at(r, moment))]



# -- rectification of visit findings (整改) -----------------------------------------------------------

RECTIFICATION_BATCH = 200
NO_VISIT_ZH = "暗访记录不存在"


def _visit_seen(session, visit_id: int, scope: str | None, lock: bool = False) -> tuple[dict, dict]:
    """The finding and its rectification; another department's is answered as a missing one."""
    visit = store.get_visit(session, visit_id)
    rect = store.get_rectification(session, visit_id, lock=lock) if visit is not None else None
    if visit is None or rect is None or (scope is not None and visit["department"] != scope):
        raise NotFound(f"no visit finding {visit_id} with a rectification", message_zh=NO_VISIT_ZH)
    return visit, rect


def rectification_view(session, visit: dict, rect: dict, now: datetime) -> dict:
    """A finding's rectification as both sides see it: state, due time, overdue, every report and its review."""
    rounds = store.rounds_of(session, visit["id"])
    return {**rect, "state_zh": RECTIFICATION_ZH[rect["state"]], "finding": visit["finding"],
            "visited_at": visit["visited_at"], "overdue": rect["overdue_at"] is not None or rectification_overdue(
                rect["state"], rect["due_at"], None, now),
            "current": rounds[-1] if rounds else None, "rounds": rounds}


def get_rectification(session, visit_id: int, scope: str | None, now: datetime) -> dict:
    visit, rect = _visit_seen(session, visit_id, scope)
    return rectification_view(session, visit, rect, now)


def find_rectifications(session, query: dict, now: datetime) -> list[dict]:
    out = []
    for rect in store.list_rectifications(session, query.get("department"), query.get("state")):
        visit = store.get_visit(session, rect["visit_id"])
        out.append(rectification_view(session, visit, rect, now))
    return out


def _payload(visit: dict, rect: dict, round_no: int | None, at: datetime) -> dict:
    # no report text, names or links travel: those stay in scoring
    return {"visit_id": str(visit["id"]), "department": visit["department"], "round": round_no,
            "due_at": rect["due_at"], "at": at}


def submit_rectification(uow, visit_id: int, data: dict, by: str, scope: str | None,
                         now: datetime) -> tuple[dict, bool]:
    """The department's rectification report (整改报告) for a finding of its own: (view, created). The same report
    sent again while it waits answers as the first (a retried request); another report while one waits, or after
    the finding was closed out, is a 409."""
    s = uow.session
    visit, rect = _visit_seen(s, visit_id, scope, lock=True)
    rounds = store.rounds_of(s, visit_id)
    last = rounds[-1] if rounds else None
    if rect["state"] == "submitted" and last is not None and (
            last["corrected"], last["corrected_by"], last["attachments"]) == (
            data["corrected"], data["corrected_by"], data["attachments"]):
        return rectification_view(s, visit, rect, now), False
    try:
        state = rectification_step(rect["state"], "submit")
    except ValueError:
        raise Conflict(f"the rectification of finding {visit_id} is {rect['state']}: no report now",
                       message_zh=f"该问题整改状态为“{RECTIFICATION_ZH[rect['state']]}”，不能提交整改报告") from None
    round_no = (last["round"] if last else 0) + 1
    store.add_round(s, dict(visit_id=visit_id, round=round_no, corrected=data["corrected"],
                            corrected_by=data["corrected_by"], attachments=data["attachments"], submitted_by=by,
                            submitted_at=now, decision=None, reviewed_by=None, reviewed_at=None, note=None))
    rect = {**rect, "state": state, "check_at": None, "updated_at": now}
    store.save_rectification(s, rect)
    uow.publish("visit.rectification_submitted", _payload(visit, rect, round_no, now), department=visit["department"])
    return rectification_view(s, visit, rect, now), True


def review_rectification(uow, visit_id: int, act: str, note: str | None, by: str, now: datetime) -> dict:
    """The assessor accepts the waiting report (the finding is closed out with it, 销号) or returns it with a
    reason (the department submits again; its clock runs on: past its due time it is overdue at once). The
    same review sent again answers as the first."""
    s = uow.session
    visit, rect = _visit_seen(s, visit_id, None, lock=True)
    rounds = store.rounds_of(s, visit_id)
    last = rounds[-1] if rounds else None
    decision = {"accept": "accepted", "return": "returned"}[act]
    if last is not None and last["decision"] == decision and rect["state"] == decision and (
            act == "accept" or last["note"] == note):
        return rectification_view(s, visit, rect, now)
    try:
        state = rectification_step(rect["state"], act)
    except ValueError:
        raise Conflict(f"the rectification of finding {visit_id} is {rect['state']}: no report waits for review",
                       message_zh=f"该问题整改状态为“{RECTIFICATION_ZH[rect['state']]}”，"
                                  "没有待审核的整改报告") from None
    store.review_round(s, last["id"], dict(decision=decision, reviewed_by=by, reviewed_at=now, note=note))
    check_at = None
    if act == "accept":
        evidence = "；".join(x for x in (f"整改报告第{last['round']}次：{last['corrected']}",
                                         f"整改责任人：{last['corrected_by']}",
                                         "附件：" + "、".join(last["attachments"]) if last["attachments"] else "",
                                         f"审核意见：{note}" if note else "") if x)
        if not store.close_visit(s, visit_id, evidence[:5000], now, by, now):
            raise Conflict(f"visit finding {visit_id} is already closed", message_zh="该问题已销号，不能重复销号")
    elif rect["overdue_at"] is None and rect["due_at"] is not None:
        check_at = max(rect["due_at"], now)
    rect = {**rect, "state": state, "check_at": check_at, "updated_at": now}
    store.save_rectification(s, rect)
    event = "visit.rectification_accepted" if act == "accept" else "visit.rectification_returned"
    uow.publish(event, _payload(visit, rect, last["round"], now), department=visit["department"])
    return rectification_view(s, visit, rect, now)


def check_due_rectifications(uow, now: datetime, limit: int = RECTIFICATION_BATCH) -> int:
    """The timer's tick: claim the rectifications whose check has come; one still waiting for the department
    past its due time is overdue, said once (visit.rectification_overdue, at the moment it became overdue).
    Returns how many were claimed."""
    s = uow.session
    claimed = store.claim_due_rectifications(s, now, limit)
    for rect in claimed:
        overdue_at = rect["overdue_at"]
        if rectification_overdue(rect["state"], rect["due_at"], rect["overdue_at"], now):
            overdue_at = rect["due_at"]
            visit = store.get_visit(s, rect["visit_id"])
            uow.publish("visit.rectification_overdue", _payload(visit, rect, None, overdue_at),
                        department=rect["department"], occurred_at=overdue_at)
        store.save_rectification(s, {**rect, "overdue_at": overdue_at, "check_at": None, "updated_at": now})
    return len(claimed)
