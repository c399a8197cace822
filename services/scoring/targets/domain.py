"""The rules of target management (目标管理), pure: when a lead unit's plan is due, when a milestone is overdue, the
state a key task is in, what may change when, and the board's light of each task."""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from services.kernel import clock
from services.kernel.domain import IllegalTransition
from services.kernel.workcal import WorkCalendar, local_date

# a key task's life: its lead unit's plan awaited · plan submitted, under way · every milestone done · cancelled
STATES = ("plan_pending", "in_progress", "completed", "cancelled")
STATE_ZH = {"plan_pending": "待报实施方案", "in_progress": "推进中", "completed": "已完成", "cancelled": "已撤销"}
# the plan as the board shows it
PLAN_ZH = {"pending": "未到期待报", "submitted": "按时报送", "late": "逾期报送", "overdue": "逾期未报"}
# a milestone as the board shows it
MILESTONE_ZH = {"done": "已完成", "done_late": "逾期完成", "overdue": "逾期未完成", "due_soon": "即将到期",
                "upcoming": "未到期"}
LIGHTS = ("green", "yellow", "red", "grey")
LIGHT_ZH = {"green": "绿灯（正常）", "yellow": "黄灯（预警）", "red": "红灯（逾期）", "grey": "灰（已撤销）"}

DEFAULT_PLAN_DUE = "02-28"  # the seed: 实施方案和考核细则于 2 月 28 日前报送
DEFAULT_LATE_PLAN_DAYS = 10
DEFAULT_DUE_SOON_DAYS = 7
_MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")
_US = timedelta(microseconds=1)

# what PATCH may change (year never: a task of another year is another task)
CHANGEABLE = ("title", "standard", "lead_unit", "co_units", "steps", "assessment", "weight", "points", "plan_due",
              "milestones", "state")


class TargetConfigError(ValueError):
    """TARGETS in scoring's config is not usable (the message says which value)."""


@dataclass(frozen=True)
class TargetRules:
    """TARGETS.PLAN_DUE ("MM-DD", default 02-28): the day of each year by whose end the lead units' plans are due;
    TARGETS.LATE_PLAN_DAYS (default 10): working days a task set after that day gives its lead unit instead;
    TARGETS.DUE_SOON_DAYS (default 7): a milestone due within so many days is yellow on the board."""

    plan_due: tuple[int, int] = (2, 28)
    late_plan_days: int = DEFAULT_LATE_PLAN_DAYS
    due_soon_days: int = DEFAULT_DUE_SOON_DAYS

    @classmethod
    def from_config(cls, cfg: dict | None) -> TargetRules:
        cfg = cfg or {}
        raw = cfg.get("PLAN_DUE")
        raw = DEFAULT_PLAN_DUE if raw in (None, "") else str(raw)
        m = _MONTH_DAY.match(raw)
        if m is None:
            raise TargetConfigError(f"TARGETS.PLAN_DUE must be a day of the year as MM-DD, not {raw!r}")
        month, day = int(m.group(1)), int(m.group(2))
        try:
            date(2000, month, day)  # a leap year: 02-29 is a day (in other years the month's last)
        except ValueError:
            raise TargetConfigError(f"TARGETS.PLAN_DUE is no day of the year: {raw!r}") from None
        return cls(plan_due=(month, day), late_plan_days=_whole(cfg, "LATE_PLAN_DAYS", DEFAULT_LATE_PLAN_DAYS, 1),
                   due_soon_days=_whole(cfg, "DUE_SOON_DAYS", DEFAULT_DUE_SOON_DAYS, 0))


def _whole(cfg: dict, key: str, default: int, least: int) -> int:
    value = cfg.get(key)
    if value in (None, ""):
        return default
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise TargetConfigError(f"TARGETS.{key} must be a whole number, not {value!r}") from None
    if n < least:
        raise TargetConfigError(f"TARGETS.{key} must be at least {least}, not {value!r}")
    return n


def year_plan_day(rules: TargetRules, year: int) -> date:
    """The day of `year` by whose end the plans are due (02-29 in a common year: 02-28)."""
    month, day = rules.plan_due
    return date(year, month, min(day, monthrange(year, month)[1]))


def due_moment(day: date) -> datetime:
    """The first instant after `day` (Asia/Shanghai): the whole day is the unit's."""
    return datetime.combine(day + timedelta(days=1), time(), clock.TZ)


def due_day(moment: datetime) -> date:
    """The day a due moment closes (the inverse of `due_moment`)."""
    return local_date(moment - _US)


def plan_due(rules: TargetRules, calendar: WorkCalendar, year: int, created_at: datetime) -> date:
    """The day a new task's plan is due: the year's day (TARGETS.PLAN_DUE); for a task set after it, the
    TARGETS.LATE_PLAN_DAYS-th working day after the day it was set (CalendarUnavailable past the known years)."""
    day = year_plan_day(rules, year)
    today = local_date(created_at)
    if today <= day:
        return day
    return calendar.add_working_days(today, rules.late_plan_days)


def check_milestones(year: int, milestones: list[dict], today: date | None = None,
                     fresh: list[dict] | None = None) -> dict[str, list[str]]:
    """Field errors of a schedule (定进度): at least one milestone, each dated within the task's year; the `fresh`
    ones (new or moved; default all) not on a day already over at `today` (a schedule is set ahead, not after)."""
    errors: list[str] = []
    if not milestones:
        errors.append("at least one dated milestone / 至少一个进度节点")
    for m in milestones:
        if m["due_on"].year != year:
            errors.append(f"{m['due_on'].isoformat()} is not in {year} / 进度节点须在 {year} 年内")
    for m in milestones if fresh is None else fresh:
        if today is not None and m["due_on"] < today:
            errors.append(f"{m['due_on'].isoformat()} is over already / 进度节点日期已过")
    return {"milestones": errors} if errors else {}


def plan_status(target: dict, now: datetime) -> str:
    """pending (not due yet) · submitted (in time) · late (submitted after the due day) · overdue (not submitted,
    the due day over)."""
    if target["plan_submitted_at"] is not None:
        return "late" if target["plan_late"] else "submitted"
    return "overdue" if now >= target["plan_due_at"] else "pending"


def milestone_status(m: dict, now: datetime, soon_days: int) -> str:
    if m["done_at"] is not None:
        return "done_late" if m["done_late"] else "done"
    if now >= m["due_at"]:
        return "overdue"
    return "due_soon" if m["due_at"] - now <= timedelta(days=soon_days) else "upcoming"


def state_of(target: dict, milestones: list[dict]) -> str:
    """The state a task is in (a cancelled one stays cancelled until resumed)."""
    if target["state"] == "cancelled":
        return "cancelled"
    if target["plan_submitted_at"] is None:
        return "plan_pending"
    if milestones and all(m["done_at"] is not None for m in milestones):
        return "completed"
    return "in_progress"


def light(target: dict, milestones: list[dict], now: datetime, soon_days: int) -> tuple[str, list[str]]:
    """The board's light and why (Chinese): red for a plan or a milestone overdue; yellow for a plan submitted
    late, a milestone done late or due within `soon_days`; green otherwise; grey for a cancelled task."""
    if target["state"] == "cancelled":
        return "grey", ["任务已撤销"]
    plan = plan_status(target, now)
    statuses = [milestone_status(m, now, soon_days) for m in milestones]
    red, yellow = [], []
    if plan == "overdue":
        red.append(f"实施方案和考核细则逾期未报（应于 {due_day(target['plan_due_at']):%Y年%m月%d日} 前报送）")
    if n := statuses.count("overdue"):
        red.append(f"{n} 个进度节点逾期未完成")
    if plan == "late":
        yellow.append("实施方案逾期报送")
    if n := statuses.count("done_late"):
        yellow.append(f"{n} 个进度节点逾期完成")
    if n := statuses.count("due_soon"):
        yellow.append(f"{n} 个进度节点 {soon_days} 日内到期")
    if red:
        return "red", red + yellow
    if yellow:
        return "yellow", yellow
    return "green", ["按计划推进"]


def require_open(target: dict, what_zh: str) -> None:
    """Plans and progress are for a task not cancelled."""
    if target["state"] == "cancelled":
        raise IllegalTransition("the task is cancelled", f"该任务已撤销，不能{what_zh}")


def require_lead(target: dict, department: str | None, what_zh: str) -> None:
    """Only the lead unit (牵头单位) submits the plan and reports progress; a co-unit reads."""
    if department != target["lead_unit"]:
        raise IllegalTransition("only the lead unit's handler does this; co-units read",
                                f"仅牵头单位可{what_zh}，配合单位只能查看")


def require_lead_change(target: dict, new_lead: str) -> None:
    """The lead unit changes only while its plan is awaited: a submitted plan is the old lead unit's."""
    if new_lead != target["lead_unit"] and target["plan_submitted_at"] is not None:
        raise IllegalTransition("the lead unit submitted its plan already: it no longer changes",
                                "牵头单位已报送实施方案，不能更换牵头单位")


def require_milestone_change(old: dict, new: dict | None) -> None:
    """A milestone reported done is kept as it is (its date and what was due): removing or moving it would
    rewrite what was assessed."""
    if old["done_at"] is None:
        return
    if new is None:
        raise IllegalTransition(f"milestone {old['id']} was reported done: it is not removed",
                                "已报告完成的进度节点不能删除")
    if new["due_on"] != old["due_on"] or new["what"] != old["what"]:
        raise IllegalTransition(f"milestone {old['id']} was reported done: it does not change",
                                "已报告完成的进度节点不能修改")


def is_late(done_at: datetime, due_at: datetime) -> bool:
    return done_at >= due_at
