"""Where supervision orders on appeals are kept: their table (on the appeals' metadata) and its queries."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    case,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import DueRows, Moment, paged

from .. import store as core

supervision_orders = Table(
    "supervision_orders", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appeal_id", Integer, ForeignKey("appeals.id"), nullable=False, index=True),
    Column("ordered_at", Moment(), nullable=False),
    Column("ordered_by", String(100), nullable=False),
    Column("act_by", Date, nullable=False),
    Column("note", Text),
    Column("exposed", Boolean, nullable=False, default=False),
    # the department ordered to act (the case's when ordered)
    Column("department", String(64)),
    # the real moments of its warning and of its check (the first instant after act_by)
    Column("warn_at", Moment()),
    Column("check_at", Moment()),
    # when the monitor took each step, the moment it became overdue, and when the department fulfilled it
    Column("warned_at", Moment()),
    Column("checked_at", Moment()),
    Column("overdue_at", Moment()),
    Column("fulfilled_at", Moment()),
    # when the monitor looks at it next (NULL: nothing left to do)
    Column("next_at", Moment()),
)
Index("ix_supervision_orders_next", supervision_orders.c.next_at)
Index("ix_supervision_orders_department", supervision_orders.c.department)

_o = supervision_orders
_a = core.appeals
_state = case(
    (_o.c.overdue_at.is_not(None), "overdue"),
    (_o.c.fulfilled_at.is_not(None), "fulfilled"),
    else_="open",
).label("state")
_columns = (*_o.c, _a.c.case_no, _a.c.status.label("appeal_status"), _state)
_joined = _o.join(_a, _a.c.id == _o.c.appeal_id)


def insert_order(session: Session, values: dict) -> int:
    return session.execute(_o.insert().values(**values)).inserted_primary_key[0]


def get_order(session: Session, order_id: int) -> dict:
    row = session.execute(select(*_columns).select_from(_joined).where(_o.c.id == order_id))
    return dict(row.mappings().one())


def list_orders(session: Session, *, appeal_id=None, department=None, state=None, page=1, per_page=50):
    conds = []
    if appeal_id is not None:
        conds.append(_o.c.appeal_id == appeal_id)
    if department is not None:
        conds.append(_o.c.department == department)
    if state is not None:
        conds.append(_state == state)
    return paged(session, _columns, _joined, conds, page, per_page, _o.c.id.desc())


# orders whose moment has come (any_due: one indexed query; claim_due_orders: claimed for the transaction)
_due = DueRows(_o, _o.c.next_at)
any_due, claim_due_orders = _due.any, _due.claim


def unsettled_of(session: Session, appeal_id: int) -> list[dict]:
    """The orders of a case that still have a step to take or can still be fulfilled, locked (the caller holds
    the case)."""
    rows = session.execute(select(_o).where(_o.c.appeal_id == appeal_id, _o.c.fulfilled_at.is_(None))
                           .order_by(_o.c.id).with_for_update()).mappings().all()
    return [dict(r) for r in rows]


def update_order(session: Session, order_id: int, values: dict) -> None:
    session.execute(update(_o).where(_o.c.id == order_id).values(**values))
