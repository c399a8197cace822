"""Where supervision orders are kept: their table (on the approvals' metadata) and its queries. An order's state
is derived from its application's in SQL, so no window action has to know about orders."""

from __future__ import annotations

from datetime import datetime

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
    and_,
    bindparam,
    case,
    false,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import Moment, paged
from services.kernel.errors import NotFound

from .. import store as core
from ..domain import DECIDED, DELIVERED, ENDED, OPEN, REFUSED
from ..rectification.store import rectifications
from .domain import RECTIFIED, RECTIFYING

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
    # on the exposure board (曝光台, #15): since when, under which opaque id; what the board was last told
    # (domain.RECTIFYING / RECTIFIED, None: nothing yet) and how many times
    Column("exposed", Boolean, nullable=False, default=False, server_default=false()),
    Column("public_id", String(32)),
    Column("exposed_at", Moment()),
    Column("published", String(16)),
    Column("revision", Integer, nullable=False, default=0, server_default="0"),
)
Index("ix_supervision_orders_due", supervision_orders.c.checked_at, supervision_orders.c.check_at)
Index("ix_supervision_orders_department", supervision_orders.c.department)
Index("ix_supervision_orders_published", supervision_orders.c.published)
Index("ix_supervision_orders_public_id", supervision_orders.c.public_id, unique=True)

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


def lock_order(session: Session, order_id: int, scope: str | None = None) -> dict:
    """The order, locked; NotFound when there is none (or it is another department's than `scope`)."""
    q = select(supervision_orders).where(supervision_orders.c.id == order_id)
    if scope is not None:
        q = q.where(supervision_orders.c.department == scope)
    row = session.execute(q.with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"no supervision order {order_id}", message_zh="督办单不存在")
    return dict(row)


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


def expose(session: Session, order_id: int, public_id: str, now: datetime) -> None:
    session.execute(update(supervision_orders).where(supervision_orders.c.id == order_id)
                    .values(exposed=True, public_id=public_id, exposed_at=now))


# -- what the exposure board has not been told yet ---------------------------------------------------------
_alerts = core.alerts
_rect = rectifications
_with_outcome = supervision_orders.join(_apps, _apps.c.id == supervision_orders.c.application_id) \
    .outerjoin(_alerts, _alerts.c.id == supervision_orders.c.overdue_alert_id) \
    .outerjoin(_rect, _rect.c.alert_id == supervision_orders.c.overdue_alert_id)
# domain.is_rectified in SQL, so that an idle tick asks one indexed question
_done = _apps.c.state.notin_(OPEN)
_rectified = or_(and_(supervision_orders.c.overdue_alert_id.is_(None), _done), _rect.c.state == "accepted",
                 and_(_alerts.c.state == "resolved", _done))
_UNPUBLISHED = and_(supervision_orders.c.exposed.is_(True), or_(
    supervision_orders.c.published.is_(None),
    and_(supervision_orders.c.published == RECTIFYING, _rectified)))
_ANY_UNPUBLISHED = select(supervision_orders.c.id).select_from(_with_outcome).where(_UNPUBLISHED).limit(1)


def any_unpublished(session: Session, now: datetime) -> bool:
    """Whether an exposed order changed since the board was last told (`now`: unused, drain_due's signature)."""
    return session.execute(_ANY_UNPUBLISHED).first() is not None


def claim_unpublished(session: Session, limit: int) -> list[dict]:
    """Exposed orders the board has to be told about, claimed for this transaction (other instances skip them),
    with what the public view needs of their alert and rectification."""
    rows = session.execute(
        select(supervision_orders, _alerts.c.state.label("alert_state"))
        .select_from(_with_outcome).where(_UNPUBLISHED).order_by(supervision_orders.c.id).limit(limit)
        .with_for_update(of=supervision_orders, skip_locked=True)
    ).mappings().all()
    return [dict(r) for r in rows]


def get_with_outcome(session: Session, order_id: int) -> dict:
    row = session.execute(select(supervision_orders, _alerts.c.state.label("alert_state"))
                          .select_from(_with_outcome).where(supervision_orders.c.id == order_id))
    return dict(row.mappings().one())


def mark_published(session: Session, order_id: int, rectified: bool, revision: int) -> None:
    session.execute(update(supervision_orders).where(supervision_orders.c.id == order_id)
                    .values(published=RECTIFIED if rectified else RECTIFYING, revision=revision))
