"""Tables of the scoring service: the append-only ledger of facts, the department register, its own inputs
(enterprise evaluations, monitoring points, undercover visits, adjustments, criticisms) and the periods with
their published results and audit trail."""

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
    select,
    true,
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


def list_facts(session: Session, *, department=None, period=None, limit=500):
    q = select(facts).order_by(facts.c.id)
    if department is not None:
        q = q.where(facts.c.department == department)
    if period is not None:
        q = q.where(facts.c.period.startswith(period))
    return [dict(r) for r in session.execute(q.limit(limit)).mappings()]


def sums(session: Session, year: int, recorded_by=None) -> list[tuple[str, str, str, float]]:
    """(department, period, metric, sum of values) over every fact of the year."""
    q = (select(facts.c.department, facts.c.period, facts.c.metric, func.sum(facts.c.value))
         .where(facts.c.period.startswith(f"{year:04d}"))
         .group_by(facts.c.department, facts.c.period, facts.c.metric))
    if recorded_by is not None:
        q = q.where(facts.c.recorded_at <= recorded_by)
    return [tuple(r) for r in session.execute(q)]


def facts_of_metric(session: Session, metric: str, year: int | None = None, recorded_by=None) -> list[dict]:
    q = select(facts.c.department, facts.c.period, facts.c.ref, facts.c.at).where(facts.c.metric == metric)
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


def list_rows(session: Session, table: Table, department=None) -> list[dict]:
    q = select(table).order_by(table.c.id)
    if department:
        q = q.where(table.c.department == department)
    return [dict(r) for r in session.execute(q).mappings()]


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
