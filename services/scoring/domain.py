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
from services.kernel.workcal import CalendarUnavailable, WorkCalendar

# -- periods ----------------------------------------------------------------------------------------

# the rule file shipped beside this module: RULES_FILE names another
DEFAULT_RULES = Path(__file__).with_name("rules.yaml")


def rules_path(cfg) -> Path | str:
    """The rule file a service config names (RULES_FILE), else the shipped one: read by the ranking and by the
    sanctions register (its `sanctions:` section), so both read the same file."""
    return cfg.get("RULES_FILE") or DEFAULT_RULES


PERIOD_RE = re.compile(r"^(\d{4})(?:-(Q[1-4]|H[12]|0[1-9]|1[0-2]))?$")
PERIOD_HELP = "a year (2026), a half-year (2026-H1, 2026-H2), a quarter (2026-Q3) or a month (2026-09)"
PERIOD_HELP_ZH = "考核期间格式应为 2026（年度）、2026-H1 / 2026-H2（半年）、2026-Q3（季度）或 2026-09（月）"
KINDS = {12: "year", 6: "half", 3: "quarter", 1: "month"}


@dataclass(frozen=True)
class Period:
    text: str
    year: int
    months: tuple[int, ...]  # the months it covers, 1..12

    @property
    def kind(self) -> str:
        """year, half (半年点评: H1 January–June, H2 July–December), quarter or month."""
        return KINDS[len(self.months)]

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

    def parts(self) -> list[str]:
        """The texts of every period inside this one, itself included (the fact periods that count in it)."""
        y, months = self.year, set(self.months)
        halves = [f"{y:04d}-H{h}" for h in (1, 2) if set(range(6 * h - 5, 6 * h + 1)) <= months]
        quarters = [f"{y:04d}-Q{q}" for q in range(1, 5) if set(range(3 * q - 2, 3 * q + 1)) <= months]
        return ([f"{y:04d}"] if len(months) == 12 else []) + halves + quarters + self.month_texts()

    def label_zh(self) -> str:
        if self.kind == "year":
            return f"{self.year}年度"
        if self.kind == "half":
            return f"{self.year}年{'上' if self.months[0] == 1 else '下'}半年"
        if self.kind == "quarter":
            return f"{self.year}年第{'一二三四'[self.months[0] // 3]}季度"
        return f"{self.year}年{self.months[0]}月"


def parse_period(text: str) -> Period:
    """ValueError with PERIOD_HELP when `text` is none of the four forms."""
    m = PERIOD_RE.match(text or "")
    if not m or not 2000 <= int(m.group(1)) <= 2099:
        raise ValueError(PERIOD_HELP + ", years 2000–2099")
    year, part = int(m.group(1)), m.group(2)
    if part is None:
        months = tuple(range(1, 13))
    elif part.startswith("Q"):
        q = int(part[1])
        months = (3 * q - 2, 3 * q - 1, 3 * q)
    elif part.startswith("H"):
        months = tuple(range(1, 7)) if part == "H1" else tuple(range(7, 13))
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
    "project.self_check_missing": "raised_at", "project.inspection_recorded": "inspected_at",
    "enforcement.irregularity": "raised_at",
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
        return ([NewFact(subject, "complaints_upheld", one, p.get("appeal_id"))]
                if subject and p.get("finding") == "upheld" else [])
    if event_type == "project.milestone_missed":
        return [NewFact(p["responsible_unit"], "milestones_missed", one, p.get("alert_id"), p.get("milestone"))]
    if event_type == "enforcement.irregularity":
        # enforcement under the monitor (#17): a major penalty filed late (重大行政处罚备案逾期) apart from the rest
        metric = "penalties_filed_late" if p.get("code") == "late_filing" else "enforcement_irregularities"
        return [NewFact(p["department"], metric, one, p.get("alert_id"), p.get("code"))]
    if event_type == "project.self_check_missing":
        # the lead unit's (the first responsible unit, whom approvals raises the alert on)
        units = p.get("responsible_units") or []
        return [NewFact(units[0], "self_checks_missing", one, p.get("alert_id"), p.get("period"))] if units else []
    if event_type == "project.inspection_recorded":
        # 重点督察: each problem found costs the lead unit; an inspection that found none is no fact
        found = float(p.get("findings_count") or 0)
        return [NewFact(p["department"], "inspection_findings", found, p.get("inspection_id"),
                        f"{p.get('project_code')} {p.get('quarter')}")] if found else []
    if event_type == "appeal.return_reviewed":
        # 退单审核: only a rejected return (the case goes back) was unjustified and costs the returning department
        metric = "appeals_returned_rejected" if p.get("decision") == "rejected" else "appeals_returned_approved"
        return [NewFact(p["returned_by"], metric, one, p.get("appeal_id"))] if p.get("returned_by") else []
    if not dept:
        return []
    if event_type == "appeal.acceptance_overdue":
        # one dispatch not signed for in time; `detail` keeps the dispatch it is about (late_acceptances_paired)
        dispatched = p.get("dispatched_at")
        return [NewFact(dept, "appeals_acceptance_overdue", one, p.get("appeal_id"),
                        dispatched.isoformat() if isinstance(dispatched, datetime) else dispatched)]
    simple = {
        "appeal.received": "appeals_received", "appeal.dispatched": "appeals_dispatched",
        "appeal.returned": "appeals_returned",
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
    if event_type == "review.recorded":
        # 好差评: an application counts once, with its final level. The first review counts at once (reviews 1,
        # reviews_satisfied 1/0); only a bad first review can be re-reviewed, so the re-review brings no second
        # `reviews` and corrects the 0 it left in reviews_satisfied (1 when now good), in the first review's period
        # (its `at`). No voiding: the sums are those of the final reviews whatever the order of arrival.
        good = _flag(p.get("level") in ("very_satisfied", "satisfied", "basically_satisfied"))
        ref = p.get("application_id")
        if p.get("round") == 2:
            return [NewFact(dept, "reviews_satisfied", good, ref, f"复评：{p.get('level')}")]
        return [NewFact(dept, "reviews", one, ref, p.get("level")),
                NewFact(dept, "reviews_satisfied", good, ref, p.get("level"))]
    return []


# Every event type the service consumes, by producer (service.py subscribes to each).
CONSUMED = {
    "appeals": ("appeal.received", "appeal.dispatched", "appeal.accepted", "appeal.acceptance_overdue",
                "appeal.returned", "appeal.return_reviewed", "appeal.replied", "appeal.callback_recorded",
                "appeal.overdue", "appeal.urged", "appeal.supervised", "appeal.escalated",
                "complaint.finding_recorded", "efficiency_warning.issued"),
    "approvals": ("application.submitted", "application.decided", "monitor.warning", "monitor.yellow_card",
                  "monitor.red_card", "monitor.irregularity", "monitor.alert_resolved",
                  "monitor.supervision_ordered", "monitor.supervision_overdue", "project.milestone_missed",
                  "project.self_check_missing", "project.inspection_recorded", "review.recorded",
                  "enforcement.irregularity"),
}

# The appeals events whose facts are the appeal's own (their ref is its id): void with the appeal (appeal.voided).
# An efficiency warning is a sanction of its own (its ref is the warning), not the appeal's.
APPEAL_SOURCES = tuple(t for t in CONSUMED["appeals"] if t != "efficiency_warning.issued")
VOIDED_APPEAL = "appeal.voided"
# An appeal merged into the main case of the same matter (合并) is counted through the main case: its volume facts
# stop counting (else one matter is two in the received count and in the dispatched sample of 诉求办理规范), while
# what happened on it (signed for in time or late, overdue, urged...) did happen and keeps counting.
MERGED_APPEAL = "appeal.merged"
MERGED = "merged"  # the voiding's kind (voided_appeals.kind, the facts' void_cause)
MERGED_VOIDS = ("appeal.received", "appeal.dispatched")


def merged_reason(main_case_no: str, reason: str) -> str:
    """Why a merged appeal's volume facts no longer count, as the breakdown shows it: the main case first."""
    return f"并入主件 {main_case_no}：{reason}"


# -- corrections (更正) of the assessment office's own inputs ----------------------------------------

# what may be corrected of each input (the rest: void it and enter it again); a visit's moment decides its period
# and its rectification clock, so a wrong visited_at is voided and entered again
CORRECTABLE = {
    "evaluation": ("enterprise", "department", "period", "scores"),
    "visit": ("department", "point_code", "finding", "due_at"),
    "criticism": ("department", "issued_at", "document", "reason"),
    "adjustment": ("department", "period", "value", "reason", "approved_by"),
}
CORRECTION_KINDS = tuple(CORRECTABLE)
CORRECTION_ACTIONS = ("void", "correct")
KIND_ZH = {"evaluation": "企业评议", "visit": "暗访发现问题", "criticism": "通报批评", "adjustment": "人工调整"}


def evaluation_score(scores: dict[str, float]) -> float:
    """An evaluation's score: the mean of its criteria."""
    return round(sum(scores.values()) / len(scores), 4)


def item_facts(kind: str, item: dict) -> tuple[str, dict[str, float], datetime, str | None, str | None]:
    """What an own input counts as in the ledger: (fact period, {metric: value}, at, ref, detail)."""
    if kind == "evaluation":
        return (item["period"], {"evaluations": 1.0, "evaluation_score": evaluation_score(item["scores"])},
                item["recorded_at"], None, item["enterprise"][:200])
    if kind == "visit":
        return month_of(item["visited_at"]), {"visit_findings": 1.0}, item["visited_at"], str(item["id"]), None
    if kind == "criticism":
        return (month_of(item["issued_at"]), {"criticisms": 1.0}, item["issued_at"], item["document"][:100],
                item["reason"][:200])
    return (item["period"], {"adjustment": float(item["value"])}, item["recorded_at"], item["approved_by"][:100],
            item["reason"][:200])


def touched_periods(kind: str, item: dict) -> set[str]:
    """The periods an input's facts belong to, and for a visit the month its due time falls in (its overdue is
    judged in that period)."""
    out = {item_facts(kind, item)[0]}
    if kind == "visit":
        out.add(month_of(item["due_at"]))
    return out


# -- objections (申诉) -------------------------------------------------------------------------------

OBJECTION_STATES = ("open", "upheld", "rejected")
DECISIONS = {"uphold": "upheld", "reject": "rejected"}


def open_at(objection: dict, moment: datetime) -> bool:
    """Lodged by `moment` and not decided by then."""
    decided = objection.get("decided_at")
    return objection["lodged_at"] <= moment and (decided is None or decided > moment)


# -- rectification of visit findings (整改) ---------------------------------------------------------

# pending: no report yet · submitted: a report waits for the assessor · accepted: the finding was closed out with
# it · returned: sent back with a reason, the department submits again · closed: closed out otherwise
RECTIFICATION_STATES = ("pending", "submitted", "accepted", "returned", "closed")
RECTIFICATION_WAITING = ("pending", "returned")  # the department's move: its clock runs
RECTIFICATION_ZH = {"pending": "待整改", "submitted": "待审核", "accepted": "已采纳销号", "returned": "已退回",
                    "closed": "已销号"}
DEFAULT_RECTIFICATION_DAYS = 10


def rectification_due(calendar: WorkCalendar, visited_at: datetime, days: int) -> tuple[datetime | None, str | None]:
    """The end of the `days`-th working day after the visit's day (the first instant after it), or (None, why)
    when the calendar has no schedule for a year it runs into: said, not guessed."""
    try:
        last = calendar.add_working_days(visited_at.astimezone(TZ), days)
    except CalendarUnavailable as exc:
        return None, str(exc)
    return datetime.combine(last + timedelta(days=1), time(), TZ), None


def rectification_step(state: str, act: str) -> str:
    """The state after `act` (submit, accept, return, close) from `state`; ValueError when not allowed now."""
    allowed = {"submit": ("pending", "returned"), "accept": ("submitted",), "return": ("submitted",),
               "close": ("pending", "submitted", "returned")}
    if state not in allowed[act]:
        raise ValueError(state)
    return {"submit": "submitted", "accept": "accepted", "return": "returned", "close": "closed"}[act]


def rectification_overdue(state: str, due_at: datetime | None, overdue_at: datetime | None, now: datetime) -> bool:
    """Newly overdue: its due time has passed with the department's move still waiting, not said before."""
    return overdue_at is None and due_at is not None and due_at <= now and state in RECTIFICATION_WAITING


# Chinese labels of the metrics (facts) for the breakdown and the report.
METRIC_LABELS = {
    "reviews": "好差评（件）", "reviews_satisfied": "好差评满意（非常满意、满意、基本满意）",
    "appeals_received": "受理诉求", "appeals_dispatched": "派至本单位（件次）", "appeals_accepted": "签收",
    "appeals_accepted_in_time": "按时签收", "appeals_acceptance_overdue": "逾期未签收（派单次）",
    "appeals_response_late": "超时响应（每次派单计一次）", "appeals_response_due": "应响应（按时签收＋超时响应）",
    "appeals_returned_rejected": "退回被驳回（不当退回）", "appeals_returned_approved": "退回经审核同意",
    "appeals_replied": "答复", "appeals_replied_in_time": "按时答复", "callbacks": "回访",
    "callbacks_resolved": "回访已解决", "callbacks_satisfied": "回访满意（含基本满意）",
    "appeals_returned": "退回（仅统计，审核后计分）", "appeals_overdue": "诉求超期", "appeals_urged": "催办",
    "appeals_supervised": "诉求督办", "appeals_escalated": "超期升级（通报）", "complaints_upheld": "投诉查实",
    "efficiency_warnings": "效能告诫", "approvals_submitted": "审批申请", "approvals_decided": "审批办结",
    "approvals_decided_in_time": "按时办结", "approvals_overdue": "超期办结",
    "approvals_decided_unclocked": "办结（无法计时）", "approval_warnings": "预警", "yellow_cards": "黄牌",
    "red_cards": "红牌", "red_cards_resolved": "红牌整改销号", "irregularities": "纠错（违规）",
    "approvals_supervised": "审批督办", "supervision_overdue": "督办逾期", "milestones_missed": "重点项目节点逾期",
    "self_checks_missing": "重点项目月度自查未报", "inspection_findings": "重点督察发现问题",
    "enforcement_irregularities": "执法监督违规", "penalties_filed_late": "重大行政处罚备案逾期",
    "evaluations": "企业评议（份）", "evaluation_score": "企业评议得分合计", "visit_findings": "暗访发现问题",
    "visits_overdue": "暗访问题逾期未销号", "adjustment": "人工调整", "criticisms": "通报批评",
}


# -- the rules --------------------------------------------------------------------------------------

class RulesError(ValueError):
    pass


# What a metric's score is for one department: counted with enough data, counted below its minimum sample
# because a deduction happened (a penalty is never dropped for lack of sample), or not enough data (数据不足).
SCORED, PENALISED, INSUFFICIENT = "scored", "penalised", "insufficient"
STATUS_ZH = {SCORED: "计入", PENALISED: "样本不足，但已发生扣分事项，计入", INSUFFICIENT: "数据不足，不计入"}


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
    # the minimum sample: the metric counts for a department only when the sum of its `basis` facts reaches it
    min_sample: float = 0.0
    basis: tuple[str, ...] = ()
    basis_label_zh: str = ""
    shown: tuple[str, ...] = ()  # further facts shown beside the inputs in the breakdown (not computed with)

    def score(self, totals: dict[str, float]) -> float | None:
        """0..100, or None when it does not apply (nothing to count)."""
        if self.kind == "rate":
            d = totals.get(self.denominator, 0.0)
            return None if d <= 0 else 100.0 * totals.get(self.numerator, 0.0) / d
        if self.kind == "average":
            n = totals.get(self.count, 0.0)
            return None if n <= 0 else totals.get(self.sum, 0.0) / n
        return max(0.0, 100.0 - self.deducted(totals))

    def deducted(self, totals: dict[str, float]) -> float:
        return sum(p * totals.get(m, 0.0) for m, p in self.points.items())

    def sample(self, totals: dict[str, float]) -> float:
        return sum(totals.get(b, 0.0) for b in self.basis)

    def status(self, totals: dict[str, float]) -> str:
        """SCORED, PENALISED or INSUFFICIENT (see STATUS_ZH). A rate or an average with nothing to count is
        insufficient whatever its minimum."""
        if self.kind != "penalty" and self.score(totals) is None:
            return INSUFFICIENT
        if not self.basis or self.sample(totals) >= self.min_sample:
            return SCORED
        return PENALISED if self.kind == "penalty" and self.deducted(totals) > 0 else INSUFFICIENT

    def inputs(self) -> list[str]:
        if self.kind == "rate":
            own = [self.numerator, self.denominator]
        elif self.kind == "average":
            own = [self.sum, self.count]
        else:
            own = list(self.points)
        return own + [m for m in (*self.basis, *self.shown) if m not in own]

    def explain_zh(self, totals: dict[str, float]) -> str:
        """Why the metric counts or not for these totals, in a sentence."""
        status = self.status(totals)
        if not self.basis:
            return STATUS_ZH[status] if status == SCORED else "无可统计数据，不计入"
        sample = self.sample(totals)
        text = f"{self.basis_label_zh} {sample:g}，最少样本 {self.min_sample:g}"
        if status == SCORED:
            return f"{text}，计入"
        if status == PENALISED:
            return f"{text}，样本不足，但已发生扣分事项（扣 {self.deducted(totals):g} 分），照常计入"
        return f"{text}，数据不足，不计入综合得分"


@dataclass(frozen=True)
class RankingGroup:
    """A group ranked on its own (its own ranks, thirds, advanced units, red and black lists): the register tiers
    it holds (`members`: city, town_street)."""
    code: str
    label_zh: str
    members: tuple[str, ...]
    advanced_count: int | None = None  # None: the rule file's advanced_units.count


REGISTER_TIERS_ZH = {"city": "市直部门", "town_street": "镇街"}
ALL = "all"  # the one group when every unit is ranked together
TOGETHER = RankingGroup(ALL, "统一排名", ("city", "town_street"))
SEPARATE = (RankingGroup("city", "市直部门", ("city",)), RankingGroup("town_street", "镇街", ("town_street",)))
# 企业评议 score bands of the stationed units' report: (label, lowest score), best first
EVALUATION_BANDS = (("优秀", 90.0), ("良好", 80.0), ("一般", 60.0), ("较差", 0.0))


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
    not_ranked_zh: tuple[str, str] = ("不参与排名", "各项指标均未达到最少样本数（数据不足），不参与排名")
    not_assessed_zh: tuple[str, str] = ("不参与考核", "考核对象名录中标注为不参与考核的单位，不计分、不排名")
    notes_zh: tuple[str, ...] = ()
    # ranking groups (groups:): separately (each group its own ranking) or together (one); a rule file without the
    # section ranks together, as every rule file before 2026.4 did
    groups: tuple[RankingGroup, ...] = (TOGETHER,)
    evaluation_bands: tuple[tuple[str, float], ...] = EVALUATION_BANDS

    @property
    def together(self) -> bool:
        return len(self.groups) == 1

    def group_of(self, register_tier: str) -> RankingGroup:
        """The ranking group a unit of this register tier is ranked in (the last group for a tier none lists)."""
        return next((g for g in self.groups if register_tier in g.members), self.groups[-1])

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
                minimum = m.get("min_sample") or {}
                basis = minimum.get("basis") or []
                basis = [basis] if isinstance(basis, str) else list(basis)
                if minimum and (float(minimum.get("count", 0)) < 0 or not basis or not minimum.get("label_zh")):
                    raise RulesError(f"{source}: metric {m['code']}: min_sample needs count >= 0, basis (the facts "
                                     f"that count as the sample) and label_zh")
                metrics.append(MetricRule(
                    code=m["code"], label_zh=m["label_zh"], weight=float(m["weight"]), kind=kind,
                    numerator=m.get("numerator"), denominator=m.get("denominator"), sum=m.get("sum"),
                    count=m.get("count"), points={k: float(v) for k, v in (m.get("points") or {}).items()},
                    min_sample=float(minimum.get("count", 0)), basis=tuple(basis),
                    basis_label_zh=minimum.get("label_zh", ""), shown=tuple(m.get("shown") or ())))
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
                list_size=int((data.get("red_black_lists") or {}).get("size", 5)),
                not_ranked_zh=_standing(data.get("not_ranked"), cls.not_ranked_zh),
                not_assessed_zh=_standing(data.get("not_assessed"), cls.not_assessed_zh),
                notes_zh=tuple(str(n) for n in data.get("notes_zh") or ()),
                groups=_groups(data.get("groups"), source),
                evaluation_bands=_bands((data.get("stationed_units") or {}).get("bands"), source))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, RulesError):
                raise

            raise RulesError(f"{source}: incomplete rule file ({exc})") from None


def _groups(data: dict | None, source: str) -> tuple[RankingGroup, ...]:
    """`groups: {ranking: separate | together, list: [{code, label_zh, members: [register tiers],
    advanced_count}], together_label_zh}`; absent: together."""
    if not data:
        return (TOGETHER,)
    mode = data.get("ranking", "separate")
    if mode not in ("separate", "together"):
        raise RulesError(f"{source}: groups.ranking must be separate or together, not {mode!r}")
    if mode == "together":
        return (RankingGroup(ALL, str(data.get("together_label_zh") or TOGETHER.label_zh), TOGETHER.members,
                             _count(data.get("together_advanced_count"), source)),)
    listed = data.get("list") or [{"code": g.code, "label_zh": g.label_zh, "members": list(g.members)}
                                  for g in SEPARATE]
    groups = tuple(RankingGroup(str(g["code"]), str(g["label_zh"]), tuple(g["members"]),
                                _count(g.get("advanced_count"), source)) for g in listed)
    members = [m for g in groups for m in g.members]
    if len({g.code for g in groups}) != len(groups) or len(set(members)) != len(members) or \
            not set(members) <= set(REGISTER_TIERS_ZH) or not members:
        raise RulesError(f"{source}: groups.list: distinct codes, each register tier ({', '.join(REGISTER_TIERS_ZH)}) "
                         f"in one group at most")
    return groups


def _count(value, source: str) -> int | None:
    if value is None:
        return None
    if int(value) < 0:
        raise RulesError(f"{source}: an advanced_count must not be negative")
    return int(value)


def _bands(data: list | None, source: str) -> tuple[tuple[str, float], ...]:
    if not data:
        return EVALUATION_BANDS
    bands = tuple(sorted(((str(b["label_zh"]), float(b["min"])) for b in data), key=lambda b: -b[1]))
    if bands[-1][1] > 0:
        raise RulesError(f"{source}: stationed_units.bands: the lowest band starts at 0")
    return bands


def _standing(data: dict | None, default: tuple[str, str]) -> tuple[str, str]:
    data = data or {}
    return str(data.get("label_zh") or default[0]), str(data.get("reason_zh") or default[1])


# -- the ranking ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Department:
    code: str
    name: str = ""
    approval_functions: bool = False
    enforcement_functions: bool = False
    tier: str = "city"
    assessed: bool = True  # false: listed as not assessed (不参与考核), never scored or ranked (the assessment office)
    superior: str | None = None  # 驻莱单位: the superior authority outside the city it answers to

    @property
    def may_be_advanced(self) -> bool:
        return self.approval_functions or self.enforcement_functions


# A department's standing in a period's result (labels and reasons: the rule file's not_ranked / not_assessed).
RANKED, NOT_RANKED, NOT_ASSESSED = "ranked", "not_ranked", "not_assessed"


def _r(x: float, places: int = 2) -> float:
    # rounded half up on the decimal value (not on the binary float), so 0.125 → 0.13 as a person would
    return float(f"{math.floor(x * 10**places + 0.5 + 1e-9) / 10**places:.{places}f}")


def statuses_of(rules: Rules, totals: dict[str, float]) -> dict[str, str]:
    return {m.code: m.status(totals) for m in rules.metrics}


def composite_of(rules: Rules, totals: dict[str, float]) -> tuple[float | None, dict[str, float | None]]:
    """The weighted mean of the metrics that count (SCORED or PENALISED), their weights renormalised to the
    metrics counted; None when none counts. A metric with not enough data scores None."""
    scores = {}
    for m in rules.metrics:
        scores[m.code] = None if m.status(totals) == INSUFFICIENT else m.score(totals)
    applicable = [(m.weight, scores[m.code]) for m in rules.metrics if scores[m.code] is not None]
    weight = sum(w for w, _ in applicable)
    composite = _r(sum(w * s for w, s in applicable) / weight) if weight else None
    return composite, {k: None if v is None else _r(v) for k, v in scores.items()}


def effective_weights(rules: Rules, statuses: dict[str, str]) -> dict[str, float]:
    """Each metric's share of the composite in percent after renormalisation (0 for one not counted)."""
    counted = {m.code: m.weight for m in rules.metrics if statuses.get(m.code) != INSUFFICIENT}
    total = sum(counted.values())
    return {m.code: _r(100.0 * counted.get(m.code, 0.0) / total) if total else 0.0 for m in rules.metrics}


def tier_of(rank: int, n: int) -> int:
    if rank <= math.ceil(n / 3):
        return 1
    return 2 if rank <= math.ceil(2 * n / 3) else 3


def rank(departments: list[Department], totals: dict[str, dict[str, float]], rules: Rules,
         disqualified: dict[str, list[str]] | None = None,
         adjustments: dict[str, float] | None = None) -> list[dict]:
    """One row per department: the ranked ones best first — group by group when the rule file ranks its groups
    separately (rules.groups: city departments, then town-streets, each with its own ranks, thirds and advanced
    units) —, then those not ranked (not enough data on every metric), then those not assessed.
    `totals[dept][metric]`: the period's sums of its facts; `disqualified[dept]`: why it may not be an advanced
    unit (通报批评, an unresolved red card)."""
    disqualified = disqualified or {}
    adjustments = adjustments or {}
    rows, unranked = [], []
    for d in departments:
        t = totals.get(d.code, {})
        statuses = statuses_of(rules, t)
        composite, scores = composite_of(rules, t)
        if not d.assessed:
            standing, (label, reason) = NOT_ASSESSED, rules.not_assessed_zh
            composite, scores = None, {k: None for k in scores}
        elif SCORED not in statuses.values():
            standing, (label, reason) = NOT_RANKED, rules.not_ranked_zh
        else:
            standing, label, reason = RANKED, "参与排名", ""
        group = rules.group_of(d.tier)
        row = {"department": d.code, "name": d.name, "group": d.tier,
               "group_zh": REGISTER_TIERS_ZH.get(d.tier, d.tier), "ranking_group": group.code,
               "ranking_group_zh": group.label_zh, "group_size": 0, "composite": composite, "metrics": scores,
               "standing": standing, "standing_zh": label, "standing_reason": reason,
               "insufficient": [] if standing == NOT_ASSESSED else [
                   m.code for m in rules.metrics if statuses[m.code] == INSUFFICIENT],
               "_dept": d}
        (rows if standing == RANKED else unranked).append(row)
    order = {g.code: i for i, g in enumerate(rules.groups)}
    rows.sort(key=lambda r: (order[r["ranking_group"]], -r["composite"], r["department"]))
    unranked.sort(key=lambda r: (r["standing"] == NOT_ASSESSED, order[r["ranking_group"]], r["department"]))
    for group in rules.groups:
        members = [r for r in rows if r["ranking_group"] == group.code]
        _rank_group(members, rules, group, disqualified)
    for row in unranked:
        row.update(rank=None, tier=None, tier_label=row["standing_zh"])
        row["group_size"] = sum(1 for r in rows if r["ranking_group"] == row["ranking_group"])
        _disqualification(row, disqualified)
    for row in rows + unranked:
        row.pop("_dept")
        t = totals.get(row["department"], {})
        warnings = int(round(t.get("efficiency_warnings", 0.0)))
        tier_bonus = rules.tier_bonuses[row["tier"] - 1] if row["tier"] else 0.0
        row["tier_bonus"] = tier_bonus
        row["bonus"] = _r(tier_bonus + (rules.advanced_bonus if row["advanced_unit"] else 0.0))
        row["efficiency_warnings"] = warnings
        row["adjustment"] = _r(adjustments.get(row["department"], 0.0))
        if row["standing"] == NOT_ASSESSED:  # no score to deduct from or adjust
            row["deduction"], row["final"] = 0.0, None
            continue
        # not ranked: no tier, but an efficiency warning and an adjustment still count
        row["deduction"] = _r(rules.warning_deduction * warnings)
        row["final"] = _r(row["bonus"] - row["deduction"] + row["adjustment"])
    return rows + unranked


def _disqualification(row: dict, disqualified: dict[str, list[str]]) -> list[str]:
    reasons = disqualified.get(row["department"], [])
    row["disqualified"] = bool(reasons)
    row["disqualification"] = list(reasons)
    row["advanced_unit"] = False
    return reasons


def _rank_group(rows: list[dict], rules: Rules, group: RankingGroup, disqualified: dict[str, list[str]]) -> None:
    """Ranks, thirds (三档) and advanced units within one ranking group, its rows best first."""
    n = len(rows)
    for i, row in enumerate(rows):
        # competition ranking: tied departments share the better rank, so they share the better tier
        row["rank"] = 1 + sum(1 for other in rows[:i] if other["composite"] > row["composite"])
        row["group_size"] = n
        row["tier"] = tier_of(row["rank"], n)
        row["tier_label"] = rules.tier_labels[row["tier"] - 1]
    # 先进单位: the best departments with approval or enforcement functions, skipping the disqualified (the
    # next one moves up); departments tied with the last one named are named too
    count = rules.advanced_count if group.advanced_count is None else group.advanced_count
    named, last = 0, None
    for row in rows:
        reasons = _disqualification(row, disqualified)
        if not row["_dept"].may_be_advanced or reasons or count == 0:
            continue
        if named < count or (last is not None and row["composite"] == last):
            row["advanced_unit"] = True
            named += 1
            last = row["composite"]


def red_black_lists(rows: list[dict], size: int) -> dict:
    """红榜 the best `size`, 黑榜 the worst `size` (worst first) of the ranked departments of each ranking group;
    ties at the edge are listed too. `red` and `black`: every group's, one after the other; `groups`: apart."""
    ranked = [r for r in rows if r.get("rank") is not None]
    groups: dict[str, list[dict]] = {}
    for r in ranked:  # rows published before 2026.4 carry no ranking group: one ranking
        groups.setdefault(r.get("ranking_group") or ALL, []).append(r)
    out: dict = {"red": [], "black": [], "groups": []}
    for code, members in groups.items():
        red = [r for r in members if r["rank"] <= size]
        black = [r for r in reversed(members)
                 if 1 + sum(1 for o in members if o["composite"] < r["composite"]) <= size]
        out["red"] += red
        out["black"] += black
        out["groups"].append({"group": code, "label_zh": members[0].get("ranking_group_zh") or TOGETHER.label_zh,
                              "red": red, "black": black})
    return out


# -- 驻莱单位: units stationed in the city under a superior authority ---------------------------------

def stationed_report(units: list[Department], scores: dict[str, list[float]],
                     bands: tuple[tuple[str, float], ...] = EVALUATION_BANDS) -> list[dict]:
    """Per stationed unit (those with a superior): its enterprise evaluations' count, mean, distribution over the
    score bands and rank among the stationed units by mean (competition ranking; a unit nobody evaluated is not
    ranked), best first, then those not evaluated. Addressed to its superior."""
    rows = []
    for d in units:
        if not d.superior:
            continue
        got = scores.get(d.code, [])
        distribution = {label: 0 for label, _ in bands}
        for score in got:
            label = next(label for label, low in bands if score >= low)
            distribution[label] += 1
        rows.append({"department": d.code, "name": d.name, "superior": d.superior, "evaluations": len(got),
                     "average": _r(sum(got) / len(got)) if got else None, "lowest": min(got) if got else None,
                     "highest": max(got) if got else None, "distribution": distribution, "rank": None})
    scored = sorted((r for r in rows if r["average"] is not None), key=lambda r: (-r["average"], r["department"]))
    for i, row in enumerate(scored):
        row["rank"] = 1 + sum(1 for other in scored[:i] if other["average"] > row["average"])
    rest = sorted((r for r in rows if r["average"] is None), key=lambda r: r["department"])
    for row in scored + rest:
        row["ranked_units"] = len(scored)
    return scored + rest


def late_acceptances_paired(overdue: list[dict], accepted: list[dict]) -> list[dict]:
    """The late acceptances that are the same late response as an acceptance-overdue fact, so not counted again.

    One dispatch is (appeal, department, dispatched_at). appeal.acceptance_overdue names its dispatch
    (`dispatched_at`); appeal.accepted does not, so an acceptance belongs to the latest dispatch of the same
    appeal and department before it: each overdue dispatch goes with the first acceptance at or after its
    dispatch moment, and where several overdue dispatches reach the same acceptance (re-dispatched to the same
    department before it signed) only the latest is that acceptance's dispatch; the others stay late
    responses of their own. An overdue dispatch whose acceptance was in time (a re-dispatch signed for in
    time) pairs with nothing. Pure over the two sets, so the order the events arrived in does not matter.

    `overdue`: dicts with department, ref (appeal id), dispatched_at; `accepted`: dicts with department, ref,
    at, in_time (every acceptance of those appeals). Returns the paired late acceptances."""
    acceptances: dict[tuple, list[dict]] = {}
    for a in accepted:
        acceptances.setdefault((a["ref"], a["department"]), []).append(a)
    for items in acceptances.values():
        items.sort(key=lambda a: a["at"])
    latest: dict[int, tuple[datetime, dict]] = {}  # id(acceptance) → (the latest dispatch reaching it, it)
    for o in overdue:
        dispatched = o["dispatched_at"]
        first = next((a for a in acceptances.get((o["ref"], o["department"]), []) if a["at"] >= dispatched), None)
        if first is None or first["in_time"]:
            continue
        seen = latest.get(id(first))
        if seen is None or dispatched > seen[0]:
            latest[id(first)] = (dispatched, first)
    return [a for _, a in latest.values()]


def overdue_dispatches(overdue: list[dict]) -> list[dict]:
    """One acceptance-overdue fact per dispatch (appeal, department, dispatched_at): a second report of the same
    dispatch (another event) is the same late response. The earliest reported stands (its period counts)."""
    first: dict[tuple, dict] = {}
    for o in sorted(overdue, key=lambda o: (o["at"], str(o.get("id", "")))):
        first.setdefault((o["ref"], o["department"], o["dispatched_at"]), o)
    return list(first.values())


def late_response_changes(overdue: list[dict], accepted: list[dict]) -> list[tuple[str, str, float]]:
    """What the acceptance-overdue facts change in the late responses counted from the late acceptances:
    (department, period, +1) per overdue dispatch in its period, (department, period, −1) per late acceptance
    of an overdue dispatch in the acceptance's period. Each late dispatch so counts once, in the period it
    first became late (the overdue comes before the acceptance), whichever event arrived first."""
    dispatches = overdue_dispatches(overdue)
    changes = [(o["department"], o["period"], 1.0) for o in dispatches]
    changes += [(a["department"], a["period"], -1.0) for a in late_acceptances_paired(dispatches, accepted)]
    return changes


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
