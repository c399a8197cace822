"""The appeal's life as pure rules: statuses and who may move a case between them, time limits on the
working-day clock, the deadline alarms, the hotline centre's own clocks (return review, re-dispatch,
call-back), call-back and reopening, complaints' findings.

No framework here: a use case (handlers.py) loads an appeal, asks `Appeal` for an `Outcome` (the kernel's:
the changes, the events, the history line, what becomes of the alarms) and commits all of it in one unit of
work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from services.kernel.contracts.appeals import TYPE_ZH
from services.kernel.domain import Actor, IllegalTransition
from services.kernel.outcome import CANCEL, KEEP, Event, Outcome, add_alarms, replace_alarms
from services.kernel.privacy import mask_name  # noqa: F401  (re-exported: the one masking of names)
from services.kernel.workcal import TZ, CalendarUnavailable, DeadlineClock, WorkCalendar

AWAITING_DISPATCH = "awaiting_dispatch"
# a department returned the case (退回); the hotline centre reviews the return (退单审核) before anything else
RETURN_PENDING = "return_pending"
DISPATCHED = "dispatched"
ACCEPTED = "accepted"
REPLIED = "replied"
CLOSED = "closed"
DUPLICATE = "duplicate"
# ended and counted nowhere (appeal.voided): invalid (无效: a prank, a wrong number, a test) or withdrawn by the
# caller (撤诉)
INVALID = "invalid"
WITHDRAWN = "withdrawn"
VOIDED = (INVALID, WITHDRAWN)
# merged into a main case of the same matter (合并): a linked case, ended; the main case answers for both
MERGED = "merged"
STATUSES = (AWAITING_DISPATCH, RETURN_PENDING, DISPATCHED, ACCEPTED, REPLIED, CLOSED, DUPLICATE, INVALID, WITHDRAWN,
            MERGED)
# every way a case ends: nothing waits, no clock runs
ENDED = (CLOSED, DUPLICATE, INVALID, WITHDRAWN, MERGED)
# the most parts one split makes
MAX_SPLIT_PARTS = 10
OPEN = (AWAITING_DISPATCH, RETURN_PENDING, DISPATCHED, ACCEPTED, REPLIED)
# statuses in which the department's clock runs
CLOCKED = (DISPATCHED, ACCEPTED)
# statuses in which the case waits for the hotline centre, each on a clock of its own (the "wait"): review the
# return, dispatch (again), call back
WAITING = (RETURN_PENDING, AWAITING_DISPATCH, REPLIED)

STATUS_ZH = {
    AWAITING_DISPATCH: "待派单", RETURN_PENDING: "退单待审核", DISPATCHED: "已派单", ACCEPTED: "已签收",
    REPLIED: "已答复", CLOSED: "已办结", DUPLICATE: "重复件", INVALID: "无效", WITHDRAWN: "已撤诉",
    MERGED: "已合并",
}
INVALID_KIND_ZH = {"prank": "恶意骚扰", "wrong_number": "拨错号码", "test": "测试", "other": "其他"}
# fields an operator may correct after intake (更正); the department is not one of them: that is a dispatch
CORRECTABLE = ("category", "town_street", "address", "type")

ALARM_LAST_DAY = "warning_last_day"
ALARM_FRACTION = "warning_fraction"
ALARM_OVERDUE = "overdue"
ALARM_ESCALATION = "escalation"
# the department did not sign for the case within ACCEPT_WITHIN_DAYS of its dispatch
ALARM_ACCEPTANCE = "acceptance_overdue"
# the hotline centre's wait (WAITING): one working day left, overdue, still overdue after HOTLINE_ESCALATE_AFTER_DAYS
ALARM_WAIT_WARNING = "wait_warning"
ALARM_WAIT_OVERDUE = "wait_overdue"
ALARM_WAIT_ESCALATION = "wait_escalation"
WAIT_ALARMS = (ALARM_WAIT_WARNING, ALARM_WAIT_OVERDUE, ALARM_WAIT_ESCALATION)
# the events of a wait: appeal.<wait>_warning, appeal.<wait>_overdue, appeal.<wait>_escalated
WAIT_NAMES = {RETURN_PENDING: "return_review", AWAITING_DISPATCH: "dispatch", REPLIED: "callback"}
WAIT_EVENT_SUFFIX = {ALARM_WAIT_WARNING: "warning", ALARM_WAIT_OVERDUE: "overdue",
                     ALARM_WAIT_ESCALATION: "escalated"}
RETURN_DECISIONS = ("approved", "rejected")


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
    # the hotline centre's clocks, in working days (counted from the day after the wait began)
    review_within_days: int = 1  # a return is reviewed (退单审核)
    redispatch_within_days: int = 1  # a case waiting for dispatch (after an approved return, or not dispatched
    # by the catalogue at intake) is dispatched
    callback_within_days: int = 3  # a replied case is called back (回访)
    hotline_escalate_after_days: int = 1  # an overdue wait is escalated this long after it became overdue
    # a supervision order (督办) is warned this many working days before its act-by day ends (0: no warning)
    supervision_warn_days: int = 1
    # the types an operator may close on the call (直接办结): answered there, no department, no clock
    close_on_call_types: tuple[str, ...] = ("consultation",)

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
            review_within_days=int(cfg.get("REVIEW_WITHIN_DAYS", base.review_within_days)),
            redispatch_within_days=int(cfg.get("REDISPATCH_WITHIN_DAYS", base.redispatch_within_days)),
            callback_within_days=int(cfg.get("CALLBACK_WITHIN_DAYS", base.callback_within_days)),
            hotline_escalate_after_days=int(cfg.get("HOTLINE_ESCALATE_AFTER_DAYS", base.hotline_escalate_after_days)),
            supervision_warn_days=int(cfg.get("SUPERVISION_WARN_DAYS", base.supervision_warn_days)),
            close_on_call_types=_names(cfg.get("CLOSE_ON_CALL_TYPES"), base.close_on_call_types),
        )

    def wait_limit(self, status: str) -> int:
        """The working days the hotline centre has for the wait of `status` (one of WAITING)."""
        return {RETURN_PENDING: self.review_within_days, AWAITING_DISPATCH: self.redispatch_within_days,
                REPLIED: self.callback_within_days}[status]


def _names(value, default: tuple[str, ...]) -> tuple[str, ...]:
    """A list from the config: a YAML list or a comma-separated string (an environment variable)."""
    if value in (None, ""):
        return default
    if isinstance(value, str):
        value = value.split(",")
    return tuple(str(v).strip() for v in value if str(v).strip())


def finding_reply(finding: str, reasons: str) -> str:
    """What the complainant of an efficiency complaint is told (事事有回声): the finding and its reasons."""
    return f"经调查，您反映的问题{'属实' if finding == 'upheld' else '不属实'}。{reasons}"


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


def escalation_moment(calendar: WorkCalendar, rules: AppealRules, urged_at: datetime,
                      days: int | None = None) -> datetime | None:
    """`days` (default ESCALATE_AFTER_DAYS) working days after `urged_at`; None without a schedule."""
    days = rules.escalate_after_days if days is None else days
    clock = DeadlineClock(started_at=urged_at, limit_days=days, calendar=calendar)
    try:
        return clock.moment_at_elapsed(days)
    except CalendarUnavailable:
        return None


def acceptance_moment(calendar: WorkCalendar, rules: AppealRules, dispatched_at: datetime) -> datetime | None:
    """The first instant after the acceptance limit of a dispatch (None without a schedule)."""
    try:
        due = DeadlineClock(started_at=dispatched_at, limit_days=rules.accept_within_days, calendar=calendar).due_at
        return due + timedelta(microseconds=1)
    except CalendarUnavailable:
        return None


@dataclass
class Wait:
    """The hotline centre's clock in a waiting status: when it began, its due time (None with `error` when the
    calendar lacks a year) and the moments of its alarms (warning with one working day left, overdue the first
    instant after the due time, escalation HOTLINE_ESCALATE_AFTER_DAYS later)."""

    status: str
    since: datetime
    limit_days: int
    due_at: datetime | None
    error: str | None
    alarms: list[tuple[str, datetime]]


def wait_clock(calendar: WorkCalendar, rules: AppealRules, status: str, since: datetime) -> Wait:
    limit = rules.wait_limit(status)
    clock = DeadlineClock(started_at=since, limit_days=limit, calendar=calendar)
    try:
        due_at = clock.due_at
        warn_at = datetime.combine(due_at.date(), time(0), tzinfo=TZ)  # the start of the last day
        overdue_at = due_at + timedelta(microseconds=1)
        escalate_at = escalation_moment(calendar, rules, overdue_at, rules.hotline_escalate_after_days)
        alarms = [(ALARM_WAIT_WARNING, warn_at), (ALARM_WAIT_OVERDUE, overdue_at)]
        if escalate_at is not None:
            alarms.append((ALARM_WAIT_ESCALATION, escalate_at))
        return Wait(status, since, limit, due_at, None, [(k, a) for k, a in alarms if a > since])
    except CalendarUnavailable as exc:
        return Wait(status, since, limit, None, str(exc), [])


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

    def dispatch(self, department: str, at: datetime, actor: Actor, assisting: tuple[str, ...] = ()) -> Outcome:
        """(Re-)dispatch to `department`, the lead (主办), with `assisting` departments (协办) each giving its part of
        the reply; the case's clock is the lead's. A re-dispatch replaces the assisting departments."""
        if assisting and self.is_complaint:
            raise IllegalTransition("an efficiency complaint has no assisting departments",
                                    "效能投诉由纪检监察机关办理，不设协办单位")
        if department in assisting:
            raise IllegalTransition("the lead department cannot also assist", "主办单位不能同时为协办单位")
        if self.status == RETURN_PENDING:
            raise IllegalTransition("review the pending return first (review-return)", "请先审核退单")
        self._require((AWAITING_DISPATCH, DISPATCHED, ACCEPTED), "dispatch", "派单")
        if self.is_complaint and department != self.rules.discipline_office:
            raise IllegalTransition("efficiency complaints stay with the discipline office",
                                    "效能投诉由纪检监察机关办理，不能改派")
        previous = self.row["department"]
        changes, alarms, limit = self._dispatched(department, at)
        event: dict[str, Any] = {"previous_department": previous, "limit_days": limit, "by": actor.name}
        details: dict[str, Any] = {"department": department, "previous_department": previous, "limit_days": limit}
        if assisting:
            event["assisting"] = details["assisting"] = list(assisting)
        return Outcome("dispatch", changes, [Event("appeal.dispatched", event)], details, alarms=alarms)

    def _dispatched(self, department: str, at: datetime) -> tuple[dict[str, Any], Any, int]:
        """A dispatch at `at`: the changes (a new reply clock, a new acceptance limit, no wait), the alarms and
        the limit."""
        limit = self.rules.limit_for(self.row["type"], self.row["urgency"])
        dl = reply_deadline(self.calendar, self.rules, at, limit)
        changes = dict(department=department, status=DISPATCHED, dispatched_at=at, accepted_at=None,
                       clock_started_at=at, limit_days=limit, due_at=dl.due_at, clock_error=dl.error,
                       overdue=False, urged_at=None, escalated_at=None, extension_used=False,
                       extension_days=None, extension_reason=None, acceptance_overdue=False,
                       **self._no_wait())
        return changes, replace_alarms([*dl.alarms, *self._acceptance_alarm(at)]), limit

    def _acceptance_alarm(self, dispatched_at: datetime) -> list[tuple[str, datetime]]:
        moment = acceptance_moment(self.calendar, self.rules, dispatched_at)
        return [] if moment is None else [(ALARM_ACCEPTANCE, moment)]

    def _wait(self, status: str, since: datetime) -> tuple[dict[str, Any], Wait]:
        """The changes that start the hotline centre's wait of `status` at `since`, and its clock."""
        wait = wait_clock(self.calendar, self.rules, status, since)
        return {"waiting_since": since, "wait_due_at": wait.due_at}, wait

    @staticmethod
    def _no_wait() -> dict[str, Any]:
        return {"waiting_since": None, "wait_due_at": None}

    def awaiting_dispatch(self, at: datetime) -> tuple[dict[str, Any], Any]:
        """A new case no catalogue rule dispatched: it waits for an operator, on the re-dispatch clock."""
        changes, wait = self._wait(AWAITING_DISPATCH, at)
        return changes, replace_alarms(wait.alarms)

    # -- the department -----------------------------------------------------------------------------

    def accept(self, at: datetime, actor: Actor) -> Outcome:
        self._require_department(actor)
        self._require((DISPATCHED,), "accept", "签收")
        in_time = accepted_in_time(self.calendar, self.rules, self.row["dispatched_at"], at)
        return Outcome("accept", {"status": ACCEPTED, "accepted_at": at},
                       [Event("appeal.accepted", {"in_time": in_time})], {"in_time": in_time})

    def return_(self, reason: str, at: datetime, actor: Actor) -> Outcome:
        """A department returns the case as misassigned (退回): it waits for the hotline centre's review, on the
        review clock; the department's clocks stop."""
        self._require_department(actor)
        self._require((DISPATCHED, ACCEPTED), "return", "退回")
        if self.is_complaint:
            raise IllegalTransition("an efficiency complaint cannot be returned; record a finding",
                                    "效能投诉不能退回，须作出调查结论")
        wait_changes, wait = self._wait(RETURN_PENDING, at)
        return Outcome("return", dict(status=RETURN_PENDING, department=None, returned_by=self.row["department"],
                                      return_reason=reason, return_count=(self.row["return_count"] or 0) + 1,
                                      due_at=None, clock_started_at=None, limit_days=None, clock_error=None,
                                      dispatched_at=None, accepted_at=None, **wait_changes),
                       [Event("appeal.returned", {"reason": reason, "department": self.row["department"]})],
                       {"reason": reason, "department": self.row["department"]}, alarms=replace_alarms(wait.alarms))

    def review_return(self, decision: str, note: str | None, at: datetime, actor: Actor) -> Outcome:
        """The hotline centre's review of a return (退单审核). approved: the return was justified, the case waits
        for re-dispatch (on the re-dispatch clock); rejected: back to the department that returned it, dispatched
        again with a new acceptance limit and a new reply limit."""
        if self.status != RETURN_PENDING:
            raise IllegalTransition("no return of this case is waiting for review", "该案件没有待审核的退单")
        if decision not in RETURN_DECISIONS:
            raise ValueError(decision)
        returned_by = self.row["returned_by"]
        reviewed = Event("appeal.return_reviewed", {"returned_by": returned_by, "decision": decision, "note": note,
                                                    "by": actor.name})
        details = {"decision": decision, "returned_by": returned_by, "note": note}
        if decision == "approved":
            changes, wait = self._wait(AWAITING_DISPATCH, at)
            return Outcome("review_return", {"status": AWAITING_DISPATCH, **changes}, [reviewed], details,
                           alarms=replace_alarms(wait.alarms))
        changes, alarms, limit = self._dispatched(returned_by, at)
        dispatched = Event("appeal.dispatched", {"previous_department": None, "limit_days": limit, "by": actor.name})
        return Outcome("review_return", changes, [reviewed, dispatched], {**details, "limit_days": limit},
                       alarms=alarms)

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
            # the acceptance limit is not extended: its alarm stays, unless it has fired
            acceptance = (self._acceptance_alarm(self.row["dispatched_at"])
                          if self.status == DISPATCHED and not self.row.get("acceptance_overdue") else [])
            alarms = replace_alarms([*dl.alarms, *acceptance])
        return Outcome("decide_extension", changes,
                       [Event("appeal.extension_decided", {"approved": approved, "days": days, "note": note})],
                       {"approved": approved, "days": days, "note": note}, alarms=alarms)

    def reply(self, text: str, at: datetime, actor: Actor) -> Outcome:
        self._require_department(actor)
        if self.is_complaint:
            raise IllegalTransition("an efficiency complaint ends with a finding, not a reply",
                                    "效能投诉须以调查结论办结，不能直接答复")
        self._require((ACCEPTED,), "reply to", "答复（须先签收）")
        assists = self.row.get("assisting") or []
        missing = [a["department"] for a in assists if a["replied_at"] is None]
        if missing:
            raise IllegalTransition(f"the assisting departments {', '.join(missing)} have not given their parts",
                                    f"协办单位（{'、'.join(missing)}）尚未答复协办部分")
        if assists:
            # the reply the appellant hears: the lead's, with each assisting department's part
            text = text + "\n\n协办单位答复：\n" + "\n".join(f"{a['department']}：{a['part']}" for a in assists)
        in_time = self.row["due_at"] is None or at <= self.row["due_at"]
        # the department's clocks stop; the hotline centre's call-back clock starts
        wait_changes, wait = self._wait(REPLIED, at)
        return Outcome("reply", {"status": REPLIED, "replied_at": at, "reply": text, **wait_changes},
                       [Event("appeal.replied", {"in_time": in_time})], {"in_time": in_time},
                       alarms=replace_alarms(wait.alarms))

    def assist(self, step: str, assist: dict, part: str | None, at: datetime, actor: Actor) -> Outcome:
        """An assisting department's step (协办): `accept` signs for its part, `reply` gives it (once, after signing).
        Only while the lead's clock runs (dispatched or accepted): the case's clock is the lead's. The outcome's
        `changes` are the assist's (not the case's)."""
        self._require(CLOCKED, "assist on", "协办")
        if step == "accept":
            if assist["accepted_at"] is not None:
                raise IllegalTransition("this department signed for its part already", "本单位已签收协办")
            return Outcome("assist_accept", {"accepted_at": at},
                           [Event("appeal.assist_accepted", {"department": assist["department"],
                                                             "lead_department": self.row["department"]})],
                           {"department": assist["department"]})
        if assist["accepted_at"] is None:
            raise IllegalTransition("sign for the part first (assist/accept)", "请先签收协办")
        if assist["replied_at"] is not None:
            raise IllegalTransition("this department gave its part already", "本单位已答复协办部分")
        return Outcome("assist_reply", {"replied_at": at, "part": part},
                       [Event("appeal.assist_replied", {"department": assist["department"],
                                                        "lead_department": self.row["department"]})],
                       {"department": assist["department"], "part": part})

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
                extension_used=False, extension_days=None, acceptance_overdue=False, **self._no_wait()), events,
                {**details, "reopened": True}, alarms=replace_alarms([*dl.alarms, *self._acceptance_alarm(at)]))
        events.append(Event("appeal.closed", {"satisfaction": satisfaction, "resolved": resolved}))
        return Outcome("callback", dict(satisfaction=satisfaction, resolved=resolved, status=CLOSED,
                                        closed_at=at, **self._no_wait()), events, {**details, "reopened": False},
                       alarms=CANCEL)

    # -- the deadline alarms -------------------------------------------------------------------------

    def alarm_moments(self) -> dict[str, datetime | None]:
        """The real moment of each alarm of the running clocks (a late report fires the ones before its `at`)."""
        moments: dict[str, datetime | None] = {}
        if self.status in CLOCKED and self.row["clock_started_at"] is not None:
            moments.update(reply_deadline(
                self.calendar, self.rules, self.row["clock_started_at"], self.row["limit_days"]).alarms)
            if self.row["urged_at"] is not None:
                moments[ALARM_ESCALATION] = escalation_moment(self.calendar, self.rules, self.row["urged_at"])
        if self.status == DISPATCHED and self.row["dispatched_at"] is not None:
            moments[ALARM_ACCEPTANCE] = acceptance_moment(self.calendar, self.rules, self.row["dispatched_at"])
        if self.status in WAITING and self.row["waiting_since"] is not None:
            moments.update(wait_clock(self.calendar, self.rules, self.status, self.row["waiting_since"]).alarms)
        return moments

    def claimed_alarm_moment(self, kind: str, fire_at: datetime, now: datetime) -> datetime:
        """The moment an alarm the monitor claims at `now` stands for: a warning now; the overdue notices the
        first instant after their due times, and the escalations their moments, also when a late report's alarm
        fired after its grace."""
        if kind == ALARM_OVERDUE:
            return self.row["due_at"] + timedelta(microseconds=1) if self.row["due_at"] else fire_at
        if kind == ALARM_ESCALATION:
            return min(now, (self.row["urged_at"] and escalation_moment(
                self.calendar, self.rules, self.row["urged_at"])) or now)
        if kind in (ALARM_ACCEPTANCE, ALARM_WAIT_OVERDUE, ALARM_WAIT_ESCALATION):
            return min(now, self.alarm_moments().get(kind) or now)
        return now

    def on_alarm(self, kind: str, moment: datetime) -> Outcome | None:
        """An alarm's reaction at `moment`, when it stood due (the monitor's, and a late report's catch-up):
        a warning; overdue, with the urging notice and the escalation alarm; the escalation of an overdue case;
        the acceptance limit missed; the hotline centre's wait warned, overdue, escalated. None when moot (the
        clock stopped, the case was signed for, the case is not overdue any more)."""
        if kind == ALARM_ACCEPTANCE:
            if self.status != DISPATCHED or self.row["acceptance_overdue"]:
                return None
            return Outcome("acceptance_overdue", {"acceptance_overdue": True}, [Event(
                "appeal.acceptance_overdue", {"dispatched_at": self.row["dispatched_at"]})])
        if kind in WAIT_ALARMS:
            if self.status not in WAITING or self.row["waiting_since"] is None:
                return None
            # the hotline centre's: no department (for the call-back, the one that replied is `replied_by`)
            payload: dict[str, Any] = {"department": None, "waiting_since": self.row["waiting_since"],
                                       "wait_due_at": self.row["wait_due_at"]}
            if self.status == RETURN_PENDING:
                payload["returned_by"] = self.row["returned_by"]
            if self.status == REPLIED:
                payload["replied_by"] = self.row["department"]
            return Outcome(f"{WAIT_NAMES[self.status]}_{WAIT_EVENT_SUFFIX[kind]}", events=[Event(
                f"appeal.{WAIT_NAMES[self.status]}_{WAIT_EVENT_SUFFIX[kind]}", payload)])
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
        # the finding is the reply of the case (事事有回声): the complainant is told it and called back like any reply
        in_time = self.row["due_at"] is None or at <= self.row["due_at"]
        events.append(Event("appeal.replied", {"in_time": in_time}))
        wait_changes, wait = self._wait(REPLIED, at)
        return Outcome("finding", dict(finding=finding, finding_reasons=reasons, finding_person=person,
                                       reward=reward, status=REPLIED, replied_at=at,
                                       reply=finding_reply(finding, reasons), **wait_changes),
                       events, {"finding": finding, "reasons": reasons, "person": person, "reward": reward,
                                "in_time": in_time},
                       alarms=replace_alarms(wait.alarms))

    # -- the operator's desk: ending a case without a department, correcting it --------------------------

    def close_on_call(self, answer: str, at: datetime, actor: Actor) -> Outcome:
        """A consultation the operator answered on the call (直接办结): closed with the answer as its reply, no
        department, no clock, no call-back (the caller heard the answer). Only before any dispatch: a dispatched
        case is the department's (it may still be invalidated or withdrawn)."""
        if self.row["type"] not in self.rules.close_on_call_types:
            raise IllegalTransition(
                f"only {', '.join(self.rules.close_on_call_types)} can be closed on the call",
                f"只有{'、'.join(TYPE_ZH.get(t, t) for t in self.rules.close_on_call_types)}类诉求可以直接办结")
        if self.status in (DISPATCHED, ACCEPTED):
            raise IllegalTransition("the case was dispatched: the department answers it",
                                    "案件已派单，由承办单位答复，不能直接办结")
        self._require((AWAITING_DISPATCH,), "close on the call", "直接办结")
        return Outcome("close_on_call", dict(status=CLOSED, closed_on_call=True, reply=answer, replied_at=at,
                                             closed_at=at, department=None, **self._no_wait()),
                       [Event("appeal.closed_on_call", {"department": None, "by": actor.name}),
                        Event("appeal.closed", {"department": None})],
                       {"answer": answer}, alarms=CANCEL)

    def void(self, kind: str, invalid_kind: str | None, reason: str, at: datetime, actor: Actor) -> Outcome:
        """The case ends as invalid (无效) or withdrawn by the caller (撤诉), from any open status: its clocks and
        alarms stop, and it is counted nowhere (appeal.voided: consumers take back what they counted)."""
        action, action_zh = ("invalidate", "标记为无效") if kind == INVALID else ("withdraw", "撤诉")
        self._require(OPEN, action, action_zh)
        if kind == WITHDRAWN and self.is_complaint:
            raise IllegalTransition("an efficiency complaint ends with a finding; it cannot be withdrawn",
                                    "效能投诉须作出调查结论，不能撤诉")
        return Outcome(action, dict(status=kind, invalid_kind=invalid_kind, void_reason=reason, closed_at=at,
                                    **self._no_wait()),
                       [Event("appeal.voided", {"kind": kind, "invalid_kind": invalid_kind, "reason": reason,
                                                "by": actor.name}),
                        Event("appeal.closed", {})],
                       {"kind": kind, "invalid_kind": invalid_kind, "reason": reason}, alarms=CANCEL)

    def merge_into(self, main: dict, reason: str, at: datetime, actor: Actor) -> Outcome:
        """This case is of the same matter as `main` (合并): it becomes its linked case, ended as merged, its clocks
        and alarms stopped; the main case goes on. Both must be open and of the same department (or this one
        not dispatched yet: it takes the main's); an efficiency complaint merges only with one."""
        self._require(OPEN, "merge", "合并")
        if main["id"] == self.row["id"]:
            raise ValueError("a case cannot be merged into itself")
        if main["status"] not in OPEN:
            raise IllegalTransition(f"the main case is {main['status']}",
                                    f"主案件当前状态为「{STATUS_ZH.get(main['status'], main['status'])}」，不能合并")
        if self.is_complaint != (main["type"] == "efficiency_complaint"):
            raise IllegalTransition("an efficiency complaint merges only with an efficiency complaint",
                                    "效能投诉只能与效能投诉合并")
        if self.row["department"] is not None and self.row["department"] != main["department"]:
            raise IllegalTransition("the cases are with different departments: dispatch this one to the main "
                                    "case's department first", "两案件承办单位不同，请先改派至主案件承办单位")
        return Outcome("merge", dict(status=MERGED, merged_into=main["id"], department=main["department"],
                                     closed_at=at, **self._no_wait()),
                       [Event("appeal.merged", {"main_id": str(main["id"]), "main_case_no": main["case_no"],
                                                "reason": reason, "by": actor.name}),
                        Event("appeal.closed", {})],
                       {"into": main["case_no"], "reason": reason}, alarms=CANCEL)

    def split_off(self, part_case_nos: list[str], reason: str, actor: Actor) -> Outcome:
        """The origin of a split (拆分): it keeps its first matter and its clock; the history and appeal.split name
        the new cases made of its other matters."""
        self._require(OPEN, "split", "拆分")
        return Outcome("split", {}, [Event("appeal.split", {"part_case_nos": part_case_nos, "reason": reason,
                                                             "by": actor.name})],
                       {"parts": part_case_nos, "reason": reason})

    def correct(self, fields_: dict[str, Any], reason: str, at: datetime, actor: Actor) -> Outcome:
        """Corrections after intake (更正) of category, town-street, address, type: each change in the history
        (old → new). A type change on a running clock recomputes its limit from the same start: the new type's
        limit plus any extension granted (overdue or not as the new due time says). Raises ValueError naming the
        fields when nothing changes."""
        self._require(OPEN, "correct", "更正")
        changes = {k: v for k, v in fields_.items() if k in CORRECTABLE and v != self.row[k]}
        if not changes:
            raise ValueError("nothing to correct: every field given has that value already")
        new_type = changes.get("type")
        if new_type is not None and (self.is_complaint or new_type == "efficiency_complaint"):
            raise IllegalTransition("an efficiency complaint is neither made nor unmade by a correction",
                                    "效能投诉不能通过更正改为其他类型，其他诉求也不能更正为效能投诉")
        history = {k: {"old": self.row[k], "new": v} for k, v in changes.items()}
        updates: dict[str, Any] = dict(changes)
        alarms = KEEP
        limit_days = self.row["limit_days"]
        if new_type is not None and self.status in CLOCKED and self.row["clock_started_at"] is not None:
            old_base = self.rules.limit_for(self.row["type"], self.row["urgency"])
            granted = max(0, (self.row["limit_days"] or old_base) - old_base)  # an approved extension stays
            limit_days = self.rules.limit_for(new_type, self.row["urgency"]) + granted
            dl = reply_deadline(self.calendar, self.rules, self.row["clock_started_at"], limit_days)
            updates.update(limit_days=limit_days, due_at=dl.due_at, clock_error=dl.error)
            history["limit_days"] = {"old": self.row["limit_days"], "new": limit_days}
            now_overdue = dl.due_at is not None and at > dl.due_at
            if not (self.row["overdue"] and now_overdue):
                # a new due time: its alarms replace the old ones (warnings whose moment has passed are not
                # given again; overdue fires at once when the new due time has passed too)
                moments = [(k, m) for k, m in dl.alarms if k == ALARM_OVERDUE or m > at]
                if self.status == DISPATCHED and not self.row["acceptance_overdue"]:
                    moments += self._acceptance_alarm(self.row["dispatched_at"])
                updates.update(overdue=False, urged_at=None, escalated_at=None)
                alarms = replace_alarms(moments)
            # else: overdue before and after: the urging and its escalation stand
        return Outcome("correct", updates,
                       [Event("appeal.corrected", {
                           "corrected": sorted(changes), "reason": reason, "by": actor.name,
                           # the address never travels: it is named, not shown
                           "changes": {k: v for k, v in history.items() if k != "address"},
                           "limit_days": limit_days})],
                       {**history, "reason": reason}, alarms=alarms)
