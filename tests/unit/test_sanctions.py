"""The sanctions register's rules, pure: the effects in the rule file, what a measure entered by hand must say, the same
measure, the review window on the working-day calendar, the states, and that no name reaches a fact's line."""

from datetime import date
from pathlib import Path

import pytest
import yaml

from services.kernel.config import ConfigError
from services.kernel.contracts.scoring import SANCTION_KINDS
from services.kernel.workcal import WorkCalendar
from services.scoring.sanctions.domain import (
    IN_FORCE,
    SEED_EFFECTS,
    UNDER_REVIEW,
    UPHELD,
    WITHDRAWN,
    Effect,
    Effects,
    SanctionRules,
    body_problems,
    fact_detail,
    moment_of,
    review_due,
    review_open,
    same_measure,
    step,
)

RULES = yaml.safe_load((Path(__file__).resolve().parents[2] / "services" / "scoring" / "rules.yaml").read_text(
    encoding="utf-8"))
EFFECTS = SanctionRules.from_config(None, RULES).effects


def entry(**fields):
    return {"kind": "efficiency_warning", "target": "unit", "department": "D1", "person_name": None, "post": None,
            "source": "direct", "source_ref": None, "deciding_body": "市效能办", "document_no": "效能告诫〔2026〕3号",
            "decided_on": date(2026, 9, 28), **fields}


def test_the_shipped_effects_cost_only_what_the_seed_says():
    assert EFFECTS["efficiency_warning"] == Effect(efficiency_warning=True, disqualifies=False)
    assert EFFECTS["criticism"] == Effect(efficiency_warning=False, disqualifies=True)
    for kind in ("organisational", "disciplinary", "judicial"):
        assert EFFECTS[kind] == Effect(False, False)
    assert set(EFFECTS) == set(SANCTION_KINDS)


def test_an_effects_file_is_checked():
    assert Effects.from_dict({})["judicial"] == Effect(False, False)  # a kind not named costs nothing
    assert Effects.from_dict({"disciplinary": {"efficiency_warning": True}})["disciplinary"].efficiency_warning
    for bad in ([1], {"censure": {}}, {"criticism": {"disqualifies": "yes"}}, {"criticism": {"points": 1}},
                {"criticism": [True]}):
        with pytest.raises(ValueError):
            Effects.from_dict(bad)


def test_the_settings_default_and_refuse_nonsense():
    rules = SanctionRules.from_config(None, RULES)
    assert rules.review_days == 15 and rules.effects == EFFECTS
    # a rule file without a sanctions section: what the seed says, the same as the shipped rules
    assert SanctionRules.from_config(None, {}).effects == Effects.from_dict(SEED_EFFECTS) == EFFECTS
    assert SanctionRules.from_config({"REVIEW_DAYS": "10"}, RULES).review_days == 10
    for section in ({"REVIEW_DAYS": "ten"}, {"REVIEW_DAYS": 0}, "15"):
        with pytest.raises(ConfigError):
            SanctionRules.from_config(section, RULES)
    with pytest.raises(ConfigError, match="sanctions"):
        SanctionRules.from_config(None, {"sanctions": {"criticism": {"disqualifies": "maybe"}}})


def test_a_measure_against_a_person_names_them_and_one_against_a_unit_does_not():
    assert body_problems(entry(), EFFECTS) == {}
    assert set(body_problems(entry(target="person"), EFFECTS)) == {"person_name", "post"}
    assert body_problems(entry(target="person", person_name="张三", post="科长"), EFFECTS) == {}
    assert set(body_problems(entry(post="科长"), EFFECTS)) == {"post"}


def test_a_source_that_names_something_needs_its_ref():
    for source in ("visit", "monitor_alert", "project_accountability"):
        assert set(body_problems(entry(source=source), EFFECTS)) == {"source_ref"}
        assert body_problems(entry(source=source, source_ref="7"), EFFECTS) == {}
    assert body_problems(entry(source="inspection"), EFFECTS) == {}


def test_a_warning_on_a_complaint_comes_from_appeals_only_other_measures_may_be_entered():
    assert set(body_problems(entry(source="complaint"), EFFECTS)) == {"source"}
    assert body_problems(entry(kind="criticism", source="complaint"), EFFECTS) == {}
    lenient = Effects.from_dict({"criticism": {"disqualifies": True}})  # a city where warnings cost nothing
    assert body_problems(entry(source="complaint"), lenient) == {}


def test_the_same_kind_and_number_is_the_same_measure_when_it_says_the_same():
    row = entry()
    assert same_measure(row, entry(reason="措辞不同"))
    for change in ({"deciding_body": "区效能办"}, {"department": "D2"}, {"decided_on": date(2026, 9, 27)},
                   {"target": "person"}, {"source": "inspection"}):
        assert not same_measure(row, entry(**change)), change


def test_the_review_window_counts_working_days_after_the_decision():
    calendar = WorkCalendar.load(None)
    # 1 September 2026 (Tuesday): 15 working days end on Monday 21 September (Sunday 20th is a make-up day)
    assert review_due(calendar, date(2026, 9, 1), 15) == (date(2026, 9, 21), None)
    # across National Day: 1–7 October are holidays, Saturday 10 October a make-up working day
    due, error = review_due(calendar, date(2026, 9, 28), 5)
    assert (due, error) == (date(2026, 10, 10), None)
    assert review_open(due, date(2026, 10, 10)) and not review_open(due, date(2026, 10, 11))
    # a year with no schedule: said, not guessed; the request is then taken
    none, why = review_due(calendar, date(2026, 12, 20), 15)
    assert none is None and "2027" in why
    assert review_open(None, date(2027, 6, 1))


def test_a_measure_is_reviewed_once_and_decided_once():
    assert step(IN_FORCE, "request") == UNDER_REVIEW
    assert step(UNDER_REVIEW, UPHELD) == UPHELD and step(UNDER_REVIEW, WITHDRAWN) == WITHDRAWN
    for state, act in ((UNDER_REVIEW, "request"), (UPHELD, "request"), (WITHDRAWN, "request"),
                       (IN_FORCE, UPHELD), (IN_FORCE, WITHDRAWN), (UPHELD, WITHDRAWN), (WITHDRAWN, UPHELD)):
        with pytest.raises(ValueError):
            step(state, act)


def test_a_facts_line_names_the_post_never_the_person():
    line = fact_detail("efficiency_warning", "person", "效能告诫〔2026〕3号", "科长")
    assert line == "效能告诫（效能告诫〔2026〕3号）个人：科长"
    assert fact_detail("efficiency_warning", "unit", None, None) == "效能告诫（无文号）单位"
    assert moment_of(date(2026, 9, 30)).isoformat() == "2026-09-30T00:00:00+08:00"
