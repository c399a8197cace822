"""What the public face may say about an application (pure): the steps of its history by fixed Chinese names (never
who acted, why, or any note), the decision, the applicant as the results disclose it (an enterprise by its name, a
person never), and the bounds of the results' date range."""

from __future__ import annotations

from datetime import date, timedelta

from ..domain import SPECIAL_PROCEDURE_ZH, STATE_ZH

# the history's actions a citizen sees, by their Chinese names; any other (the monitor's recalculation, whatever
# a later feature records) stays out, so that nothing new reaches the public face unreviewed
STEP_ZH = {
    "submit": "提交申请", "accept": "受理", "deem_accepted": "视为受理", "refuse": "不予受理",
    "request_supplement": "一次性告知补正材料", "supplement_received": "补正材料已接收",
    "start_special_procedure": "特别程序开始", "end_special_procedure": "特别程序结束", "extend": "延长办理期限",
    "decide": "作出审批决定", "deliver": "决定已送达", "withdraw": "申请人撤回", "terminate": "依法终止",
    "abandon": "逾期未补正，视为撤回",
}
DECISION_ZH = {True: "准予许可", False: "不予许可"}
KIND_ZH = {"immediate": "即办件", "committed": "承诺件"}
# what the results show instead of a person's name
PERSON = "个人"
ENTERPRISE = "enterprise"

# the results' date range: at most this many days, both ends included; without `to`: today; without `from`:
# the days before `to` that make the longest range
MAX_RANGE_DAYS = 366
MAX_PER_PAGE = 100


def step_name(action: str, details: dict | None) -> str | None:
    """The Chinese name of a history line's action, with the one detail that is a fixed word (the kind of a special
    procedure, the decision); None for an action the public does not see."""
    name = STEP_ZH.get(action)
    if name is None:
        return None
    details = details or {}
    if action in ("start_special_procedure", "end_special_procedure"):
        kind = SPECIAL_PROCEDURE_ZH.get(details.get("kind"))
        return f"{name}（{kind}）" if kind else name
    if action == "decide" and isinstance(details.get("approved"), bool):
        return f"{name}（{DECISION_ZH[details['approved']]}）"
    return name


def public_steps(history: list[dict]) -> list[dict]:
    """The history as the public sees it, oldest first: when, the step's name and the state it left (all from fixed
    vocabularies): never the actor, role, reason, note or any other detail."""
    steps = []
    for line in history:
        name = step_name(line["action"], line.get("details"))
        if name is None:
            continue
        state = line.get("to_state")
        steps.append({"at": line["at"], "action": line["action"], "name": name, "state": state,
                      "state_zh": STATE_ZH.get(state) if state else None})
    return steps


def decision_zh(approved: bool | None) -> str | None:
    return None if approved is None else DECISION_ZH[bool(approved)]


def shown_applicant(kind: str, name: str | None) -> str:
    """An enterprise applicant by its name (a registered, public fact); a person never: 个人."""
    return (name or "") if kind == ENTERPRISE else PERSON


def date_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The results' range from the query's `from` and `to` (ValueError naming the field when it cannot be)."""
    end = end or today
    start = start or end - timedelta(days=MAX_RANGE_DAYS - 1)
    if start > end:
        raise ValueError("to", "must not be before from / 结束日期不能早于开始日期")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValueError("to", f"the range may span at most {MAX_RANGE_DAYS} days / 查询范围不能超过 "
                               f"{MAX_RANGE_DAYS} 天")
    return start, end
