"""The rules of major administrative penalties and discretion (pure): the penalty kinds and circumstances, a basis
of the catalogue with its discretion bands, what makes a penalty major (重大), its filing limit, the party as it may
be kept, and the irregularities a filed penalty shows (late filing, out of band, no circumstance)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time

from services.kernel import clock
from services.kernel.privacy import mask_name
from services.kernel.workcal import WorkCalendar

from ..domain import IllegalTransition

SUBJECT = "penalty"
EVENT = "enforcement.irregularity"
FILED_EVENT = "penalty.filed"

KIND_ZH = {"warning": "警告", "fine": "罚款", "confiscation": "没收违法所得", "licence_suspension": "暂扣许可证照",
           "suspension": "责令停产停业", "licence_revocation": "吊销许可证照", "detention": "行政拘留"}
KINDS = tuple(KIND_ZH)
FINE = "fine"
CIRCUMSTANCE_ZH = {"minor": "轻微", "general": "一般", "serious": "严重"}
CIRCUMSTANCES = tuple(CIRCUMSTANCE_ZH)
PARTY_KIND_ZH = {"enterprise": "企业", "person": "个人"}
PARTY_KINDS = tuple(PARTY_KIND_ZH)
PERSON_ZH = PARTY_KIND_ZH["person"]  # how a party who is a person travels in events

LATE_FILING, OUT_OF_BAND, NO_CIRCUMSTANCE = "late_filing", "out_of_band", "no_circumstance"
RULE_ZH = {LATE_FILING: "重大行政处罚逾期备案", OUT_OF_BAND: "处罚超出裁量基准", NO_CIRCUMSTANCE: "罚款未说明裁量情节"}
SEVERITY = {LATE_FILING: "medium", OUT_OF_BAND: "high", NO_CIRCUMSTANCE: "medium"}

DEFAULT_FILING_DAYS = 10
DEFAULT_MAJOR_FINE = {"enterprise": 100000, "person": 10000}
DEFAULT_MAJOR_KINDS = ("suspension", "licence_revocation", "detention")


class RulesError(ValueError):
    """PENALTIES in the config does not make sense (the service does not start)."""


@dataclass(frozen=True)
class PenaltyRules:
    """PENALTIES: FILING_DAYS (working days after the decision a major penalty has to be filed, default 10),
    MAJOR_FINE (a fine of at least this many yuan, per party kind, makes a penalty major), MAJOR_KINDS (kinds
    that always make it major)."""

    filing_days: int = DEFAULT_FILING_DAYS
    major_fine: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MAJOR_FINE))
    major_kinds: tuple[str, ...] = DEFAULT_MAJOR_KINDS

    @classmethod
    def from_config(cls, cfg: dict | None) -> PenaltyRules:
        cfg = cfg or {}
        if not isinstance(cfg, dict):
            raise RulesError("PENALTIES must be a mapping")
        unknown = set(cfg) - {"FILING_DAYS", "MAJOR_FINE", "MAJOR_KINDS"}
        if unknown:
            raise RulesError(f"PENALTIES: unknown keys {sorted(unknown)}")
        days = _whole(cfg.get("FILING_DAYS"), DEFAULT_FILING_DAYS, "PENALTIES.FILING_DAYS")
        if days < 1:
            raise RulesError(f"PENALTIES.FILING_DAYS must be at least 1, not {days}")
        fines = dict(DEFAULT_MAJOR_FINE)
        raw = cfg.get("MAJOR_FINE")
        if raw not in (None, ""):
            if not isinstance(raw, dict) or set(raw) - set(PARTY_KINDS):
                raise RulesError(f"PENALTIES.MAJOR_FINE maps party kinds ({', '.join(PARTY_KINDS)}) to yuan")
            for kind, value in raw.items():
                try:
                    fines[kind] = float(value)
                except (TypeError, ValueError):
                    raise RulesError(f"PENALTIES.MAJOR_FINE.{kind} must be a number of yuan, not {value!r}") from None
                if fines[kind] <= 0:
                    raise RulesError(f"PENALTIES.MAJOR_FINE.{kind} must be positive")
        kinds = cfg.get("MAJOR_KINDS")
        if kinds in (None, ""):
            kinds = DEFAULT_MAJOR_KINDS
        elif isinstance(kinds, str):
            kinds = tuple(k.strip() for k in kinds.split(",") if k.strip())
        if not isinstance(kinds, list | tuple) or set(kinds) - set(KINDS):
            raise RulesError(f"PENALTIES.MAJOR_KINDS must be penalty kinds among {', '.join(KINDS)}")
        return cls(filing_days=days, major_fine=fines, major_kinds=tuple(kinds))


def _whole(value, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise RulesError(f"{name} must be a whole number, not {value!r}") from None


def check_bands(kinds: Iterable[str], bands: Mapping[str, Mapping[str, float]] | None) -> str | None:
    """Why a basis's discretion bands do not hold together (None: they do): bands bound a fine, so the basis
    allows fines; each band's minimum is at most its maximum."""
    if not bands:
        return None
    if FINE not in kinds:
        return "bands bound a fine: the basis must allow fine / 裁量基准的金额幅度仅适用于罚款"
    for code, band in bands.items():
        if band["min"] > band["max"]:
            return f"{code}: min above max / {CIRCUMSTANCE_ZH.get(code, code)}的下限高于上限"
    return None


def major_reasons(rules: PenaltyRules, party_kind: str, kinds: Iterable[str], amount: float | None) -> list[str]:
    """Why a penalty is major (重大; empty: it is not): a kind that always is, or a fine at or above the threshold
    of its party kind."""
    reasons = [f"{KIND_ZH[k]}" for k in kinds if k in rules.major_kinds]
    threshold = rules.major_fine.get(party_kind)
    if amount is not None and threshold is not None and amount >= threshold:
        reasons.append(f"罚款{_yuan(amount)}元（不低于{_yuan(threshold)}元）")
    return reasons


def filing_due(calendar: WorkCalendar, decided_on: date, days: int) -> datetime:
    """The end (Asia/Shanghai) of the `days`-th working day after the decision's day (CalendarUnavailable past
    the known years): counting starts the day after, statutory holidays excluded."""
    return datetime.combine(calendar.add_working_days(decided_on, days), time.max, tzinfo=clock.TZ)


def party(kind: str, name: str) -> str:
    """The party as it is kept: an enterprise's name as given; a person's masked (张三 → 张*), never in full."""
    name = name.strip()
    return name if kind == "enterprise" else mask_name(name)


def party_in_events(kind: str, kept: str) -> str:
    """The party as events carry it: an enterprise's name; a person only as 个人."""
    return kept if kind == "enterprise" else PERSON_ZH


@dataclass(frozen=True)
class Irregularity:
    code: str
    description_zh: str
    facts: dict

    @property
    def severity(self) -> str:
        return SEVERITY[self.code]


def discretion_irregularities(basis: Mapping, kinds: Iterable[str], amount: float | None,
                              circumstance: str | None) -> list[Irregularity]:
    """What the discretion standard of `basis` (kinds, bands: circumstance → {min, max}) says of a penalty: a kind
    it does not allow or a fine outside its circumstance's range is `out_of_band` (one, naming each); a fine under a
    basis with bands and no circumstance stated is `no_circumstance`."""
    found: list[Irregularity] = []
    bands = basis.get("bands") or {}
    why, facts = [], {}
    foreign = [k for k in kinds if k not in basis["kinds"]]
    if foreign:
        why.append(f"依据{basis['code']}不设{'、'.join(KIND_ZH[k] for k in foreign)}")
        facts["kinds_not_allowed"] = foreign
    band = bands.get(circumstance) if circumstance else None
    if FINE in kinds and amount is not None and band is not None and not band["min"] <= amount <= band["max"]:
        why.append(f"罚款{_yuan(amount)}元超出{CIRCUMSTANCE_ZH[circumstance]}情节幅度"
                   f"（{_yuan(band['min'])}–{_yuan(band['max'])}元）")
        facts.update(band={"circumstance": circumstance, "min": band["min"], "max": band["max"]}, amount=amount)
    if why:
        found.append(Irregularity(OUT_OF_BAND, "；".join(why), facts))
    if FINE in kinds and bands and not circumstance:
        found.append(Irregularity(NO_CIRCUMSTANCE, f"依据{basis['code']}设有裁量基准，罚款{_yuan(amount)}元未说明"
                                                   f"违法情节（轻微/一般/严重）", {"amount": amount}))
    return found


def late_filing(filed_at: datetime, due: datetime, decided_on: date, days: int) -> Irregularity | None:
    """A major penalty filed after its limit (the end of the `days`-th working day after the decision)."""
    if filed_at <= due:
        return None
    return Irregularity(LATE_FILING, f"重大行政处罚于{decided_on:%Y年%m月%d日}决定，应在{days}个工作日内"
                                     f"（{due:%Y年%m月%d日}前）备案，实际于"
                                     f"{filed_at.astimezone(clock.TZ):%Y年%m月%d日}备案",
                        {"decided_on": decided_on.isoformat(), "filing_due_at": due.isoformat(),
                         "filed_at": filed_at.isoformat(), "filing_days": days})


def same_filing(row: Mapping, values: Mapping) -> bool:
    """Whether a filing repeats the stored one of its case number (a retry: answered with it)."""
    keys = ("party_kind", "party_name", "basis_code", "circumstance", "decided_on", "hearing_held")
    return all(row[k] == values[k] for k in keys) and sorted(row["kinds"]) == sorted(values["kinds"]) and (
        (row["amount"] is None and values["amount"] is None)
        or (row["amount"] is not None and values["amount"] is not None
            and abs(float(row["amount"]) - float(values["amount"])) < 0.005))


def conflict(case_no: str) -> IllegalTransition:
    return IllegalTransition(f"case {case_no} was filed already with other content",
                             f"案件编号{case_no}已备案，内容不同；如需更正请联系监察室")


def _yuan(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
