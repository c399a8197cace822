"""The scoring service's use cases, as plain functions of a unit of work (or a reading session), the rules and
the command's data: taking events into the ledger, the assessment office's own inputs, the scores of a period
and closing / reopening it. The HTTP endpoints (service.py, reports.py) and the event consumer only translate."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.errors import BadRequest, Conflict, NotFound

from . import ledger, store
from .domain import (
    INSUFFICIENT,
    NOT_ASSESSED,
    NOT_RANKED,
    PENALISED,
    PERIOD_HELP,
    RANKED,
    Period,
    Rules,
    business_moment,
    effective_weights,
    facts_of,
    month_of,
    parse_period,
    statuses_of,
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


# -- the department register and the own inputs ------------------------------------------------------

def require_department(session, code: str, field: str = "department") -> dict:
    d = store.get_department(session, code)
    if d is None:
        raise BadRequest({field: [UNKNOWN_DEPARTMENT]})
    return d


def _own_facts(uow, kind: str, row_id: int, department: str, period: str, metrics: dict, at, now, ref=None,
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
    score = round(sum(data["scores"].values()) / len(data["scores"]), 4)
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
    _own_facts(uow, "evaluation", row["id"], data["department"], data["period"],
               {"evaluations": 1, "evaluation_score": score}, now, now, detail=data["enterprise"][:200])
    return store.evaluation_out(row)


def register_point(uow, data: dict, now: datetime) -> tuple[dict, bool]:
    """Add or change a monitoring point (by code): (row, created)."""
    return store.upsert_point(uow.session, data, now)


def visit_view(row: dict, now: datetime) -> dict:
    return {**row, "overdue": ledger.visit_overdue(row, now)}


def add_visit(uow, data: dict, now: datetime) -> dict:
    """A finding of an undercover visit, open until closed out."""
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
    _own_facts(uow, "visit", row["id"], data["department"], month_of(data["visited_at"]), {"visit_findings": 1},
               data["visited_at"], now, ref=str(row["id"]))
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
    return visit_view(store.get_visit(uow.session, visit_id), now)


def add_adjustment(uow, data: dict, by: str, now: datetime) -> dict:
    """A manual adjustment of a department's final score, with its reason and approver."""
    require_department(uow.session, data["department"])
    row = store.insert_row(uow.session, store.adjustments, dict(
        department=data["department"], period=data["period"], value=data["value"], reason=data["reason"],
        approved_by=data["approved_by"], recorded_by=by, recorded_at=now))
    _own_facts(uow, "adjustment", row["id"], data["department"], data["period"], {"adjustment": data["value"]},
               now, now, ref=data["approved_by"][:100], detail=data["reason"][:200])
    return row


def add_criticism(uow, data: dict, by: str, now: datetime) -> dict:
    """A public criticism (通报批评) of a unit: no advanced unit in that period."""
    require_department(uow.session, data["department"])
    row = store.insert_row(uow.session, store.criticisms, dict(
        department=data["department"], issued_at=data["issued_at"], document=data["document"],
        reason=data["reason"], recorded_by=by, recorded_at=now))
    _own_facts(uow, "criticism", row["id"], data["department"], month_of(data["issued_at"]), {"criticisms": 1},
               data["issued_at"], now, ref=data["document"][:100], detail=data["reason"][:200])
    return row


# -- scores ------------------------------------------------------------------------------------------

def _metric_list(rules: Rules) -> list[dict]:
    return [{"code": m.code, "label_zh": m.label_zh, "weight": m.weight, "kind": m.kind, "inputs": m.inputs(),
             "min_sample": m.min_sample, "basis": list(m.basis), "basis_label_zh": m.basis_label_zh}
            for m in rules.metrics]


def scores(session, rules: Rules, period: Period, now: datetime) -> dict:
    """The period's result: the published snapshot when closed (with the facts that came late), else computed
    from the ledger now."""
    state = store.get_period(session, period.text)
    out = {"period": period.text, "label_zh": period.label_zh(), "rules_version": rules.version,
           "metrics": _metric_list(rules), "notes_zh": list(rules.notes_zh), "state": "open", "revision": 0,
           "closed_at": None, "late_facts": []}
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


def department_score(session, rules: Rules, period: Period, department: str, now: datetime) -> dict:
    """One department's score down to every fact and its source event."""
    if store.get_department(session, department) is None:
        raise NotFound(f"no department {department} in the register", message_zh="未登记的部门")
    result = scores(session, rules, period, now)
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
    adj = [a for a in store.list_rows(session, store.adjustments, department)
           if ledger.in_period(period, a["period"])]
    crit = [c for c in store.list_rows(session, store.criticisms, department)
            if ledger.in_period(period, month_of(c["issued_at"]))]
    return {"period": period.text, "state": result["state"], "rules_version": result["rules_version"],
            "row": row, "standing": row.get("standing", RANKED), "standing_zh": row.get("standing_zh", ""),
            "standing_reason": row.get("standing_reason", ""), "explanation_zh": _explain(rules, row, metrics),
            "notes_zh": list(rules.notes_zh), "metrics": metrics, "totals": t, "facts": facts,
            "visits_overdue": [dict(v, overdue=True) for v in i.overdue_visits if v["department"] == department],
            "adjustments": adj, "criticisms": crit, "unresolved_red_cards": i.red_cards.get(department, [])}


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
                       message_zh="考核期间格式应为 2026、2026-Q3 或 2026-09") from None


def period_view(session, rules: Rules, period: Period, event_id=None) -> dict:
    """A period's state, its audit trail and whether replaying the ledger gives the published result."""
    state = store.get_period(session, period.text) or {"period": period.text, "state": "open", "revision": 0,
                                                         "closed_at": None, "closed_by": None,
                                                         "rules_version": None, "results": None}
    out = {k: state[k] for k in ("period", "state", "revision", "closed_at", "closed_by", "rules_version")}
    out.update(event_id=event_id, audit=store.audit_of(session, period.text), replay_matches=None, late_facts=0,
               replay_note=None)
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


def close_period(uow, rules: Rules, period: Period, by: str, now: datetime) -> dict:
    """Freeze a period's results and publish them (scoring.results_published); its view after."""
    if period.end > now:
        raise Conflict(f"{period.text} has not ended yet (it ends {period.end.isoformat()})",
                       message_zh=f"{period.label_zh()}考核期尚未结束，不能关闭")
    s = uow.session
    state = store.get_period(s, period.text, lock=True)
    if state is not None and state["state"] == "closed":
        raise Conflict(f"{period.text} is already closed; reopen it first (with a reason)",
                       message_zh="该考核期已关闭发布；如需变更须先说明理由重新开启")
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
            "deduction", "adjustment", "final")} for r in result["rows"] if r["standing"] == RANKED],
        "unranked": [{k: r[k] for k in (
            "department", "standing", "standing_reason", "insufficient", "efficiency_warnings", "deduction",
            "adjustment", "final")} for r in result["rows"] if r["standing"] != RANKED]})
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
