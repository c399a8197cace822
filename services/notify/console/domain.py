"""The console's rules, pure: alert levels and states and their Chinese names, what an alert is called, how a
state moves (never back), a department's light, and which commands an alert takes in which state."""

from __future__ import annotations

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
}


def rank(state: str) -> int:
    return STATES.index(state) if state in STATES else 0


def alert_title(event_type: str, p: dict) -> str:
    if event_type == "monitor.irregularity":
        return scrub(p.get("description_zh")) or "违规操作"
    if event_type == "monitor.warning":
        if p.get("rule") == "calendar_unavailable":
            return "办结期限落在尚无工作日历的年份"
        left = p.get("remaining_days")
        return f"临近办结期限（剩余 {left:g} 个工作日）" if isinstance(left, int | float) else "临近办结期限"
    if event_type == "monitor.yellow_card":
        return "已超过法定办结期限仍未办结"
    if event_type == "monitor.red_card":
        return "黄牌后仍未办结"
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
