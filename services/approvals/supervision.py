"""Supervision orders (督办): a monitor orders the department to act on an open application by a date; the
order is itself monitored. When `act_by` has passed (its end, Asia/Shanghai) with the application still open,
one `red` alert (rule `supervision_overdue:<order id>`) and one `monitor.supervision_overdue` event are raised.
An order is fulfilled when its application is decided (or delivered); it is closed when the application was
refused. Its state is derived from the application's, so no window action has to know about orders.

Its own timer, not the `alarms` table: an application's alarms are replaced by every window action, an order's
moment is not. Several instances claim due orders with `FOR UPDATE SKIP LOCKED`, and alerts are unique per
(application, rule): an order fires once."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates
from nameko.timer import timer
from sqlalchemy import (
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
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel import clock
from services.kernel import fields as kfields
from services.kernel.db import Moment
from services.kernel.http import api

from . import store
from .domain import DECIDED, DELIVERED, OPEN, REFUSED, IllegalTransition
from .handlers import event_figures
from .monitor import MONITOR_INTERVAL
from .schemas import CODE

log = logging.getLogger(__name__)

ORDER_BATCH = 200
OVERDUE_LEVEL = "red"
OVERDUE_RULE = "supervision_overdue"
OVERDUE_EVENT = "monitor.supervision_overdue"
ORDER_STATES = ("open", "overdue", "fulfilled", "closed")
ORDERERS = ("monitor",)
READERS = ("monitor", "department_handler", "operator")

supervision_orders = Table(
    "supervision_orders", store.metadata,
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


def check_moment(act_by: date) -> datetime:
    """The first instant after `act_by` (the whole day is the department's)."""
    return datetime.combine(act_by + timedelta(days=1), time(0), tzinfo=clock.TZ)


# -- schemas --------------------------------------------------------------------------------------------


class SupervisionIn(Schema):
    act_by = kfields.Day(required=True, metadata={"description": "the department acts by the end of this day"})
    note = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                         metadata={"description": "what is to be done"})

    @validates("act_by")
    def not_past(self, value, **kwargs):
        if value < clock.now().astimezone(clock.TZ).date():
            raise ValidationError("act_by cannot be in the past")


class SupervisionOut(Schema):
    id = fields.Integer()
    application_id = fields.Integer()
    application_no = fields.String()
    department = fields.String()
    act_by = kfields.Day()
    note = fields.String()
    ordered_by = fields.String()
    ordered_at = kfields.Moment()
    state = fields.String(metadata={"description": "open, overdue, fulfilled (decided), closed (refused)"})
    fulfilled_at = kfields.Moment(allow_none=True)
    overdue_alert_id = fields.Integer(allow_none=True)


class SupervisionQuery(Schema):
    application_id = kfields.Id(load_default=None)
    department = fields.String(load_default=None, validate=CODE)
    state = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class SupervisionPage(Schema):
    items = fields.List(fields.Nested(SupervisionOut))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


# -- queries --------------------------------------------------------------------------------------------

_apps = store.applications
_state = case(
    (_apps.c.state.in_((DECIDED, DELIVERED)), "fulfilled"),
    (_apps.c.state == REFUSED, "closed"),
    (supervision_orders.c.overdue_alert_id.is_not(None), "overdue"),
    else_="open",
).label("state")
_columns = (*supervision_orders.c, _apps.c.application_no, _state,
            case((_apps.c.state.in_((DECIDED, DELIVERED)), _apps.c.decided_at), else_=None).label("fulfilled_at"))
_joined = supervision_orders.join(_apps, _apps.c.id == supervision_orders.c.application_id)


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
    where = and_(*conds) if conds else None
    q = select(*_columns).select_from(_joined)
    count = select(func.count()).select_from(_joined)
    if where is not None:
        q, count = q.where(where), count.where(where)
    total = session.execute(count).scalar_one()
    rows = session.execute(q.order_by(supervision_orders.c.id.desc()).limit(per_page).offset((page - 1) * per_page))
    return [dict(r) for r in rows.mappings()], total


_ANY_DUE = select(supervision_orders.c.id).where(supervision_orders.c.checked_at.is_(None),
                                                 supervision_orders.c.check_at <= bindparam("now", type_=Moment()))


def claim_due_orders(session: Session, now: datetime, limit: int) -> list[dict]:
    """Orders whose moment has come, claimed for this transaction (other instances skip them)."""
    rows = session.execute(
        select(supervision_orders)
        .where(supervision_orders.c.checked_at.is_(None), supervision_orders.c.check_at <= now)
        .order_by(supervision_orders.c.check_at).limit(limit).with_for_update(skip_locked=True)
    ).mappings().all()
    return [dict(r) for r in rows]


# -- the mixin ------------------------------------------------------------------------------------------


class SupervisionEndpoints:
    """Mixed into the service class (needs `platform`, `_visible`, `_app`)."""

    @api("POST", "/api/v1/applications/<int:application_id>/supervise", roles=ORDERERS, body=SupervisionIn,
         response=SupervisionOut, status=201, summary="a supervision order (督办): act on it by a date",
         tags=("monitor",), responses={409: "the application is no longer open (decided, delivered or refused)"})
    def supervise(self, call, application_id):
        now = clock.now()
        b = call.body
        with self.platform.unit_of_work() as uow:
            s = uow.session
            row = self._visible(call, s, application_id, lock=True)
            if row["state"] not in OPEN:
                raise IllegalTransition(f"the application is {row['state']}: nothing to supervise",
                                        "申请已办结，无需督办")
            order_id = s.execute(supervision_orders.insert().values(
                application_id=application_id, department=row["department"], act_by=b["act_by"],
                check_at=check_moment(b["act_by"]), note=b["note"], ordered_by=call.principal.name,
                ordered_at=now)).inserted_primary_key[0]
            app = self._app(s, row, now)
            uow.publish("monitor.supervision_ordered", {
                **event_figures(app, now), "order_id": str(order_id), "act_by": b["act_by"], "note": b["note"],
                "by": call.principal.name, "ordered_at": now}, department=row["department"])
            return 201, get_order(s, order_id)

    @api("GET", "/api/v1/supervision-orders", roles=READERS, query=SupervisionQuery, response=SupervisionPage,
         summary="supervision orders (督办), newest first (department handlers: their own only)", tags=("monitor",))
    def list_supervision_orders(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            return call.page(*list_orders(s, **query))

    @timer(interval=MONITOR_INTERVAL)
    def check_supervision_orders(self):
        with self.platform.session() as s:  # a reader: an idle tick takes no write lock
            if s.execute(_ANY_DUE.limit(1), {"now": clock.now()}).first() is None:
                return
        while self._check_orders() >= ORDER_BATCH:
            pass

    def _check_orders(self) -> int:
        now = clock.now()
        with self.platform.unit_of_work() as uow:
            s = uow.session
            due = claim_due_orders(s, now, ORDER_BATCH)
            checked = []
            items: dict = {}
            for order in due:
                # never wait for a window action holding the application: the next tick takes the order
                row = store.get(s, order["application_id"], lock=True, skip_locked=True)
                if row is None:
                    continue
                checked.append(order["id"])
                if row["state"] not in OPEN:
                    continue  # decided in time (fulfilled) or refused (closed): nothing to raise
                app = self._app(s, row, now, items)
                rule = f"{OVERDUE_RULE}:{order['id']}"
                figures = event_figures(app, now)
                alert_id = store.raise_alert(s, row["id"], row["department"], OVERDUE_LEVEL, rule, now, {
                    "order_id": order["id"], "act_by": order["act_by"].isoformat(), "note": order["note"],
                    "ordered_by": order["ordered_by"], "due_at": figures.get("due_at")})
                if alert_id is None:
                    continue
                s.execute(update(supervision_orders).where(supervision_orders.c.id == order["id"])
                          .values(overdue_alert_id=alert_id))
                uow.publish(OVERDUE_EVENT, {
                    **figures, "alert_id": str(alert_id), "level": OVERDUE_LEVEL, "rule": rule, "raised_at": now,
                    "order_id": str(order["id"]), "act_by": order["act_by"]}, department=row["department"])
            if checked:
                s.execute(update(supervision_orders).where(supervision_orders.c.id.in_(checked))
                          .values(checked_at=now))
        return len(checked)
