"""An approval application's life as pure rules: states and the window actions that move it, the statutory
clock (Administrative Licensing Law, see DOMAIN.md), the electronic monitor's moments and the irregularities
(纠错) found when an action arrives.

No framework here: a use case (handlers.py) loads an application (a dict of its columns), asks `Application`
for an `ActionOutcome` (the kernel's `Outcome`: the changes, the events, the history line, the alarm plan; plus
the irregularities to alert) and commits all of it in one unit of work. A due alarm is asked the same way
(`Application.on_alarm`): the answer is an outcome, an alert to raise, an irregularity, or nothing.

Refused or recorded — what happens to each irregularity when the action arrives. The window system must
be able to record what really happened at the counter; the irregularity is the monitors' business. An
action is refused (`IllegalTransition`, 409) only when the history it claims is impossible or would
corrupt the clock; a refused action that is itself irregular carries its irregularities on the exception,
so the service alerts them even though it stores nothing else.

- decision_without_acceptance 未受理即作出决定 (high): refused and recorded; without acceptance there is
  no clock to decide against.
- repeated_supplement_request 违反一次告知 (medium): recorded; the second notice really went out and the
  applicant must be able to answer it.
- supplement_after_acceptance 受理后要求补正 (medium): recorded; the clock keeps running (asking for
  materials must not stop it). A first notice after the notice period counts here too: the application
  was already accepted by law (Art. 32), so the notice accepts it from the day received.
- refusal_without_reason 不予受理未说明理由 (high): refused and recorded; a refusal without reasons is void
  (Art. 32), the window resends it with one.
- late_extension 超期后延期 (high): refused and recorded; an extension cannot revive a passed deadline.
- repeated_extension 重复延期 (high): refused and recorded; the law allows one extension (Art. 42).
- special_procedure_overrun 特别程序超期 (medium): never refuses; an alarm at the moment it becomes
  irregular, and the same irregularity again when the procedure ends late.
- future_time 办理时间超前 (medium): refused and recorded; nothing happened at the counter in the future
  (beyond the tolerance for clock skew).
- out_of_order_time 办理时间倒序 (medium): refused and recorded; an action dated before the previous one is
  not a possible history, and the clock could not take it.
- window_not_authorised 窗口服务、后台决定 (medium): recorded on acceptance of an item the window is not
  fully authorised for; the application is accepted (the window did accept it).

- late_report 迟报 (low): recorded; an action (the submission included) that reaches the monitor more than
  `late_report_after` (24 h) after its `at`. Once per action: its rule names the action and its `at`.

An irregularity is identified by (application, code, at): the overrun alarm and the late end of the same
special procedure report the same `at`, so the service raises one alert for both.

Ended without a decision (issue 13): withdrawn by the applicant (撤回), terminated by law (终止), both window
actions from any open state, and abandoned (视为撤回) by the monitor when a requested supplement is not delivered
within the supplement limit (30 working days after the notice, per item overridable). An ended application has
no alarms and takes no action: each is a plain 409, never an irregularity, so it raises nothing afterwards.

Late data raises only what is true when it arrives: a warning whose application is already overdue is not
raised (its yellow card, and red when due, are); the clock speaks in whole working days (`whole_days`).

Deemed acceptance (Art. 32) is the monitor's act (`deem_accepted`, on the `deemed_acceptance` alarm). It is not
part of the counter's sequence: an acceptance, refusal or supplement notice sent late but dated within the
notice period withdraws it, because the window did act in time.

Plain refusals without an irregularity: an unknown state change (decide twice, deliver before deciding,
accept while a supplement is outstanding), an extension longer than allowed or without approver or reason,
a denial without reasons, deciding while a special procedure is open (end it first), an unknown special
procedure kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from services.kernel import domain as kernel_domain
from services.kernel.clock import TZ
from services.kernel.clock import now as clock_now
from services.kernel.contracts.approvals import SPECIAL_PROCEDURES  # the events name the same kinds
from services.kernel.domain import SYSTEM, Actor  # noqa: F401  (part of this module's API)
from services.kernel.outcome import CANCEL, KEEP, AlarmPlan, Event, Outcome, replace_alarms
from services.kernel.workcal import CalendarUnavailable, DeadlineClock, WorkCalendar, local_date

SUBMITTED = "submitted"
SUPPLEMENT_REQUESTED = "supplement_requested"
SUPPLEMENT_RECEIVED = "supplement_received"
ACCEPTED = "accepted"
REFUSED = "refused"
DECIDED = "decided"
DELIVERED = "delivered"
WITHDRAWN = "withdrawn"
TERMINATED = "terminated"
ABANDONED = "abandoned"
# ended without a decision: nothing is watched or raised any more
ENDED = (WITHDRAWN, TERMINATED, ABANDONED)
STATES = (SUBMITTED, SUPPLEMENT_REQUESTED, SUPPLEMENT_RECEIVED, ACCEPTED, REFUSED, DECIDED, DELIVERED, *ENDED)
BEFORE_ACCEPTANCE = (SUBMITTED, SUPPLEMENT_REQUESTED, SUPPLEMENT_RECEIVED)
# states the monitor watches
OPEN = (SUBMITTED, SUPPLEMENT_REQUESTED, SUPPLEMENT_RECEIVED, ACCEPTED)

STATE_ZH = {
    SUBMITTED: "已申请", SUPPLEMENT_REQUESTED: "待补正", SUPPLEMENT_RECEIVED: "已补正", ACCEPTED: "已受理",
    REFUSED: "不予受理", DECIDED: "已决定", DELIVERED: "已送达", WITHDRAWN: "已撤回", TERMINATED: "已终止",
    ABANDONED: "视为撤回",
}
# a window action in Chinese (the late report's description names it)
ACTION_ZH = {
    "submit": "申请", "accept": "受理", "refuse": "不予受理", "request_supplement": "补正告知",
    "supplement_received": "补正材料接收", "start_special_procedure": "特别程序开始",
    "end_special_procedure": "特别程序结束", "extend": "延期", "decide": "审批决定", "deliver": "送达",
    "withdraw": "撤回", "terminate": "终止",
}

IMMEDIATE = "immediate"
COMMITTED = "committed"
KINDS = (IMMEDIATE, COMMITTED)

SPECIAL_PROCEDURE_ZH = {"hearing": "听证", "testing": "检验", "inspection": "检测", "appraisal": "鉴定",
                        "expert_review": "专家评审"}

# alarm kinds: moments at which the monitor must look at an application again
WARNING_DAYS_LEFT = "warning_days_left"
WARNING_FRACTION = "warning_fraction"
YELLOW_CARD = "yellow_card"
RED_CARD = "red_card"
DEEMED_ACCEPTANCE = "deemed_acceptance"
SPECIAL_PROCEDURE_OVERRUN = "special_procedure_overrun"
CALENDAR_UNAVAILABLE = "calendar_unavailable"
ABANDONMENT = "abandonment"  # the supplement limit passed: deemed withdrawn

_US = timedelta(microseconds=1)

# code -> (Chinese description, severity)
IRREGULARITIES: dict[str, tuple[str, str]] = {
    "decision_without_acceptance": ("申请未经受理即作出审批决定", "high"),
    "repeated_supplement_request": ("多次要求申请人补正材料，违反一次告知", "medium"),
    "supplement_after_acceptance": ("申请受理后又要求补正材料", "medium"),
    "refusal_without_reason": ("不予受理未说明理由", "high"),
    "late_extension": ("办理期限届满后申请延期", "high"),
    "repeated_extension": ("同一申请重复延期", "high"),
    SPECIAL_PROCEDURE_OVERRUN: ("特别程序超过规定期限仍未结束", "medium"),
    "future_time": ("办理时间晚于当前时间", "medium"),
    "out_of_order_time": ("办理时间早于上一环节", "medium"),
    "window_not_authorised": ("窗口未获充分授权受理事项（窗口服务、后台决定）", "medium"),
    "late_report": ("迟报：办理信息未在规定时限内报送", "low"),
}


@dataclass(frozen=True)
class Irregularity:
    """An irregularity found at `at`. `scope` narrows its identity (a late report names its action, so that two
    actions late at the same moment are two); `description` replaces the code's general description."""

    code: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    scope: str | None = None
    description: str | None = None

    @property
    def rule(self) -> str:
        """The alert's rule: one alert per application (or submission) and rule."""
        code = self.code if self.scope is None else f"{self.code}:{self.scope}"
        return f"{code}@{self.at.isoformat()}"

    @property
    def description_zh(self) -> str:
        return self.description or IRREGULARITIES[self.code][0]

    @property
    def severity(self) -> str:
        return IRREGULARITIES[self.code][1]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "description_zh": self.description_zh, "severity": self.severity,
                "at": self.at, "details": self.details}


class IllegalTransition(kernel_domain.IllegalTransition):
    """An action refused now (HTTP 409), with the irregularities the refused action revealed (the service
    alerts them although it stores nothing else)."""

    def __init__(self, message: str, message_zh: str, irregularities: Sequence[Irregularity] = ()):
        super().__init__(message, message_zh)
        self.irregularities = list(irregularities)


@dataclass(frozen=True)
class Item:
    """A catalogue entry (审批事项). Limits in working days; thresholds None take the rules' defaults."""

    code: str
    name: str
    department: str
    kind: str = COMMITTED
    statutory_limit: int | None = None
    committed_limit: int | None = None
    materials: tuple[str, ...] = ()
    fully_authorised: bool = True
    joint: bool = False
    warn_days_left: int | None = None
    warn_fraction: float | None = None
    # working days the applicant has to deliver a requested supplement (None: the rules' default)
    supplement_limit: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"item {self.code}: kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("statutory_limit", "committed_limit", "supplement_limit"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"item {self.code}: {name} must be a whole number of working days >= 0")
        if (self.committed_limit is not None and self.statutory_limit is not None
                and self.committed_limit > self.statutory_limit):
            raise ValueError(f"item {self.code}: the committed limit exceeds the statutory one")
        object.__setattr__(self, "materials", tuple(self.materials))


@dataclass(frozen=True)
class Rules:
    """Limits and thresholds (configuration; defaults from the Administrative Licensing Law, DOMAIN.md)."""

    statutory_limit: int = 20  # Art. 42, when the catalogue gives none
    joint_limit: int = 45
    max_extension_days: int = 10
    max_extension_days_joint: int = 15
    supplement_notice_days: int = 5  # Art. 32: otherwise accepted on the day received
    warn_days_left: int | None = 1
    warn_fraction: float | None = 0.8
    red_after_days: int = 5
    special_procedure_max_days: int = 60  # calendar days
    future_tolerance: timedelta = timedelta(minutes=5)
    # a requested supplement not delivered within this many working days: the application is deemed withdrawn
    supplement_limit: int = 30
    # an action arriving this long after its `at` is a late report (迟报); None: not checked
    late_report_after: timedelta | None = timedelta(hours=24)

    def limit_for(self, item: Item) -> int:
        """The limit the clock runs against: the committed one if the item has it, else the statutory one."""
        if item.kind == IMMEDIATE:
            return 0
        if item.committed_limit is not None:
            return item.committed_limit
        if item.joint:
            return self.joint_limit
        return self.statutory_limit if item.statutory_limit is None else item.statutory_limit

    def max_extension_for(self, item: Item) -> int:
        return self.max_extension_days_joint if item.joint else self.max_extension_days

    def supplement_limit_for(self, item: Item) -> int:
        return self.supplement_limit if item.supplement_limit is None else item.supplement_limit

    def late_report(self, action: str, at: datetime, now: datetime) -> Irregularity | None:
        """The late report (迟报) of an action at `at` arriving at `now`, or None when it came in time."""
        if self.late_report_after is None or now - at <= self.late_report_after:
            return None
        delay = now - at
        days, rest = divmod(delay, timedelta(days=1))
        hours = rest // timedelta(hours=1)
        late = f"{days} 天 {hours} 小时" if days else f"{hours} 小时"
        limit_hours = self.late_report_after / timedelta(hours=1)
        return Irregularity("late_report", at, {"action": action, "arrived_at": now,
                                                "delay_hours": round(delay / timedelta(hours=1), 1),
                                                "limit_hours": limit_hours},
                            scope=action,
                            description=f"迟报：「{ACTION_ZH.get(action, action)}」办理后 {late}才报送"
                                        f"（应在 {limit_hours:g} 小时内）")

    @classmethod
    def from_config(cls, cfg: dict | None) -> Rules:
        cfg = cfg or {}
        base = cls()

        def optional(key: str, default: Any, kind: type) -> Any:
            value = cfg.get(key, default)
            return None if value in (None, "", 0) else kind(value)

        return cls(
            statutory_limit=int(cfg.get("STATUTORY_LIMIT", base.statutory_limit)),
            joint_limit=int(cfg.get("JOINT_LIMIT", base.joint_limit)),
            max_extension_days=int(cfg.get("MAX_EXTENSION_DAYS", base.max_extension_days)),
            max_extension_days_joint=int(cfg.get("MAX_EXTENSION_DAYS_JOINT", base.max_extension_days_joint)),
            supplement_notice_days=int(cfg.get("SUPPLEMENT_NOTICE_DAYS", base.supplement_notice_days)),
            warn_days_left=optional("WARN_DAYS_LEFT", base.warn_days_left, int),
            warn_fraction=optional("WARN_FRACTION", base.warn_fraction, float),
            red_after_days=int(cfg.get("RED_AFTER_DAYS", base.red_after_days)),
            special_procedure_max_days=int(cfg.get("SPECIAL_PROCEDURE_MAX_DAYS", base.special_procedure_max_days)),
            future_tolerance=timedelta(seconds=float(cfg.get("FUTURE_TOLERANCE_SECONDS",
                                                            base.future_tolerance.total_seconds()))),
            supplement_limit=int(cfg.get("SUPPLEMENT_LIMIT", base.supplement_limit)),
            late_report_after=_hours(cfg.get("LATE_REPORT_HOURS", base.late_report_after / timedelta(hours=1))),
        )


def _hours(value: Any) -> timedelta | None:
    """LATE_REPORT_HOURS: a positive number of hours; 0 or empty: late reports are not checked."""
    if value in (None, ""):
        return None
    hours = float(value)
    if hours < 0:
        raise ValueError(f"APPROVALS.LATE_REPORT_HOURS must be 0 (off) or more, not {value!r}")
    return timedelta(hours=hours) if hours else None


# -- the clock and the monitor's moments ----------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """A clock's due time and the monitor's moments. A due date in a year with no holiday schedule gives
    `due_at` None and the reason in `error` (never a Monday–Friday guess)."""

    started_at: datetime
    limit_days: int
    due_at: datetime | None
    error: str | None
    paused: bool
    alarms: list[tuple[str, datetime]]


def _thresholds(rules: Rules, item: Item) -> tuple[int | None, float | None]:
    days_left = rules.warn_days_left if item.warn_days_left is None else item.warn_days_left
    fraction = rules.warn_fraction if item.warn_fraction is None else item.warn_fraction
    return days_left or None, fraction or None


def monitor_moments(rules: Rules, item: Item, clock: DeadlineClock) -> list[tuple[str, datetime]]:
    """Warning, yellow and red card moments of a running clock, in order. None while paused: the next
    check is at resume. A moment that falls in a year without schedule is left out (`deadline` reports
    the error); the red card comes `red_after_days` counted working days after the yellow card."""
    if clock.paused:
        return []
    limit = clock.limit_days
    days_left, fraction = _thresholds(rules, item)
    warnings: list[tuple[str, datetime]] = []
    cards: list[tuple[str, datetime]] = []

    def add(into: list, kind: str, moment_of) -> None:
        try:
            at = moment_of()
        except CalendarUnavailable:
            return
        if at is not None and at > clock.started_at and all(at != a for _, a in into):
            into.append((kind, at))

    if days_left and limit > days_left:
        add(warnings, WARNING_DAYS_LEFT, lambda: clock.moment_at_elapsed(limit - days_left))
    if fraction and limit >= 1:
        add(warnings, WARNING_FRACTION, lambda: clock.moment_at_elapsed(fraction * limit))
    add(cards, YELLOW_CARD, lambda: clock.due_at + _US)  # the first instant after the due time
    add(cards, RED_CARD, lambda: clock.moment_at_elapsed(limit + rules.red_after_days))
    return sorted(warnings, key=lambda kv: kv[1]) + cards


def _red_card_uncomputable(rules: Rules, clock: DeadlineClock) -> bool:
    if clock.paused:
        return False
    try:
        clock.moment_at_elapsed(clock.limit_days + rules.red_after_days)
    except CalendarUnavailable:
        return True
    return False


def deadline(rules: Rules, item: Item, clock: DeadlineClock, computed_at: datetime) -> Deadline:
    """The clock's due time and alarms as of `computed_at`; a missing calendar year adds an immediate
    `calendar_unavailable` alarm so that the monitors hear of it."""
    try:
        due_at, error = clock.due_at, None
    except CalendarUnavailable as exc:
        due_at, error = None, str(exc)
    alarms = monitor_moments(rules, item, clock)
    if error or _red_card_uncomputable(rules, clock):
        # a due time, or a card after it, falls in a year with no schedule: say so now, never guess
        alarms.append((CALENDAR_UNAVAILABLE, computed_at))
    return Deadline(clock.started_at, clock.limit_days, due_at, error, clock.paused, alarms)


# whole days are counted to this many decimals (a thousandth of a day, 86 s): the monitor's moments fall on
# midnights, and an alert raised a few seconds after one speaks of the day that just ended, not a new one
_WHOLE_DAY_DECIMALS = 3


def whole_days(remaining: float, elapsed: float, limit_days: int, overdue: bool) -> tuple[int, int]:
    """(days_left, days_overdue): the clock in whole working days, never negative or fractional. A working day
    begun counts whole — on the due day one day is left, on the first working day after it one is overdue."""
    if overdue:
        return 0, max(0, math.ceil(round(elapsed - limit_days, _WHOLE_DAY_DECIMALS)))
    return max(0, math.ceil(round(remaining, _WHOLE_DAY_DECIMALS))), 0


@dataclass(frozen=True)
class SupplementLimit:
    """How long the applicant has to deliver a requested supplement: the end of the `limit_days`-th working day
    after the notice day (`due_at`); the application is deemed withdrawn at the instant after (`moment`)."""

    limit_days: int
    requested_at: datetime
    due_at: datetime

    @property
    def moment(self) -> datetime:
        return self.due_at + _US


def supplement_limit(calendar: WorkCalendar, rules: Rules, item: Item, requested_at: datetime) -> SupplementLimit:
    """The supplement limit of a notice given at `requested_at` (CalendarUnavailable past the known years)."""
    days = rules.supplement_limit_for(item)
    last_day = calendar.add_working_days(local_date(requested_at), days)
    return SupplementLimit(days, requested_at, datetime.combine(last_day, time.max, tzinfo=TZ))


@dataclass(frozen=True)
class DeemedAcceptance:
    """Art. 32: without a supplement notice by `notice_by`, the application counts as accepted on the day
    it was received (`accepted_at` is then the receipt moment; the count starts the day after)."""

    deemed: bool
    accepted_at: datetime | None
    notice_by: datetime | None
    error: str | None = None

    @property
    def moment(self) -> datetime | None:
        """When the application becomes deemed accepted (the instant after `notice_by`)."""
        return None if self.notice_by is None else self.notice_by + _US


def deemed_acceptance(calendar: WorkCalendar, rules: Rules, received_at: datetime, now: datetime,
                      supplement_requested_at: datetime | None = None) -> DeemedAcceptance:
    """Is an application received at `received_at` deemed accepted at `now`? A supplement notice given in
    time prevents it; a late one does not."""
    try:
        last_day = calendar.add_working_days(local_date(received_at), rules.supplement_notice_days)
    except CalendarUnavailable as exc:
        return DeemedAcceptance(False, None, None, str(exc))
    notice_by = datetime.combine(last_day, time.max, tzinfo=TZ)
    in_time = supplement_requested_at is not None and supplement_requested_at <= notice_by
    deemed = now > notice_by and not in_time
    return DeemedAcceptance(deemed, received_at if deemed else None, notice_by)


# -- commands ---------------------------------------------------------------------------------------------


@dataclass
class ActionOutcome(Outcome):
    """What a command of an application does (the kernel's `Outcome`), and the irregularities it revealed:
    the use case alerts them in the same unit of work."""

    irregularities: list[Irregularity] = field(default_factory=list)
    # when it happened, where that is not when the monitor applies it (an abandonment at its limit's moment)
    at: datetime | None = None


# `Application._outcome`'s default alarm plan: the moments of the application as the command leaves it
_RECOMPUTE = "recompute"

# the monitor's alarms that raise an alert: kind -> (alert level, event type)
CARDS = {
    WARNING_DAYS_LEFT: ("warning", "monitor.warning"),
    WARNING_FRACTION: ("warning", "monitor.warning"),
    YELLOW_CARD: ("yellow", "monitor.yellow_card"),
    RED_CARD: ("red", "monitor.red_card"),
}
WARNINGS = (WARNING_DAYS_LEFT, WARNING_FRACTION)
ALARM_KINDS = (*CARDS, DEEMED_ACCEPTANCE, SPECIAL_PROCEDURE_OVERRUN, CALENDAR_UNAVAILABLE, ABANDONMENT)


@dataclass(frozen=True)
class Alert:
    """An alert the monitor raises about an application (a warning, a card): its level, the event that
    announces it, its rule (one alert per application and rule) and what it stores beyond the clock figures."""

    level: str
    event_type: str
    rule: str
    details: dict[str, Any] = field(default_factory=dict)


# What a due alarm makes the monitor do: apply an outcome (deemed acceptance), raise an alert, alert an
# irregularity, or nothing (the application moved on meanwhile).
AlarmReaction = ActionOutcome | Alert | Irregularity | None


def _irregular(code: str, at: datetime, **details: Any) -> Irregularity:
    return Irregularity(code, at, details)


def submit(item: Item, at: datetime, actor: Actor, calendar: WorkCalendar, rules: Rules,
           materials: Iterable[str] = (), now: datetime | None = None) -> ActionOutcome:
    """A new application received at the window: its first row and the deemed-acceptance alarm."""
    now = clock_now() if now is None else now
    if at > now + rules.future_tolerance:
        raise IllegalTransition("the time of the action is in the future", "办理时间晚于当前时间",
                                [_irregular("future_time", now, claimed_at=at)])
    materials = list(dict.fromkeys(materials))
    missing = [m for m in item.materials if m not in materials]
    changes: dict[str, Any] = dict(
        item_code=item.code, department=item.department, state=SUBMITTED, received_at=at, last_action_at=at,
        materials=materials, missing=missing, supplement_count=0, supplement_requested_at=None,
        supplement_outstanding=False, accepted_at=None, deemed_accepted=False, clock_started_at=None,
        limit_days=None, extension_days=None, special_procedures=[], due_at=None, clock_error=None)
    deemed = deemed_acceptance(calendar, rules, at, at)
    alarms = [(DEEMED_ACCEPTANCE, deemed.moment)] if deemed.moment else [(CALENDAR_UNAVAILABLE, at)]
    payload = {"item_code": item.code, "department": item.department, "by": actor.name, "missing": missing,
               "notice_by": deemed.notice_by}
    late = rules.late_report("submit", at, now)
    return ActionOutcome("submit", changes, [Event("application.submitted", payload)],
                         {"missing": missing, "notice_by": deemed.notice_by}, replace_alarms(alarms),
                         [late] if late else [])


class Application:
    """One application and the window actions on it. `row` is the application as stored (a dict of its
    columns, as `submit` creates them); `now` is the server's clock, against which `at` is judged."""

    def __init__(self, row: dict[str, Any], item: Item, calendar: WorkCalendar, rules: Rules,
                 now: datetime | None = None):
        self.row = row
        self.item = item
        self.calendar = calendar
        self.rules = rules
        self.now = clock_now() if now is None else now

    # -- reading ----------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self.row["state"]

    @property
    def special_procedure_open(self) -> bool:
        procedures = self.row.get("special_procedures") or []
        return bool(procedures) and procedures[-1]["ended_at"] is None

    def clock(self) -> DeadlineClock | None:
        """The statutory clock as it stands (None before acceptance)."""
        start = self.row.get("clock_started_at")
        if start is None:
            return None
        pauses = tuple((p["started_at"], p["ended_at"]) for p in self.row.get("special_procedures") or ())
        clock = DeadlineClock(started_at=start, limit_days=self.row["limit_days"], calendar=self.calendar,
                              pauses=pauses)
        extension = self.row.get("extension_days")
        return clock.extend(extension) if extension else clock

    def deadline(self, at: datetime) -> Deadline | None:
        clock = self.clock()
        return None if clock is None else deadline(self.rules, self.item, clock, at)

    def supplement_limit(self) -> SupplementLimit:
        """The limit of the outstanding supplement notice (CalendarUnavailable past the known years)."""
        return supplement_limit(self.calendar, self.rules, self.item, self.row["supplement_requested_at"])

    def pending_alarms(self, at: datetime) -> list[tuple[str, datetime]]:
        """Every moment at which the monitor must look at this application again, as of `at`."""
        if self.state not in OPEN:
            return []
        if self.state == SUBMITTED:
            deemed = deemed_acceptance(self.calendar, self.rules, self.row["received_at"], at)
            return [(DEEMED_ACCEPTANCE, deemed.moment)] if deemed.moment else [(CALENDAR_UNAVAILABLE, at)]
        if self.state == SUPPLEMENT_REQUESTED:
            try:
                return [(ABANDONMENT, self.supplement_limit().moment)]
            except CalendarUnavailable:
                return [(CALENDAR_UNAVAILABLE, at)]
        alarms: list[tuple[str, datetime]] = []
        dl = self.deadline(at)
        if dl is not None:
            alarms += dl.alarms
        if self.special_procedure_open:
            alarms.append((SPECIAL_PROCEDURE_OVERRUN, self._overrun_moment()))
        return alarms

    def recalculated(self, now: datetime) -> ActionOutcome | None:
        """The clock and the monitor's moments computed again, after the calendar gained a year (a due
        time, a card or a deemed acceptance that could not be computed before); None while a moment still
        falls in a year without a schedule, or for a closed application."""
        if self.state not in OPEN:
            return None
        if any(kind == CALENDAR_UNAVAILABLE for kind, _ in self.pending_alarms(now)):
            return None
        return self._outcome("recalculate", now, SYSTEM, {}, None, {"reason": "calendar"},
                             counter_action=False)

    def event_figures(self, at: datetime) -> dict[str, Any]:
        """The application and clock figures every event about it carries (scoring needs them)."""
        row = self.row
        figures = {"application_id": str(row["id"]), "application_no": row["application_no"],
                   "item_code": row["item_code"], "department": row["department"],
                   "green_channel": row["green_channel"], "at": at}
        status = self.clock_status(at)
        if status is not None:
            figures.update(limit_days=status["limit_days"], clock_started_at=status["started_at"],
                           due_at=status["due_at"], clock_error=status["error"], paused=status["paused"],
                           elapsed_days=status["elapsed"], remaining_days=status["remaining"],
                           days_left=status["days_left"], days_overdue=status["days_overdue"])
        return figures

    def clock_status(self, now: datetime) -> dict[str, Any] | None:
        """The clock for the API: limit, start, due, pauses, working days elapsed and remaining, the light. An
        ended application's clock stopped when it ended, and has no light (nothing is watched)."""
        clock = self.clock()
        if clock is None:
            return None
        ended = self.state in ENDED
        if ended and self.row.get("ended_at") is not None:
            now = min(now, self.row["ended_at"])
        base = {"limit_days": clock.limit_days, "started_at": clock.started_at,
                "paused_intervals": list(clock.pauses), "paused": clock.paused}
        try:
            st = clock.status(now)
        except CalendarUnavailable as exc:
            return {**base, "start_date": None, "due_at": None, "elapsed": None, "remaining": None,
                    "fraction_used": None, "light": None, "error": str(exc), "days_left": None,
                    "days_overdue": None}
        days_left, fraction = _thresholds(self.rules, self.item)
        warned = ((days_left is not None and st.remaining <= days_left)
                  or (fraction is not None and st.fraction_used >= fraction))
        light = None if ended else "red" if st.overdue else "yellow" if warned else "green"
        days_left, days_overdue = whole_days(st.remaining, st.elapsed, st.limit_days, st.overdue)
        return {**base, "start_date": st.start_date, "due_at": st.due_at, "elapsed": st.elapsed,
                "remaining": st.remaining, "fraction_used": st.fraction_used, "light": light, "error": None,
                "days_left": days_left, "days_overdue": days_overdue}

    # -- guards -----------------------------------------------------------------------------------

    def _refuse(self, action: str, action_zh: str, irregularities: Sequence[Irregularity] = ()) -> IllegalTransition:
        return IllegalTransition(f"cannot {action} an application that is {self.state}",
                                 f"申请当前状态为「{STATE_ZH.get(self.state, self.state)}」，不能{action_zh}",
                                 irregularities)

    def _require(self, allowed: tuple[str, ...], action: str, action_zh: str) -> None:
        if self.state not in allowed:
            raise self._refuse(action, action_zh)

    def _check_time(self, at: datetime) -> None:
        """What every counter action checks first: the application has not ended (a plain refusal, never an
        irregularity: an ended application raises nothing), and its time is possible."""
        if self.state in ENDED:
            raise IllegalTransition(f"the application is {self.state}: it takes no more actions",
                                    f"申请{STATE_ZH[self.state]}，不能再办理")
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"at {at.isoformat()} has no time zone")
        if at > self.now + self.rules.future_tolerance:
            raise IllegalTransition("the time of the action is in the future", "办理时间晚于当前时间",
                                    [_irregular("future_time", self.now, claimed_at=at)])
        last = self.row.get("last_action_at")
        if last is not None and at < last:
            raise IllegalTransition("the time of the action is before the previous action",
                                    "办理时间早于上一环节",
                                    [_irregular("out_of_order_time", at, previous_at=last)])

    def _overrun_moment(self, procedure: dict[str, Any] | None = None) -> datetime:
        procedure = procedure or self.row["special_procedures"][-1]
        return procedure["started_at"] + timedelta(days=self.rules.special_procedure_max_days)

    # -- building outcomes ------------------------------------------------------------------------

    def _outcome(self, action: str, at: datetime, actor: Actor, changes: dict[str, Any], event: str | None,
                 payload: dict[str, Any], irregularities: Sequence[Irregularity] = (),
                 alarms: AlarmPlan | str = _RECOMPUTE, counter_action: bool = True) -> ActionOutcome:
        """Changes plus the clock figures; events carry the department, item and clock figures. The alarm
        plan by default replaces the alarms with the moments of the application as the command leaves it."""
        if counter_action:
            changes = {**changes, "last_action_at": at}
            late = self.rules.late_report(action, at, self.now)
            if late is not None:
                irregularities = [*irregularities, late]
        after = Application({**self.row, **changes}, self.item, self.calendar, self.rules, self.now)
        figures: dict[str, Any] = {}
        dl = after.deadline(at)
        if dl is not None:
            changes.update(due_at=dl.due_at, clock_error=dl.error)
            figures = {"limit_days": dl.limit_days, "clock_started_at": dl.started_at, "due_at": dl.due_at,
                       "clock_error": dl.error, "paused": dl.paused}
        if not isinstance(alarms, AlarmPlan):  # _RECOMPUTE
            alarms = replace_alarms(after.pending_alarms(at))
        events = []
        if event:
            events.append(Event(event, {"item_code": self.item.code, "department": self.item.department,
                                   "by": actor.name, **figures, **payload}))
        return ActionOutcome(action, changes, events, payload, alarms, list(irregularities))

    def _acceptance(self, accepted_at: datetime, clock_started_at: datetime, deemed: bool) -> dict[str, Any]:
        return dict(state=ACCEPTED, accepted_at=accepted_at, clock_started_at=clock_started_at,
                    deemed_accepted=deemed, limit_days=self.rules.limit_for(self.item))

    # -- acceptance -------------------------------------------------------------------------------

    def accept(self, at: datetime, actor: Actor) -> ActionOutcome:
        self._check_time(at)
        if (replayed := self._replayed(at, "accept", at, actor)) is not None:
            return replayed
        irregular = []
        if not self.item.fully_authorised:
            irregular.append(_irregular("window_not_authorised", at, item_code=self.item.code))
        if self.state == ACCEPTED and self.row.get("deemed_accepted") and not self.row.get("accepted_formally_at"):
            # already accepted by law; the counter's acceptance is recorded, the clock stays where it is
            return self._outcome("accept", at, actor, {"accepted_formally_at": at}, None,
                                 {"deemed": True, "formal_acceptance_at": at}, irregular, alarms=KEEP)
        if self.state == SUPPLEMENT_REQUESTED:
            raise IllegalTransition("the requested supplement has not been received",
                                    "补正材料尚未收到，不能受理")
        self._require((SUBMITTED, SUPPLEMENT_RECEIVED), "accept", "受理")
        deemed = self.state == SUBMITTED and deemed_acceptance(
            self.calendar, self.rules, self.row["received_at"], at).deemed
        start = self.row["received_at"] if deemed else at
        changes = {**self._acceptance(at, start, deemed), "accepted_formally_at": at}
        return self._outcome("accept", at, actor, changes, "application.accepted", {"deemed": deemed}, irregular)

    def deem_accepted(self, at: datetime, actor: Actor = SYSTEM) -> ActionOutcome:
        """The monitor's `deemed_acceptance` alarm: no supplement notice in time, so accepted by law."""
        self._require((SUBMITTED,), "deem accepted", "视为受理")
        if not deemed_acceptance(self.calendar, self.rules, self.row["received_at"], at).deemed:
            raise IllegalTransition("the supplement notice period has not ended", "补正告知期限尚未届满")
        received = self.row["received_at"]
        # the monitor's act is not part of the counter's sequence: a window action sent late, dated
        # before this moment, must still be in order
        return self._outcome("deem_accepted", at, actor, self._acceptance(received, received, True),
                             "application.accepted", {"deemed": True}, counter_action=False)

    def _before_deemed_acceptance(self, at: datetime) -> tuple[Application, dict[str, Any]] | None:
        """A window action sent late, dated before the monitor deemed the application accepted: the
        application as it was then, and the changes that withdraw the deemed acceptance."""
        if not (self.state == ACCEPTED and self.row.get("deemed_accepted") and not self.row.get("accepted_formally_at")
                and not self.row.get("supplement_count")):
            return None
        deemed = deemed_acceptance(self.calendar, self.rules, self.row["received_at"], at)
        if deemed.notice_by is None or at > deemed.notice_by:
            return None
        revert = dict(state=SUBMITTED, accepted_at=None, clock_started_at=None, deemed_accepted=False,
                      limit_days=None, due_at=None, clock_error=None)
        return Application({**self.row, **revert}, self.item, self.calendar, self.rules, self.now), revert

    def _replayed(self, at: datetime, command: str, *args: Any) -> ActionOutcome | None:
        before = self._before_deemed_acceptance(at)
        if before is None:
            return None
        view, revert = before
        out = getattr(view, command)(*args)
        out.changes = {**revert, **out.changes}
        out.details = {**out.details, "deemed_acceptance_withdrawn": True}
        for _, payload in out.events:
            payload["deemed_acceptance_withdrawn"] = True
        return out

    def refuse(self, reason: str | None, at: datetime, actor: Actor) -> ActionOutcome:
        self._check_time(at)
        if (replayed := self._replayed(at, "refuse", reason, at, actor)) is not None:
            return replayed
        self._require(BEFORE_ACCEPTANCE, "refuse", "不予受理")
        if not (reason or "").strip():
            raise IllegalTransition("a refusal needs its reason", "不予受理须说明理由",
                                    [_irregular("refusal_without_reason", at)])
        return self._outcome("refuse", at, actor, {"state": REFUSED, "refused_at": at, "refusal_reason": reason},
                             "application.refused", {"reason": reason}, alarms=CANCEL)

    # -- supplements (一次告知) -------------------------------------------------------------------

    def request_supplement(self, missing: Sequence[str], note: str | None, at: datetime, actor: Actor) -> ActionOutcome:
        self._check_time(at)
        if (replayed := self._replayed(at, "request_supplement", missing, note, at, actor)) is not None:
            return replayed
        self._require(OPEN, "request a supplement for", "要求补正")
        missing = list(dict.fromkeys(missing or ()))
        if not missing:
            raise IllegalTransition("list every missing material at once", "须一次性列明全部需补正的材料")
        count = (self.row.get("supplement_count") or 0) + 1
        previous = self.row.get("missing") if count > 1 else []
        changes: dict[str, Any] = dict(supplement_count=count, supplement_requested_at=at,
                                       supplement_outstanding=True,
                                       missing=list(dict.fromkeys([*(previous or []), *missing])))
        irregular = []
        if count > 1:
            irregular.append(_irregular("repeated_supplement_request", at, count=count, missing=missing))
        alarms: AlarmPlan | str = KEEP
        if self.state == ACCEPTED:
            irregular.append(_irregular("supplement_after_acceptance", at, accepted_at=self.row["accepted_at"]))
        elif self.state == SUBMITTED and (d := deemed_acceptance(
                self.calendar, self.rules, self.row["received_at"], at)).deemed:
            # too late: accepted by law on the day received, and the clock has been running since
            received = self.row["received_at"]
            changes.update(self._acceptance(received, received, True))
            irregular.append(_irregular("supplement_after_acceptance", at, deemed=True, notice_by=d.notice_by))
            alarms = _RECOMPUTE
        else:
            # the clock has not started, and a notice in time rules out deemed acceptance: the one alarm left is
            # the supplement limit (deemed withdrawn), recomputed from this notice
            changes["state"] = SUPPLEMENT_REQUESTED
            alarms = _RECOMPUTE
        return self._outcome("request_supplement", at, actor, changes, "application.supplement_requested",
                             {"missing": missing, "note": note, "count": count}, irregular, alarms=alarms)

    def supplement_received(self, at: datetime, actor: Actor) -> ActionOutcome:
        self._check_time(at)
        if not self.row.get("supplement_outstanding"):
            raise IllegalTransition("no supplement has been requested", "未要求补正，不能登记补正材料")
        self._require((SUPPLEMENT_REQUESTED, ACCEPTED), "record a supplement for", "登记补正材料")
        changes: dict[str, Any] = {"supplement_outstanding": False, "supplement_received_at": at}
        alarms: AlarmPlan | str = KEEP
        if self.state == SUPPLEMENT_REQUESTED:
            changes["state"] = SUPPLEMENT_RECEIVED
            alarms = _RECOMPUTE  # none: the supplement limit is met
        return self._outcome("supplement_received", at, actor, changes, "application.supplement_received", {},
                             alarms=alarms)

    # -- special procedures (the clock stops) -----------------------------------------------------

    def start_special_procedure(self, kind: str, at: datetime, actor: Actor) -> ActionOutcome:
        self._check_time(at)
        if kind not in SPECIAL_PROCEDURES:
            raise IllegalTransition(f"unknown special procedure {kind!r}", f"未知的特别程序「{kind}」")
        self._require((ACCEPTED,), "start a special procedure on", "启动特别程序")
        if self.special_procedure_open:
            raise IllegalTransition("a special procedure is already running", "特别程序正在进行中")
        procedure = {"kind": kind, "started_at": at, "ended_at": None}
        changes = {"special_procedures": [*(self.row.get("special_procedures") or []), procedure]}
        return self._outcome("start_special_procedure", at, actor, changes, "application.special_procedure_started",
                             {"kind": kind, "irregular_from": self._overrun_moment(procedure)})

    def end_special_procedure(self, at: datetime, actor: Actor) -> ActionOutcome:
        self._check_time(at)
        self._require((ACCEPTED,), "end a special procedure on", "结束特别程序")
        if not self.special_procedure_open:
            raise IllegalTransition("no special procedure is running", "没有正在进行的特别程序")
        *earlier, current = self.row["special_procedures"]
        ended = {**current, "ended_at": at}
        irregular = []
        overrun = self._overrun_moment(current)
        if at > overrun:
            irregular.append(_irregular(SPECIAL_PROCEDURE_OVERRUN, overrun, kind=current["kind"],
                                        started_at=current["started_at"], ended_at=at))
        return self._outcome("end_special_procedure", at, actor, {"special_procedures": [*earlier, ended]},
                             "application.special_procedure_ended",
                             {"kind": current["kind"], "started_at": current["started_at"]}, irregular)

    def special_procedure_overrun(self, at: datetime) -> Irregularity | None:
        """The monitor's overrun alarm fired: the irregularity if the procedure is still open past it."""
        if self.state != ACCEPTED or not self.special_procedure_open:
            return None
        current = self.row["special_procedures"][-1]
        overrun = self._overrun_moment(current)
        if at <= overrun:
            return None
        return _irregular(SPECIAL_PROCEDURE_OVERRUN, overrun, kind=current["kind"], started_at=current["started_at"])

    # -- the monitor's alarms ---------------------------------------------------------------------

    def on_alarm(self, kind: str, now: datetime) -> AlarmReaction:
        """What the monitor does when an alarm of `kind` of this application comes due at `now` (ValueError
        for a kind it does not know). A closed application, or one that moved on, needs nothing."""
        if kind not in ALARM_KINDS:
            raise ValueError(f"unknown alarm kind {kind!r}")
        if self.state not in OPEN:
            return None
        if kind == DEEMED_ACCEPTANCE:
            if self.state != SUBMITTED:
                return None
            try:
                return self.deem_accepted(now, SYSTEM)
            except IllegalTransition:
                return None  # a notice in time or an acceptance came first
        if kind == ABANDONMENT:
            return self._abandonment(now)
        if kind in CARDS:
            if self.state != ACCEPTED:
                return None
            if kind in WARNINGS and self._overdue(now):
                return None  # late data: what is true now is the card, not an approaching deadline
            return Alert(*CARDS[kind], kind)
        if kind == SPECIAL_PROCEDURE_OVERRUN:
            return self.special_procedure_overrun(now)
        return Alert("warning", "monitor.warning", CALENDAR_UNAVAILABLE,
                     {"error": self.row["clock_error"] or self._missing_year()})

    def _overdue(self, now: datetime) -> bool:
        clock = self.clock()
        try:
            return clock is not None and clock.status(now).overdue
        except CalendarUnavailable:
            return False

    def _abandonment(self, now: datetime) -> ActionOutcome | None:
        """The supplement limit's alarm: deemed withdrawn (视为撤回) if the supplement is still outstanding."""
        if self.state != SUPPLEMENT_REQUESTED:
            return None
        try:
            limit = self.supplement_limit()
        except CalendarUnavailable:
            return None
        if now < limit.moment:
            return None  # a later notice moved the limit
        return self.abandon(limit, SYSTEM)

    def abandon(self, limit: SupplementLimit, actor: Actor = SYSTEM) -> ActionOutcome:
        """The monitor's act at the first instant after the supplement limit (its `at`, also when it fires later):
        not part of the counter's sequence."""
        self._require((SUPPLEMENT_REQUESTED,), "abandon", "视为撤回")
        at = limit.moment
        reason = f"申请人未在 {limit.limit_days} 个工作日内补正材料，视为撤回申请"
        out = self._outcome("abandon", at, actor, self._ending(ABANDONED, at, reason), "application.abandoned",
                             {"reason": reason, "from_state": self.state, "supplement_limit_days": limit.limit_days,
                              "supplement_requested_at": limit.requested_at, "supplement_due_at": limit.due_at},
                             alarms=CANCEL, counter_action=False)
        out.at = at
        return out

    # -- ended without a decision (撤回 / 终止) -------------------------------------------------------

    def withdraw(self, reason: str | None, at: datetime, actor: Actor) -> ActionOutcome:
        """The applicant withdrew the application (撤回)."""
        return self._end(WITHDRAWN, "withdraw", "application.withdrawn", reason, at, actor)

    def terminate(self, reason: str | None, at: datetime, actor: Actor) -> ActionOutcome:
        """The law ends the case (终止: the applicant died, the matter lapsed, ...)."""
        return self._end(TERMINATED, "terminate", "application.terminated", reason, at, actor)

    def _end(self, state: str, action: str, event: str, reason: str | None, at: datetime,
             actor: Actor) -> ActionOutcome:
        self._check_time(at)
        self._require(OPEN, action, ACTION_ZH[action])
        if not (reason or "").strip():
            raise IllegalTransition(f"to {action} needs its reason", f"{ACTION_ZH[action]}须说明理由")
        return self._outcome(action, at, actor, self._ending(state, at, reason), event,
                             {"reason": reason, "from_state": self.state}, alarms=CANCEL)

    def _ending(self, state: str, at: datetime, reason: str) -> dict[str, Any]:
        return {"state": state, "ended_at": at, "end_reason": reason, "supplement_outstanding": False}

    def _missing_year(self) -> str:
        """Why a moment could not be computed before the application had a clock: the year after the last
        one the calendar holds (the only one a near deadline can run into)."""
        return str(CalendarUnavailable(max(self.calendar.years_covered()) + 1))

    # -- extension --------------------------------------------------------------------------------

    def extend(self, days: int, approver: str | None, reason: str | None, at: datetime, actor: Actor) -> ActionOutcome:
        self._check_time(at)
        self._require((ACCEPTED,), "extend", "延期")
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise IllegalTransition("an extension is a whole number of working days, at least 1",
                                    "延期天数须为不少于 1 的整数个工作日")
        most = self.rules.max_extension_for(self.item)
        if days > most:
            raise IllegalTransition(f"an extension is at most {most} working days", f"延期最多 {most} 个工作日")
        if not (approver or "").strip() or not (reason or "").strip():
            raise IllegalTransition("an extension needs its approver and reason", "延期须经批准并说明理由")
        irregular = []
        if self.row.get("extension_days"):
            irregular.append(_irregular("repeated_extension", at, previous_days=self.row["extension_days"]))
        clock = self.clock()
        try:
            status = clock.status(at)
            overdue, due_at = status.overdue, status.due_at
        except CalendarUnavailable:
            overdue, due_at = False, None  # a due date in an unscheduled year is still ahead of us
        if overdue:
            irregular.append(_irregular("late_extension", at, due_at=due_at))
        if irregular:
            first = irregular[0].code
            raise IllegalTransition(
                "the limit was already extended once" if first == "repeated_extension"
                else "an extension must be granted before the due time",
                "办理期限只能延长一次" if first == "repeated_extension" else "延期须在办理期限届满前批准",
                irregular)
        changes = {"extension_days": days, "extension_approver": approver, "extension_reason": reason,
                   "extended_at": at}
        return self._outcome("extend", at, actor, changes, "application.extended",
                             {"days": days, "approver": approver, "reason": reason, "previous_due_at": due_at})

    # -- decision and delivery --------------------------------------------------------------------

    def decide(self, approved: bool, reason: str | None, at: datetime, actor: Actor) -> ActionOutcome:
        self._check_time(at)
        if self.state in (*BEFORE_ACCEPTANCE, REFUSED):
            irregular = [_irregular("decision_without_acceptance", at, state=self.state)]
            raise IllegalTransition(f"cannot decide an application that is {self.state}",
                                    "申请尚未受理，不能作出决定", irregular)
        self._require((ACCEPTED,), "decide", "作出决定")
        if self.special_procedure_open:
            raise IllegalTransition("end the special procedure before deciding", "特别程序尚未结束，不能作出决定")
        if not approved and not (reason or "").strip():
            raise IllegalTransition("a denial needs its reason", "不予许可须说明理由")
        figures: dict[str, Any] = {"in_time": None, "elapsed_days": None}
        try:
            status = self.clock().status(at)
            figures = {"in_time": not status.overdue, "elapsed_days": status.elapsed}
        except CalendarUnavailable:
            pass
        changes = {"state": DECIDED, "approved": bool(approved), "decision_reason": reason, "decided_at": at,
                   "decided_in_time": figures["in_time"]}
        return self._outcome("decide", at, actor, changes, "application.decided",
                             {"approved": bool(approved), "reason": reason, **figures}, alarms=CANCEL)

    def deliver(self, at: datetime, actor: Actor) -> ActionOutcome:
        self._check_time(at)
        self._require((DECIDED,), "deliver", "送达（须先作出决定）")
        return self._outcome("deliver", at, actor, {"state": DELIVERED, "delivered_at": at},
                             "application.delivered", {}, alarms=KEEP)

