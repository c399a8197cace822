"""The appeal's life as pure rules: statuses and who may move a case between them, time limits on the
working-day clock, the deadline alarms, call-back and reopening, complaints' findings.

No framework here: a use case (handlers.py) loads an appeal, asks `Appeal` for an `Outcome` (the kernel's:
the changes, the events, the history line, what becomes of the alarms) and commits all of it in one unit of
work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.kernel.domain import Actor, IllegalTransition
from services.kernel.outcome import CANCEL, KEEP, Event, Outcome, add_alarms, replace_alarms
from services.kernel.privacy import mask_name  # noqa: F401  (re-exported: the one masking of names)
from services.kernel.workcal import CalendarUnavailable, DeadlineClock, WorkCalendar

AWAITING_DISPATCH = "awaiting_dispatch"
DISPATCHED = "dispatched"
ACCEPTED = "accepted"
REPLIED = "replied"
CLOSED = "closed"
DUPLICATE = "duplicate"
STATUSES = (AWAITING_DISPATCH, DISPATCHED, ACCEPTED, REPLIED, CLOSED, DUPLICATE)
OPEN = (AWAITING_DISPATCH, DISPATCHED, ACCEPTED, REPLIED)
# statuses in which the department's clock runs
CLOCKED = (DISPATCHED, ACCEPTED)

STATUS_ZH = {
    AWAITING_DISPATCH: "待派单", DISPATCHED: "已派单", ACCEPTED: "已签收", REPLIED: "已答复",
    CLOSED: "已办结", DUPLICATE: "重复件",
}

ALARM_LAST_DAY = "warning_last_day"
ALARM_FRACTION = "warning_fraction"
ALARM_OVERDUE = "overdue"
ALARM_ESCALATION = "escalation"


@dataclass(frozen=True)
class AppealRules:
    """Time limits and thresholds (configuration; defaults from 12345 practice, see DOMAIN.md)."""

    limits: dict[str, int] = field(default_factory=lambda: {
        "consultation": 3, "help": 3, "praise": 3,
        "complaint": 13, "suggestion": 13, "report": 13, "efficiency_complaint": 13,
    })
    emergency_limit: int = 0  # the same day
    accept_within_days: int = 1
    warn_last_day: bool = True
    warn_fraction: float | None = 0.8
    escalate_after_days: int = 5
    max_reopen: int = 1
    max_extension_days: int = 10
    duplicate_window_days: int = 7
    discipline_office: str = "JW"

    def limit_for(self, appeal_type: str, urgency: str) -> int:
        if urgency == "emergency":
            return self.emergency_limit
        return self.limits[appeal_type]

    @classmethod
    def from_config(cls, cfg: dict | None) -> AppealRules:
        cfg = cfg or {}
        base = cls()
        limits = {**base.limits, **{k: int(v) for k, v in (cfg.get("LIMITS") or {}).items()}}
        return cls(
            limits=limits,
            emergency_limit=int(cfg.get("EMERGENCY_LIMIT", base.emergency_limit)),
            accept_within_days=int(cfg.get("ACCEPT_WITHIN_DAYS", base.accept_within_days)),
            warn_last_day=bool(cfg.get("WARN_LAST_DAY", base.warn_last_day)),
            warn_fraction=(None if cfg.get("WARN_FRACTION", base.warn_fraction) in (None, "", 0)
                           else float(cfg.get("WARN_FRACTION", base.warn_fraction))),
            escalate_after_days=int(cfg.get("ESCALATE_AFTER_DAYS", base.escalate_after_days)),
            max_reopen=int(cfg.get("MAX_REOPEN", base.max_reopen)),
            max_extension_days=int(cfg.get("MAX_EXTENSION_DAYS", base.max_extension_days)),
            duplicate_window_days=int(cfg.get("DUPLICATE_WINDOW_DAYS", base.duplicate_window_days)),
            discipline_office=str(cfg.get("DISCIPLINE_OFFICE") or base.discipline_office),
        )


@dataclass
class ReplyDeadline:
    """The department's time to reply: when its clock started, its limit, its due time (None with `error` when
    the calendar lacks a year), and the moments of its alarms."""

    started_at: datetime
    limit_days: int
    due_at: datetime | None
    error: str | None
    alarms: list[tuple[str, datetime]]


def reply_deadline(calendar: WorkCalendar, rules: AppealRules, started_at: datetime, limit_days: int) -> ReplyDeadline:
    """The due time of a limit started now and the moments of its alarms. A limit that runs into a year
    with no holiday schedule has no due time and says why (never a Monday–Friday guess)."""
    clock = DeadlineClock(started_at=started_at, limit_days=limit_days, calendar=calendar)
    try:
        due_at = clock.due_at
        alarms: list[tuple[str, datetime]] = []
        if rules.warn_last_day and limit_days >= 2:
            alarms.append((ALARM_LAST_DAY, clock.moment_at_elapsed(limit_days - 1)))
        if rules.warn_fraction and limit_days >= 1:
            at = clock.moment_at_elapsed(rules.warn_fraction * limit_days)
            if all(at != a for _, a in alarms):
                alarms.append((ALARM_FRACTION, at))
        # overdue the first moment after the due time (also for the same-day limit 0)
        alarms.append((ALARM_OVERDUE, due_at + timedelta(microseconds=1)))
        return ReplyDeadline(started_at, limit_days, due_at, None, [(k, a) for k, a in alarms if a > started_at])
    except CalendarUnavailable as exc:
        return ReplyDeadline(started_at, limit_days, None, str(exc), [])


def escalation_moment(calendar: WorkCalendar, rules: AppealRules, urged_at: datetime) -> datetime | None:
    clock = DeadlineClock(started_at=urged_at, limit_days=rules.escalate_after_days, calendar=calendar)
    try:
        return clock.moment_at_elapsed(rules.escalate_after_days)
    except CalendarUnavailable:
        return None


def accepted_in_time(calendar: WorkCalendar, rules: AppealRules, dispatched_at: datetime,
                     accepted_at: datetime) -> bool:
    try:
        limit = DeadlineClock(started_at=dispatched_at, limit_days=rules.accept_within_days, calendar=calendar)
        return accepted_at <= limit.due_at
    except CalendarUnavailable:
        return True  # no schedule to judge by: do not count it against the department


def normalize_phone(phone: str | None) -> str | None:
    """One spelling per number, so that a repeat caller is recognised however the channel wrote it:
    spaces, dashes and brackets go, and the country code of a Chinese number (+86, 0086, 86 before a
    mobile number or an area code) is dropped. "+86 138-1234-5678" and "13812345678" are the same caller;
    a foreign number keeps its "+"."""
    if not phone:
        return phone
    digits = "".join(ch for ch in phone if ch.isdigit())
    plus = phone.strip().startswith("+")
    for prefix in ("0086", "86"):
        rest = digits[len(prefix):]
        if digits.startswith(prefix) and (plus or prefix == "0086" or len(rest) == 11) and \
                (len(rest) == 11 and rest.startswith("1") or 9 <= len(rest) <= 11 and rest[0] != "1"):
            return rest if rest.startswith("1") else "0" + rest
    return ("+" if plus else "") + digits


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) <= 7:
        return digits[:1] + "*" * (len(digits) - 1)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


# Whether a channel's cases are public (listed by the Open311 facade) when the intake does not say, and why:
# a call to the hotline, the mayor's line or a broadcast dialogue, or a visit to a window, is a conversation
# with the government, not a notice to the public; a web filing is public only if the filer ticks the box;
# the online opinion board (网络问政) shows its messages in public already, and its bridge sends public=false
# for one its poster marked private. services/appeals/README.md, "Public cases".
PUBLIC_BY_DEFAULT = {"hotline": False, "mayor_line": False, "sunshine_dialogue": False, "window": False,
                     "web": False, "online_opinion": True}
CONFIDENTIAL_TYPES = ("efficiency_complaint",)


def is_public(channel: str, requested: bool | None, appeal_type: str, confidential_category: bool) -> bool:
    """Whether a case may be shown in public. Efficiency complaints and the discipline office's categories
    name officials and complainants: never, whatever was asked."""
    if appeal_type in CONFIDENTIAL_TYPES or confidential_category:
        return False
    return PUBLIC_BY_DEFAULT.get(channel, False) if requested is None else bool(requested)


class Appeal:
    """One appeal and the commands on it. `row` is the appeal as stored (a dict of its columns)."""

    def __init__(self, row: dict[str, Any], calendar: WorkCalendar, rules: AppealRules):
        self.row = row
        self.calendar = calendar
        self.rules = rules

    @property
    def status(self) -> str:
        return self.row["status"]

    @property
    def is_complaint(self) -> bool:
        return self.row["type"] == "efficiency_complaint"

    def _require(self, allowed: tuple[str, ...], action: str, action_zh: str) -> None:
        if self.status not in allowed:
            raise IllegalTransition(
                f"cannot {action} a case that is {self.status}",
                f"案件当前状态为「{STATUS_ZH.get(self.status, self.status)}」，不能{action_zh}",
            )

    def _require_department(self, actor: Actor) -> None:
        if actor.role == "department_handler" and actor.department != self.row["department"]:
            # the service answers 404 before this; a guard in case it is ever called otherwise
            raise IllegalTransition("not this department's case", "非本单位案件")

    # -- dispatch -----------------------------------------------------------------------------------

    def dispatch(self, department: str, at: datetime, actor: Actor) -> Outcome:
        self._require((AWAITING_DISPATCH, DISPATCHED, ACCEPTED), "dispatch", "派单")
        if self.is_complaint and department != self.rules.discipline_office:
            raise IllegalTransition("efficiency complaints stay with the discipline office",
                                    "效能投诉由纪检监察机关办理，不能改派")
        previous = self.row["department"]
        limit = self.rules.limit_for(self.row["type"], self.row["urgency"])
        dl = reply_deadline(self.calendar, self.rules, at, limit)
        changes = dict(department=department, status=DISPATCHED, dispatched_at=at, accepted_at=None,
                       clock_started_at=at, limit_days=limit, due_at=dl.due_at, clock_error=dl.error,
                       overdue=False, urged_at=None, escalated_at=None, extension_used=False,
                       extension_days=None, extension_reason=None)
        return Outcome("dispatch", changes,
                       [Event("appeal.dispatched", {"previous_department": previous, "limit_days": limit,
                                                    "by": actor.name})],
                       {"department": department, "previous_department": previous, "limit_days": limit},
                       alarms=replace_alarms(dl.alarms))

    # -- the department -----------------------------------------------------------------------------

    def accept(self, at: datetime, actor: Actor) -> Outcome:
        self._require_department(actor)
        self._require((DISPATCHED,), "accept", "签收")
        in_time = accepted_in_time(self.calendar, self.rules, self.row["dispatched_at"], at)
        return Outcome("accept", {"status": ACCEPTED, "accepted_at": at},
                       [Event("appeal.accepted", {"in_time": in_time})], {"in_time": in_time})

    def return_(self, reason: str, at: datetime, actor: Actor) -> Outcome:
        self._require_department(actor)
        self._require((DISPATCHED, ACCEPTED), "return", "退回")
        if self.is_complaint:
            raise IllegalTransition("an efficiency complaint cannot be returned; record a finding",
                                    "效能投诉不能退回，须作出调查结论")
        return Outcome("return", dict(status=AWAITING_DISPATCH, department=None, return_reason=reason,
                                      return_count=(self.row["return_count"] or 0) + 1, due_at=None,
                                      clock_started_at=None, limit_days=None, clock_error=None,
                                      dispatched_at=None, accepted_at=None),
                       [Event("appeal.returned", {"reason": reason, "department": self.row["department"]})],
                       {"reason": reason, "department": self.row["department"]}, alarms=CANCEL)

    def request_extension(self, days: int, reason: str, at: datetime, actor: Actor) -> Outcome:
        self._require_department(actor)
        self._require((DISPATCHED, ACCEPTED), "ask for an extension of", "申请延期")
        if self.row["extension_used"]:
            raise IllegalTransition("an extension was already asked for on this deadline",
                                    "本期限已申请过延期")
        if self.row["due_at"] is None or at > self.row["due_at"]:
            raise IllegalTransition("an extension must be asked for before the deadline",
                                    "延期须在办理期限届满前申请")
        if days > self.rules.max_extension_days:
            raise IllegalTransition(f"at most {self.rules.max_extension_days} working days",
                                    f"延期最多 {self.rules.max_extension_days} 个工作日")
        return Outcome("request_extension",
                       dict(extension_used=True, extension_days=days, extension_reason=reason),
                       [Event("appeal.extension_requested", {"days": days, "reason": reason})],
                       {"days": days, "reason": reason})

    def decide_extension(self, approved: bool, note: str | None, at: datetime, actor: Actor) -> Outcome:
        days = self.row["extension_days"]
        if not self.row["extension_used"] or days is None:
            raise IllegalTransition("no extension request is pending", "没有待审批的延期申请")
        self._require((DISPATCHED, ACCEPTED), "decide an extension of", "审批延期")
        changes: dict[str, Any] = {"extension_days": None}
        alarms = KEEP
        if approved:
            limit = self.row["limit_days"] + days
            dl = reply_deadline(self.calendar, self.rules, self.row["clock_started_at"], limit)
            changes.update(limit_days=limit, due_at=dl.due_at, clock_error=dl.error, overdue=False)
            alarms = replace_alarms(dl.alarms)
        return Outcome("decide_extension", changes,
                       [Event("appeal.extension_decided", {"approved": approved, "days": days, "note": note})],
                       {"approved": approved, "days": days, "note": note}, alarms=alarms)

    def reply(self, text: str, at: datetime, actor: Actor) -> Outcome:
        self._require_department(actor)
        if self.is_complaint:
            raise IllegalTransition("an efficiency complaint ends with a finding, not a reply",
                                    "效能投诉须以调查结论办结，不能直接答复")
        self._require((ACCEPTED,), "reply to", "答复（须先签收）")
        in_time = self.row["due_at"] is None or at <= self.row["due_at"]
        return Outcome("reply", {"status": REPLIED, "replied_at": at, "reply": text},
                       [Event("appeal.replied", {"in_time": in_time})], {"in_time": in_time}, alarms=CANCEL)

    # -- operators: call-back -----------------------------------------------------------------------

    def record_callback(self, satisfaction: str, resolved: bool, at: datetime, actor: Actor) -> Outcome:
        self._require((REPLIED,), "record a call-back for", "回访（须先答复）")
        events: list[Event] = [
            Event("appeal.callback_recorded", {"satisfaction": satisfaction, "resolved": resolved})]
        details = {"satisfaction": satisfaction, "resolved": resolved}
        if satisfaction == "unsatisfied" and (self.row["reopen_count"] or 0) < self.rules.max_reopen:
            limit = self.rules.limit_for(self.row["type"], self.row["urgency"])
            dl = reply_deadline(self.calendar, self.rules, at, limit)
            count = (self.row["reopen_count"] or 0) + 1
            events.append(Event("appeal.reopened", {"reopen_count": count}))
            return Outcome("callback", dict(
                satisfaction=satisfaction, resolved=resolved, status=DISPATCHED, reopen_count=count,
                dispatched_at=at, accepted_at=None, replied_at=None, clock_started_at=at, limit_days=limit,
                due_at=dl.due_at, clock_error=dl.error, overdue=False, urged_at=None, escalated_at=None,
                extension_used=False, extension_days=None), events, {**details, "reopened": True},
                alarms=replace_alarms(dl.alarms))
        events.append(Event("appeal.closed", {"satisfaction": satisfaction, "resolved": resolved}))
        return Outcome("callback", dict(satisfaction=satisfaction, resolved=resolved, status=CLOSED,
                                        closed_at=at), events, {**details, "reopened": False}, alarms=CANCEL)

    # -- the deadline alarms -------------------------------------------------------------------------

    def alarm_moments(self) -> dict[str, datetime | None]:
        """The real moment of each alarm of the running clock (a late report fires the ones before its `at`)."""
        moments: dict[str, datetime | None] = dict(reply_deadline(
            self.calendar, self.rules, self.row["clock_started_at"], self.row["limit_days"]).alarms)
        if self.row["urged_at"] is not None:
            moments[ALARM_ESCALATION] = escalation_moment(self.calendar, self.rules, self.row["urged_at"])
        return moments

    def claimed_alarm_moment(self, kind: str, fire_at: datetime, now: datetime) -> datetime:
        """The moment an alarm the monitor claims at `now` stands for: a warning now; the overdue notice the
        first instant after the due time, and the escalation its moment after the urging, also when a late
        report's alarm fired after its grace."""
        if kind == ALARM_OVERDUE:
            return self.row["due_at"] + timedelta(microseconds=1) if self.row["due_at"] else fire_at
        if kind == ALARM_ESCALATION:
            return min(now, (self.row["urged_at"] and escalation_moment(
                self.calendar, self.rules, self.row["urged_at"])) or now)
        return now

    def on_alarm(self, kind: str, moment: datetime) -> Outcome | None:
        """An alarm's reaction at `moment`, when it stood due (the monitor's, and a late report's catch-up):
        a warning; overdue, with the urging notice and the escalation alarm; the escalation of an overdue case.
        None when moot (the clock stopped, or the case is not overdue any more)."""
        if self.status not in CLOCKED:
            return None
        if kind in (ALARM_LAST_DAY, ALARM_FRACTION):
            return Outcome("deadline_warning", events=[Event("appeal.deadline_warning", {
                "kind": "last_day" if kind == ALARM_LAST_DAY else "fraction"})])
        if kind == ALARM_OVERDUE:
            escalate_at = escalation_moment(self.calendar, self.rules, moment)
            return Outcome("overdue_urged", {"overdue": True, "urged_at": moment},
                           [Event("appeal.overdue", {}), Event("appeal.urged", {})],
                           alarms=add_alarms([(ALARM_ESCALATION, escalate_at)]))
        if kind == ALARM_ESCALATION and self.row["overdue"]:
            return Outcome("escalated", {"escalated_at": moment},
                           [Event("appeal.escalated", {"urged_at": self.row["urged_at"]})])
        return None

    # -- monitors -----------------------------------------------------------------------------------

    def supervise(self, act_by: date, note: str | None, exposed: bool, at: datetime, actor: Actor) -> Outcome:
        self._require(OPEN, "supervise", "督办")
        if act_by < at.date():
            raise IllegalTransition("the act-by date is in the past", "督办期限不能早于今天")
        return Outcome("supervise", {"supervised_until": act_by, "exposed": exposed or self.row["exposed"]},
                       [Event("appeal.supervised", {"act_by": act_by, "note": note, "exposed": exposed,
                                               "by": actor.name})],
                       {"act_by": act_by.isoformat(), "note": note, "exposed": exposed})

    def record_finding(self, finding: str, reasons: str, person: str | None, reward: bool, at: datetime,
                       actor: Actor, warning_id: str) -> Outcome:
        if not self.is_complaint:
            raise IllegalTransition("only efficiency complaints take a finding", "只有效能投诉需要调查结论")
        self._require((DISPATCHED, ACCEPTED), "record a finding on", "作出调查结论")
        if finding != "upheld" and (person or reward):
            raise IllegalTransition("a person or a reward goes only with an upheld complaint",
                                    "只有查实的投诉才能认定责任人或给予奖励")
        events: list[Event] = [Event("complaint.finding_recorded", {
            "subject_department": self.row["subject_department"], "finding": finding, "reasons": reasons,
            "reward": reward})]
        if finding == "upheld" and self.row["subject_department"]:
            events.append(Event("efficiency_warning.issued", {
                "warning_id": warning_id, "unit": self.row["subject_department"], "person": person,
                "reason": reasons}))
        events.append(Event("appeal.closed", {}))
        return Outcome("finding", dict(finding=finding, finding_reasons=reasons, finding_person=person,
                                       reward=reward, status=CLOSED, closed_at=at, replied_at=at),
                       events, {"finding": finding, "reasons": reasons, "person": person, "reward": reward},
                       alarms=CANCEL)
