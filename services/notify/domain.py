"""The rules of notification, free of frameworks: what each consumed event is (its source, severity and
department), which subscriptions it matches, when quiet hours hold an item back, and the retry schedule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from fnmatch import fnmatchcase

from services.kernel import clock

SEVERITIES = ("info", "low", "medium", "high", "critical")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
SEVERITY_ZH = {"info": "通知", "low": "提示", "medium": "预警", "high": "重要", "critical": "紧急"}
CHANNELS = ("log", "email", "webhook", "dingtalk", "wecom")
CHANNEL_ZH = {"log": "日志", "email": "邮件", "webhook": "Webhook", "dingtalk": "钉钉机器人", "wecom": "企业微信机器人"}
# A subscription naming this instead of a recipient reaches the duty contacts of the event's department.
DUTY = "@duty"
PARKED_EVENT = "notify.delivery_parked"

# event type -> (producer, severity). A severity of None is read from the payload (see `severity_of`).
EVENTS: dict[str, tuple[str, str | None]] = {
    "appeal.received": ("appeals", "info"),
    "appeal.deadline_warning": ("appeals", "medium"),
    "appeal.overdue": ("appeals", "high"),
    "appeal.urged": ("appeals", "medium"),
    "appeal.escalated": ("appeals", "high"),
    "appeal.emergency": ("appeals", "critical"),
    "appeal.supervised": ("appeals", "high"),
    # the department in the loop (#14): a case sent to it, its return reviewed, its extension decided
    "appeal.dispatched": ("appeals", "medium"),
    "appeal.return_reviewed": ("appeals", "medium"),
    "appeal.extension_decided": ("appeals", "medium"),
    "appeal.assist_requested": ("appeals", "medium"),
    # the hot-issue brief (热点问题汇总), weekly and monthly, for whoever subscribes (the joint meeting's members)
    "report.hot_issues_published": ("appeals", "low"),
    # the hotline centre's own waits (#13): the return review, the (re-)dispatch, the call-back
    "appeal.return_review_overdue": ("appeals", "medium"),
    "appeal.return_review_escalated": ("appeals", "high"),
    "appeal.dispatch_overdue": ("appeals", "medium"),
    "appeal.dispatch_escalated": ("appeals", "high"),
    "appeal.callback_overdue": ("appeals", "medium"),
    "appeal.callback_escalated": ("appeals", "high"),
    "appeal.supervision_warning": ("appeals", "medium"),
    "appeal.supervision_overdue": ("appeals", "high"),
    "efficiency_warning.issued": ("appeals", "high"),
    "monitor.warning": ("approvals", "medium"),
    "monitor.yellow_card": ("approvals", "high"),
    "monitor.red_card": ("approvals", "critical"),
    "monitor.irregularity": ("approvals", None),
    "monitor.supervision_ordered": ("approvals", "high"),
    "monitor.supervision_overdue": ("approvals", "critical"),
    "project.milestone_missed": ("approvals", "high"),
    "project.self_check_missing": ("approvals", "medium"),
    "joint_approval.alert_raised": ("approvals", None),
    "scoring.results_published": ("scoring", "low"),
    # rectification (整改) of the monitor's alerts and of visit findings, objections (申诉) (#14)
    "monitor.rectification_submitted": ("approvals", "low"),
    "monitor.rectification_accepted": ("approvals", "low"),
    "monitor.rectification_returned": ("approvals", "medium"),
    "monitor.rectification_overdue": ("approvals", "high"),
    "visit.rectification_submitted": ("scoring", "low"),
    "visit.rectification_accepted": ("scoring", "low"),
    "visit.rectification_returned": ("scoring", "medium"),
    "visit.rectification_overdue": ("scoring", "high"),
    "objection.lodged": ("scoring", "medium"),
    "objection.decided": ("scoring", "medium"),
    # 好差评 (#15): a bad review asks its department for a follow-up (medium; a good one is info, below the duty
    # contacts' subscriptions), and a follow-up not reported in time
    "review.recorded": ("approvals", None),
    "review.follow_up_overdue": ("approvals", "high"),
    # the sanctions register (效能问责) and target management (目标管理) (#16): a measure and its review to the unit
    # and the assessment office; a plan or milestone overdue to the lead unit
    "sanction.recorded": ("scoring", "medium"),
    "sanction.review_requested": ("scoring", "medium"),
    "sanction.review_decided": ("scoring", "medium"),
    "target.plan_overdue": ("scoring", "high"),
    "target.milestone_overdue": ("scoring", "high"),
    # enforcement under the monitor (#17): an inspection's or a penalty's irregularity, as severe as it says
    "enforcement.irregularity": ("approvals", None),
}
# payload-dependent severities
IRREGULARITY_SEVERITY = {"low": "low", "medium": "medium", "high": "high"}
JOINT_LEVEL_SEVERITY = {"warning": "medium", "yellow": "high", "red": "critical"}
# Never held back, whatever the quiet hours say: emergencies and red cards.
NEVER_HELD = frozenset({"appeal.emergency", "monitor.red_card", "monitor.supervision_overdue"})


def severity_of(event_type: str, payload: dict) -> str:
    if event_type == PARKED_EVENT:
        # as urgent as what could not be delivered: a lost emergency wakes ops, a lost digest item does not
        return payload.get("failed_severity") if payload.get("failed_severity") in RANK else "high"
    fixed = EVENTS.get(event_type, (None, "info"))[1]
    if fixed is not None:
        return fixed
    if event_type in ("monitor.irregularity", "enforcement.irregularity"):
        return IRREGULARITY_SEVERITY.get(payload.get("severity"), "medium")
    if event_type == "joint_approval.alert_raised":
        return JOINT_LEVEL_SEVERITY.get(payload.get("level"), "medium")
    if event_type == "review.recorded":
        return "medium" if payload.get("bad") else "info"
    return "info"


# Events about a department other than the case's: a reviewed return concerns the department that returned it
# (the case has no department while it waits for re-dispatch after an approved return).
DEPARTMENT_KEY = {"appeal.return_reviewed": "returned_by", "target.plan_overdue": "lead_unit",
                  "target.milestone_overdue": "lead_unit"}


def department_of(event_type: str, payload: dict, source_department: str | None = None) -> str | None:
    """The department an event concerns: the case's or application's, the warned unit, a project's unit; for a
    reviewed return, the department that returned the case (`DEPARTMENT_KEY`)."""
    own = DEPARTMENT_KEY.get(event_type)
    if own and payload.get(own):
        return payload[own]
    for key in ("department", "unit", "responsible_unit"):
        if payload.get(key):
            return payload[key]
    units = payload.get("responsible_units") or payload.get("departments") or []
    return units[0] if units else source_department


def never_held(event_type: str, payload: dict) -> bool:
    if event_type == PARKED_EVENT:
        return payload.get("failed_severity") == "critical"
    return event_type in NEVER_HELD or (event_type == "joint_approval.alert_raised" and payload.get("level") == "red")


@dataclass(frozen=True)
class Subscription:
    id: int
    recipient: str
    event_types: tuple[str, ...]
    min_severity: str
    departments: tuple[str, ...]
    channel: str

    def matches(self, event_type: str, severity: str, department: str | None) -> bool:
        if RANK[severity] < RANK[self.min_severity]:
            return False
        if self.departments and department not in self.departments:
            return False
        return any(fnmatchcase(event_type, pattern) for pattern in self.event_types)


@dataclass(frozen=True)
class Target:
    """One (recipient, channel, address) a message goes to."""

    recipient: str
    channel: str
    address: str | None


def targets(subscriptions, recipients: dict[str, dict], duty: dict[str, list[dict]], event_type: str,
            severity: str, department: str | None) -> list[Target]:
    """Every distinct (recipient, channel) an event goes to. `recipients`: active recipients by code;
    `duty`: active duty contacts by department. A recipient without an address for the channel is skipped
    (the `log` channel needs none)."""
    seen: dict[tuple[str, str], Target] = {}
    for sub in subscriptions:
        if not sub.matches(event_type, severity, department):
            continue
        if sub.recipient == DUTY:
            people = duty.get(department or "", [])
        else:
            person = recipients.get(sub.recipient)
            people = [person] if person is not None else []
        for person in people:
            address = (person.get("addresses") or {}).get(sub.channel)
            if sub.channel != "log" and not address:
                continue
            seen.setdefault((person["code"], sub.channel), Target(person["code"], sub.channel, address))
    return list(seen.values())


# -- quiet hours and digests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    """A daily window (Asia/Shanghai) in which items below `hold_below` severity wait for the morning digest.
    Emergencies and red cards are never held; the `log` channel wakes nobody and is never held either."""

    start: time
    end: time
    hold_below: str = "high"
    exempt_channels: tuple[str, ...] = field(default=("log",))

    @classmethod
    def parse(cls, spec, hold_below: str = "high") -> QuietHours | None:
        """`"22:00-07:00"`; empty, None or "off" disables quiet hours."""
        if spec is None or str(spec).strip().lower() in ("", "off", "none", "false"):
            return None
        try:
            a, b = str(spec).split("-")
            start, end = (time.fromisoformat(x.strip()) for x in (a, b))
        except ValueError:
            raise ValueError(f"quiet hours must look like '22:00-07:00', got {spec!r}") from None
        if start == end:
            raise ValueError("quiet hours must not start and end at the same time")
        if hold_below not in RANK:
            raise ValueError(f"hold_below must be one of {', '.join(SEVERITIES)}")
        return cls(start, end, hold_below)

    def is_quiet(self, at: datetime) -> bool:
        t = at.astimezone(clock.TZ).time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def next_end(self, at: datetime) -> datetime:
        """The first end of the quiet window after `at` (when held items go out as a digest)."""
        local = at.astimezone(clock.TZ)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > local else end + timedelta(days=1)

    def holds(self, at: datetime, severity: str, channel: str, urgent: bool) -> datetime | None:
        """When a delivery created at `at` may go out, if it is held (None: send now)."""
        if urgent or channel in self.exempt_channels or RANK[severity] >= RANK[self.hold_below]:
            return None
        return self.next_end(at) if self.is_quiet(at) else None


# -- sending ---------------------------------------------------------------------------------------------


def retry_delay(attempts: int, delays: tuple[float, ...]) -> float | None:
    """Seconds until the next attempt after `attempts` transient failures; None: the limit is reached."""
    return delays[attempts - 1] if 0 < attempts <= len(delays) else None
