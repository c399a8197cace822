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

# what an alert is about (the console's filter): an application of approvals (or a submission refused before it
# became one), a key project (its accountability alerts, 问责), a joint approval case (its own clock), an appeal
SUBJECTS = ("application", "project", "joint_approval", "inspection", "penalty", "appeal")
SUBJECT_ZH = {"application": "审批件", "project": "重点项目", "joint_approval": "联合审批", "inspection": "执法检查",
              "penalty": "行政处罚", "appeal": "诉求"}
# approvals' subjects a console alert's ref_id names as `<subject>:<ref>` (the rest: an application's id)
PREFIXED = ("project", "joint_approval", "inspection", "penalty")
ENFORCEMENT_IRREGULARITY = "enforcement.irregularity"
# approvals' alerts of key projects and joint cases: event type → subject
SUBJECT_KINDS = {
    "project.milestone_missed": "project",
    "project.self_check_missing": "project",
    "project.inspection_missing": "project",
    "joint_approval.alert_raised": "joint_approval",
    # enforcement (#17): an inspection's or a penalty's, as its `subject` says
    ENFORCEMENT_IRREGULARITY: None,
}
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


def subject_of(owner: str, ref_id: str | None) -> str:
    """What a console alert is about: an appeal (appeals' alerts), a key project or joint case (`ref_id`
    `project:<code>` / `joint_approval:<id>`, as `subject_refs` names them), else an application."""
    if owner == "appeals":
        return "appeal"
    prefix = (ref_id or "").partition(":")[0]
    return prefix if prefix in PREFIXED else "application"


def subject_refs(subject: str | None, p: dict) -> tuple[str | None, str | None]:
    """(ref_no, ref_id) of an approvals alert about `subject` (the raising event's, or an answer's `subject`):
    a joint case's project code and number and `joint_approval:<id>`; a project's code and `project:<code>`; else
    the application no. (or a refused submission's external_ref) and id. The same for the raising event and its
    answers, so either may come first."""
    if subject == "joint_approval":
        project, joint_id = p.get("project_code"), p.get("joint_id")
        return (f"{project} 联审#{joint_id}" if project else f"联审#{joint_id}"), f"joint_approval:{joint_id}"
    if subject == "project":
        return p.get("project_code"), f"project:{p.get('project_code')}"
    if subject in ("inspection", "penalty"):
        return p.get("reference_no") or f"#{p.get('subject_ref')}", f"{subject}:{p.get('subject_ref')}"
    return p.get("application_no") or p.get("external_ref"), p.get("application_id")


def subject_department(p: dict) -> str | None:
    """The department of an approvals alert: the application's, a milestone's responsible unit, a project's lead
    unit (the first responsible unit, as approvals stores it); a joint case's alert has none (it spans several)."""
    if p.get("department"):
        return p["department"]
    if p.get("responsible_unit"):
        return p["responsible_unit"]
    units = p.get("responsible_units") or []
    return units[0] if units else None


def subject_title(event_type: str, p: dict) -> str:
    """The console's title of a key project's or joint case's alert (what `alert_title` is for applications)."""
    name = p.get("project_name")
    if event_type == ENFORCEMENT_IRREGULARITY:
        return scrub(p.get("description_zh")) or "执法违规"
    if event_type == "project.milestone_missed":
        return f"{name}：节点「{p.get('milestone')}」逾期未完成（应于 {p.get('deadline')} 前）"
    if event_type == "project.self_check_missing":
        return f"{name}：{p.get('period')} 月度自查未按时报送"
    if event_type == "project.inspection_missing":
        return f"{name}：{p.get('quarter')} 未开展重点督察"
    level = p.get("level")
    if level == "warning":
        left = whole_days(p, "days_left", "remaining_days")
        return f"联合审批临近办结期限（剩余 {left} 个工作日）" if left else "联合审批临近办结期限"
    if level == "yellow":
        return "联合审批已超过办结期限仍未办结"
    return "联合审批黄牌后仍未办结"


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
    out["subject"] = subject_of(out["owner"], out.get("ref_id"))
    out["subject_zh"] = SUBJECT_ZH[out["subject"]]
    return out


def check_command(row: dict, action: str) -> None:
    """IllegalTransition unless the console may send `action` to the owner of this alert now."""
    if row["owner"] not in ACTIONABLE_OWNERS:
        raise IllegalTransition(f"alerts of {row['owner']} are handled in {row['owner']} itself",
                                "该告警须在其所属系统中办理")
    if row["state"] not in ACTION_ALLOWED[action]:
        raise IllegalTransition(f"the alert is {row['state']}", "告警当前状态不允许此操作")


# -- rectification reports (整改报告) waiting for review ------------------------------------------------------------

# the console's state of an alert's rectification: pending (announced overdue, no report), submitted (waits for
# review), returned, accepted, closed (the alert was resolved otherwise)
RECTIFICATION_STATES = ("pending", "submitted", "returned", "accepted", "closed")
RECTIFICATION_STATE_ZH = {"pending": "待整改", "submitted": "待审核", "returned": "已退回", "accepted": "已采纳",
                          "closed": "已关闭"}
RECTIFICATION_FILTERS = (*RECTIFICATION_STATES, "overdue", "all")
RECTIFICATION_EVENTS = ("monitor.rectification_submitted", "monitor.rectification_accepted",
                        "monitor.rectification_returned", "monitor.rectification_overdue")
DECISION_ZH = {"accept": "采纳", "return": "退回"}


def rectification_stage(event_type: str, p: dict) -> tuple[int, int, str | None]:
    """Where an event puts an alert's rectification: (round, step, state). Events of one alert arrive on separate
    queues in any order: the furthest (round, step) wins, so a late `submitted` never undoes its review. An
    overdue event changes the state only where nothing later is known (step 0 for a report never submitted)."""
    rnd = int(p.get("round") or 0)
    if event_type == "monitor.rectification_submitted":
        return rnd, 1, "submitted"
    if event_type == "monitor.rectification_accepted":
        return rnd, 2, "accepted"
    if event_type == "monitor.rectification_returned":
        return rnd, 2, "returned"
    state = p.get("rectification_state") or "pending"
    return (rnd, 2, "returned") if state == "returned" else (rnd, 0, "pending")


def rectification_changes(row: dict | None, event_type: str, p: dict) -> dict:
    """The columns an event changes in the console's rectification row (`row` None: a new one)."""
    rnd, step, state = rectification_stage(event_type, p)
    changes: dict = {}
    if event_type == "monitor.rectification_overdue":
        changes["overdue"] = True
    if row is None or (rnd, step) > (row["round"], row["step"]):
        changes.update(round=rnd, step=step, state=state)
        if row is not None and row["state"] == "closed" and state != "accepted":
            # the alert was resolved otherwise: no report can follow that, so this one came before it
            changes["state"] = "closed"
        if step >= 1:
            changes["pending_decision"] = None  # the owner answered, or a new report came
    if event_type == "monitor.rectification_submitted" and (row is None or rnd >= row["round"]):
        changes.update(submitted_by=p.get("by"), submitted_at=p.get("submitted_at"),
                       attachments_count=p.get("attachments_count"))
        if p.get("overdue"):
            changes["overdue"] = True
    if event_type in ("monitor.rectification_accepted", "monitor.rectification_returned") and (
            row is None or rnd >= row["round"]):
        changes.update(reviewed_by=p.get("by"), review_note=scrub(p.get("reason") or p.get("note")),
                       pending_decision=None)
    return changes


def rectification_view(row, names: dict[str, str] | None = None) -> dict:
    out = dict(row)
    out["department_name"] = department_label(names, out["department"])
    out["level_zh"] = LEVEL_ZH.get(out["level"], out["level"])
    out["state_zh"] = RECTIFICATION_STATE_ZH.get(out["state"], out["state"])
    return out


def check_review(row: dict) -> None:
    """IllegalTransition unless the rectification's report waits for review and no decision is on its way."""
    if row["state"] != "submitted":
        raise IllegalTransition(f"no rectification report waits for review (state {row['state']})",
                                "没有待审核的整改报告")
    if row["pending_decision"]:
        raise IllegalTransition("a decision was sent already and waits for its answer",
                                "审核结果已提交，等待审批系统处理")
