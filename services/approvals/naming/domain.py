"""The rules of the satisfied windows (pure): periods (a year, a half, a quarter), the standard (创建标准) and its
verdict on a window's figures, and which quarter a re-check (复查) covers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from services.kernel import clock

TITLE_ZH = "群众满意窗口"
# the standard's criteria, in the order they are shown
CRITERIA = ("reviews", "satisfaction", "red_cards", "complaints", "on_time")
DEFAULTS = {
    "reviews": (20, "评价数量不少于 {value} 件"),
    "satisfaction": (95, "满意率不低于 {value}%（非常满意、满意、基本满意占全部评价）"),
    "red_cards": (0, "办件红牌警告不超过 {value} 次"),
    "complaints": (0, "所属单位查实的效能投诉不超过 {value} 件"),
    "on_time": (98, "按时办结率不低于 {value}%"),
}
TITLE_STATES = ("active", "revoked")
TITLE_STATE_ZH = {"active": "有效", "revoked": "已撤销"}
_PERIOD = re.compile(r"^(\d{4})(?:-(H[12]|Q[1-4]))?$")


class RulesError(ValueError):
    """The rule file is not usable (read at start: the service does not start on it)."""


@dataclass(frozen=True)
class Period:
    """A year (2026), a half (2026-H1) or a quarter (2026-Q3), in Asia/Shanghai: [start, end)."""

    code: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=clock.TZ)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=clock.TZ)

    @classmethod
    def parse(cls, code: str) -> Period:
        """ValueError unless `code` is 2026, 2026-H1/H2 or 2026-Q1..Q4 (years 2000-2100)."""
        m = _PERIOD.match(code or "")
        if m is None or not 2000 <= int(m.group(1)) <= 2100:
            raise ValueError("a year (2026), a half (2026-H1, 2026-H2) or a quarter (2026-Q1 … 2026-Q4)")
        year, part = int(m.group(1)), m.group(2)
        if part is None:
            first_month, months = 1, 12
        elif part[0] == "H":
            first_month, months = 1 + 6 * (int(part[1]) - 1), 6
        else:
            first_month, months = 1 + 3 * (int(part[1]) - 1), 3
        return cls(code, date(year, first_month, 1), _month_end(year, first_month + months - 1))

    @classmethod
    def quarter_of(cls, day: date) -> Period:
        return cls.parse(f"{day.year}-Q{(day.month - 1) // 3 + 1}")


def _month_end(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def last_quarter(now: datetime) -> Period:
    """The last quarter that has ended at `now` (Asia/Shanghai): the one a re-check at `now` covers."""
    current = Period.quarter_of(now.astimezone(clock.TZ).date())
    return Period.quarter_of(current.first - timedelta(days=1))


@dataclass(frozen=True)
class Criterion:
    key: str
    value: float
    label: str  # Chinese, with {value}

    @property
    def label_zh(self) -> str:
        value = int(self.value) if float(self.value).is_integer() else self.value
        return self.label.format(value=value)


@dataclass(frozen=True)
class Standard:
    """The standard (创建标准): minimum reviews, minimum satisfaction rate (%), maximum red cards, maximum upheld
    efficiency complaints against the window's department, minimum on-time rate (%), each with its Chinese label."""

    criteria: tuple[Criterion, ...]

    def __getitem__(self, key: str) -> Criterion:
        return next(c for c in self.criteria if c.key == key)

    @classmethod
    def default(cls) -> Standard:
        return cls.from_config(None)

    @classmethod
    def from_config(cls, cfg: dict | None) -> Standard:
        """`standard:` of the rule file: per criterion `{value, label}` (either may be left out: the default)."""
        cfg = cfg or {}
        if not isinstance(cfg, dict):
            raise RulesError("standard: a mapping of criteria")
        unknown = set(cfg) - set(CRITERIA)
        if unknown:
            raise RulesError(f"standard: unknown criteria {sorted(unknown)} (known: {', '.join(CRITERIA)})")
        criteria = []
        for key in CRITERIA:
            value, label = DEFAULTS[key]
            own = cfg.get(key) or {}
            if not isinstance(own, dict):
                raise RulesError(f"standard.{key}: a mapping with value and label")
            value = own.get("value", value)
            label = own.get("label", label)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise RulesError(f"standard.{key}.value must be a number ≥ 0, not {value!r}")
            if key in ("satisfaction", "on_time") and value > 100:
                raise RulesError(f"standard.{key}.value is a percentage (0-100), not {value!r}")
            if not isinstance(label, str) or not label.strip():
                raise RulesError(f"standard.{key}.label must be a Chinese text")
            try:
                label.format(value=value)
            except (KeyError, IndexError, ValueError):
                raise RulesError(f"standard.{key}.label: only {{value}} may be filled in, not {label!r}") from None
            criteria.append(Criterion(key, value, label))
        return cls(tuple(criteria))


@dataclass(frozen=True)
class Figures:
    """A window's record over a period: reviews by the level they count with, the red cards' alert ids, the
    upheld efficiency complaints against its department (references), decided applications and those in time.
    `department` None: a comprehensive window (综合窗口), which belongs to no department."""

    levels: dict[str, int]
    red_cards: tuple[int, ...]
    complaints: tuple[str, ...]
    decided: int
    in_time: int
    department: str | None = None


GOOD = ("very_satisfied", "satisfied", "basically_satisfied")


def rate(part: int, whole: int) -> float | None:
    return None if not whole else round(100.0 * part / whole, 2)


def verdict(standard: Standard, f: Figures) -> list[dict]:
    """Per criterion, in order: met or not, with its threshold, its label and the evidence (counts, rate, ids)."""
    total = sum(f.levels.values())
    good = sum(f.levels.get(level, 0) for level in GOOD)
    satisfaction = rate(good, total)
    on_time = rate(f.in_time, f.decided)
    out = []
    for c in standard.criteria:
        if c.key == "reviews":
            met, evidence = total >= c.value, {"reviews": total}
        elif c.key == "satisfaction":
            met = satisfaction is not None and satisfaction >= c.value
            evidence = {"rate": satisfaction, "satisfied": good, "reviews": total, "levels": dict(f.levels)}
        elif c.key == "red_cards":
            met, evidence = len(f.red_cards) <= c.value, {"count": len(f.red_cards), "alert_ids": list(f.red_cards)}
        elif c.key == "complaints":
            met = len(f.complaints) <= c.value
            evidence = {"count": len(f.complaints), "references": list(f.complaints), "department": f.department}
        else:
            met = on_time is not None and on_time >= c.value
            evidence = {"rate": on_time, "decided": f.decided, "in_time": f.in_time}
        out.append({"criterion": c.key, "label_zh": c.label_zh, "threshold": c.value, "met": met,
                    "evidence": evidence})
    return out


def failing(criteria: list[dict]) -> list[str]:
    return [c["criterion"] for c in criteria if not c["met"]]
