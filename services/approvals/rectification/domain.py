"""The rules of a rectification (pure): which alerts are due for one and when, which state allows which act, and
when one is overdue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from services.kernel import clock
from services.kernel.workcal import WorkCalendar, local_date

from ..domain import IllegalTransition

# the alert levels that call for a rectification within a deadline
RECTIFIED_LEVELS = ("yellow", "red", "irregularity")
# pending: no report yet · submitted: a report waits for review · accepted: the alert was resolved with it ·
# returned: sent back, the department may submit again · closed: the alert was resolved otherwise
STATES = ("pending", "submitted", "accepted", "returned", "closed")
# the list's filter: a state, or `overdue` (past due with no report accepted, announced, still open)
FILTER_STATES = (*STATES, "overdue")
OPEN_STATES = ("pending", "submitted", "returned")
DECISIONS = ("accept", "return")
OVERDUE_EVENT = "monitor.rectification_overdue"
STATE_ZH = {"pending": "待整改", "submitted": "待审核", "accepted": "已采纳", "returned": "已退回",
            "closed": "已关闭"}
_US = timedelta(microseconds=1)
# how long the timer waits before asking again for a due time the calendar could not give (a year not loaded)
CALENDAR_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class RectificationRules:
    """RECTIFICATION: working days after the alert is raised (`DAYS`, default 5), per level where set
    (`YELLOW_DAYS`, `RED_DAYS`, `IRREGULARITY_DAYS`); 0 for a level: not monitored."""

    days: int = 5
    by_level: dict[str, int] = field(default_factory=dict)

    def days_for(self, level: str) -> int | None:
        if level not in RECTIFIED_LEVELS:
            return None
        days = self.by_level.get(level, self.days)
        return days or None

    @classmethod
    def from_config(cls, cfg: dict | None) -> RectificationRules:
        cfg = cfg or {}

        def days(key: str, default: Any) -> int | None:
            value = cfg.get(key)
            if value is None or value == "":
                return default
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"RECTIFICATION.{key} must be a whole number of working days, not {value!r}") \
                    from None
            if number < 0:
                raise ValueError(f"RECTIFICATION.{key} cannot be negative, not {value!r}")
            return number

        base = days("DAYS", cls.days)
        by_level = {level: n for level in RECTIFIED_LEVELS
                    if (n := days(f"{level.upper()}_DAYS", None)) is not None}
        return cls(days=base, by_level=by_level)


def due_at(calendar: WorkCalendar, raised_at: datetime, days: int) -> datetime:
    """The end (Asia/Shanghai) of the `days`-th working day after the day the alert was raised
    (CalendarUnavailable past the known years)."""
    last_day = calendar.add_working_days(local_date(raised_at), days)
    return datetime.combine(last_day, time.max, tzinfo=clock.TZ)


def check_after(due: datetime) -> datetime:
    """The first instant after the due time: the whole last day is the department's."""
    return due + _US


def require_submittable(alert_state: str, state: str) -> None:
    """A report may be submitted for an unresolved alert with none waiting for review or accepted."""
    if state == "accepted" or alert_state == "resolved" or state == "closed":
        raise IllegalTransition("the alert is resolved: nothing to rectify", "告警已办结，无需提交整改报告")
    if state == "submitted":
        raise IllegalTransition("a rectification report waits for review", "整改报告正在审核中，请等待审核结果")


def require_reviewable(alert_state: str, state: str) -> None:
    """Only a report waiting for review can be accepted or sent back, and only while its alert is unresolved."""
    if state != "submitted":
        raise IllegalTransition(f"no rectification report waits for review (state {state})",
                                f"没有待审核的整改报告（当前：{STATE_ZH.get(state, state)}）")
    if alert_state == "resolved":
        raise IllegalTransition("the alert is resolved already", "告警已办结")


def is_overdue(state: str, alert_state: str, due: datetime | None, now: datetime) -> bool:
    """Past its due time with no report waiting or accepted, and the alert still unresolved."""
    return (due is not None and now > due and state in ("pending", "returned") and alert_state != "resolved")
