"""From the ledger to a period's ranking: sums the facts of the period, adds what is judged at a moment (overdue
undercover-visit findings, unresolved red cards) and hands it to the pure rules (domain.rank). Everything is
read from stored rows, optionally only those recorded by a moment, so recomputing gives the same result."""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from . import store
from .domain import (
    APPEAL_SOURCES,
    MERGED,
    MERGED_VOIDS,
    Department,
    Period,
    Rules,
    end_of,
    late_response_changes,
    parse_period,
    rank,
    unresolved_red_cards,
)


@functools.lru_cache(maxsize=4096)
def _period(text: str) -> Period | None:
    try:
        return parse_period(text)
    except ValueError:
        return None


def in_period(period: Period, fact_period: str) -> bool:
    p = _period(fact_period)
    return p is not None and period.contains(p)


def departments(session: Session) -> list[Department]:
    return [Department(d["code"], d["name"], d["approval_functions"], d["enforcement_functions"], d["tier"],
                       bool(d.get("assessed", True)), d.get("superior"))
            for d in store.list_departments(session)]


def _moment(text, default: datetime) -> datetime:
    try:
        return datetime.fromisoformat(text) if text else default
    except ValueError:
        return default


def voided(session: Session, *, year: int | None = None, department: str | None = None,
           recorded_by: datetime | None = None) -> list[dict]:
    """The facts that no longer count (store.voided_facts): upheld on objection, of a voided appeal, or the volume
    facts of a merged one."""
    return store.voided_facts(session, year=year, department=department, recorded_by=recorded_by,
                              appeal_sources=APPEAL_SOURCES, merged=(MERGED, MERGED_VOIDS))


def late_responses(session: Session, period: Period, totals: dict, recorded_by: datetime | None = None,
                   void_ids: frozenset = frozenset()) -> None:
    """Add `appeals_response_late` (each dispatch not signed for in time, once: a late acceptance, an acceptance
    overdue, or both) and `appeals_response_due` (signed for in time + late) to `totals` (domain.
    late_response_changes). The pairing reads the overdue facts of every year, so that a dispatch late in one
    year and signed for in the next counts once."""
    for t in totals.values():
        late = t.get("appeals_accepted", 0.0) - t.get("appeals_accepted_in_time", 0.0)
        if late or "appeals_accepted" in t:
            t["appeals_response_late"] = t.get("appeals_response_late", 0.0) + late
    overdue = [dict(o, dispatched_at=_moment(o["detail"], o["at"]))
               for o in store.facts_about(session, "appeals_acceptance_overdue", recorded_by=recorded_by)
               if o["department"] is not None and o["id"] not in void_ids]
    if overdue:
        accepted = [dict(a, in_time=a["value"] > 0) for a in store.facts_about(
            session, "appeals_accepted_in_time", {o["ref"] for o in overdue}, recorded_by)
            if a["id"] not in void_ids]
        for dept, fact_period, change in late_response_changes(overdue, accepted):
            if in_period(period, fact_period):
                t = totals[dept]
                t["appeals_response_late"] = t.get("appeals_response_late", 0.0) + change
    for t in totals.values():
        if "appeals_response_late" in t or "appeals_accepted_in_time" in t:
            t["appeals_response_due"] = t.get("appeals_accepted_in_time", 0.0) + t.get("appeals_response_late", 0.0)


def visit_overdue(visit: dict, as_of: datetime, recorded_by: datetime | None = None) -> bool:
    """Open past its due time (or closed only after it), judged at `as_of`; a close recorded after
    `recorded_by` is not known yet."""
    closed_at = visit["closed_at"]
    if recorded_by is not None and visit.get("closed_recorded_at") and visit["closed_recorded_at"] > recorded_by:
        closed_at = None
    return visit["due_at"] <= as_of and (closed_at is None or closed_at > visit["due_at"])


@dataclass
class Inputs:
    totals: dict[str, dict[str, float]]  # per department and metric
    reasons: dict[str, list[str]]  # why a department may not be an advanced unit
    red_cards: dict[str, list[str]]  # unresolved red cards (alert ids) per department
    adjustments: dict[str, float]
    as_of: datetime
    overdue_visits: list[dict]


def inputs(session: Session, period: Period, now: datetime, recorded_by: datetime | None = None) -> Inputs:
    as_of = end_of(period, now if recorded_by is None else min(now, recorded_by))
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for dept, fact_period, metric, total in store.sums(session, period.year, recorded_by):
        if dept is not None and in_period(period, fact_period):
            totals[dept][metric] += total
    # voided facts stay in the ledger; their voiding entries take them out of the sums (and of what is judged
    # one by one below)
    gone = voided(session, recorded_by=recorded_by)
    for f in gone:
        if f["department"] is not None and f["period"].startswith(f"{period.year:04d}") \
                and in_period(period, f["period"]):
            t = totals[f["department"]]
            t[f["metric"]] -= f["value"]
            if abs(t[f["metric"]]) < 1e-9:  # nothing left: as if it had never been counted
                del t[f["metric"]]
    void_ids = frozenset(f["id"] for f in gone)
    voided_visits = {f["ref"] for f in gone if f["metric"] == "visit_findings"}
    late_responses(session, period, totals, recorded_by, void_ids)
    overdue_visits = []
    for v in store.visits_due_between(session, period.start, period.end, recorded_by):
        if str(v["id"]) not in voided_visits and visit_overdue(v, as_of, recorded_by):
            totals[v["department"]]["visits_overdue"] += 1
            overdue_visits.append(v)
    reasons: dict[str, list[str]] = defaultdict(list)
    for c in store.facts_of_metric(session, "criticisms", period.year, recorded_by):
        if c["id"] not in void_ids and in_period(period, c["period"]):
            reasons[c["department"]].append(f"通报批评（{c['ref']}）")
    cards = [(c["department"], c["ref"], c["at"])
             for c in store.facts_of_metric(session, "red_cards", period.year, recorded_by)
             if c["id"] not in void_ids and in_period(period, c["period"])]
    red: dict[str, list[str]] = {}
    if cards:
        resolutions: dict[str, datetime] = {}
        for r in store.facts_of_metric(session, "red_cards_resolved", None, recorded_by):
            if r["id"] in void_ids:
                continue
            if r["ref"] not in resolutions or r["at"] < resolutions[r["ref"]]:
                resolutions[r["ref"]] = r["at"]
        red = unresolved_red_cards(cards, resolutions, as_of)
        for dept, refs in red.items():
            reasons[dept] += [f"红牌未整改（告警 {ref}）" for ref in refs]
    adjustments = {d: t["adjustment"] for d, t in totals.items() if "adjustment" in t}
    return Inputs({d: dict(t) for d, t in totals.items()}, dict(reasons), red, adjustments, as_of, overdue_visits)


def compute(session: Session, rules: Rules, period: Period, now: datetime,
            recorded_by: datetime | None = None) -> dict:
    i = inputs(session, period, now, recorded_by)
    return {"as_of": i.as_of, "rows": rank(departments(session), i.totals, rules, i.reasons, i.adjustments)}


def snapshot_json(result: dict) -> str:
    return json.dumps({"as_of": result["as_of"].isoformat(), "rows": result["rows"]}, ensure_ascii=False,
                      sort_keys=True)


def snapshot_of(text: str) -> dict:
    data = json.loads(text)
    return {"as_of": datetime.fromisoformat(data["as_of"]), "rows": data["rows"]}
