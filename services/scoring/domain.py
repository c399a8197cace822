"""The assessment rules (考核), pure: periods, the facts an event becomes, and metrics → composite → rank →
tiers → advanced units → efficiency-warning deductions → final. No database, no broker, no clock."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from services.kernel.clock import TZ

# -- periods ----------------------------------------------------------------------------------------

PERIOD_RE = re.compile(r"^(\d{4})(?:-(Q[1-4]|0[1-9]|1[0-2]))?$")
PERIOD_HELP = "a year (2026), a quarter (2026-Q3) or a month (2026-09)"


@dataclass(frozen=True)
class Period:
    text: str
    year: int
    months: tuple[int, ...]  # the months it covers, 1..12

    @property
    def kind(self) -> str:
        return "year" if len(self.months) == 12 else "quarter" if len(self.months) == 3 else "month"

    @property
    def start(self) -> datetime:
        return datetime.combine(date(self.year, self.months[0], 1), time(), TZ)

    @property
    def end(self) -> datetime:
        """The first moment after the period (Asia/Shanghai)."""
        last = self.months[-1]
        nxt = date(self.year + 1, 1, 1) if last == 12 else date(self.year, last + 1, 1)
        return datetime.combine(nxt, time(), TZ)

    def month_texts(self) -> list[str]:
        return [f"{self.year:04d}-{m:02d}" for m in self.months]

    def contains(self, other: Period) -> bool:
        return other.year == self.year and set(other.months) <= set(self.months)

    def label_zh(self) -> str:
        if self.kind == "year":
            return f"{self.year}年度"
        if self.kind == "quarter":
            return f"{self.year}年第{'一二三四'[self.months[0] // 3]}季度"
        return f"{self.year}年{self.months[0]}月"


def parse_period(text: str) -> Period:
    """ValueError with PERIOD_HELP when `text` is none of the three forms."""
    m = PERIOD_RE.match(text or "")
    if not m or not 2000 <= int(m.group(1)) <= 2099:
        raise ValueError(PERIOD_HELP + ", years 2000–2099")
    year, part = int(m.group(1)), m.group(2)
    if part is None:
        months = tuple(range(1, 13))
    elif part.startswith("Q"):
        q = int(part[1])
        months = (3 * q - 2, 3 * q - 1, 3 * q)
    else:
        months = (int(part),)
    return Period(text, year, months)


def month_of(moment: datetime) -> str:
    return f"{moment.astimezone(TZ):%Y-%m}"


# -- facts from events ------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewFact:
    department: str
    metric: str
    value: float
    ref: str | None = None  # what the fact is about, where another fact refers to it (a red card's alert id)
    detail: str | None = None  # shown in the breakdown (a warned person, a satisfaction level)


# The payload field holding the moment an event reports; else the common `at` (approvals' window actions carry
# it); else the envelope's occurred_at (appeals publishes its events with the moment they report).
MOMENT_FIELDS = {
    "appeal.received": "received_at",
    "monitor.warning": "raised_at", "monitor.yellow_card": "raised_at", "monitor.red_card": "raised_at",
    "monitor.supervision_overdue": "raised_at", "monitor.alert_resolved": "resolved_at",
    "monitor.supervision_ordered": "ordered_at", "project.milestone_missed": "raised_at",
}


def business_moment(event_type: str, payload: dict, occurred_at: datetime) -> datetime:
    """When what the event reports happened: its period is this moment's month (Asia/Shanghai)."""
    moment = payload.get(MOMENT_FIELDS[event_type]) if event_type in MOMENT_FIELDS else None
    return moment or payload.get("at") or occurred_at


def _flag(b) -> float:
    return 1.0 if b else 0.0


def facts_of(event_type: str, p: dict) -> list[NewFact]:
    """The facts one event becomes (none for events assessment does not count). Rates get a 0/1 fact beside
    the count, so that numerator and denominator come from the same events."""
    dept = p.get("department")
    one = 1.0
    if event_type == "efficiency_warning.issued":
        who = f"个人：{p['person']}" if p.get("person") else "单位"
        return [NewFact(p["unit"], "efficiency_warnings", one, p.get("warning_id"), who)]
    if event_type == "complaint.finding_recorded":
        subject = p.get("subject_department")
        return [NewFact(subject, "complaints_upheld", one)] if subject and p.get("finding") == "upheld" else []
    if event_type == "project.milestone_missed":
        return [NewFact(p["responsible_unit"], "milestones_missed", one, p.get("alert_id"), p.get("milestone"))]
    if not dept:
        return []
    simple = {
        "appeal.received": "appeals_received", "appeal.returned": "appeals_returned",
        "appeal.overdue": "appeals_overdue", "appeal.urged": "appeals_urged",
        "appeal.supervised": "appeals_supervised", "appeal.escalated": "appeals_escalated",
        "application.submitted": "approvals_submitted", "monitor.warning": "approval_warnings",
        "monitor.yellow_card": "yellow_cards", "monitor.supervision_ordered": "approvals_supervised",
        "monitor.supervision_overdue": "supervision_overdue",
    }
    if event_type in simple:
        return [NewFact(dept, simple[event_type], one, p.get("alert_id") or p.get("appeal_id"))]
    if event_type == "appeal.accepted":
        return [NewFact(dept, "appeals_accepted", one, p.get("appeal_id")),
                NewFact(dept, "appeals_accepted_in_time", _flag(p.get("in_time")), p.get("appeal_id"))]
    if event_type == "appeal.replied":
        return [NewFact(dept, "appeals_replied", one, p.get("appeal_id")),
                NewFact(dept, "appeals_replied_in_time", _flag(p.get("in_time")), p.get("appeal_id"))]
    if event_type == "appeal.callback_recorded":
        satisfied = p.get("satisfaction") in ("satisfied", "basically_satisfied")
        return [NewFact(dept, "callbacks", one, p.get("appeal_id"), p.get("satisfaction")),
                NewFact(dept, "callbacks_resolved", _flag(p.get("resolved")), p.get("appeal_id")),
                NewFact(dept, "callbacks_satisfied", _flag(satisfied), p.get("appeal_id"))]
    if event_type == "application.decided":
        if p.get("in_time") is None:  # the calendar could not say: not counted either way
            return [NewFact(dept, "approvals_decided_unclocked", one, p.get("application_id"))]
        return [NewFact(dept, "approvals_decided", one, p.get("application_id")),
                NewFact(dept, "approvals_decided_in_time", _flag(p["in_time"]), p.get("application_id")),
                NewFact(dept, "approvals_overdue", _flag(not p["in_time"]), p.get("application_id"))]
    if event_type == "monitor.red_card":
        return [NewFact(dept, "red_cards", one, p["alert_id"])]
    if event_type == "monitor.irregularity":
        return [NewFact(dept, "irregularities", one, p.get("alert_id"), p.get("code"))]
    if event_type == "monitor.alert_resolved" and p.get("level") == "red":
        return [NewFact(dept, "red_cards_resolved", one, p["alert_id"])]
    return []


# Every event type the service consumes, by producer (service.py subscribes to each).
CONSUMED = {
    "appeals": ("appeal.received", "appeal.accepted", "appeal.returned", "appeal.replied", "appeal.callback_recorded",
                "appeal.overdue", "appeal.urged", "appeal.supervised", "appeal.escalated",
                "complaint.finding_recorded", "efficiency_warning.issued"),
    "approvals": ("application.submitted", "application.decided", "monitor.warning", "monitor.yellow_card",
                  "monitor.red_card", "monitor.irregularity", "monitor.alert_resolved",
                  "monitor.supervision_ordered", "monitor.supervision_overdue", "project.milestone_missed"),
}

# Chinese labels of the metrics (facts) for the breakdown and the report.
METRIC_LABELS = {
    "appeals_received": "受理诉求", "appeals_accepted": "签收", "appeals_accepted_in_time": "按时签收",
    "appeals_replied": "答复", "appeals_replied_in_time": "按时答复", "callbacks": "回访",
    "callbacks_resolved": "回访已解决", "callbacks_satisfied": "回访满意（含基本满意）",
    "appeals_returned": "退回", "appeals_overdue": "诉求超期", "appeals_urged": "催办",
    "appeals_supervised": "诉求督办", "appeals_escalated": "超期升级（通报）", "complaints_upheld": "投诉查实",
    "efficiency_warnings": "效能告诫", "approvals_submitted": "审批申请", "approvals_decided": "审批办结",
    "approvals_decided_in_time": "按时办结", "approvals_overdue": "超期办结",
    "approvals_decided_unclocked": "办结（无法计时）", "approval_warnings": "预警", "yellow_cards": "黄牌",
    "red_cards": "红牌", "red_cards_resolved": "红牌整改销号", "irregularities": "纠错（违规）",
    "approvals_supervised": "审批督办", "supervision_overdue": "督办逾期", "milestones_missed": "重点项目节点逾期",
    "evaluations": "企业评议（份）", "evaluation_score": "企业评议得分合计", "visit_findings": "暗访发现问题",
    "visits_overdue": "暗访问题逾期未销号", "adjustment": "人工调整", "criticisms": "通报批评",
}


# -- the rules --------------------------------------------------------------------------------------

class RulesError(ValueError):
    pass


@dataclass(frozen=True)
class MetricRule:
    code: str
    label_zh: str
    weight: float
    kind: str  # rate | average | penalty
    numerator: str | None = None
    denominator: str | None = None
    sum: str | None = None
    count: str | None = None
    points: dict[str, float] = field(default_factory=dict)

    def score(self, totals: dict[str, float]) -> float | None:
        """0..100, or None when it does not apply (nothing to count)."""
        if self.kind == "rate":
            d = totals.get(self.denominator, 0.0)
            return None if d <= 0 else 100.0 * totals.get(self.numerator, 0.0) / d
        if self.kind == "average":
            n = totals.get(self.count, 0.0)
            return None if n <= 0 else totals.get(self.sum, 0.0) / n
        return max(0.0, 100.0 - sum(p * totals.get(m, 0.0) for m, p in self.points.items()))

    def inputs(self) -> list[str]:
        if self.kind == "rate":
            return [self.numerator, self.denominator]
        if self.kind == "average":
            return [self.sum, self.count]
        return list(self.points)


@dataclass(frozen=True)
class Rules:
    version: str
    name_zh: str
    metrics: tuple[MetricRule, ...]
    tier_bonuses: tuple[float, float, float] = (1.0, 0.75, 0.5)
    tier_labels: tuple[str, str, str] = ("一档", "二档", "三档")
    advanced_count: int = 10
    advanced_bonus: float = 0.2
    warning_deduction: float = 0.5
    list_size: int = 5

    @classmethod
    def load(cls, path: str | Path) -> Rules:
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(yaml.safe_load(fh) or {}, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "rules") -> Rules:
        try:
            metrics = []
            for m in data["metrics"]:
                kind = m["kind"]
                if kind not in ("rate", "average", "penalty"):
                    raise RulesError(f"{source}: metric {m.get('code')}: kind must be rate, average or penalty")
                if float(m["weight"]) < 0:
                    raise RulesError(f"{source}: metric {m['code']}: weight must not be negative")
                metrics.append(MetricRule(
                    code=m["code"], label_zh=m["label_zh"], weight=float(m["weight"]), kind=kind,
                    numerator=m.get("numerator"), denominator=m.get("denominator"), sum=m.get("sum"),
                    count=m.get("count"), points={k: float(v) for k, v in (m.get("points") or {}).items()}))
                if kind == "rate" and not (m.get("numerator") and m.get("denominator")):
                    raise RulesError(f"{source}: rate {m['code']} needs numerator and denominator")
                if kind == "average" and not (m.get("sum") and m.get("count")):
                    raise RulesError(f"{source}: average {m['code']} needs sum and count")
            tiers = data.get("tiers") or [{"label_zh": "一档", "bonus": 1.0}, {"label_zh": "二档", "bonus": 0.75},
                                          {"label_zh": "三档", "bonus": 0.5}]
            if len(tiers) != 3:
                raise RulesError(f"{source}: exactly three tiers (三档)")
            adv = data.get("advanced_units") or {}
            return cls(
                version=str(data["version"]), name_zh=data.get("name_zh", ""), metrics=tuple(metrics),
                tier_bonuses=tuple(float(t["bonus"]) for t in tiers), tier_labels=tuple(t["label_zh"] for t in tiers),
                advanced_count=int(adv.get("count", 10)), advanced_bonus=float(adv.get("bonus", 0.2)),
                warning_deduction=float((data.get("efficiency_warning") or {}).get("deduction", 0.5)),
                list_size=int((data.get("red_black_lists") or {}).get("size", 5)))
        except (KeyError, TypeError) as exc:
            raise RulesError(f"{source}: incomplete rule file ({exc})") from None


# -- the ranking ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Department:
    code: str
    name: str = ""
    approval_functions: bool = False
    enforcement_functions: bool = False
    tier: str = "city"

    @property
    def may_be_advanced(self) -> bool:
        return self.approval_functions or self.enforcement_functions


def _r(x: float, places: int = 2) -> float:
    # rounded half up on the decimal value (not on the binary float), so 0.125 → 0.13 as a person would
    return float(f"{math.floor(x * 10**places + 0.5 + 1e-9) / 10**places:.{places}f}")


def composite_of(rules: Rules, totals: dict[str, float]) -> tuple[float, dict[str, float | None]]:
    scores = {m.code: m.score(totals) for m in rules.metrics}
    applicable = [(m.weight, scores[m.code]) for m in rules.metrics if scores[m.code] is not None]
    weight = sum(w for w, _ in applicable)
    composite = sum(w * s for w, s in applicable) / weight if weight else 0.0
    return _r(composite), {k: None if v is None else _r(v) for k, v in scores.items()}


def tier_of(rank: int, n: int) -> int:
    if rank <= math.ceil(n / 3):
        return 1
    return 2 if rank <= math.ceil(2 * n / 3) else 3


def rank(departments: list[Department], totals: dict[str, dict[str, float]], rules: Rules,
         disqualified: dict[str, list[str]] | None = None,
         adjustments: dict[str, float] | None = None) -> list[dict]:
    """One row per department, best first. `totals[dept][metric]`: the period's sums of its facts;
    `disqualified[dept]`: why it may not be an advanced unit (通报批评, an unresolved red card)."""
    disqualified = disqualified or {}
    adjustments = adjustments or {}
    rows = []
    for d in departments:
        t = totals.get(d.code, {})
        composite, scores = composite_of(rules, t)
        rows.append({"department": d.code, "name": d.name, "group": d.tier, "composite": composite,
                     "metrics": scores, "_dept": d})
    rows.sort(key=lambda r: (-r["composite"], r["department"]))
    n = len(rows)
    for i, row in enumerate(rows):
        # competition ranking: tied departments share the better rank, so they share the better tier
        row["rank"] = 1 + sum(1 for other in rows[:i] if other["composite"] > row["composite"])
        row["tier"] = tier_of(row["rank"], n)
        row["tier_label"] = rules.tier_labels[row["tier"] - 1]
    # 先进单位: the best departments with approval or enforcement functions, skipping the disqualified (the
    # next one moves up); departments tied with the last one named are named too
    named, last = 0, None
    for row in rows:
        d = row.pop("_dept")
        reasons = disqualified.get(d.code, [])
        row["disqualified"] = bool(reasons)
        row["disqualification"] = list(reasons)
        row["advanced_unit"] = False
        if not d.may_be_advanced or reasons:
            continue
        if named < rules.advanced_count or (last is not None and row["composite"] == last):
            row["advanced_unit"] = True
            named += 1
            last = row["composite"]
    for row in rows:
        t = totals.get(row["department"], {})
        warnings = int(round(t.get("efficiency_warnings", 0.0)))
        tier_bonus = rules.tier_bonuses[row["tier"] - 1]
        row["tier_bonus"] = tier_bonus
        row["bonus"] = _r(tier_bonus + (rules.advanced_bonus if row["advanced_unit"] else 0.0))
        row["efficiency_warnings"] = warnings
        row["deduction"] = _r(rules.warning_deduction * warnings)
        row["adjustment"] = _r(adjustments.get(row["department"], 0.0))
        row["final"] = _r(row["bonus"] - row["deduction"] + row["adjustment"])
    return rows


def red_black_lists(rows: list[dict], size: int) -> dict[str, list[dict]]:
    """红榜 the best `size`, 黑榜 the worst `size` (worst first); ties at the edge are listed too."""
    red = [r for r in rows if r["rank"] <= size]
    black = [r for r in reversed(rows) if 1 + sum(1 for o in rows if o["composite"] < r["composite"]) <= size]
    return {"red": red, "black": black}


def unresolved_red_cards(cards: list[tuple[str, str, datetime]], resolutions: dict[str, datetime],
                         as_of: datetime) -> dict[str, list[str]]:
    """Red cards raised in a period (department, alert id, raised) still unresolved at `as_of`, per department."""
    out: dict[str, list[str]] = {}
    for dept, ref, _raised in cards:
        resolved = resolutions.get(ref)
        if resolved is None or resolved > as_of:
            out.setdefault(dept, []).append(ref)
    return out


def end_of(period: Period, now: datetime) -> datetime:
    """The moment a period's state is judged at: its end, or now while it runs."""
    return min(period.end - timedelta(microseconds=1), now)
