"""The rules of enforcement inspections, without a broker or a database: the settings, the periods of 扰企, who is
certified on a day, what counts as carried out without approval, the result's due day in working days."""

from datetime import date, datetime

import pytest

from services.approvals.enforcement import domain
from services.approvals.enforcement.domain import Certificate, EnforcementRules, SettingsError
from services.kernel.clock import TZ
from services.kernel.workcal import WorkCalendar


def test_settings_default_and_checked():
    assert EnforcementRules.from_config(None) == EnforcementRules(4, "quarter", 5, 3, frozenset())
    rules = EnforcementRules.from_config({"MAX_PER_ENTERPRISE": "2", "PERIOD": "month", "RESULT_DAYS": 10,
                                          "MATCH_DAYS": 0, "DEPARTMENTS": "SCJGJ, ZJJ"})
    assert (rules.max_per_enterprise, rules.period, rules.result_days, rules.match_days) == (2, "month", 10, 0)
    assert rules.enforces("ZJJ") and not rules.enforces("JYJ") and not rules.enforces(None)
    assert EnforcementRules().enforces("JYJ")  # no list: every department enforces
    for bad in ({"PERIOD": "week"}, {"MAX_PER_ENTERPRISE": 0}, {"RESULT_DAYS": "five"}, {"MATCH_DAYS": -1}):
        with pytest.raises(SettingsError):
            EnforcementRules.from_config(bad)


@pytest.mark.parametrize(("period", "day", "expected"), [
    ("month", date(2026, 12, 31), ("2026-12", date(2026, 12, 1), date(2027, 1, 1))),
    ("quarter", date(2026, 11, 5), ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1))),
    ("quarter", date(2026, 2, 28), ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1))),
    ("year", date(2026, 6, 1), ("2026", date(2026, 1, 1), date(2027, 1, 1))),
])
def test_periods(period, day, expected):
    assert domain.period_of(day, period) == expected


def test_too_many_is_over_the_limit():
    rules = EnforcementRules(max_per_enterprise=2)
    assert not domain.too_many(2, rules) and domain.too_many(3, rules)


def test_enterprise_key_by_code_else_name():
    assert domain.enterprise_key(" 某公司 ", None) == "name:某公司"
    assert domain.enterprise_key("某公司", "91330100ma2b3c4d5e") == "code:91330100MA2B3C4D5E"


def test_certificates_on_the_day():
    certs = {"A": Certificate("A", "SCJGJ", date(2026, 1, 1), date(2026, 12, 31)),
             "B": Certificate("B", "SCJGJ", date(2026, 1, 1), date(2026, 12, 31), revoked=True),
             "C": Certificate("C", "ZJJ", date(2026, 1, 1), date(2026, 12, 31)),
             "D": Certificate("D", "SCJGJ", date(2026, 1, 1), date(2026, 6, 30))}
    found = domain.uncertified(certs, ["A", "B", "C", "D", "E"], "SCJGJ", date(2026, 11, 3))
    assert found == {"B": "revoked", "C": "other_department", "D": "not_valid_on_day", "E": "unknown"}
    assert domain.uncertified(certs, ["A", "D"], "SCJGJ", date(2026, 6, 30)) == {}


def test_without_approval():
    approved = date(2026, 11, 3)
    assert domain.without_approval("approved", approved, date(2026, 11, 3)) is None
    assert domain.without_approval("approved", approved, date(2026, 11, 2)) == "before_approval"
    assert domain.without_approval("registered", None, date(2026, 11, 2)) == "not_approved"
    assert domain.without_approval("refused", None, date(2026, 11, 2)) == "refused"


def test_result_due_in_working_days_across_the_holiday():
    # National Day 2026: 1-7 October off, Saturday 10 October worked
    due = domain.result_due(WorkCalendar(), date(2026, 9, 30), 2)
    assert due == datetime(2026, 10, 9, 23, 59, 59, 999999, tzinfo=TZ)
    assert domain.check_after(due) == datetime(2026, 10, 10, tzinfo=TZ)


def test_state_changes():
    domain.require_decidable("registered")
    for state in ("approved", "refused", "reported", "unregistered"):
        with pytest.raises(domain.IllegalTransition):
            domain.require_decidable(state)
    domain.require_reportable("approved")
    domain.require_reportable("registered")  # reported anyway: the irregularity is raised, the fact kept
    for state in ("reported", "unregistered"):
        with pytest.raises(domain.IllegalTransition):
            domain.require_reportable(state)
