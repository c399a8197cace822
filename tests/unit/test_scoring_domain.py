"""The assessment rules, pure and with exact numbers: periods, the facts an event becomes, composite, ranks with
ties, tiers, advanced units with the disqualification skip, deductions, red and black lists."""

from datetime import datetime
from pathlib import Path

import pytest

from services.kernel.clock import TZ
from services.scoring.domain import (
    INSUFFICIENT,
    PENALISED,
    SCORED,
    Department,
    Rules,
    RulesError,
    business_moment,
    composite_of,
    effective_weights,
    facts_of,
    late_acceptances_paired,
    late_response_changes,
    parse_period,
    rank,
    red_black_lists,
    statuses_of,
    tier_of,
    unresolved_red_cards,
)

RULES = Rules.load(Path(__file__).resolve().parents[2] / "services" / "scoring" / "rules.yaml")


def simple_rules(**kw) -> Rules:
    """One penalty metric: composite = 100 − misses, so a test sets each composite exactly."""
    data = {"version": "t1", "metrics": [{"code": "m", "label_zh": "测", "weight": 1, "kind": "penalty",
                                          "points": {"misses": 1}}],
            "advanced_units": {"count": kw.get("count", 10), "bonus": 0.2}}
    return Rules.from_dict(data)


def depts(*specs):
    return [Department(code, code, approval, enforcement) for code, approval, enforcement in specs]


def totals(**composites):
    return {code: {"misses": 100 - c} for code, c in composites.items()}


# -- periods ------------------------------------------------------------------------------------------

def test_periods_of_three_kinds_and_what_they_contain():
    year, q3, sep = parse_period("2026"), parse_period("2026-Q3"), parse_period("2026-09")
    assert (year.kind, q3.kind, sep.kind) == ("year", "quarter", "month")
    assert q3.months == (7, 8, 9) and sep.month_texts() == ["2026-09"]
    assert year.contains(q3) and q3.contains(sep) and not sep.contains(q3) and not q3.contains(parse_period("2026-10"))
    assert q3.start == datetime(2026, 7, 1, tzinfo=TZ) and q3.end == datetime(2026, 10, 1, tzinfo=TZ)
    assert year.end == datetime(2027, 1, 1, tzinfo=TZ)
    assert (year.label_zh(), q3.label_zh(), sep.label_zh()) == ("2026年度", "2026年第三季度", "2026年9月")


@pytest.mark.parametrize("bad", ["", "26", "2026-13", "2026-Q5", "2026-9", "2026Q3", "1999", "2026-00", "abc"])
def test_bad_periods_are_refused(bad):
    with pytest.raises(ValueError):
        parse_period(bad)


# -- facts from events ----------------------------------------------------------------------------------

def test_the_facts_an_event_becomes():
    assert [(f.department, f.metric, f.value) for f in facts_of("appeal.callback_recorded", {
        "appeal_id": "7", "department": "SWJ", "satisfaction": "basically_satisfied", "resolved": False})] == [
        ("SWJ", "callbacks", 1.0), ("SWJ", "callbacks_resolved", 0.0), ("SWJ", "callbacks_satisfied", 1.0)]
    assert [(f.metric, f.value) for f in facts_of("application.decided", {
        "application_id": "1", "department": "ZJJ", "approved": True, "in_time": False})] == [
        ("approvals_decided", 1.0), ("approvals_decided_in_time", 0.0), ("approvals_overdue", 1.0)]
    warning = facts_of("efficiency_warning.issued", {"warning_id": "EW-1", "unit": "HBJ", "person": "李四",
                                                     "reason": "推诿"})
    assert [(f.department, f.metric, f.value, f.ref, f.detail) for f in warning] == [
        ("HBJ", "efficiency_warnings", 1.0, "EW-1", "个人：李四")]
    assert facts_of("monitor.alert_resolved", {"department": "ZJJ", "alert_id": "9", "level": "yellow"}) == []
    assert [f.ref for f in facts_of("monitor.alert_resolved", {"department": "ZJJ", "alert_id": "9",
                                                               "level": "red"})] == ["9"]
    assert facts_of("appeal.accepted", {"appeal_id": "1", "department": None, "in_time": True}) == []
    assert facts_of("report.hot_issues_published", {"department": "X"}) == []


def test_the_period_of_an_event_is_the_moment_it_reports():
    occurred = datetime(2026, 11, 26, 9, tzinfo=TZ)
    decided = datetime(2026, 3, 31, 23, 30, tzinfo=TZ)
    assert business_moment("application.decided", {"at": decided}, occurred) == decided
    received = datetime(2026, 1, 5, tzinfo=TZ)
    assert business_moment("appeal.received", {"received_at": received}, occurred) == received
    raised = datetime(2026, 2, 1, tzinfo=TZ)
    assert business_moment("monitor.red_card", {"raised_at": raised}, occurred) == raised
    assert business_moment("appeal.accepted", {}, occurred) == occurred


# -- composite ------------------------------------------------------------------------------------------

def test_composite_is_the_weighted_mean_of_the_metrics_with_enough_data_renormalised():
    t = {"approvals_decided": 5, "approvals_decided_in_time": 4, "callbacks": 5, "callbacks_resolved": 3,
         "callbacks_satisfied": 5, "yellow_cards": 1, "approvals_submitted": 5}
    composite, scores = composite_of(RULES, t)
    # approval 80 (w20), resolution 60 (w10), satisfaction 100 (w15), monitoring 95 (w15, sample 5 + 5);
    # response, evaluation, handling (no appeal dispatched) and visits (none found) have not enough data and are
    # left out — no free 100 for them: (1600 + 600 + 1500 + 1425) / 60
    assert scores == {"approval_on_time": 80.0, "appeal_response": None, "appeal_resolution": 60.0,
                      "appeal_satisfaction": 100.0, "enterprise_evaluation": None, "electronic_monitoring": 95.0,
                      "appeal_handling": None, "undercover_visits": None, "service_reviews": None}
    assert composite == 85.42
    shares = effective_weights(RULES, statuses_of(RULES, t))
    assert (shares["approval_on_time"], shares["appeal_resolution"], shares["appeal_handling"]) == (33.33, 16.67, 0.0)


def test_below_the_minimum_sample_a_metric_has_not_enough_data():
    four = {"approvals_decided": 4, "approvals_decided_in_time": 4, "approvals_submitted": 4}
    statuses = statuses_of(RULES, four)
    assert statuses["approval_on_time"] == INSUFFICIENT  # 4 decided < 5, although all in time
    assert statuses["electronic_monitoring"] == SCORED  # 4 + 4 handled ≥ 5
    assert composite_of(RULES, four) == (100.0, {**dict.fromkeys(statuses), "electronic_monitoring": 100.0})
    rule = next(m for m in RULES.metrics if m.code == "approval_on_time")
    assert rule.explain_zh(four) == "审批办结件数 4，最少样本 5，数据不足，不计入综合得分"
    assert composite_of(RULES, {}) == (None, dict.fromkeys(statuses))


def test_a_deduction_that_happened_counts_below_the_minimum_sample():
    composite, scores = composite_of(RULES, {"evaluations": 3, "evaluation_score": 250, "red_cards": 20})
    # monitoring: no application handled, but twenty red cards: penalised, 0, counted; evaluation 83.33
    assert scores["enterprise_evaluation"] == 83.33 and scores["electronic_monitoring"] == 0.0
    assert statuses_of(RULES, {"red_cards": 1})["electronic_monitoring"] == PENALISED
    assert composite == 41.67  # (15×83.333 + 15×0) / 30; handling and visits no longer add a free 100


def test_a_rule_file_that_is_incomplete_is_refused():
    with pytest.raises(RulesError):
        Rules.from_dict({"version": "x", "metrics": [{"code": "a", "label_zh": "甲", "weight": 1, "kind": "rate"}]})
    with pytest.raises(RulesError):
        Rules.from_dict({"metrics": []})
    with pytest.raises(RulesError, match="min_sample"):  # a minimum needs its basis and its label
        Rules.from_dict({"version": "x", "metrics": [{"code": "p", "label_zh": "乙", "weight": 1, "kind": "penalty",
                                                      "points": {"x": 1}, "min_sample": {"count": 3}}]})
    assert RULES.version == "2026.4" and RULES.tier_bonuses == (1.0, 0.75, 0.5)
    assert all(m.basis and m.basis_label_zh and m.min_sample >= 1 for m in RULES.metrics)
    assert RULES.not_ranked_zh[0] == "不参与排名" and RULES.not_assessed_zh[0] == "不参与考核" and RULES.notes_zh


# -- not ranked, not assessed ---------------------------------------------------------------------------

def test_an_inactive_department_is_not_ranked_and_never_first():
    ds = [Department("ZJJ", "住建局", True), Department("SWJ", "水务局", True), Department("IDLE", "无事局"),
          Department("JW", "纪委监委", assessed=False)]
    busy = {"approvals_decided": 10, "approvals_decided_in_time": 9, "approvals_submitted": 10, "yellow_cards": 1}
    t = {"ZJJ": busy, "SWJ": {**busy, "approvals_decided_in_time": 7}, "IDLE": {"efficiency_warnings": 1},
         "JW": busy}
    rows = rank(ds, t, RULES)
    assert [(r["department"], r["rank"], r["standing"]) for r in rows] == [
        ("ZJJ", 1, "ranked"), ("SWJ", 2, "ranked"), ("IDLE", None, "not_ranked"), ("JW", None, "not_assessed")]
    by = {r["department"]: r for r in rows}
    idle, jw = by["IDLE"], by["JW"]
    assert (idle["composite"], idle["tier"], idle["tier_label"], idle["bonus"], idle["advanced_unit"]) == (
        None, None, "不参与排名", 0.0, False)
    assert "最少样本" in idle["standing_reason"] and len(idle["insufficient"]) == len(RULES.metrics)
    assert (idle["deduction"], idle["final"]) == (0.5, -0.5)  # the warning still counts
    assert (jw["composite"], jw["final"], jw["standing_zh"]) == (None, None, "不参与考核")
    assert "不参与考核" in jw["standing_reason"] and jw["metrics"]["approval_on_time"] is None
    # two ranked departments: the cuts are at ranks 1 and 2, whoever else is listed
    assert (by["ZJJ"]["tier"], by["SWJ"]["tier"]) == (1, 2)
    assert [r["department"] for r in red_black_lists(rows, 5)["black"]] == ["SWJ", "ZJJ"]


def test_a_department_with_only_a_deduction_below_every_minimum_is_not_ranked():
    rows = rank([Department("A"), Department("B")], {"A": {"red_cards": 1}, "B": {
        "callbacks": 5, "callbacks_resolved": 5, "callbacks_satisfied": 5}}, RULES)
    assert [(r["department"], r["standing"]) for r in rows] == [("B", "ranked"), ("A", "not_ranked")]
    assert rows[1]["metrics"]["electronic_monitoring"] == 90.0  # shown, as the deduction happened


# -- ranks, tiers, advanced units, deductions -----------------------------------------------------------

def test_ties_share_the_better_rank_and_tier():
    rows = rank(depts(("A", 0, 0), ("B", 0, 0), ("C", 0, 0), ("D", 0, 0), ("E", 0, 0), ("F", 0, 0)),
                totals(A=100, B=90, C=90, D=80, E=70, F=60), simple_rules())
    assert [(r["department"], r["rank"], r["tier"], r["tier_bonus"]) for r in rows] == [
        ("A", 1, 1, 1.0), ("B", 2, 1, 1.0), ("C", 2, 1, 1.0), ("D", 4, 2, 0.75), ("E", 5, 3, 0.5), ("F", 6, 3, 0.5)]
    # a tie across the cut: D and E both at 80 with 6 departments (cuts at 2 and 4) share tier 2
    rows = rank(depts(*[(c, 0, 0) for c in "ABCDEF"]), totals(A=100, B=95, C=90, D=80, E=80, F=60), simple_rules())
    assert [(r["rank"], r["tier"]) for r in rows] == [(1, 1), (2, 1), (3, 2), (4, 2), (4, 2), (6, 3)]


def test_tier_cuts_for_fourteen_departments():
    assert [tier_of(r, 14) for r in range(1, 15)] == [1] * 5 + [2] * 5 + [3] * 4


def test_advanced_units_skip_the_disqualified_and_the_next_moves_up():
    ds = depts(("A", 1, 0), ("B", 0, 0), ("C", 1, 0), ("D", 0, 1), ("E", 1, 0), ("F", 1, 1))
    rows = rank(ds, totals(A=100, B=90, C=80, D=70, E=60, F=50), simple_rules(count=2),
                disqualified={"A": ["通报批评（效通〔2026〕3号）"]})
    by = {r["department"]: r for r in rows}
    assert [r["department"] for r in rows if r["advanced_unit"]] == ["C", "D"]
    assert by["A"]["disqualified"] and by["A"]["disqualification"] == ["通报批评（效通〔2026〕3号）"]
    # six departments: cuts at ranks 2 and 4; C (3rd) and D (4th) are tier 2: 0.75 + 0.2
    assert (by["A"]["bonus"], by["C"]["bonus"], by["D"]["bonus"], by["E"]["bonus"]) == (1.0, 0.95, 0.95, 0.5)
    assert not by["B"]["advanced_unit"]  # no approval or enforcement functions


def test_departments_tied_with_the_last_advanced_unit_are_named_too():
    ds = depts(("A", 1, 0), ("B", 1, 0), ("C", 1, 0), ("D", 1, 0))
    rows = rank(ds, totals(A=100, B=90, C=90, D=80), simple_rules(count=2))
    assert [r["department"] for r in rows if r["advanced_unit"]] == ["A", "B", "C"]


def test_each_efficiency_warning_costs_half_a_point_and_adjustments_show_apart():
    ds = depts(("A", 1, 0), ("B", 0, 0), ("C", 0, 0))
    t = totals(A=100, B=90, C=80)
    t["A"]["efficiency_warnings"] = 3
    rows = rank(ds, t, simple_rules(), adjustments={"C": -0.25})
    by = {r["department"]: r for r in rows}
    assert (by["A"]["bonus"], by["A"]["efficiency_warnings"], by["A"]["deduction"], by["A"]["final"]) == (
        1.2, 3, 1.5, -0.3)
    assert (by["B"]["final"], by["C"]["adjustment"], by["C"]["final"]) == (0.75, -0.25, 0.25)


def test_red_and_black_lists_with_ties_at_the_edge():
    ds = depts(*[(c, 0, 0) for c in "ABCDEFGHIJKL"])
    comp = dict(zip("ABCDEFGHIJKL", [99, 98, 97, 96, 95, 95, 80, 70, 60, 50, 40, 30], strict=True))
    rows = rank(ds, totals(**comp), simple_rules())
    lists = red_black_lists(rows, 5)
    assert [r["department"] for r in lists["red"]] == ["A", "B", "C", "D", "E", "F"]
    assert [r["department"] for r in lists["black"]] == ["L", "K", "J", "I", "H"]


def test_a_red_card_counts_against_eligibility_until_resolved_by_the_moment_judged():
    raised = datetime(2026, 9, 10, tzinfo=TZ)
    cards = [("ZJJ", "41", raised), ("ZJJ", "42", raised), ("SWJ", "43", raised)]
    resolved = {"41": datetime(2026, 9, 20, tzinfo=TZ), "43": datetime(2026, 10, 3, tzinfo=TZ)}
    assert unresolved_red_cards(cards, resolved, datetime(2026, 9, 30, 23, 59, tzinfo=TZ)) == {
        "ZJJ": ["42"], "SWJ": ["43"]}


# -- late acceptances and reviewed returns ----------------------------------------------------------------

def test_the_facts_of_acceptance_overdue_reviewed_returns_and_dispatches():
    dispatched = datetime(2026, 9, 1, 10, tzinfo=TZ)
    overdue = facts_of("appeal.acceptance_overdue", {"appeal_id": "7", "department": "SWJ",
                                                     "dispatched_at": dispatched})
    assert [(f.department, f.metric, f.value, f.ref, f.detail) for f in overdue] == [
        ("SWJ", "appeals_acceptance_overdue", 1.0, "7", dispatched.isoformat())]
    rejected = facts_of("appeal.return_reviewed", {"appeal_id": "8", "department": "GAJ", "returned_by": "GAJ",
                                                   "decision": "rejected", "by": "op"})
    approved = facts_of("appeal.return_reviewed", {"appeal_id": "9", "department": None, "returned_by": "GAJ",
                                                   "decision": "approved", "by": "op"})
    assert [(f.department, f.metric) for f in rejected + approved] == [
        ("GAJ", "appeals_returned_rejected"), ("GAJ", "appeals_returned_approved")]
    assert [f.metric for f in facts_of("appeal.dispatched", {"appeal_id": "1", "department": "ZJJ", "by": "x"})] == [
        "appeals_dispatched"]
    handling = next(m for m in RULES.metrics if m.code == "appeal_handling")
    # only a rejected return costs points; a return alone and an approved one are shown at 0
    assert (handling.points["appeals_returned_rejected"], handling.points["appeals_returned"],
            handling.points["appeals_returned_approved"]) == (2.0, 0.0, 0.0)


D1, D2 = datetime(2026, 9, 1, 9, tzinfo=TZ), datetime(2026, 9, 8, 9, tzinfo=TZ)


def od(dispatched, period="2026-09", ref="7", dept="SWJ", at=None):
    return {"ref": ref, "department": dept, "dispatched_at": dispatched, "period": period,
            "at": at or dispatched.replace(day=dispatched.day + 2)}


def acc(at, in_time=False, period="2026-09", ref="7", dept="SWJ"):
    return {"ref": ref, "department": dept, "at": at, "in_time": in_time, "period": period}


def test_a_dispatch_overdue_and_then_accepted_late_counts_once_whatever_the_order():
    overdue, late = [od(D1)], [acc(datetime(2026, 9, 5, tzinfo=TZ))]
    # the late acceptance counts one late response from the sums; the overdue adds one and the pair takes
    # the acceptance's back: one in all
    assert sorted(late_response_changes(overdue, late)) == [("SWJ", "2026-09", -1.0), ("SWJ", "2026-09", 1.0)]
    assert late_response_changes(list(reversed(overdue)), list(reversed(late))) == late_response_changes(
        overdue, late)
    # never accepted: the overdue alone is the late response
    assert late_response_changes(overdue, []) == [("SWJ", "2026-09", 1.0)]
    # the same dispatch reported overdue twice (two events) is one late response
    assert late_response_changes([od(D1), od(D1, at=datetime(2026, 9, 4, tzinfo=TZ))], []) == [
        ("SWJ", "2026-09", 1.0)]


def test_a_re_dispatch_has_its_own_acceptance_limit():
    signed = datetime(2026, 9, 12, tzinfo=TZ)
    # overdue at D1, re-dispatched to the same department at D2, overdue again, then signed for late: D2's late
    # acceptance pairs with D2's overdue; D1 stays a late response of its own → two
    changes = late_response_changes([od(D1), od(D2)], [acc(signed)])
    assert sorted(changes) == [("SWJ", "2026-09", -1.0), ("SWJ", "2026-09", 1.0), ("SWJ", "2026-09", 1.0)]
    # re-dispatched and signed for in time: D1 is late, the acceptance is not
    assert late_response_changes([od(D1)], [acc(signed, in_time=True)]) == [("SWJ", "2026-09", 1.0)]
    # accepted late at D1 (before D2), then D2 overdue and never signed for: two late responses, one paired
    first = acc(datetime(2026, 9, 5, tzinfo=TZ))
    assert late_acceptances_paired([od(D1), od(D2)], [first]) == [first]
    # another department's acceptance of the same appeal is another dispatch
    assert late_acceptances_paired([od(D1)], [acc(signed, dept="HBJ")]) == []


def test_a_late_response_counts_in_the_month_it_first_became_late():
    overdue = [od(datetime(2026, 12, 29, 9, tzinfo=TZ), period="2026-12", at=datetime(2026, 12, 31, tzinfo=TZ))]
    late = [acc(datetime(2027, 1, 4, tzinfo=TZ), period="2027-01")]
    # +1 in December (the overdue), −1 in January (the acceptance counted there by the sums): once, in December
    assert sorted(late_response_changes(overdue, late)) == [("SWJ", "2026-12", 1.0), ("SWJ", "2027-01", -1.0)]


def test_service_reviews_count_from_the_minimum_sample_and_move_the_composite():
    # 好差评 (#15): 9 of 10 reviews satisfied → 90 (w5) beside approval 80 (w20) and monitoring 100 (w15, its
    # sample the 5 decided): (1600 + 1500 + 450) / 40
    base = {"approvals_decided": 5, "approvals_decided_in_time": 4}
    assert composite_of(RULES, {**base, "reviews": 9, "reviews_satisfied": 9})[1]["service_reviews"] is None
    composite, scores = composite_of(RULES, {**base, "reviews": 10, "reviews_satisfied": 9})
    assert scores["service_reviews"] == 90.0 and scores["approval_on_time"] == 80.0
    assert composite == 88.75
