"""Where target management is kept (on scoring's metadata): the key tasks, the units of each (lead and co-units, for
a department's look-up), their milestones, the plans submitted, the progress reports and each task's history; and
the monitor's claims."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import DueRows, Moment, paged

from .. import store as core

targets = Table(
    "targets", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("year", Integer, nullable=False),
    # 六定: task, standard, responsibility (lead_unit, co_units), steps, assessment (how, weight or points);
    # the schedule is target_milestones
    Column("title", String(200), nullable=False),
    Column("standard", Text, nullable=False),
    Column("lead_unit", String(64), nullable=False),
    Column("co_units", JSON, nullable=False),
    Column("steps", JSON, nullable=False),
    Column("assessment", Text, nullable=False),
    Column("weight", Float),
    Column("points", Float),
    Column("state", String(16), nullable=False),
    # the plan (实施方案 + 考核细则): due at the first instant after its day; the monitor's next look; the first
    # submission and whether it was late; when announced overdue; how many submissions
    Column("plan_due_at", Moment(), nullable=False),
    Column("plan_check_at", Moment()),
    Column("plan_submitted_at", Moment()),
    Column("plan_late", Boolean),
    Column("plan_overdue_at", Moment()),
    Column("plan_revision", Integer, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", Moment(), nullable=False),
    Column("updated_at", Moment(), nullable=False),
)
Index("ix_targets_year_state", targets.c.year, targets.c.state)
Index("ix_targets_plan_check", targets.c.plan_check_at)

# one row per unit of a task: what a department handler's listing reads by
target_units = Table(
    "target_units", core.metadata,
    Column("target_id", Integer, primary_key=True, autoincrement=False),
    Column("department", String(64), primary_key=True),
    Column("role", String(8), nullable=False),  # lead · co
)
Index("ix_target_units_department", target_units.c.department)

target_milestones = Table(
    "target_milestones", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_id", Integer, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("what", Text, nullable=False),
    # the first instant after due_on; the monitor's next look (None: nothing to watch)
    Column("due_at", Moment(), nullable=False),
    Column("check_at", Moment()),
    Column("done_at", Moment()),
    Column("done_late", Boolean),
    Column("overdue_at", Moment()),
    Column("updated_at", Moment(), nullable=False),
)
Index("ix_target_milestones_target", target_milestones.c.target_id)
Index("ix_target_milestones_check", target_milestones.c.check_at)

target_plans = Table(
    "target_plans", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_id", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("plan", Text, nullable=False),
    Column("assessment_rules", Text, nullable=False),
    Column("attachments", JSON, nullable=False),
    Column("submitted_by", String(100), nullable=False),
    Column("submitted_at", Moment(), nullable=False),
    Column("late", Boolean, nullable=False),
    UniqueConstraint("target_id", "revision", name="uq_target_plans_revision"),
)

target_reports = Table(
    "target_reports", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_id", Integer, nullable=False),
    Column("milestone_id", Integer, nullable=False),
    Column("done", Boolean, nullable=False),
    Column("late", Boolean, nullable=False),
    Column("note", Text, nullable=False),
    Column("reported_by", String(100), nullable=False),
    Column("reported_at", Moment(), nullable=False),
)
Index("ix_target_reports_target", target_reports.c.target_id)

target_history = Table(
    "target_history", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_id", Integer, nullable=False),
    Column("action", String(24), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("reason", Text),
    Column("by", String(100), nullable=False),
    Column("at", Moment(), nullable=False),
)
Index("ix_target_history_target", target_history.c.target_id)


def add(session: Session, table: Table, values: dict) -> int:
    return session.execute(insert(table), values).inserted_primary_key[0]


def get(session: Session, target_id: int, *, lock: bool = False) -> dict | None:
    q = select(targets).where(targets.c.id == target_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def change(session: Session, target_id: int, **values) -> None:
    session.execute(update(targets).where(targets.c.id == target_id).values(**values))


def set_units(session: Session, target_id: int, lead: str, co_units: list[str]) -> None:
    session.execute(delete(target_units).where(target_units.c.target_id == target_id))
    session.execute(insert(target_units), [{"target_id": target_id, "department": lead, "role": "lead"},
                                           *({"target_id": target_id, "department": d, "role": "co"}
                                             for d in co_units if d != lead)])


def milestones_of(session: Session, target_ids: list[int]) -> dict[int, list[dict]]:
    """Each task's milestones, by day."""
    found: dict[int, list[dict]] = {i: [] for i in target_ids}
    if not target_ids:
        return found
    m = target_milestones.c
    for row in session.execute(select(target_milestones).where(m.target_id.in_(target_ids))
                               .order_by(m.due_on, m.id)).mappings():
        found[row["target_id"]].append(dict(row))
    return found


def get_milestone(session: Session, milestone_id: int) -> dict | None:
    row = session.execute(select(target_milestones).where(target_milestones.c.id == milestone_id)).mappings().first()
    return None if row is None else dict(row)


def change_milestone(session: Session, milestone_id: int, **values) -> None:
    session.execute(update(target_milestones).where(target_milestones.c.id == milestone_id).values(**values))


def remove_milestone(session: Session, milestone_id: int) -> None:
    session.execute(delete(target_milestones).where(target_milestones.c.id == milestone_id))


def rows_of(session: Session, table: Table, target_id: int) -> list[dict]:
    """A task's plans, reports or history, oldest first."""
    return [dict(r) for r in session.execute(select(table).where(table.c.target_id == target_id)
                                             .order_by(table.c.id)).mappings()]


def list_targets(session: Session, *, year=None, department=None, state=None, page=1, per_page=50
                 ) -> tuple[list[dict], int]:
    """Tasks by year and id; `department`: the ones it leads or co-leads."""
    c = targets.c
    conds = []
    if year is not None:
        conds.append(c.year == year)
    if state is not None:
        conds.append(c.state == state)
    if department is not None:
        u = target_units.c
        conds.append(exists().where(u.target_id == c.id, u.department == department))
    return paged(session, (targets,), targets, conds, page, per_page, c.year, c.id)


def of_year(session: Session, year: int) -> list[dict]:
    return [dict(r) for r in session.execute(select(targets).where(targets.c.year == year)
                                             .order_by(targets.c.lead_unit, targets.c.id)).mappings()]


# tasks whose plan's moment has come, milestones whose moment has come: each claimed for the transaction
_plans = DueRows(targets, targets.c.plan_check_at)
_milestones = DueRows(target_milestones, target_milestones.c.check_at)
claim_plans, claim_milestones = _plans.claim, _milestones.claim


def any_due(session: Session, now: datetime) -> bool:
    """Whether a plan's or a milestone's moment has come (indexed; an idle tick asks it in a reader)."""
    return _plans.any(session, now) or _milestones.any(session, now)
