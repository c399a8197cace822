"""The console's rules, pure: alert levels and states and their Chinese names, what an alert is called, how a
state moves (never back), a department's light, and which commands an alert takes in which state."""

from __future__ import annotations

import math

from services.kernel.domain import IllegalTransition
from services.kernel.privacy import scrub

from ..messages import department_label

LEVEL_ZH = {"warning": "预警", "yellow": "黄牌", "red": "红牌", "irregularity": "纠错", "emergency": "紧急",
            "accountability": "问责"}
LEVELS = tuple(LEVEL_ZH)
# a department's light is the worst level among its alerts not yet resolved
RED_LEVELS = frozenset({"red", "emergency", "accountability"})
STATES = ("open", "acknowledged", "resolved")
STATE_ZH = {"open": "待处理", "acknowledged": "已确认", "resolved": "已办结"}
# owners that carry out the console's commands (appeals does not consume alert.action_requested yet)
ACTIONABLE_OWNERS = ("approvals",)
# a command and the states of the alert it may be sent in
ACTION_ALLOWED = {"acknowledge": ("open",), "resolve": ("open", "acknowledged")}

# the owner's answers to a command (or to its own HTTP API)
ANSWERS = ("monitor.alert_acknowledged", "monitor.alert_resolved")
APPEAL_KINDS = {
    # event type → (level, suffix of the console's alert id, title)
    "appeal.emergency": ("emergency", "emergency", "紧急诉求"),
    "appeal.overdue": ("yellow", "overdue", "诉求办理超期"),
    "appeal.escalated": ("red", "escalated", "督促后仍超期，升级通报批评"),
    # the hotline centre's own clocks (no department) and supervision orders (the ordered department)
    "appeal.return_review_overdue": ("yellow", "return_review_overdue", "退单超时未审核"),
    "appeal.return_review_escalated": ("red", "return_review_escalated", "退单超时未审核，已升级"),
    "appeal.dispatch_overdue": ("yellow", "dispatch_overdue", "待派单超时未派"),
    "appeal.dispatch_escalated": ("red", "dispatch_escalated", "待派单超时未派，已升级"),
    "appeal.callback_overdue": ("yellow", "callback_overdue", "答复后超时未回访"),
    "appeal.callback_escalated": ("red", "callback_escalated", "答复后超时未回访，已升级"),
    "appeal.supervision_overdue": ("red", "supervision_overdue", "督办逾期仍未答复"),
}


def rank(state: str) -> int:
    return STATES.index(state) if state in STATES else 0


def whole_days(p: dict, key: str, fractional: str | None = None) -> int | None:
    """A figure of an event in whole working days (`days_left`, `days_overdue`), never negative or fractional; an
    event of an older producer carries only the fractional `remaining_days`: a working day begun counts whole."""
    value = p.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, value)
    value = p.get(fractional) if fractional else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0, math.ceil(round(value, 3)))  # as approvals' domain counts them (a thousandth of a day)
    return None


def alert_title(event_type: str, p: dict) -> str:
    if event_type == "monitor.irregularity":
        return scrub(p.get("description_zh")) or "违规操作"
    if event_type == "monitor.warning":
        if p.get("rule") == "calendar_unavailable":
            return "办结期限落在尚无工作日历的年份，无法计算"
        left = whole_days(p, "days_left", "remaining_days")
        return f"临近办结期限（剩余 {left} 个工作日）" if left else "临近办结期限"
    overdue = whole_days(p, "days_overdue")
    late = f"，已超期 {overdue} 个工作日" if overdue else ""
    if event_type == "monitor.yellow_card":
        return f"已超过法定办结期限仍未办结{late}"
    if event_type == "monitor.red_card":
        return f"黄牌后仍未办结{late}"
    if event_type == "monitor.supervision_overdue":
        return f"督办逾期：应于 {p.get('act_by')} 前办理"
    return p.get("rule") or event_type


def changes_of(row: dict, values: dict, state: str) -> dict:
    """What an event of an alert already kept changes in it. Events of one alert arrive on separate queues, so
    an acknowledgement may come before the alert itself: the raising event names the alert best whenever it
    comes, the others add who and the note, and a state never goes back."""
    raising = values["kind"] not in ANSWERS
    changes = {}
    # who answered is always kept; a note only from the latest answer (a late acknowledgement's note must not
    # replace the resolution's)
    kept = ("acknowledged_by", "resolved_by", "note") if rank(state) >= rank(row["state"]) else (
        "acknowledged_by", "resolved_by")
    for key, value in values.items():
        if value is not None and (raising or row[key] is None or key in kept):
            changes[key] = value
    if rank(state) > rank(row["state"]):
        changes["state"] = state
    if not raising:
        changes["pending_action"] = None  # the owner answered
    return changes


def light(counts: dict[str, int], total: int) -> str:
    return "red" if any(counts.get(lv) for lv in RED_LEVELS) else "yellow" if total else "green"


def alert_view(row, names: dict[str, str] | None = None) -> dict:
    out = dict(row)
    out["department_name"] = department_label(names, out["department"])
    out["level_zh"] = LEVEL_ZH.get(out["level"], out["level"])
    out["state_zh"] = STATE_ZH.get(out["state"], out["state"])
    out["actionable"] = out["owner"] in ACTIONABLE_OWNERS
    return out


def check_command(row: dict, action: str) -> None:
    """IllegalTransition unless the console may send `action` to the owner of this alert now."""
    if row["owner"] not in ACTIONABLE_OWNERS:
        raise IllegalTransition(f"alerts of {row['owner']} are handled in {row['owner']} itself",
                                "该告警须在其所属系统中办理")
    if row["state"] not in ACTION_ALLOWED[action]:
        raise IllegalTransition(f"the alert is {row['state']}", "告警当前状态不允许此操作")
