"""The rules of a supervision order (pure): when it is checked, what an overdue one raises, and that only an open
application can be supervised."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services.kernel import clock

from ..domain import OPEN, IllegalTransition

OVERDUE_LEVEL = "red"
OVERDUE_RULE = "supervision_overdue"
OVERDUE_EVENT = "monitor.supervision_overdue"
# derived from the application's state (see store): fulfilled when decided or delivered, closed when refused or
# ended without a decision (withdrawn, terminated, abandoned)
ORDER_STATES = ("open", "overdue", "fulfilled", "closed")


def check_moment(act_by: date) -> datetime:
    """The first instant after `act_by` (the whole day is the department's)."""
    return datetime.combine(act_by + timedelta(days=1), time(0), tzinfo=clock.TZ)


def overdue_rule(order_id: int) -> str:
    """The alert's rule: alerts are unique per (application, rule), so an order fires once."""
    return f"{OVERDUE_RULE}:{order_id}"


def require_open(state: str) -> None:
    """Only an open application can be supervised: 409 for a decided, delivered or refused one."""
    if state not in OPEN:
        raise IllegalTransition(f"the application is {state}: nothing to supervise", "申请已办结，无需督办")


def is_overdue(state: str) -> bool:
    """An order whose moment came with its application still open (decided in time: fulfilled; refused:
    closed; either way nothing is raised)."""
    return state in OPEN
