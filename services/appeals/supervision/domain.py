"""The rules of a supervision order on an appeal (pure): its moments, what it raises, and its state."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services.kernel.workcal import TZ, CalendarUnavailable, WorkCalendar

from ..domain import ENDED

WARNING_EVENT = "appeal.supervision_warning"
OVERDUE_EVENT = "appeal.supervision_overdue"
# open: running; fulfilled: the department replied after the order, or the case closed, before act_by passed;
# overdue: act_by passed first (it stays overdue when the reply comes later: `fulfilled_at` says when)
ORDER_STATES = ("open", "fulfilled", "overdue")
# a calendar walk never goes further back than this looking for working days
_MAX_WALK_DAYS = 60


def check_moment(act_by: date) -> datetime:
    """The first instant after `act_by` (the whole day is the department's)."""
    return datetime.combine(act_by + timedelta(days=1), time(0), tzinfo=TZ)


def warning_moment(calendar: WorkCalendar, act_by: date, days_before: int, ordered_at: datetime) -> datetime | None:
    """The start of the `days_before`-th working day counted back from `act_by` (itself included when it is a
    working day): with 1, the start of the last working day. None when no warning is due: `days_before` 0, a
    moment not after the order, or a calendar without the year."""
    if days_before <= 0:
        return None
    day, found = act_by, 0
    try:
        for _ in range(_MAX_WALK_DAYS):
            if calendar.is_working_day(day):
                found += 1
                if found == days_before:
                    moment = datetime.combine(day, time(0), tzinfo=TZ)
                    return moment if moment > ordered_at else None
            day -= timedelta(days=1)
    except CalendarUnavailable:
        return None
    return None


# steps that answer the case: the department's reply, an efficiency complaint's finding (its reply, 事事有回声)
ANSWERS = ("reply", "finding")


def fulfils(action: str, status_after: str) -> bool:
    """Whether a step of the case fulfils its open orders: an answer, or the case ending (closed, a duplicate,
    invalid, withdrawn, merged)."""
    return action in ANSWERS or status_after in ENDED


def is_settled(order: dict, appeal_status: str) -> bool:
    """Nothing more to raise: fulfilled, or the case has ended."""
    return order["fulfilled_at"] is not None or appeal_status in ENDED


def due_steps(order: dict, upto: datetime) -> list[tuple[str, datetime]]:
    """The order's steps not yet taken whose moments are at or before `upto`, in order: ("warning", moment),
    ("overdue", moment)."""
    steps = []
    if order["warned_at"] is None and order["warn_at"] is not None and order["warn_at"] <= upto \
            and order["checked_at"] is None:
        steps.append(("warning", order["warn_at"]))
    if order["checked_at"] is None and order["check_at"] is not None and order["check_at"] <= upto:
        steps.append(("overdue", order["check_at"]))
    return steps


def next_moment(order: dict) -> datetime | None:
    """The real moment of the order's next step not yet taken (None: none left)."""
    if order["checked_at"] is not None or order["fulfilled_at"] is not None:
        return None
    if order["warned_at"] is None and order["warn_at"] is not None:
        return order["warn_at"]
    return order["check_at"]
