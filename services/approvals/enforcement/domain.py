"""The rules of enforcement inspections (pure): the settings (ENFORCEMENT), the inspection's states and which
changes they allow, the irregularity rules — an uncertified inspector, an inspection carried out without approval,
too many inspections of one enterprise in a period (扰企), a result not reported in time, an unregistered
inspection — and the periods and due days they are counted in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from services.kernel import clock
from services.kernel.workcal import WorkCalendar

from ..domain import IllegalTransition

# registered (awaits the legal office) · approved · refused · reported (its result is in) · unregistered (known only
# from an enterprise's report through the desk)
STATES = ("registered", "approved", "refused", "reported", "unregistered")
STATE_ZH = {"registered": "待审核", "approved": "已批准", "refused": "未批准", "reported": "已报告结果",
            "unregistered": "未登记"}
RESULTS = ("no_violation", "violation_found", "rectification_ordered", "case_opened")
RESULT_ZH = {"no_violation": "未发现违法行为", "violation_found": "发现违法行为", "rectification_ordered": "责令整改",
             "case_opened": "立案查处"}
PERIODS = ("month", "quarter", "year")

WITHOUT_APPROVAL = "inspection_without_approval"
UNCERTIFIED = "uncertified_inspector"
TOO_MANY = "too_many_inspections"
NOT_REPORTED = "result_not_reported"
UNREGISTERED = "unregistered_inspection"
RULES = (WITHOUT_APPROVAL, UNCERTIFIED, TOO_MANY, NOT_REPORTED, UNREGISTERED)
RULE_ZH = {WITHOUT_APPROVAL: "未经审核实施执法检查", UNCERTIFIED: "执法人员无有效执法证",
           TOO_MANY: "对同一企业检查过多（扰企）", NOT_REPORTED: "检查结果未按时报告",
           UNREGISTERED: "未登记的执法检查"}
SEVERITY = {WITHOUT_APPROVAL: "high", UNCERTIFIED: "high", TOO_MANY: "medium", NOT_REPORTED: "medium",
            UNREGISTERED: "high"}
LEVEL = "irregularity"
MIN_INSPECTORS = 2  # 行政处罚法: at least two enforcement officers with certificates
CALENDAR_RETRY = timedelta(hours=1)
_US = timedelta(microseconds=1)


class SettingsError(ValueError):
    pass


def _int(cfg: dict, key: str, default: int, low: int) -> int:
    value = cfg.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"ENFORCEMENT.{key} must be a whole number, not {value!r}") from None
    if number < low:
        raise SettingsError(f"ENFORCEMENT.{key} must be at least {low}, not {value!r}")
    return number


@dataclass(frozen=True)
class EnforcementRules:
    """ENFORCEMENT: MAX_PER_ENTERPRISE inspections of one enterprise by all departments in a PERIOD (month,
    quarter, year) before 扰企; RESULT_DAYS working days after the planned day for the result; MATCH_DAYS calendar
    days either side of the day an enterprise reports within which a registered inspection matches it;
    DEPARTMENTS: the enforcement departments (empty: any department)."""

    max_per_enterprise: int = 4
    period: str = "quarter"
    result_days: int = 5
    match_days: int = 3
    departments: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_config(cls, cfg: dict | None) -> EnforcementRules:
        cfg = cfg or {}
        period = cfg.get("PERIOD") or cls.period
        if period not in PERIODS:
            raise SettingsError(f"ENFORCEMENT.PERIOD must be one of {', '.join(PERIODS)}, not {period!r}")
        departments = cfg.get("DEPARTMENTS") or ()
        if isinstance(departments, str):
            departments = [d.strip() for d in departments.split(",") if d.strip()]
        return cls(max_per_enterprise=_int(cfg, "MAX_PER_ENTERPRISE", cls.max_per_enterprise, 1), period=period,
                   result_days=_int(cfg, "RESULT_DAYS", cls.result_days, 1),
                   match_days=_int(cfg, "MATCH_DAYS", cls.match_days, 0), departments=frozenset(departments))

    def enforces(self, department: str | None) -> bool:
        return department is not None and (not self.departments or department in self.departments)


def enterprise_key(name: str, code: str | None) -> str:
    """Who an enterprise is for counting: its unified social credit code, else its name."""
    return f"code:{code.upper()}" if code else f"name:{name.strip()}"


def period_of(day: date, period: str) -> tuple[str, date, date]:
    """The period holding `day`: its label (2026-11, 2026-Q4, 2026), first day and the day after its last."""
    if period == "month":
        start = day.replace(day=1)
        return f"{day:%Y-%m}", start, date(day.year + day.month // 12, day.month % 12 + 1, 1)
    if period == "quarter":
        q = (day.month - 1) // 3
        start = date(day.year, q * 3 + 1, 1)
        return f"{day.year}-Q{q + 1}", start, date(day.year + (q == 3), (q + 1) % 4 * 3 + 1, 1)
    return str(day.year), date(day.year, 1, 1), date(day.year + 1, 1, 1)


def too_many(count: int, rules: EnforcementRules) -> bool:
    return count > rules.max_per_enterprise


@dataclass(frozen=True)
class Certificate:
    number: str
    department: str
    valid_from: date
    valid_until: date
    revoked: bool = False


def certificate_problem(number: str, cert: Certificate | None, department: str, day: date) -> str | None:
    """Why the certificate `number` does not entitle its holder to inspect for `department` on `day` (None: it
    does): unknown, revoked, not valid on the day, or of another department."""
    if cert is None:
        return "unknown"
    if cert.revoked:
        return "revoked"
    if not cert.valid_from <= day <= cert.valid_until:
        return "not_valid_on_day"
    if cert.department != department:
        return "other_department"
    return None


PROBLEM_ZH = {"unknown": "执法证不存在", "revoked": "执法证已吊销", "not_valid_on_day": "执法证不在有效期内",
              "other_department": "执法证不属于本部门"}


def uncertified(certificates: dict[str, Certificate | None], numbers: list[str], department: str, day: date
                ) -> dict[str, str]:
    """The inspectors (certificate numbers) without a valid certificate on `day`, with why."""
    found = {n: certificate_problem(n, certificates.get(n), department, day) for n in numbers}
    return {n: p for n, p in found.items() if p is not None}


def without_approval(state: str, approved_on: date | None, carried_out_on: date) -> str | None:
    """Why an inspection carried out on `carried_out_on` was not approved (None: it was, on or before the day)."""
    if state != "approved" or approved_on is None:
        return "not_approved" if state != "refused" else "refused"
    if carried_out_on < approved_on:
        return "before_approval"
    return None


WITHOUT_APPROVAL_ZH = {"not_approved": "检查未经法制机构审核", "refused": "检查未获批准仍实施",
                       "before_approval": "检查在批准前实施"}


def require_decidable(state: str) -> None:
    if state != "registered":
        raise IllegalTransition(f"the inspection is {state}: only a registered one is decided",
                                f"该检查{STATE_ZH.get(state, state)}，不能审核")


def require_reportable(state: str) -> None:
    if state == "unregistered":
        raise IllegalTransition("an unregistered inspection (known from an enterprise's report) has no result to "
                                "report", "未登记的检查不能报告结果")
    if state == "reported":
        raise IllegalTransition("the inspection's result was reported already", "该检查已报告结果")


def result_due(calendar: WorkCalendar, planned_on: date, days: int) -> datetime:
    """The end (Asia/Shanghai) of the `days`-th working day after the planned day (CalendarUnavailable past the
    known years)."""
    return datetime.combine(calendar.add_working_days(planned_on, days), time.max, tzinfo=clock.TZ)


def check_after(due: datetime) -> datetime:
    return due + _US


def matches(inspection_day: date | None, reported_day: date, window: int) -> bool:
    return inspection_day is not None and abs((inspection_day - reported_day).days) <= window


def reference_no(department: str, inspection_id: int, day: date) -> str:
    """The registration number: 检查登记号, e.g. JC-SCJGJ-2026-000012."""
    return f"JC-{department}-{day.year}-{inspection_id:06d}"
