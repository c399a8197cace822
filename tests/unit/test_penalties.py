"""The rules of major penalties and discretion (pure): what is major, the filing limit across a holiday, the
discretion standard's findings, the party as kept, the PENALTIES config."""

from datetime import date, datetime

import pytest

from services.approvals.penalties import domain
from services.approvals.penalties.domain import PenaltyRules, RulesError
from services.kernel import clock
from services.kernel.workcal import WorkCalendar

TZ = clock.TZ
BASIS = {"code": "SP-126", "kinds": ["warning", "fine", "suspension"],
         "bands": {"minor": {"min": 5000, "max": 15000}, "general": {"min": 15000, "max": 35000},
                   "serious": {"min": 35000, "max": 50000}}}


def test_major_by_fine_per_party_kind_and_by_kind():
    rules = PenaltyRules()
    assert domain.major_reasons(rules, "enterprise", ["fine"], 99999.99) == []
    assert domain.major_reasons(rules, "enterprise", ["fine"], 100000) == ["罚款100,000元（不低于100,000元）"]
    assert domain.major_reasons(rules, "person", ["fine"], 10000) != []
    assert domain.major_reasons(rules, "person", ["warning"], None) == []
    assert domain.major_reasons(rules, "person", ["detention"], None) == ["行政拘留"]
    assert domain.major_reasons(rules, "enterprise", ["suspension", "licence_revocation"], None) == [
        "责令停产停业", "吊销许可证照"]


def test_the_filing_limit_counts_working_days_across_national_day():
    # decided Wednesday 30 September 2026; 1–7 October are holidays, Saturday 10 October a make-up working day:
    # 5 working days end on Tuesday 13 October, 10 on Tuesday 20 October
    cal = WorkCalendar()
    assert domain.filing_due(cal, date(2026, 9, 30), 5) == datetime(2026, 10, 13, 23, 59, 59, 999999, tzinfo=TZ)
    assert domain.filing_due(cal, date(2026, 9, 30), 10).date() == date(2026, 10, 20)
    due = domain.filing_due(cal, date(2026, 9, 30), 5)
    assert domain.late_filing(due, due, date(2026, 9, 30), 5) is None
    late = domain.late_filing(datetime(2026, 10, 14, 9, 0, tzinfo=TZ), due, date(2026, 9, 30), 5)
    assert late.code == "late_filing" and "5个工作日" in late.description_zh and late.severity == "medium"


@pytest.mark.parametrize("kinds, amount, circumstance, codes", [
    (["fine"], 20000, "general", []),  # in its band
    (["fine"], 15000, "minor", []),  # a bound belongs to the band
    (["fine"], 40000, "general", ["out_of_band"]),
    (["fine"], 60000, "serious", ["out_of_band"]),
    (["fine", "licence_revocation"], 20000, "general", ["out_of_band"]),  # a kind the basis does not allow
    (["fine"], 20000, None, ["no_circumstance"]),
    (["fine", "detention"], 20000, None, ["out_of_band", "no_circumstance"]),
    (["warning"], None, None, []),  # no fine: no circumstance needed
])
def test_the_discretion_standard(kinds, amount, circumstance, codes):
    found = domain.discretion_irregularities(BASIS, kinds, amount, circumstance)
    assert [i.code for i in found] == codes


def test_one_out_of_band_names_each_reason():
    [found] = domain.discretion_irregularities(BASIS, ["fine", "detention"], 60000, "serious")
    assert "不设行政拘留" in found.description_zh and "超出严重情节幅度（35,000–50,000元）" in found.description_zh
    assert found.facts["kinds_not_allowed"] == ["detention"] and found.facts["band"]["max"] == 50000


def test_a_basis_without_bands_needs_no_circumstance():
    assert domain.discretion_irregularities({**BASIS, "bands": {}}, ["fine"], 200, None) == []


def test_a_person_is_kept_masked_and_travels_as_person():
    assert domain.party("person", " 张三丰 ") == "张**"
    assert domain.party("enterprise", "莱州某食品有限公司") == "莱州某食品有限公司"
    assert domain.party_in_events("person", "张**") == "个人"
    assert domain.party_in_events("enterprise", "莱州某食品有限公司") == "莱州某食品有限公司"


def test_a_retry_is_the_same_content():
    row = {"party_kind": "person", "party_name": "张*", "basis_code": "GA-26", "circumstance": None,
           "decided_on": date(2026, 11, 2), "hearing_held": False, "kinds": ["fine", "detention"], "amount": 500.0}
    assert domain.same_filing(row, {**row, "kinds": ["detention", "fine"], "amount": 500})
    assert not domain.same_filing(row, {**row, "amount": 600})
    assert not domain.same_filing(row, {**row, "amount": None})


def test_the_config():
    assert PenaltyRules.from_config(None) == PenaltyRules()
    rules = PenaltyRules.from_config({"FILING_DAYS": "5", "MAJOR_FINE": {"enterprise": "50000"},
                                      "MAJOR_KINDS": "detention, licence_revocation"})
    assert (rules.filing_days, rules.major_fine, rules.major_kinds) == (
        5, {"enterprise": 50000.0, "person": 10000}, ("detention", "licence_revocation"))
    for bad in ({"FILING_DAYS": 0}, {"FILING_DAYS": "x"}, {"MAJOR_FINE": {"robot": 1}},
                {"MAJOR_FINE": {"person": -1}}, {"MAJOR_KINDS": ["flogging"]}, {"OTHER": 1}):
        with pytest.raises(RulesError):
            PenaltyRules.from_config(bad)
