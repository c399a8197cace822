"""The rules of key projects and joint approval (pure: no SQL, no nameko): self-check periods and due days,
milestone checks and their accountability rules, plan changes, and the joint case's own clock, its alarms,
cards and completion."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services.kernel import clock
from services.kernel.workcal import CalendarUnavailable, DeadlineClock

from ..domain import (
    DECIDED,
    DELIVERED,
    ENDED,
    RED_CARD,
    REFUSED,
    WARNING_DAYS_LEFT,
    WARNING_FRACTION,
    YELLOW_CARD,
    IllegalTransition,
    Item,
    monitor_moments,
)

ACCOUNTABILITY = "accountability"
# a sub-application in one of these states is done with, for its joint case (ended without a decision too:
# withdrawn, terminated, abandoned — not approved)
CONCLUDED = (DECIDED, DELIVERED, REFUSED, *ENDED)
# a joint alarm's kind -> the level of the alert it raises (other kinds raise nothing)
JOINT_CARDS = {WARNING_DAYS_LEFT: "warning", WARNING_FRACTION: "warning", YELLOW_CARD: "yellow", RED_CARD: "red"}
_US = timedelta(microseconds=1)


class SubmissionRefused(IllegalTransition):
    """A sub-application's submission refused as irregular (dated in the future): the joint case is refused as a
    whole (409), and the irregularity is alerted on `submission`, the one it stopped at."""

    def __init__(self, submission: dict, refused: IllegalTransition):
        super().__init__(refused.message, refused.message_zh, refused.irregularities)
        self.submission = submission


# -- self-checks ----------------------------------------------------------------------------------------


def period_of(moment: datetime) -> str:
    return f"{moment.astimezone(clock.TZ):%Y-%m}"


def next_period(period: str) -> str:
    year, month = map(int, period.split("-"))
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def self_check_due(period: str, due_day: int) -> datetime:
    """The first instant after the due day of the month following `period`: from then on, it is missing."""
    year, month = map(int, next_period(period).split("-"))
    return datetime.combine(date(year, month, due_day), time.max, tzinfo=clock.TZ) + _US


def due_by(missing_from: datetime) -> datetime:
    """The last instant a report was in time, when it is missing from `missing_from`."""
    return missing_from - _US


def due_day(project: dict, default: int) -> int:
    """The project's report day of the following month: its own, or the configured default."""
    return project["self_check_due_day"] or default


def due_periods(period: str, check_at: datetime, day: int, now: datetime) -> tuple[list[tuple[str, datetime]],
                                                                                     str, datetime]:
    """The months whose report is due by `now`, from `period` (checked at `check_at`) on, each with the moment
    it is missing from — one alert per month missed, however long the monitor was away — and the month checked
    next with its moment."""
    due = []
    while check_at <= now:
        due.append((period, check_at))
        period = next_period(period)
        check_at = self_check_due(period, day)
    return due, period, check_at


def self_check_rule(period: str) -> str:
    return f"self_check_missing:{period}"


# -- milestones -----------------------------------------------------------------------------------------


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=clock.TZ)


def milestone_check_at(deadline: date) -> datetime:
    """The first instant after the deadline day: when the monitor looks."""
    return end_of(deadline) + _US


def milestone_missed(milestone: dict) -> bool:
    """Not done by the end of its deadline day."""
    return milestone["done_at"] is None or milestone["done_at"] > end_of(milestone["deadline"])


def milestone_rule(milestone: dict) -> str:
    # the deadline is part of the rule: a milestone missed, moved and missed again is two accountability alerts
    return f"milestone_missed:{milestone['id']}@{milestone['deadline'].isoformat()}"


def require_open_milestone(milestone: dict) -> None:
    """A milestone's plan changes only while it is neither done nor cancelled (409)."""
    if milestone["done_at"] is not None:
        raise IllegalTransition("the milestone is done: its plan is history", "节点已完成，不能修改")
    require_not_cancelled(milestone)


def require_not_cancelled(milestone: dict) -> None:
    if milestone["cancelled_at"] is not None:
        raise IllegalTransition("the milestone was cancelled", "节点已取消")


# -- changes after registration -------------------------------------------------------------------------


def project_change(old: dict, patch: dict, default_due_day: int) -> tuple[dict, dict]:
    """The columns a patch of the project sets, and the changes it makes (from → to, only those that differ).
    A new due day or first month reschedules the self-check: the month checked next, and when (a month already
    alerted is not alerted again: one alert per rule)."""
    values = {k: patch[k] for k in ("name", "self_check_due_day") if k in patch}
    if "responsible_units" in patch:
        values["responsible_units"] = list(patch["responsible_units"])
    if "agent" in patch:
        values.update(agent_name=patch["agent"]["name"], agent_phone=patch["agent"]["phone"])
    if "self_check_due_day" in patch or "self_check_from" in patch:
        period = patch.get("self_check_from", old["self_check_period"])
        day = values.get("self_check_due_day", old["self_check_due_day"]) or default_due_day
        values.update(self_check_period=period, next_self_check_at=self_check_due(period, day))
    return values, changes_of(old, values)


def milestone_change(old: dict, patch: dict) -> tuple[dict, dict]:
    """The columns a patch of a milestone sets, and its changes; a new deadline is checked again at the end of
    the new deadline day (an alert on the old one stays raised)."""
    changes = changes_of(old, patch)
    values = dict(patch)
    if "deadline" in changes:
        values.update(check_at=milestone_check_at(patch["deadline"]), checked_at=None)
    return values, changes


def changes_of(old: dict, values: dict) -> dict:
    return {k: {"from": old[k], "to": v} for k, v in values.items() if old[k] != v}


# -- the joint clock --------------------------------------------------------------------------------------


def joint_item(rules_limit: int) -> Item:
    """The joint case as an item, so the domain's monitor moments (warnings, cards) apply to its clock."""
    return Item(code="joint", name="联合审批", department="joint", committed_limit=rules_limit, joint=True)


def joint_clock(joint: dict, calendar) -> DeadlineClock:
    return DeadlineClock(started_at=joint["started_at"], limit_days=joint["limit_days"], calendar=calendar)


def joint_due(joint: dict, calendar) -> dict:
    """The joint case's `due_at` and `clock_error` (a calendar without the years it needs: no due time yet)."""
    try:
        return {"due_at": joint_clock(joint, calendar).due_at, "clock_error": None}
    except CalendarUnavailable as exc:
        return {"due_at": None, "clock_error": str(exc)}


def joint_moments(rules, joint: dict, calendar) -> list[tuple[str, datetime]]:
    """The joint clock's alarms: (kind, when)."""
    return list(monitor_moments(rules, joint_item(joint["limit_days"]), joint_clock(joint, calendar)))


def joint_clock_view(joint: dict, now: datetime, calendar, rules) -> dict:
    """The joint clock as shown and as its alerts report it, with its light."""
    base = {"limit_days": joint["limit_days"], "started_at": joint["started_at"], "due_at": joint["due_at"],
            "error": joint["clock_error"]}
    at = joint["completed_at"] or now
    try:
        st = joint_clock(joint, calendar).status(at)
    except CalendarUnavailable as exc:
        return {**base, "elapsed": None, "remaining": None, "fraction_used": None, "light": None,
                "error": str(exc)}
    warned = ((rules.warn_days_left is not None and st.remaining <= rules.warn_days_left)
              or (rules.warn_fraction is not None and st.fraction_used >= rules.warn_fraction))
    light = "red" if st.overdue else "yellow" if warned else "green"
    return {**base, "start_date": st.start_date, "elapsed": st.elapsed, "remaining": st.remaining,
            "fraction_used": st.fraction_used, "light": light}


def joint_outcome(members: list[dict]) -> tuple[datetime, bool] | None:
    """When the joint case completed and whether all of it was approved, once every sub-application concluded
    (`members`: their state, approved, decided_at, refused_at); None while one is still open."""
    if not members or any(m["state"] not in CONCLUDED for m in members):
        return None
    return (max(m["decided_at"] or m["refused_at"] or m.get("ended_at") for m in members),
            all(m["approved"] for m in members))


def in_time(joint: dict, completed_at: datetime) -> bool | None:
    return None if joint["due_at"] is None else completed_at <= joint["due_at"]


# -- project state ----------------------------------------------------------------------------------------

PROJECT_STATES = ("active", "closed")


def require_active(project: dict) -> None:
    """A closed project takes no more changes of state (409)."""
    if project["state"] != "active":
        raise IllegalTransition(f"project {project['code']} is closed", "重点项目已结束")


# -- quarterly inspections (每季度开展1次重点督察) -------------------------------------------------------------


def quarter_of(moment: datetime | date) -> str:
    """The quarter ("2026-Q4") a moment (in Asia/Shanghai) or a day falls in."""
    day = moment.astimezone(clock.TZ).date() if isinstance(moment, datetime) else moment
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _quarter(quarter: str) -> tuple[int, int]:
    year, q = quarter.split("-Q")
    return int(year), int(q)


def next_quarter(quarter: str) -> str:
    year, q = _quarter(quarter)
    return f"{year + q // 4}-Q{q % 4 + 1}"


def quarter_start(quarter: str) -> datetime:
    year, q = _quarter(quarter)
    return datetime(year, 3 * q - 2, 1, tzinfo=clock.TZ)


def inspection_due(quarter: str) -> datetime:
    """The first instant after the quarter's last day (Asia/Shanghai): from then on, its inspection is missing."""
    return quarter_start(next_quarter(quarter))


def due_quarters(quarter: str, check_at: datetime, now: datetime) -> tuple[list[tuple[str, datetime]], str,
                                                                            datetime]:
    """The quarters ended by `now`, from `quarter` (checked at `check_at`) on, each with the moment its
    inspection is missing from — one alert per quarter, however long the monitor was away — and the quarter
    checked next with its moment."""
    due = []
    while check_at <= now:
        due.append((quarter, check_at))
        quarter = next_quarter(quarter)
        check_at = inspection_due(quarter)
    return due, quarter, check_at


def first_inspected_quarter(registered_at: datetime) -> str:
    """The first quarter a project must have an inspection in: the first whole quarter after its registration (a
    project registered in the last week of a quarter is not alerted for that quarter a week later)."""
    return next_quarter(quarter_of(registered_at))


def inspection_rule(quarter: str) -> str:
    return f"inspection_missing:{quarter}"


def check_inspection(quarter: str, inspected_at: datetime, now: datetime) -> dict[str, list[str]]:
    """What is wrong with an inspection record (field → messages; empty: nothing): its quarter not begun, or the
    moment of the inspection outside that quarter or in the future."""
    errors: dict[str, list[str]] = {}
    if quarter_start(quarter) > now:
        errors["quarter"] = ["the quarter has not begun / 该季度尚未开始"]
    elif not quarter_start(quarter) <= inspected_at < inspection_due(quarter):
        errors["at"] = [f"the inspection must fall in {quarter} / 督察时间须在该季度内"]
    elif inspected_at > now:
        errors["at"] = ["cannot be in the future / 不能晚于当前时间"]
    return errors


# -- the accountability procedure (责任追究程序) ------------------------------------------------------------

# the alerts a procedure can be started on: a key project's accountability alert, or a joint case's clock
# overdue (a yellow or red card: the joint limit passed); a warning is not yet a matter of accountability
PROCEDURE_LEVELS = {"project": (ACCOUNTABILITY,), "joint_approval": ("yellow", "red")}
OUTCOMES = ("measure", "none_due")
TARGETS = ("unit", "person")
# the fields of a conclusion (as sent → as kept), compared when a conclusion is sent again (the same: the first
# answer)
CONCLUSION_FIELDS = {"outcome": "outcome", "measure": "measure", "target": "target", "post": "post",
                     "deciding_body": "deciding_body", "document_no": "document_no", "decided_on": "decided_on",
                     "reason": "conclusion_reason"}


def require_procedure_subject(alert: dict) -> None:
    """409 unless the alert is one a procedure can be started on."""
    if alert["level"] not in PROCEDURE_LEVELS.get(alert["subject"], ()):
        raise IllegalTransition(f"alert {alert['id']} is not an accountability alert",
                                "该告警不是问责告警，不能启动责任追究程序")


def same_conclusion(procedure: dict, data: dict) -> bool:
    """A conclusion sent again: the one recorded (so it is answered as before, not refused)."""
    return all(procedure[kept] == data.get(sent) for sent, kept in CONCLUSION_FIELDS.items())


def conclusion(data: dict) -> dict:
    """The columns a conclusion sets (with `state`)."""
    return {"state": "concluded", **{kept: data.get(sent) for sent, kept in CONCLUSION_FIELDS.items()}}


def require_open_procedure(procedure: dict) -> None:
    if procedure["state"] != "open":
        raise IllegalTransition(f"procedure {procedure['id']} is concluded", "责任追究程序已办结，不能再次办结")


def resolution_note(data: dict, measure_zh: str | None) -> str:
    """The note the alert is resolved with when its procedure concludes."""
    if data["outcome"] == "none_due":
        return "责任追究程序办结：经研究不予追究"
    document = f"（{data['document_no']}）" if data.get("document_no") else ""
    return f"责任追究程序办结：{measure_zh or data['measure']}{document}"
