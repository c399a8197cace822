"""Where supervision orders are kept: their table (on the approvals' metadata) and its queries. An order's state
is derived from its application's in SQL, so no window action has to know about orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    case,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import Moment, paged

from .. import store as core
from ..domain import DECIDED, DELIVERED, ENDED, REFUSED

supervision_orders = Table(
    "supervision_orders", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("application_id", Integer, ForeignKey("applications.id"), nullable=False, index=True),
    Column("department", String(64), nullable=False),
    Column("act_by", Date, nullable=False),
    # the end of `act_by`: the moment the timer looks at the application
    Column("check_at", Moment(), nullable=False),
    Column("checked_at", Moment()),
    Column("note", Text, nullable=False),
    Column("ordered_by", String(100), nullable=False),
    Column("ordered_at", Moment(), nullable=False),
    Column("overdue_alert_id", Integer),
)
Index("ix_supervision_orders_due", supervision_orders.c.checked_at, supervision_orders.c.check_at)
Index("ix_supervision_orders_department", supervision_orders.c.department)

_apps = core.applications
_state = case(
    (_apps.c.state.in_((DECIDED, DELIVERED)), "fulfilled"),
    (_apps.c.state.in_((REFUSED, *ENDED)), "closed"),
    (supervision_orders.c.overdue_alert_id.is_not(None), "overdue"),
    else_="open",
).label("state")
_columns = (*supervision_orders.c, _apps.c.application_no, _state,
            case((_apps.c.state.in_((DECIDED, DELIVERED)), _apps.c.decided_at), else_=None).label("fulfilled_at"))
_joined = supervision_orders.join(_apps, _apps.c.id == supervision_orders.c.application_id)


def insert_order(session: Session, values: dict) -> int:
    return session.execute(supervision_orders.insert().values(**values)).inserted_primary_key[0]


def get_order(session: Session, order_id: int) -> dict:
    row = session.execute(select(*_columns).select_from(_joined).where(supervision_orders.c.id == order_id))
    return dict(row.mappings().one())


def list_orders(session: Session, *, application_id=None, department=None, state=None, page=1, per_page=50):
    conds = []
    if application_id is not None:
        conds.append(supervision_orders.c.application_id == application_id)
    if department is not None:
        conds.append(supervision_orders.c.department == department)
    if state is not None:
        conds.append(_state == state)
    return paged(session, _columns, _joined, conds, page, per_page, supervision_orders.c.id.desc())


_ANY_DUE = select(supervision_orders.c.id).where(
    supervision_orders.c.checked_at.is_(None),
    supervision_orders.c.check_at <= bindparam("now", type_=Moment())).limit(1)


def any_due(session: Session, now: datetime) -> bool:
    """Whether an order's moment has come (one indexed query: an idle tick asks it in a reader)."""
    return session.execute(_ANY_DUE, {"now": now}).first() is not None


def claim_due_orders(session: Session, now: datetime, limit: int) -> list[dict]:
    """Orders whose moment has come, claimed for this transaction (other instances skip them)."""
    rows = session.execute(
        select(supervision_orders)
        .where(supervision_orders.c.checked_at.is_(None), supervision_orders.c.check_at <= now)
        .order_by(supervision_orders.c.check_at).limit(limit).with_for_update(skip_locked=True)
    ).mappings().all()
    return [dict(r) for r in rows]


def set_overdue_alert(session: Session, order_id: int, alert_id: int) -> None:
    session.execute(update(supervision_orders).where(supervision_orders.c.id == order_id)
                    .values(overdue_alert_id=alert_id))


def mark_checked(session: Session, order_ids: list[int], now: datetime) -> None:
    if order_ids:
        session.execute(update(supervision_orders).where(supervision_orders.c.id.in_(order_ids))
                        .values(checked_at=now))
