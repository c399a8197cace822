"""Where reviews are kept: their table (on the approvals' metadata, one row per review: the first and, after a bad
one's follow-up, the re-review) and its queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import DueRows, Moment, paged

from .. import store as core
from .domain import FIRST

reviews = Table(
    "reviews", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("application_id", Integer, ForeignKey("applications.id"), nullable=False),
    Column("application_no", String(32)),
    Column("item_code", String(64), nullable=False),
    Column("department", String(64), nullable=False),
    # 1: the review; 2: the re-review after a bad one's follow-up (the final one)
    Column("round", Integer, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("level", String(24), nullable=False),
    # the first review's row: the level the application counts with (its own, or the re-review's)
    Column("final_level", String(24)),
    Column("aspects", JSON, nullable=False, default=list),
    # scrubbed of phone and id numbers and the applicant's name (services/kernel/privacy.py)
    Column("text", Text),
    Column("reviewed_at", Moment(), nullable=False),
    Column("by", String(100), nullable=False),
    # the re-review: the first review it follows; the first: its re-review
    Column("replaces", Integer),
    Column("rereview_id", Integer),
    # the follow-up of a bad first review (None: none): state, due time, the timer's next look, overdue, report
    Column("follow_up_state", String(16)),
    Column("follow_up_due_at", Moment()),
    Column("check_at", Moment()),
    Column("overdue_at", Moment()),
    Column("report", Text),
    Column("reported_by", String(100)),
    Column("reported_at", Moment()),
    Column("updated_at", Moment(), nullable=False),
    UniqueConstraint("application_id", "round", name="uq_reviews_application_round"),
)
Index("ix_reviews_check", reviews.c.check_at)
Index("ix_reviews_department_reviewed", reviews.c.department, reviews.c.reviewed_at)

_INSERT = insert(reviews)


def add(session: Session, values: dict) -> int:
    return session.execute(_INSERT, values).inserted_primary_key[0]


def of_application(session: Session, application_id: int) -> list[dict]:
    """The application's reviews, oldest first."""
    rows = session.execute(select(reviews).where(reviews.c.application_id == application_id)
                           .order_by(reviews.c.round)).mappings().all()
    return [dict(r) for r in rows]


def get(session: Session, review_id: int, *, lock: bool = False) -> dict | None:
    q = select(reviews).where(reviews.c.id == review_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def change(session: Session, review_id: int, **values) -> None:
    session.execute(update(reviews).where(reviews.c.id == review_id).values(**values))


def list_reviews(session: Session, *, department=None, level=None, since=None, until=None, follow_up=None,
                 channel=None, application_id=None, page=1, per_page=50) -> tuple[list[dict], int]:
    """Reviews newest first; `since` / `until`: moments (reviewed at or after, before)."""
    c = reviews.c
    conds = []
    if department is not None:
        conds.append(c.department == department)
    if level is not None:
        conds.append(c.level == level)
    if since is not None:
        conds.append(c.reviewed_at >= since)
    if until is not None:
        conds.append(c.reviewed_at < until)
    if follow_up == "overdue":
        conds += [c.overdue_at.is_not(None), c.follow_up_state == "pending"]
    elif follow_up == "none":
        conds.append(c.follow_up_state.is_(None))
    elif follow_up is not None:
        conds.append(c.follow_up_state == follow_up)
    if channel is not None:
        conds.append(c.channel == channel)
    if application_id is not None:
        conds.append(c.application_id == application_id)
    return paged(session, (reviews,), reviews, conds, page, per_page, c.reviewed_at.desc(), c.id.desc())


def summary(session: Session, since: datetime, until: datetime, department: str | None = None
            ) -> list[tuple[str, str, int]]:
    """(department, level, count) of the applications first reviewed in [since, until), each by the level it
    counts with (the re-review's where there is one)."""
    c = reviews.c
    conds = [c.round == FIRST, c.reviewed_at >= since, c.reviewed_at < until]
    if department is not None:
        conds.append(c.department == department)
    rows = session.execute(select(c.department, c.final_level, func.count()).where(and_(*conds))
                           .group_by(c.department, c.final_level).order_by(c.department))
    return [(d, level, n) for d, level, n in rows]


def summary_by_window(session: Session, since: datetime, until: datetime, department: str | None = None
                      ) -> list[tuple[str | None, str, int]]:
    """(window, level, count) as `summary`, per the application's responsible window (首问负责: `first_window`;
    None: no window named)."""
    c, a = reviews.c, core.applications.c
    conds = [c.round == FIRST, c.reviewed_at >= since, c.reviewed_at < until]
    if department is not None:
        conds.append(c.department == department)
    rows = session.execute(
        select(a.first_window, c.final_level, func.count())
        .select_from(reviews.join(core.applications, a.id == c.application_id)).where(and_(*conds))
        .group_by(a.first_window, c.final_level))
    return [(w, level, n) for w, level, n in rows]


# follow-ups whose moment has come (any_due: one indexed query; claim_due: claimed for the transaction)
_due = DueRows(reviews, reviews.c.check_at)
any_due, claim_due = _due.any, _due.claim
