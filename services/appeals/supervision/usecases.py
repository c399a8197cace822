"""The use cases of supervision orders on appeals, as plain functions of a unit of work: record one (with the
appeal's command, handlers.record_supervision_order), fulfil them with the department's reply or the case's
closing, fire the steps a late report finds due (`catch_up`), check the due ones (the timer), list them."""

from __future__ import annotations

from datetime import datetime

from services.kernel.domain import Actor

from .. import store as core
from . import domain, store

ORDER_BATCH = 200


def _looked_at(moment: datetime | None, now: datetime) -> datetime | None:
    """When the monitor looks at a moment: then, or, when a late report made it past already, after the late
    report's grace (so that the rest of the report can arrive first), as the appeal's alarms do."""
    if moment is None:
        return None
    grace = core.alarm_times.late_grace
    return now + grace if grace and moment < now else moment


def record(uow, settings, row: dict, order: dict, actor: Actor, at: datetime, now: datetime) -> int:
    """Store the order a monitor gave at `at` on the case `row` (as the command left it) and schedule its steps."""
    act_by = order["act_by"]
    values = dict(appeal_id=row["id"], ordered_at=at, ordered_by=actor.name, act_by=act_by, note=order["note"],
                  exposed=order["exposed"], department=row["department"],
                  warn_at=domain.warning_moment(settings.calendar, act_by, settings.rules.supervision_warn_days, at),
                  check_at=domain.check_moment(act_by), warned_at=None, checked_at=None, overdue_at=None,
                  fulfilled_at=None)
    values["next_at"] = _looked_at(domain.next_moment(values), now)
    return store.insert_order(uow.session, values)


def fulfil(uow, row: dict, action: str, at: datetime) -> None:
    """A step of the case at `at` (`action`, leaving `row`): the department's reply, or the case closing, fulfils
    the orders given before it."""
    if not domain.fulfils(action, row["status"]):
        return
    for order in store.unsettled_of(uow.session, row["id"]):
        if order["ordered_at"] <= at:
            store.update_order(uow.session, order["id"], {"fulfilled_at": at, "next_at": None})


def catch_up(uow, settings, row: dict, upto: datetime, now: datetime) -> None:
    """The steps of the case's orders whose moments are at or before `upto`, fired at their real moments (a
    step of the case reported late, or one that came before the monitor's tick: it follows them)."""
    for order in store.unsettled_of(uow.session, row["id"]):
        if domain.due_steps(order, upto):
            _take_steps(uow, order, row, upto, now)


def check_due_orders(uow, settings, now: datetime, limit: int = ORDER_BATCH) -> int:
    """The monitor's tick: claim up to `limit` orders whose moment has come and take their due steps. Returns how
    many were claimed (the caller runs another batch while it is `limit`)."""
    s = uow.session
    claimed = store.claim_due_orders(s, now, limit)
    for order in claimed:
        # never wait for a command holding the case: it catches the order up itself, or the next tick does
        row = core.get(s, order["appeal_id"], lock=True, skip_locked=True)
        if row is not None:
            _take_steps(uow, order, row, now, now)
    return len(claimed)


def _take_steps(uow, order: dict, row: dict, upto: datetime, now: datetime) -> None:
    order = dict(order)
    for step, moment in domain.due_steps(order, upto):
        if domain.is_settled(order, row["status"]):
            break
        payload = {**core.case_payload(uow.session, row), "department": order["department"],
                   "order_id": str(order["id"]), "act_by": order["act_by"], "ordered_at": order["ordered_at"]}
        if step == "warning":
            order["warned_at"] = now
            uow.publish(domain.WARNING_EVENT, payload, department=order["department"], occurred_at=moment)
        else:
            order.update(checked_at=now, overdue_at=moment)
            uow.publish(domain.OVERDUE_EVENT, payload, department=order["department"], occurred_at=moment)
    settled = domain.is_settled(order, row["status"])
    next_at = None if settled else _looked_at(domain.next_moment(order), now)
    store.update_order(uow.session, order["id"], {"warned_at": order["warned_at"], "checked_at": order["checked_at"],
                                                  "overdue_at": order["overdue_at"], "next_at": next_at})


def find_orders(session, query: dict) -> tuple[list[dict], int]:
    """A page of orders (the filters of `store.list_orders`), newest first, and the number of all that match."""
    return store.list_orders(session, **query)
