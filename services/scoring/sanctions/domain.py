"""The rules of the sanctions register (效能问责), pure: the kinds, targets and sources of a measure, what each kind
costs in the assessment (the rule file's `sanctions:` section), which entries are the same measure, the review
window (申辩/复核) and the states a measure goes through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from services.kernel.clock import TZ
from services.kernel.config import ConfigError
from services.kernel.contracts.scoring import SANCTION_KIND_ZH, SANCTION_KINDS
from services.kernel.workcal import CalendarUnavailable, WorkCalendar

TARGETS = ("unit", "person")
TARGET_ZH = {"unit": "单位", "person": "个人"}
SOURCES = ("complaint", "visit", "monitor_alert", "project_accountability", "inspection", "direct")
SOURCE_ZH = {"complaint": "效能投诉举报查实", "visit": "暗访发现问题", "monitor_alert": "电子监察告警",
             "project_accountability": "重点项目责任追究", "inspection": "督查检查", "direct": "直接登记"}
# the sources whose `source_ref` names what the measure came from (a visit's id, an alert's, a procedure's)
SOURCE_REF_REQUIRED = ("visit", "monitor_alert", "project_accountability")

IN_FORCE, UNDER_REVIEW, UPHELD, WITHDRAWN = "in_force", "under_review", "upheld", "withdrawn"
STATES = (IN_FORCE, UNDER_REVIEW, UPHELD, WITHDRAWN)
STATE_ZH = {IN_FORCE: "有效", UNDER_REVIEW: "复核中", UPHELD: "复核维持", WITHDRAWN: "复核撤销"}
DECISIONS = (UPHELD, WITHDRAWN)

# how the measure's cost is kept in the ledger: by the register (its own fact), by the core ledger from the
# event the measure came from (efficiency_warning.issued: the fact whose ref is the warning id), or not at all
LEDGER_OWN, LEDGER_CORE, LEDGER_NONE = "own", "core", "none"
# the cause of the voiding entries of a withdrawn measure's facts (fact_voids.cause)
VOID_CAUSE = "sanction_withdrawn"
DEFAULT_REVIEW_DAYS = 15
# what the seed (III.3) says, for a rule file without a `sanctions:` section: a 效能告诫 costs the deduction, a
# 通报批评 removes the unit from the advanced units; nothing else costs anything
SEED_EFFECTS = {"efficiency_warning": {"efficiency_warning": True}, "criticism": {"disqualifies": True}}
SAME_MEASURE_FIELDS = ("department", "target", "person_name", "post", "deciding_body", "decided_on", "source",
                       "source_ref")


@dataclass(frozen=True)
class Effect:
    """What a kind of measure does to the sanctioned unit's assessment."""

    efficiency_warning: bool  # writes the fact efficiency_warnings (the rule file's deduction, −0.5)
    disqualifies: bool  # a criticism (通报批评) of the unit: no advanced unit (评先树优) in that period


class Effects(dict):
    """kind → Effect, for every kind (a kind the rule file does not name costs nothing)."""

    @classmethod
    def from_dict(cls, data, source: str = "sanction effects") -> Effects:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(f"{source}: a mapping of kind → {{efficiency_warning, disqualifies}}")
        unknown = set(data) - set(SANCTION_KINDS)
        if unknown:
            raise ValueError(f"{source}: unknown kinds {sorted(unknown)}; known: {', '.join(SANCTION_KINDS)}")
        out = cls()
        for kind in SANCTION_KINDS:
            entry = data.get(kind) or {}
            if not isinstance(entry, dict) or set(entry) - {"efficiency_warning", "disqualifies"}:
                raise ValueError(f"{source}: {kind} takes efficiency_warning and disqualifies (true/false)")
            flags = {k: entry.get(k, False) for k in ("efficiency_warning", "disqualifies")}
            if not all(isinstance(v, bool) for v in flags.values()):
                raise ValueError(f"{source}: {kind}: efficiency_warning and disqualifies are true or false")
            out[kind] = Effect(**flags)
        return out


@dataclass(frozen=True)
class SanctionRules:
    """The register's settings: what each kind costs, and the working days a review may be asked for in."""

    effects: Effects
    review_days: int = DEFAULT_REVIEW_DAYS

    @classmethod
    def from_config(cls, section, rules: dict | None = None) -> SanctionRules:
        """From `SANCTIONS` in scoring's config (REVIEW_DAYS) and the rule file's data `rules` (its `sanctions:`
        section; none: SEED_EFFECTS); ConfigError when either makes no sense."""
        section = section or {}
        if not isinstance(section, dict):
            raise ConfigError("SANCTIONS must be a mapping (REVIEW_DAYS)")
        days = section.get("REVIEW_DAYS")
        try:
            days = DEFAULT_REVIEW_DAYS if days in (None, "") else int(days)
        except (TypeError, ValueError):
            raise ConfigError(f"SANCTIONS.REVIEW_DAYS must be a whole number of working days, not {days!r}") \
                from None
        if days < 1:
            raise ConfigError(f"SANCTIONS.REVIEW_DAYS must be at least 1, not {days!r}")
        rules = rules or {}
        try:
            effects = Effects.from_dict(rules.get("sanctions", SEED_EFFECTS),
                                        "the rule file's sanctions")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return cls(effects, days)


def body_problems(data: dict, effects: Effects) -> dict[str, list[str]]:
    """Field errors of a measure entered by hand (the schema checked each field alone)."""
    errors: dict[str, list[str]] = {}
    if data["target"] == "person":
        for field in ("person_name", "post"):
            if not data.get(field):
                errors[field] = ["required for a measure against a person / 对个人的措施须填写姓名和职务"]
    else:
        for field in ("person_name", "post"):
            if data.get(field):
                errors[field] = ["only for a measure against a person / 对单位的措施不填写个人信息"]
    if data["source"] in SOURCE_REF_REQUIRED and not data.get("source_ref"):
        errors["source_ref"] = [f"required for the source {data['source']} "
                                f"/ 请填写来源编号（{SOURCE_ZH[data['source']]}）"]
    if data["source"] == "complaint" and effects[data["kind"]].efficiency_warning:
        # appeals' efficiency_warning.issued brings it into the register and the ledger already: counted twice
        errors["source"] = ["an efficiency warning on an upheld complaint is recorded from appeals "
                            "(efficiency_warning.issued) / 投诉查实的效能告诫由民意直通自动登记，不能手工重复登记"]
    return errors


def same_measure(row: dict, data: dict) -> bool:
    """A second entry with a measure's kind and document number is a retry of it when it says the same."""
    return all(row.get(f) == data.get(f) for f in SAME_MEASURE_FIELDS)


def moment_of(day: date) -> datetime:
    """The moment a measure decided on `day` reports (its facts' period is this moment's month)."""
    return datetime.combine(day, time(), TZ)


def review_due(calendar: WorkCalendar, decided_on: date, days: int) -> tuple[date | None, str | None]:
    """The last day a review may be asked for: the `days`-th working day after the decision (counting from the
    day after it), or (None, why) when the calendar has no schedule for a year it runs into."""
    try:
        return calendar.add_working_days(decided_on, days), None
    except CalendarUnavailable as exc:
        return None, str(exc)


def review_open(due: date | None, today: date) -> bool:
    """A review may be asked for up to its last day; with no known last day (the calendar could not say) the
    request is taken, not refused for want of a calendar."""
    return due is None or today <= due


def step(state: str, act: str) -> str:
    """The state after `act` (request, upheld, withdrawn) from `state`; ValueError when not allowed now."""
    allowed = {"request": (IN_FORCE,), UPHELD: (UNDER_REVIEW,), WITHDRAWN: (UNDER_REVIEW,)}
    if state not in allowed[act]:
        raise ValueError(state)
    return UNDER_REVIEW if act == "request" else act


def fact_detail(kind: str, target: str, document_no: str | None, post: str | None) -> str:
    """The breakdown's line for a measure's fact: never a person's name (the post only)."""
    who = TARGET_ZH[target] + (f"：{post}" if target == "person" and post else "")
    return f"{SANCTION_KIND_ZH[kind]}（{document_no or '无文号'}）{who}"[:200]
