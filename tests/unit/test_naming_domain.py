"""The standard of the satisfied windows (群众满意窗口, pure): periods, the rule file, the verdict per criterion
with its evidence, and the quarter a re-check covers."""

from datetime import date, datetime

import pytest

from services.approvals.naming import domain
from services.approvals.naming.domain import Figures, Period, RulesError, Standard
from services.approvals.naming.settings import DEFAULT_FILE, load
from services.kernel import clock

TZ = clock.TZ
GOOD = {"very_satisfied": 15, "satisfied": 4, "basically_satisfied": 1}


def figures(levels=None, red=(), complaints=(), decided=50, in_time=50, department="SCJGJ"):
    return Figures(levels=dict(GOOD if levels is None else levels), red_cards=tuple(red),
                   complaints=tuple(complaints), decided=decided, in_time=in_time, department=department)


def by_key(criteria):
    return {c["criterion"]: c for c in criteria}


def test_periods():
    assert (Period.parse("2026").first, Period.parse("2026").last) == (date(2026, 1, 1), date(2026, 12, 31))
    assert (Period.parse("2026-H2").first, Period.parse("2026-H2").last) == (date(2026, 7, 1), date(2026, 12, 31))
    q1 = Period.parse("2026-Q1")
    assert (q1.first, q1.last) == (date(2026, 1, 1), date(2026, 3, 31))
    assert (q1.start, q1.end) == (datetime(2026, 1, 1, tzinfo=TZ), datetime(2026, 4, 1, tzinfo=TZ))
    for bad in ("2026-Q5", "2026-H3", "26", "2026Q1", "", "1999", "2026-q1"):
        with pytest.raises(ValueError):
            Period.parse(bad)
    # the re-check at a moment covers the last quarter that ended (Beijing time)
    assert domain.last_quarter(datetime(2026, 10, 1, 0, 0, tzinfo=TZ)).code == "2026-Q3"
    assert domain.last_quarter(datetime(2026, 9, 30, 23, 59, tzinfo=TZ)).code == "2026-Q2"
    assert domain.last_quarter(datetime(2027, 2, 1, tzinfo=TZ)).code == "2026-Q4"


def test_the_default_standard_is_the_rule_file():
    standard = load(DEFAULT_FILE)
    assert standard == Standard.default()
    assert [(c.key, c.value) for c in standard.criteria] == [
        ("reviews", 20), ("satisfaction", 95), ("red_cards", 0), ("complaints", 0), ("on_time", 98)]
    assert standard["satisfaction"].label_zh.startswith("满意率不低于 95%")


def test_a_window_meeting_every_criterion():
    criteria = domain.verdict(Standard.default(), figures())
    assert domain.failing(criteria) == []
    c = by_key(criteria)
    assert c["reviews"]["evidence"] == {"reviews": 20}
    assert (c["satisfaction"]["evidence"]["rate"], c["on_time"]["evidence"]["rate"]) == (100.0, 100.0)


def test_each_criterion_fails_on_its_own_with_its_evidence():
    standard = Standard.default()
    cases = {
        "reviews": figures(levels={"very_satisfied": 19}),
        "satisfaction": figures(levels={**GOOD, "unsatisfied": 2}),  # 20 of 22: 90.91 %
        "red_cards": figures(red=(7,)),
        "complaints": figures(complaints=("TS2026-0001",)),
        "on_time": figures(decided=50, in_time=48),  # 96 %
    }
    for key, f in cases.items():
        criteria = domain.verdict(standard, f)
        assert domain.failing(criteria) == [key], key
    assert by_key(domain.verdict(standard, cases["satisfaction"]))["satisfaction"]["evidence"]["rate"] == 90.91
    assert by_key(domain.verdict(standard, cases["red_cards"]))["red_cards"]["evidence"]["alert_ids"] == [7]
    assert by_key(domain.verdict(standard, cases["complaints"]))["complaints"]["evidence"]["references"] == [
        "TS2026-0001"]
    # exactly at the thresholds: met
    assert domain.failing(domain.verdict(standard, figures(levels={"very_satisfied": 19, "unsatisfied": 1},
                                                          decided=50, in_time=49))) == []
    # nothing decided and nothing reviewed: no rate, not met
    empty = domain.verdict(standard, figures(levels={}, decided=0, in_time=0))
    assert domain.failing(empty) == ["reviews", "satisfaction", "on_time"]


def test_thresholds_and_labels_come_from_the_rule_file(tmp_path):
    path = tmp_path / "naming.yaml"
    path.write_text("standard:\n  reviews: {value: 3}\n  red_cards: {value: 1, label: '红牌不超过 {value} 张'}\n",
                    encoding="utf-8")
    standard = load(path)
    assert (standard["reviews"].value, standard["red_cards"].label_zh, standard["on_time"].value) == (
        3, "红牌不超过 1 张", 98)
    assert domain.failing(domain.verdict(standard, figures(levels={"satisfied": 3}, red=(1,)))) == []
    for text in ("standard:\n  speed: {value: 1}\n", "standard:\n  satisfaction: {value: 120}\n",
                 "standard:\n  reviews: {value: -1}\n", "standard:\n  reviews: {label: '{other}'}\n",
                 "other: 1\n", "standard: [1]\n"):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(RulesError):
            load(path)
    with pytest.raises(RulesError):
        load(tmp_path / "missing.yaml")
