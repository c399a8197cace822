"""Where rewards of upheld reports are kept: their table (on the appeals' metadata, one row per case) and its
queries."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Table, and_, insert, select, update
from sqlalchemy.orm import Session

from services.kernel.db import Moment, paged

from .. import store as core

complaint_rewards = Table(
    "complaint_rewards", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appeal_id", Integer, ForeignKey("appeals.id"), nullable=False, unique=True),
    # the unit the upheld report was about (the case's subject_department when the reward was recorded)
    Column("subject_department", String(64)),
    Column("amount_fen", Integer, nullable=False),  # in fen (分): money is never a float
    Column("state", String(16), nullable=False),
    Column("approved_by", String(100), nullable=False),  # who approved it (a body or an official), as written
    Column("approved_on", Date, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
    Column("paid_on", Date),
    Column("paid_recorded_by", String(100)),
    Column("paid_recorded_at", Moment()),
)
Index("ix_complaint_rewards_approved_on", complaint_rewards.c.approved_on)

_r = complaint_rewards
_a = core.appeals
_columns = (*_r.c, _a.c.case_no, _a.c.department)


def insert_reward(session: Session, values: dict) -> int:
    return session.execute(insert(_r).values(**values)).inserted_primary_key[0]


def reward_of(session: Session, appeal_id: int, *, lock: bool = False) -> dict | None:
    q = select(*_columns).select_from(_r.join(_a, _a.c.id == _r.c.appeal_id)).where(_r.c.appeal_id == appeal_id)
    if lock:
        q = q.with_for_update(of=_r)
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def update_reward(session: Session, reward_id: int, values: dict) -> None:
    session.execute(update(_r).where(_r.c.id == reward_id).values(**values))


def find(session: Session, *, year: int | None, state: str | None, department: str | None, page: int,
         per_page: int) -> tuple[list[dict], int]:
    """Rewards approved in `year` (by approved_on), in `state`, of cases with `department`: newest approval first."""
    conditions = []
    if year is not None:
        conditions.append(and_(_r.c.approved_on >= date(year, 1, 1), _r.c.approved_on <= date(year, 12, 31)))
    if state is not None:
        conditions.append(_r.c.state == state)
    if department is not None:
        conditions.append(_a.c.department == department)
    return paged(session, _columns, _r.join(_a, _a.c.id == _r.c.appeal_id), conditions, page, per_page,
                 _r.c.approved_on.desc(), _r.c.id.desc())
