"""Tables of the scoring service: the append-only ledger of facts and its voiding entries (a fact upheld on
objection, the facts of an appeal voided as invalid or withdrawn, the volume facts of a merged one), the department
register, its own inputs (enterprise evaluations, monitoring points, undercover visits, adjustments, criticisms),
the departments' objections and the periods with their published results and audit trail."""

from __future__ import annotations

import json

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import Moment, kernel_tables

metadata = MetaData()
kernel_tables(metadata)

facts = Table(
    "facts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("department", String(64)),
    # the month the fact belongs to (YYYY-MM), or the period an assessor named (2026, 2026-Q3) for an
    # evaluation or an adjustment
    Column("period", String(7), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("ref", String(100)),  # what it is about (an alert id, an appeal id): links a red card to its resolution
    Column("detail", String(200)),
    Column("at", Moment()),  # when what the source reports happened (the period comes from it)
    Column("source_event_id", String(36), nullable=False),
    Column("source_event_type", String(100), nullable=False),
    Column("occurred_at", Moment(), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
    # one fact per metric per source event: the ledger never counts an event twice
    UniqueConstraint("source_event_id", "metric", name="uq_facts_source_metric"),
)
# a year's ranking is one scan of this index (covering: the sums need nothing else)
Index("ix_facts_period_sum", facts.c.period, facts.c.department, facts.c.metric, facts.c.value)
# the facts judged one by one (red cards and their resolutions, acceptance overdue and the acceptances of those
# appeals): by metric, then by what they are about
Index("ix_facts_metric_ref", facts.c.metric, facts.c.ref)
# the facts of one appeal (voided as a whole by appeal.voided)
Index("ix_facts_ref", facts.c.ref)

# A voiding entry: the fact stays, this row says it no longer counts, why, who and when (append-only: one per
# fact, never deleted). `cause`: objection (upheld; `ref` the objection's id).
fact_voids = Table(
    "fact_voids", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fact_id", Integer, nullable=False, unique=True),
    Column("cause", String(20), nullable=False),
    Column("ref", String(100)),
    Column("reason", Text, nullable=False),
    Column("by", String(100), nullable=False),
    Column("at", Moment(), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
)

# Appeals voided (appeal.voided: invalid 无效 or withdrawn 撤诉): every fact an appeals event of that appeal
# brought (ref = the appeal id) is void, the ones recorded before and the ones that arrive after alike, so the
# order the events come in does not matter. Kind `merged` (appeal.merged, 合并): only its volume facts
# (domain.MERGED_VOIDS), the reason naming the main case.
voided_appeals = Table(
    "voided_appeals", metadata,
    Column("appeal_id", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("invalid_kind", String(20)),
    Column("reason", Text, nullable=False),
    Column("by", String(100), nullable=False),
    Column("at", Moment(), nullable=False),
    Column("source_event_id", String(36), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
)

# A department's objection (申诉) to one fact: open until the assessment office upholds it (the fact is voided)
# or rejects it, with reasons. One per fact.
objections = Table(
    "objections", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fact_id", Integer, nullable=False, unique=True),
    Column("department", String(64), nullable=False),
    Column("period", String(7), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("lodged_by", String(100), nullable=False),
    Column("on_behalf", Boolean, nullable=False),  # entered by the assessment office for the department
    Column("lodged_at", Moment(), nullable=False),
    Column("state", String(10), nullable=False),  # open | upheld | rejected
    Column("decision_reasons", Text),
    Column("decided_by", String(100)),
    Column("decided_at", Moment()),
)
Index("ix_objections_department", objections.c.department, objections.c.state)

departments = Table(
    "departments", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("approval_functions", Boolean, nullable=False),
    Column("enforcement_functions", Boolean, nullable=False),
    Column("tier", String(20), nullable=False),
    Column("updated_at", Moment(), nullable=False),
    # false: listed as not assessed (不参与考核), never scored or ranked (the assessment office itself)
    Column("assessed", Boolean, nullable=False, default=True, server_default=true()),
    # 驻莱单位: the superior authority outside the city the unit answers to (its evaluation report is addressed
    # there); NULL for the city's own organisations
    Column("superior", String(200)),
)

evaluations = Table(
    "evaluations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enterprise", String(200), nullable=False),
    Column("department", String(64), nullable=False),
    Column("period", String(7), nullable=False),
    Column("scores", Text, nullable=False),  # JSON {criterion: score}
    Column("score", Float, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
    UniqueConstraint("enterprise", "department", "period", name="uq_evaluation_once"),
)

monitoring_points = Table(
    "monitoring_points", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("town_street", String(64)),
    Column("updated_at", Moment(), nullable=False),
)

visits = Table(
    "visits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("department", String(64), nullable=False),
    Column("point_code", String(64)),
    Column("visited_at", Moment(), nullable=False),
    Column("finding", Text, nullable=False),
    Column("due_at", Moment(), nullable=False),
    Column("visitor", String(100), nullable=False),
    Column("state", String(10), nullable=False),
    Column("evidence", Text),
    Column("closed_at", Moment()),
    Column("closed_by", String(100)),
    Column("closed_recorded_at", Moment()),  # when the close-out was recorded (closed_at may be back-dated)
    Column("recorded_at", Moment(), nullable=False),
)
Index("ix_visits_due", visits.c.due_at)

# the rectification (整改) of a visit finding: its state and clock (one row per finding recorded since #14)
visit_rectifications = Table(
    "visit_rectifications", metadata,
    Column("visit_id", Integer, primary_key=True),
    Column("department", String(64), nullable=False),
    Column("state", String(10), nullable=False),
    Column("due_at", Moment()),  # the first instant after the last working day allowed
    Column("clock_error", String(300)),  # why there is no due time (a calendar year not loaded)
    Column("overdue_at", Moment()),  # the moment it became overdue (visit.rectification_overdue published)
    Column("check_at", Moment()),  # when the timer looks at it next (NULL: nothing to look at)
    Column("updated_at", Moment(), nullable=False),
)
Index("ix_visit_rectifications_check", visit_rectifications.c.check_at)
Index("ix_visit_rectifications_department", visit_rectifications.c.department, visit_rectifications.c.state)

# each rectification report (a round) and its review
rectification_rounds = Table(
    "rectification_rounds", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("visit_id", Integer, nullable=False, index=True),
    Column("round", Integer, nullable=False),
    Column("corrected", Text, nullable=False),
    Column("corrected_by", String(100), nullable=False),
    Column("attachments", Text, nullable=False),  # JSON list of links
    Column("submitted_by", String(100), nullable=False),
    Column("submitted_at", Moment(), nullable=False),
    Column("decision", String(10)),  # accepted | returned | NULL (waiting)
    Column("reviewed_by", String(100)),
    Column("reviewed_at", Moment()),
    Column("note", Text),
    UniqueConstraint("visit_id", "round", name="uq_rectification_round"),
)

adjustments = Table(
    "adjustments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("department", String(64), nullable=False),
    Column("period", String(7), nullable=False),
    Column("value", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("approved_by", String(100), nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
)

criticisms = Table(
    "criticisms", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("department", String(64), nullable=False),
    Column("issued_at", Moment(), nullable=False),
    Column("document", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
)

# Corrections (更正) of the assessment office's own inputs entered wrongly: a void (the input no longer counts) or
# a correction (changed fields), each with its reason, who and when, and the input before and after (JSON). The
# input's row holds its current values; its facts as first recorded stay in the ledger with a voiding entry
# (fact_voids, cause `correction`, ref this row's id), the corrected values are facts of their own (source
# `<kind>-<id>-r<revision>`). One row per change (revision 1, 2, ... of an input): append-only.
corrections = Table(
    "corrections", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # evaluation | visit | criticism | adjustment
    Column("item_id", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("action", String(10), nullable=False),  # void | correct
    Column("department", String(64), nullable=False),  # the input's department before
    Column("department_after", String(64)),  # and after (a correction may move it; NULL for a void)
    Column("periods", String(200), nullable=False),  # the fact periods it touches (before and after), comma-separated
    Column("reason", Text, nullable=False),
    Column("by", String(100), nullable=False),  # the key's actor
    Column("assessor", String(100), nullable=False),  # the assessor who made it, as named in the request
    Column("at", Moment(), nullable=False),
    Column("before", Text, nullable=False),  # JSON: the input as it was
    Column("after", Text),  # JSON: the input as corrected (NULL for a void)
    UniqueConstraint("kind", "item_id", "revision", name="uq_correction_revision"),
)
Index("ix_corrections_item", corrections.c.kind, corrections.c.item_id)

periods = Table(
    "periods", metadata,
    Column("period", String(7), primary_key=True),
    Column("state", String(10), nullable=False),  # open | closed
    Column("revision", Integer, nullable=False),  # publications so far
    Column("closed_at", Moment()),
    Column("closed_by", String(100)),
    Column("rules_version", String(50)),
    Column("results", Text),  # the published snapshot (JSON), as of closed_at
)

period_audit = Table(
    "period_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("period", String(7), nullable=False),
    Column("action", String(10), nullable=False),  # close | reopen
    Column("revision", Integer, nullable=False),
    Column("by", String(100), nullable=False),
    Column("reason", Text),
    Column("at", Moment(), nullable=False),
)


# -- facts ------------------------------------------------------------------------------------------

def add_facts(session, rows: list[dict]) -> None:
    """Insert facts (`session`: an ORM Session or a Core Connection)."""
    if rows:
        session.execute(insert(facts), rows)


def list_facts(session: Session, *, department=None, period=None, periods=None, limit=500):
    """`period`: the facts whose period starts with it (a year: all of the year); `periods`: whose period is one of
    them (Period.parts: the facts counting in a period)."""
    q = select(facts).order_by(facts.c.id)
    if department is not None:
        q = q.where(facts.c.department == department)
    if period is not None:
        q = q.where(facts.c.period.startswith(period))
    if periods is not None:
        q = q.where(facts.c.period.in_(list(periods)))
    return [dict(r) for r in session.execute(q.limit(limit)).mappings()]


def sums(session: Session, year: int, recorded_by=None) -> list[tuple[str, str, str, float]]:
    """(department, period, metric, sum of values) over every fact of the year."""
    q = (select(facts.c.department, facts.c.period, facts.c.metric, func.sum(facts.c.value))
         .where(facts.c.period.startswith(f"{year:04d}"))
         .group_by(facts.c.department, facts.c.period, facts.c.metric))
    if recorded_by is not None:
        q = q.where(facts.c.recorded_at <= recorded_by)
    return [tuple(r) for r in session.execute(q)]


def get_fact(session: Session, fact_id: int) -> dict | None:
    row = session.execute(select(facts).where(facts.c.id == fact_id)).mappings().first()
    return None if row is None else dict(row)


def facts_of_source(session: Session, source_event_id: str) -> list[dict]:
    q = select(facts).where(facts.c.source_event_id == source_event_id).order_by(facts.c.id)
    return [dict(r) for r in session.execute(q).mappings()]


def voided_facts(session: Session, *, year: int | None = None, department: str | None = None,
                 recorded_by=None, appeal_sources: tuple[str, ...] = (),
                 merged: tuple[str, tuple[str, ...]] | None = None) -> list[dict]:
    """The facts that no longer count, each with why (`void_cause`, `void_reason`, `void_ref`, `voided_by`,
    `voided_at`, `void_recorded_at`): voided one by one (an objection upheld), or brought by an appeals event
    (`appeal_sources`) of a voided appeal — for an appeal voided by the kind `merged[0]`, only by the event types
    `merged[1]` (a merge voids the volume facts only). Only voidings recorded by `recorded_by` when given. Few
    rows: the ranking subtracts them from its sums rather than filtering a million."""
    cols = (facts.c.id, facts.c.department, facts.c.period, facts.c.metric, facts.c.value, facts.c.ref)

    def scoped(q, recorded):
        if year is not None:
            q = q.where(facts.c.period.startswith(f"{year:04d}"))
        if department is not None:
            q = q.where(facts.c.department == department)
        if recorded_by is not None:
            q = q.where(recorded <= recorded_by, facts.c.recorded_at <= recorded_by)
        return q

    v, a = fact_voids, voided_appeals
    one = scoped(select(*cols, v.c.cause.label("void_cause"), v.c.reason.label("void_reason"),
                        v.c.ref.label("void_ref"), v.c.by.label("voided_by"), v.c.at.label("voided_at"),
                        v.c.recorded_at.label("void_recorded_at"))
                 .select_from(facts.join(v, v.c.fact_id == facts.c.id)), v.c.recorded_at)
    parts = [one]
    if appeal_sources:
        of_appeals = (
            select(*cols, a.c.kind.label("void_cause"), a.c.reason.label("void_reason"),
                   a.c.appeal_id.label("void_ref"), a.c.by.label("voided_by"), a.c.at.label("voided_at"),
                   a.c.recorded_at.label("void_recorded_at"))
            .select_from(facts.join(a, a.c.appeal_id == facts.c.ref))
            .where(facts.c.source_event_type.in_(appeal_sources))
            # voided one by one as well: counted once
            .where(~select(v.c.id).where(v.c.fact_id == facts.c.id).exists()))
        if merged is not None:
            kind, sources = merged
            of_appeals = of_appeals.where(or_(a.c.kind != kind, facts.c.source_event_type.in_(sources)))
        parts.append(scoped(of_appeals, a.c.recorded_at))
    q = union_all(*parts) if len(parts) > 1 else one
    return [dict(r) for r in session.execute(q).mappings()]


def facts_with_void(session: Session, fact_ids: list[int]) -> set[int]:
    """Those of `fact_ids` that have a voiding entry already (one per fact)."""
    q = select(fact_voids.c.fact_id).where(fact_voids.c.fact_id.in_(fact_ids))
    return {r[0] for r in session.execute(q)} if fact_ids else set()


def add_fact_void(session: Session, values: dict) -> None:
    session.execute(insert(fact_voids).values(**values))


def get_voided_appeal(session: Session, appeal_id: str) -> dict | None:
    row = session.execute(select(voided_appeals).where(voided_appeals.c.appeal_id == appeal_id)).mappings().first()
    return None if row is None else dict(row)


def facts_of_metric(session: Session, metric: str, year: int | None = None, recorded_by=None) -> list[dict]:
    q = select(facts.c.id, facts.c.department, facts.c.period, facts.c.ref, facts.c.at).where(
        facts.c.metric == metric)
    if year is not None:
        q = q.where(facts.c.period.startswith(f"{year:04d}"))
    if recorded_by is not None:
        q = q.where(facts.c.recorded_at <= recorded_by)
    return [dict(r) for r in session.execute(q).mappings()]


def facts_about(session: Session, metric: str, refs=None, recorded_by=None) -> list[dict]:
    """Every fact of `metric` (of any year), or only those about `refs`, one by one."""
    cols = (facts.c.id, facts.c.department, facts.c.period, facts.c.ref, facts.c.detail, facts.c.at, facts.c.value)
    q = select(*cols).where(facts.c.metric == metric)
    if recorded_by is not None:
        q = q.where(facts.c.recorded_at <= recorded_by)
    if refs is None:
        return [dict(r) for r in session.execute(q).mappings()]
    refs, out = sorted(refs), []
    for i in range(0, len(refs), 500):
        out += [dict(r) for r in session.execute(q.where(facts.c.ref.in_(refs[i:i + 500]))).mappings()]
    return out


def department_facts(session: Session, department: str, year: int) -> list[dict]:
    q = (select(facts).where(facts.c.department == department, facts.c.period.startswith(f"{year:04d}"))
         .order_by(facts.c.at, facts.c.id))
    return [dict(r) for r in session.execute(q).mappings()]


def facts_recorded_after(session: Session, year: int, moment) -> list[dict]:
    q = (select(facts).where(facts.c.period.startswith(f"{year:04d}"), facts.c.recorded_at > moment)
         .order_by(facts.c.id))
    return [dict(r) for r in session.execute(q).mappings()]


# -- the register -----------------------------------------------------------------------------------

def list_departments(session: Session) -> list[dict]:
    return [dict(r) for r in session.execute(select(departments).order_by(departments.c.code)).mappings()]


def get_department(session: Session, code: str) -> dict | None:
    row = session.execute(select(departments).where(departments.c.code == code)).mappings().first()
    return None if row is None else dict(row)


def upsert_department(session: Session, data: dict, now) -> tuple[dict, bool]:
    values = {k: data[k] for k in ("code", "name", "approval_functions", "enforcement_functions", "tier")}
    values["assessed"] = data.get("assessed", True)
    values["superior"] = (data.get("superior") or "").strip() or None
    values["updated_at"] = now
    if get_department(session, data["code"]) is None:
        session.execute(insert(departments).values(**values))
        return values, True
    session.execute(update(departments).where(departments.c.code == data["code"]).values(**values))
    return values, False


# -- own inputs -------------------------------------------------------------------------------------

def insert_row(session: Session, table: Table, values: dict) -> dict:
    new_id = session.execute(insert(table).values(**values)).inserted_primary_key[0]
    return {**values, "id": new_id}


def evaluation_exists(session: Session, enterprise: str, department: str, period: str) -> bool:
    q = select(evaluations.c.id).where(evaluations.c.enterprise == enterprise,
                                       evaluations.c.department == department, evaluations.c.period == period)
    return session.execute(q).first() is not None


def evaluation_out(row: dict) -> dict:
    return {**row, "scores": json.loads(row["scores"]) if isinstance(row["scores"], str) else row["scores"]}


def list_evaluations(session: Session, department=None, period=None) -> list[dict]:
    q = select(evaluations).order_by(evaluations.c.id)
    if department:
        q = q.where(evaluations.c.department == department)
    if period:
        q = q.where(evaluations.c.period.startswith(period[:4]))
    return [evaluation_out(dict(r)) for r in session.execute(q).mappings()]


def list_points(session: Session) -> list[dict]:
    return [dict(r) for r in session.execute(select(monitoring_points).order_by(monitoring_points.c.code)).mappings()]


def get_point(session: Session, code: str) -> dict | None:
    row = session.execute(select(monitoring_points).where(monitoring_points.c.code == code)).mappings().first()
    return None if row is None else dict(row)


def upsert_point(session: Session, data: dict, now) -> tuple[dict, bool]:
    values = {"code": data["code"], "name": data["name"], "kind": data["kind"],
              "town_street": data.get("town_street"), "updated_at": now}
    if get_point(session, data["code"]) is None:
        session.execute(insert(monitoring_points).values(**values))
        return values, True
    session.execute(update(monitoring_points).where(monitoring_points.c.code == data["code"]).values(**values))
    return values, False


def get_visit(session: Session, visit_id: int) -> dict | None:
    row = session.execute(select(visits).where(visits.c.id == visit_id)).mappings().first()
    return None if row is None else dict(row)


def list_visits(session: Session, department=None, state=None) -> list[dict]:
    q = select(visits).order_by(visits.c.id)
    if department:
        q = q.where(visits.c.department == department)
    if state:
        q = q.where(visits.c.state == state)
    return [dict(r) for r in session.execute(q).mappings()]


def close_visit(session: Session, visit_id: int, evidence: str, closed_at, by: str, now) -> bool:
    """Only an open finding closes (the WHERE makes a second close, even a concurrent one, a no-op)."""
    r = session.execute(update(visits).where(visits.c.id == visit_id, visits.c.state == "open").values(
        state="closed", evidence=evidence, closed_at=closed_at, closed_by=by, closed_recorded_at=now))
    return r.rowcount == 1


def visits_due_between(session: Session, start, end, recorded_by=None) -> list[dict]:
    q = select(visits).where(visits.c.due_at >= start, visits.c.due_at < end)
    if recorded_by is not None:
        q = q.where(visits.c.recorded_at <= recorded_by)
    return [dict(r) for r in session.execute(q).mappings()]


def get_row(session: Session, table: Table, row_id: int, lock: bool = False) -> dict | None:
    q = select(table).where(table.c.id == row_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def update_row(session: Session, table: Table, row_id: int, values: dict) -> None:
    session.execute(update(table).where(table.c.id == row_id).values(**values))


def list_rows(session: Session, table: Table, department=None) -> list[dict]:
    q = select(table).order_by(table.c.id)
    if department:
        q = q.where(table.c.department == department)
    return [dict(r) for r in session.execute(q).mappings()]


def fact_values(session: Session, metric: str, year: int) -> list[dict]:
    """Every fact of `metric` in `year`, one by one with its value (the stationed units' evaluation scores)."""
    q = (select(facts.c.id, facts.c.department, facts.c.period, facts.c.value, facts.c.source_event_id)
         .where(facts.c.metric == metric, facts.c.period.startswith(f"{year:04d}")).order_by(facts.c.id))
    return [dict(r) for r in session.execute(q).mappings()]


# -- corrections ------------------------------------------------------------------------------------

def _json(item: dict) -> str:
    return json.dumps(item, ensure_ascii=False, sort_keys=True,
                      default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))


def _correction_out(row) -> dict:
    out = dict(row)
    out["before"] = json.loads(out["before"]) if out["before"] else None
    out["after"] = json.loads(out["after"]) if out["after"] else None
    out["periods"] = [p for p in (out["periods"] or "").split(",") if p]
    return out


def corrections_of(session: Session, kind: str, item_id: int) -> list[dict]:
    t = corrections
    q = select(t).where(t.c.kind == kind, t.c.item_id == item_id).order_by(t.c.revision)
    return [_correction_out(r) for r in session.execute(q).mappings()]


def list_corrections(session: Session, *, kind=None, action=None, department=None, year=None,
                     limit=1000) -> list[dict]:
    t = corrections
    q = select(t).order_by(t.c.id)
    if kind is not None:
        q = q.where(t.c.kind == kind)
    if action is not None:
        q = q.where(t.c.action == action)
    if department is not None:
        q = q.where(or_(t.c.department == department, t.c.department_after == department))
    if year is not None:
        q = q.where(t.c.periods.contains(f"{year:04d}"))
    return [_correction_out(r) for r in session.execute(q.limit(limit)).mappings()]


def add_correction(session: Session, values: dict) -> dict:
    stored = {**values, "before": _json(values["before"]),
              "after": None if values["after"] is None else _json(values["after"]),
              "periods": ",".join(values["periods"])}
    new_id = session.execute(insert(corrections).values(**stored)).inserted_primary_key[0]
    return {**values, "id": new_id}


# -- periods ----------------------------------------------------------------------------------------

def get_period(session: Session, period: str, lock: bool = False) -> dict | None:
    q = select(periods).where(periods.c.period == period)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def closed_periods(session: Session, year: int) -> list[dict]:
    q = select(periods).where(periods.c.period.startswith(f"{year:04d}"), periods.c.state == "closed")
    return [dict(r) for r in session.execute(q).mappings()]


def save_period(session: Session, values: dict) -> None:
    if get_period(session, values["period"]) is None:
        session.execute(insert(periods).values(**values))
    else:
        session.execute(update(periods).where(periods.c.period == values["period"]).values(**values))


def audit_of(session: Session, period: str) -> list[dict]:
    q = select(period_audit).where(period_audit.c.period == period).order_by(period_audit.c.id)
    return [dict(r) for r in session.execute(q).mappings()]


# -- objections -------------------------------------------------------------------------------------

def get_objection(session: Session, objection_id: int, lock: bool = False) -> dict | None:
    q = select(objections).where(objections.c.id == objection_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def objection_of_fact(session: Session, fact_id: int) -> dict | None:
    row = session.execute(select(objections).where(objections.c.fact_id == fact_id)).mappings().first()
    return None if row is None else dict(row)


def list_objections(session: Session, *, department=None, state=None, year=None) -> list[dict]:
    q = select(objections).order_by(objections.c.id)
    if department is not None:
        q = q.where(objections.c.department == department)
    if state is not None:
        q = q.where(objections.c.state == state)
    if year is not None:
        q = q.where(objections.c.period.startswith(f"{year:04d}"))
    return [dict(r) for r in session.execute(q).mappings()]


def decide_objection(session: Session, objection_id: int, values: dict) -> bool:
    """Only an open objection is decided (the WHERE makes a concurrent second decision a no-op)."""
    r = session.execute(update(objections).where(objections.c.id == objection_id, objections.c.state == "open")
                        .values(**values))
    return r.rowcount == 1


# -- rectifications of visit findings ----------------------------------------------------------------

def get_rectification(session: Session, visit_id: int, lock: bool = False) -> dict | None:
    q = select(visit_rectifications).where(visit_rectifications.c.visit_id == visit_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def save_rectification(session: Session, values: dict) -> None:
    t = visit_rectifications
    if get_rectification(session, values["visit_id"]) is None:
        session.execute(insert(t).values(**values))
    else:
        session.execute(update(t).where(t.c.visit_id == values["visit_id"]).values(**values))


def rounds_of(session: Session, visit_id: int) -> list[dict]:
    q = select(rectification_rounds).where(rectification_rounds.c.visit_id == visit_id).order_by(
        rectification_rounds.c.round)
    return [dict(r, attachments=json.loads(r["attachments"])) for r in session.execute(q).mappings()]


def add_round(session: Session, values: dict) -> None:
    session.execute(insert(rectification_rounds).values(**{**values, "attachments": json.dumps(
        values["attachments"], ensure_ascii=False)}))


def review_round(session: Session, round_id: int, values: dict) -> None:
    session.execute(update(rectification_rounds).where(rectification_rounds.c.id == round_id).values(**values))


def list_rectifications(session: Session, department=None, state=None) -> list[dict]:
    t = visit_rectifications
    q = select(t).order_by(t.c.visit_id)
    if department is not None:
        q = q.where(t.c.department == department)
    if state is not None:
        q = q.where(t.c.state == state)
    return [dict(r) for r in session.execute(q).mappings()]


def any_rectification_due(session: Session, now) -> bool:
    t = visit_rectifications
    return session.execute(select(t.c.visit_id).where(t.c.check_at <= now).limit(1)).first() is not None


def claim_due_rectifications(session: Session, now, limit: int) -> list[dict]:
    """Rectifications whose check has come, claimed for this transaction (other instances skip them)."""
    t = visit_rectifications
    q = (select(t).where(t.c.check_at <= now).order_by(t.c.check_at).limit(limit)
         .with_for_update(skip_locked=True))
    return [dict(r) for r in session.execute(q).mappings()]
