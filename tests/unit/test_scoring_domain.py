"""The assessment rules, pure and with exact numbers: periods, the facts an event becomes, composite, ranks with
ties, tiers, advanced units with the disqualification skip, deductions, red and black lists."""

from datetime import datetime
from pathlib import Path

import pytest

from services.kernel.clock import TZ
from services.scoring.domain import (
    Department,
    Rules,
    RulesError,
    business_moment,
    composite_of,
    facts_of,
    parse_period,
    rank,
    red_black_lists,
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

def test_composite_is_the_weighted_mean_of_the_metrics_that_apply():
    t = {"approvals_decided": 4, "approvals_decided_in_time": 3, "callbacks": 2, "callbacks_resolved": 1,
         "callbacks_satisfied": 2, "yellow_cards": 1}
    composite, scores = composite_of(RULES, t)
    # approval 75 (w20), resolution 50 (w10), satisfaction 100 (w15), monitoring 95 (w15), handling 100 (w10),
    # visits 100 (w5); response and evaluation have nothing to count: (1500+500+1500+1425+1000+500)/75
    assert scores == {"approval_on_time": 75.0, "appeal_response": None, "appeal_resolution": 50.0,
                      "appeal_satisfaction": 100.0, "enterprise_evaluation": None, "electronic_monitoring": 95.0,
                      "appeal_handling": 100.0, "undercover_visits": 100.0}
    assert composite == 85.67


def test_evaluations_average_and_penalties_stop_at_zero():
    composite, scores = composite_of(RULES, {"evaluations": 3, "evaluation_score": 250, "red_cards": 20})
    assert scores["enterprise_evaluation"] == 83.33 and scores["electronic_monitoring"] == 0.0
    # (15×83.333 + 15×0 + 10×100 + 5×100) / 45
    assert composite == 61.11


def test_a_rule_file_that_is_incomplete_is_refused():
    with pytest.raises(RulesError):
        Rules.from_dict({"version": "x", "metrics": [{"code": "a", "label_zh": "甲", "weight": 1, "kind": "rate"}]})
    with pytest.raises(RulesError):
        Rules.from_dict({"metrics": []})
    assert RULES.version == "2026.1" and RULES.tier_bonuses == (1.0, 0.75, 0.5)


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
