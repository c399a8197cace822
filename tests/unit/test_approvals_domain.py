"""The approval rules: states, the statutory clock, monitor moments, deemed acceptance and each irregularity,
each application driven through the service's use cases on SQLite (tests/unit/test_approvals_usecases.py's
`Driver`), without a broker."""

from datetime import datetime, timedelta

import pytest

from services.approvals.domain import (
    ABANDONMENT,
    CALENDAR_UNAVAILABLE,
    DEEMED_ACCEPTANCE,
    IRREGULARITIES,
    RED_CARD,
    SPECIAL_PROCEDURE_OVERRUN,
    SYSTEM,
    WARNING_DAYS_LEFT,
    WARNING_FRACTION,
    YELLOW_CARD,
    IllegalTransition,
    Item,
    Rules,
    deemed_acceptance,
    monitor_moments,
    submit,
)
from services.kernel.clock import TZ
from services.kernel.outcome import CANCEL, KEEP, replace_alarms
from services.kernel.workcal import WorkCalendar
from tests.unit.test_approvals_usecases import CAL, ITEM, NOW, RULES, WINDOW, Driver, accepted, midnight, t


def end_of(month, day, year=2026):
    return datetime(year, month, day, 23, 59, 59, 999999, tzinfo=TZ)


def codes(irregularities):
    return [i.code for i in irregularities]


# -- the clock ------------------------------------------------------------------------------------------------


def test_the_domain_example_accepted_before_national_day():
    d = accepted(t(9, 30))
    assert d.row["state"] == "accepted" and d.row["limit_days"] == 5  # the committed limit, not the statutory 20
    assert d.row["due_at"] == end_of(10, 13) and d.row["clock_error"] is None
    event, payload = d.outcomes[-1].events[0]
    assert event == "application.accepted" and payload["due_at"] == end_of(10, 13)
    assert payload["department"] == "SCJ" and payload["item_code"] == "SCJ-001"


def test_monitor_moments_of_the_example():
    d = accepted(t(9, 30))
    moments = monitor_moments(RULES, ITEM, d.app.clock())
    # one working day left and 80 % used fall together on a 5-day limit: one warning
    assert moments == [(WARNING_DAYS_LEFT, midnight(10, 13)), (YELLOW_CARD, midnight(10, 14)),
                       (RED_CARD, midnight(10, 21))]
    assert d.outcomes[-1].alarms == replace_alarms(moments)
    ten = Item("X", "x", "SCJ", statutory_limit=10)
    clock = accepted(t(11, 2), ten).app.clock()
    kinds = dict(monitor_moments(RULES, ten, clock))
    assert kinds[WARNING_FRACTION] == midnight(11, 13) and kinds[WARNING_DAYS_LEFT] == midnight(11, 14)


def test_committed_statutory_joint_and_immediate_limits():
    assert RULES.limit_for(ITEM) == 5
    assert RULES.limit_for(Item("A", "a", "D", statutory_limit=15)) == 15
    assert RULES.limit_for(Item("B", "b", "D")) == 20
    assert RULES.limit_for(Item("C", "c", "D", joint=True)) == 45
    assert RULES.limit_for(Item("E", "e", "D", kind="immediate", statutory_limit=20)) == 0
    with pytest.raises(ValueError):
        Item("F", "f", "D", statutory_limit=10, committed_limit=12)


def test_an_immediate_item_is_due_the_same_day():
    item = Item("IMM", "即办", "SCJ", kind="immediate", statutory_limit=20)
    d = accepted(t(11, 4, 10), item)
    assert d.row["due_at"] == end_of(11, 4)
    assert d.outcomes[-1].alarms == replace_alarms([(YELLOW_CARD, midnight(11, 5)), (RED_CARD, midnight(11, 12))])
    out = d.decide(True, None, t(11, 4, 10, 20), WINDOW)
    assert out.changes["state"] == "decided" and out.events[0][1]["in_time"] is True
    assert out.alarms == CANCEL


def test_a_special_procedure_spanning_national_day_stops_the_clock():
    d = accepted(t(9, 28, 9))
    assert d.row["due_at"] == end_of(10, 10)  # Sep 29, 30, Oct 8, 9 and the make-up Saturday Oct 10
    out = d.start_special_procedure("hearing", t(9, 29, 10), WINDOW)
    assert out.changes["due_at"] is None and out.events[0][1]["paused"] is True
    # paused: no clock moments, only the moment the procedure becomes irregular
    assert out.alarms == replace_alarms([(SPECIAL_PROCEDURE_OVERRUN, t(11, 28, 10))])
    assert monitor_moments(RULES, ITEM, d.app.clock()) == []
    out = d.end_special_procedure(t(10, 9, 15), WINDOW)
    # Sep 29 counted; Sep 30, Oct 8 and Oct 9 not; then Oct 10, 12, 13, 14
    assert out.changes["due_at"] == end_of(10, 14) and out.irregularities == []
    assert (YELLOW_CARD, midnight(10, 15)) in out.alarms.moments
    status = d.app.clock_status(t(10, 12, 12))
    assert status["paused_intervals"] == [(t(9, 29, 10), t(10, 9, 15))]
    assert status["elapsed"] == pytest.approx(2.5) and status["light"] == "green"


def test_the_clock_status_light():
    d = accepted(t(9, 30))
    assert d.app.clock_status(t(10, 9, 12))["light"] == "green"
    assert d.app.clock_status(t(10, 13, 9))["light"] == "yellow"
    assert d.app.clock_status(t(10, 14, 0, 1))["light"] == "red"
    assert Driver().app.clock_status(NOW) is None


def test_an_extension_moves_the_due_date():
    item = Item("B", "b", "SCJ", statutory_limit=20)
    d = accepted(t(11, 2), item)
    old_due = d.row["due_at"]
    assert old_due == end_of(11, 30)
    out = d.extend(10, "局长", "需现场核查", t(11, 20), WINDOW)
    assert out.changes["due_at"] == end_of(12, 14) and out.changes["extension_days"] == 10
    assert out.events[0][0] == "application.extended" and out.events[0][1]["previous_due_at"] == old_due
    assert out.events[0][1]["limit_days"] == 30


def test_a_second_extension_is_refused_and_recorded():
    d = accepted(t(11, 2), Item("B", "b", "SCJ", statutory_limit=20))
    d.extend(5, "局长", "需现场核查", t(11, 20), WINDOW)
    with pytest.raises(IllegalTransition) as err:
        d.extend(3, "局长", "再延", t(11, 23), WINDOW)
    assert codes(err.value.irregularities) == ["repeated_extension"]
    assert err.value.message_zh == "办理期限只能延长一次" and err.value.status == 409


def test_an_extension_after_the_due_time_is_refused_and_recorded():
    d = accepted(t(9, 30))
    with pytest.raises(IllegalTransition) as err:
        d.extend(5, "局长", "补救", t(10, 14, 9), WINDOW)
    assert codes(err.value.irregularities) == ["late_extension"]
    assert err.value.irregularities[0].details["due_at"] == end_of(10, 13)


def test_extension_length_approver_and_joint_maximum():
    d = accepted(t(11, 2), Item("B", "b", "SCJ", statutory_limit=20))
    for days, approver in ((11, "局长"), (0, "局长"), (5, "")):
        with pytest.raises(IllegalTransition) as err:
            d.extend(days, approver, "理由", t(11, 3), WINDOW)
        assert err.value.irregularities == []
    joint = accepted(t(11, 2), Item("J", "j", "SCJ", joint=True))
    assert joint.extend(15, "主任", "联合审批", t(11, 3), WINDOW).changes["extension_days"] == 15


def test_a_due_date_in_a_year_without_calendar_is_an_error_not_a_guess():
    d = accepted(t(12, 10), Item("B", "b", "SCJ", statutory_limit=20))
    assert d.row["due_at"] is None and "2027" in d.row["clock_error"]
    # the monitors hear of it at once; nothing in 2027 is guessed
    assert d.outcomes[-1].alarms == replace_alarms([(CALENDAR_UNAVAILABLE, t(12, 10))])
    assert d.app.clock_status(t(12, 11))["error"] and d.app.clock_status(t(12, 11))["light"] is None
    # an extension before the (unknown, future) due time is allowed and stays an error
    assert d.extend(5, "局长", "核查", t(12, 14), WINDOW).changes["due_at"] is None
    # once the deployment adds the year as data, the same clock has a due date
    cal = WorkCalendar.from_dict({"years": {2027: {"holidays": ["2027-01-01"]}}})
    with_2027 = accepted(t(12, 10), Item("B", "b", "SCJ", statutory_limit=20), calendar=cal)
    assert with_2027.row["due_at"] == end_of(1, 8, 2027) and with_2027.row["clock_error"] is None


# -- deemed acceptance (Art. 32) ------------------------------------------------------------------------------


def test_deemed_acceptance_after_five_working_days_without_notice():
    received = t(11, 2)
    before = deemed_acceptance(CAL, RULES, received, t(11, 9, 18))
    assert not before.deemed and before.notice_by == end_of(11, 9) and before.accepted_at is None
    after = deemed_acceptance(CAL, RULES, received, t(11, 10, 9))
    assert after.deemed and after.accepted_at == received and after.moment == midnight(11, 10)
    assert not deemed_acceptance(CAL, RULES, received, t(11, 10, 9), supplement_requested_at=t(11, 5)).deemed
    assert deemed_acceptance(CAL, RULES, received, t(11, 12), supplement_requested_at=t(11, 11)).deemed
    assert deemed_acceptance(CAL, RULES, t(12, 28), t(12, 29)).error  # the window runs into 2027


def test_the_monitor_deems_an_application_accepted_from_the_day_received():
    d = Driver(Item("B", "b", "SCJ", statutory_limit=20), received_at=t(11, 2))
    assert d.alarms() == [(DEEMED_ACCEPTANCE, midnight(11, 10))]  # what the submission scheduled
    with pytest.raises(IllegalTransition):
        d.deem_accepted(t(11, 9, 20), SYSTEM)
    out = d.deem_accepted(midnight(11, 10), SYSTEM)
    assert out.changes["state"] == "accepted" and out.changes["deemed_accepted"] is True
    assert out.changes["clock_started_at"] == t(11, 2) and out.changes["due_at"] == end_of(11, 30)
    # the counter's acceptance afterwards is recorded without moving the clock
    later = d.accept(t(11, 11), WINDOW)
    assert later.events == [] and later.alarms == KEEP and "clock_started_at" not in later.changes
    assert later.changes["accepted_formally_at"] == t(11, 11) and later.changes["due_at"] == end_of(11, 30)


def test_a_notice_sent_late_but_given_in_time_withdraws_the_deemed_acceptance():
    d = Driver(Item("B", "b", "SCJ", statutory_limit=20), received_at=t(11, 2))
    d.deem_accepted(midnight(11, 10), SYSTEM)
    out = d.request_supplement(["M2"], None, t(11, 9, 16), WINDOW)  # dated before the monitor's act
    assert out.irregularities == [] and out.details["deemed_acceptance_withdrawn"] is True
    assert d.row["state"] == "supplement_requested" and d.row["clock_started_at"] is None
    # no clock and no deemed acceptance: the one alarm left is the supplement limit (30 working days)
    assert d.row["due_at"] is None and out.alarms == replace_alarms([(ABANDONMENT, midnight(12, 22))])
    d2 = Driver(Item("B", "b", "SCJ", statutory_limit=20), received_at=t(11, 2))
    d2.deem_accepted(midnight(11, 10), SYSTEM)
    out = d2.accept(t(11, 9, 16), WINDOW)
    assert out.changes["deemed_accepted"] is False and out.changes["clock_started_at"] == t(11, 9, 16)


def test_a_late_acceptance_counts_from_the_day_received():
    d = Driver(Item("B", "b", "SCJ", statutory_limit=20), received_at=t(11, 2))
    out = d.accept(t(11, 12), WINDOW)
    assert out.changes["deemed_accepted"] is True and out.changes["due_at"] == end_of(11, 30)


def test_a_supplement_before_acceptance_means_the_clock_has_not_started():
    d = Driver(received_at=t(11, 2))
    out = d.request_supplement(["M2", "M3"], "缺营业执照和平面图", t(11, 2, 11), WINDOW)
    assert out.changes["state"] == "supplement_requested" and d.row["due_at"] is None
    # no clock, no deemed acceptance any more: only the supplement limit, 30 working days after the notice day
    assert out.alarms == replace_alarms([(ABANDONMENT, midnight(12, 15))]) and out.irregularities == []
    with pytest.raises(IllegalTransition):
        d.accept(t(11, 3), WINDOW)  # the materials are not in yet
    d.supplement_received(t(11, 16), WINDOW)
    out = d.accept(t(11, 16, 11), WINDOW)
    assert out.changes["clock_started_at"] == t(11, 16, 11) and out.changes["deemed_accepted"] is False
    assert out.changes["due_at"] == end_of(11, 23)


def test_the_whole_path_and_its_events():
    d = Driver(received_at=t(11, 2))
    d.request_supplement(["M2"], None, t(11, 2, 11), WINDOW)
    d.supplement_received(t(11, 3), WINDOW)
    d.accept(t(11, 3, 11), WINDOW)
    d.decide(False, "不符合选址要求", t(11, 5), WINDOW)
    d.deliver(t(11, 6), WINDOW)
    assert [e["event_type"] for e in d.published] == [
        "application.submitted", "application.supplement_requested", "application.supplement_received",
        "application.accepted", "application.decided", "application.delivered"]
    assert d.row["state"] == "delivered" and d.row["approved"] is False and d.row["decided_in_time"] is True
    assert all(not o.irregularities for o in d.outcomes)
    with pytest.raises(IllegalTransition):
        d.decide(True, None, t(11, 7), WINDOW)


# -- irregularities -------------------------------------------------------------------------------------------


def test_every_irregularity_has_a_chinese_description_and_a_severity():
    for zh, severity in IRREGULARITIES.values():
        assert zh and severity in ("low", "medium", "high")


def test_decision_without_acceptance_is_refused_and_recorded():
    d = Driver()
    with pytest.raises(IllegalTransition) as err:
        d.decide(True, None, t(9, 28, 11), WINDOW)
    assert err.value.message == "cannot decide an application that is submitted"
    assert err.value.message_zh == "申请尚未受理，不能作出决定"
    irregularity = err.value.irregularities[0]
    assert irregularity.code == "decision_without_acceptance" and irregularity.severity == "high"
    assert irregularity.description_zh == "申请未经受理即作出审批决定"


def test_a_second_supplement_request_is_recorded_not_refused():
    d = Driver(received_at=t(11, 2))
    d.request_supplement(["M2"], None, t(11, 2, 11), WINDOW)
    d.supplement_received(t(11, 3), WINDOW)
    out = d.request_supplement(["M3"], "又缺一份", t(11, 4), WINDOW)
    assert codes(out.irregularities) == ["repeated_supplement_request"]
    assert out.changes["state"] == "supplement_requested" and out.changes["missing"] == ["M2", "M3"]


def test_a_supplement_request_after_acceptance_is_recorded_and_the_clock_keeps_running():
    d = accepted(t(9, 30))
    out = d.request_supplement(["M2"], None, t(10, 8), WINDOW)
    assert codes(out.irregularities) == ["supplement_after_acceptance"]
    assert out.changes.get("state", "accepted") == "accepted" and out.changes["due_at"] == end_of(10, 13)
    assert out.alarms == KEEP
    assert d.supplement_received(t(10, 9), WINDOW).changes["supplement_outstanding"] is False


def test_a_first_notice_after_the_notice_period_comes_after_deemed_acceptance():
    d = Driver(Item("B", "b", "SCJ", statutory_limit=20), received_at=t(11, 2))
    out = d.request_supplement(["M2"], None, t(11, 11), WINDOW)
    assert codes(out.irregularities) == ["supplement_after_acceptance"]
    assert out.changes["state"] == "accepted" and out.changes["due_at"] == end_of(11, 30)


def test_a_refusal_without_reason_is_refused_and_recorded():
    d = Driver()
    with pytest.raises(IllegalTransition) as err:
        d.refuse("  ", t(9, 28, 11), WINDOW)
    assert codes(err.value.irregularities) == ["refusal_without_reason"]
    out = d.refuse("不属于本机关职权范围", t(9, 28, 11), WINDOW)
    assert out.changes["state"] == "refused" and out.alarms == CANCEL
    with pytest.raises(IllegalTransition) as err:
        d.decide(True, None, t(9, 29), WINDOW)
    assert codes(err.value.irregularities) == ["decision_without_acceptance"]


def test_a_special_procedure_open_too_long():
    d = accepted(t(9, 28, 9))
    d.start_special_procedure("expert_review", t(9, 29, 10), WINDOW)
    app = d.app
    assert app.special_procedure_overrun(t(11, 28, 10)) is None
    fired = app.special_procedure_overrun(t(11, 28, 10, 1))
    assert fired.code == "special_procedure_overrun" and fired.at == t(11, 28, 10)
    with pytest.raises(IllegalTransition):
        d.decide(True, None, t(12, 1), WINDOW)  # end the procedure first
    out = d.end_special_procedure(t(12, 1), WINDOW)
    # the same (code, at) as the alarm: the service raises one alert for both
    assert [(i.code, i.at) for i in out.irregularities] == [(fired.code, fired.at)]
    short = Rules.from_config({"SPECIAL_PROCEDURE_MAX_DAYS": 10})
    d2 = accepted(t(9, 28, 9), rules=short)
    assert d2.start_special_procedure("testing", t(9, 29, 10), WINDOW).alarms == replace_alarms([
        (SPECIAL_PROCEDURE_OVERRUN, t(10, 9, 10))])


def test_special_procedure_guards():
    d = accepted(t(9, 28, 9))
    with pytest.raises(IllegalTransition):
        d.start_special_procedure("lottery", t(9, 29), WINDOW)
    with pytest.raises(IllegalTransition):
        d.end_special_procedure(t(9, 29), WINDOW)
    d.start_special_procedure("inspection", t(9, 29), WINDOW)
    with pytest.raises(IllegalTransition):
        d.start_special_procedure("hearing", t(9, 30), WINDOW)
    with pytest.raises(IllegalTransition):
        Driver().start_special_procedure("hearing", t(9, 28, 11), WINDOW)


def test_times_in_the_future_are_refused_and_recorded():
    d = Driver(now=t(11, 2, 10))
    d.accept(t(11, 2, 10, 4), WINDOW)  # within the tolerance for clock skew
    with pytest.raises(IllegalTransition) as err:
        d.decide(True, None, t(11, 2, 10, 6), WINDOW)
    assert codes(err.value.irregularities) == ["future_time"]
    assert err.value.irregularities[0].details["claimed_at"] == t(11, 2, 10, 6)
    with pytest.raises(IllegalTransition):
        submit(ITEM, t(11, 3), WINDOW, CAL, RULES, now=t(11, 2))


def test_times_out_of_order_are_refused_and_recorded():
    d = accepted(t(11, 2, 10))
    with pytest.raises(IllegalTransition) as err:
        d.start_special_procedure("hearing", t(11, 2, 9), WINDOW)
    assert codes(err.value.irregularities) == ["out_of_order_time"]
    assert err.value.irregularities[0].details["previous_at"] == t(11, 2, 10)
    # a late sender is fine as long as the order holds
    assert d.start_special_procedure("hearing", t(11, 2, 10), WINDOW).irregularities == []


def test_acceptance_by_a_window_not_authorised_to_decide_is_recorded():
    item = Item("NA", "未授权事项", "SCJ", statutory_limit=20, fully_authorised=False)
    d = Driver(item)
    out = d.accept(t(9, 28, 10), WINDOW)
    assert out.changes["state"] == "accepted" and codes(out.irregularities) == ["window_not_authorised"]


def test_plain_refusals_carry_no_irregularity():
    d = Driver()
    with pytest.raises(IllegalTransition) as err:
        d.deliver(t(9, 28, 11), WINDOW)
    assert err.value.irregularities == [] and "送达" in err.value.message_zh
    with pytest.raises(IllegalTransition):
        d.request_supplement([], None, t(9, 28, 11), WINDOW)
    with pytest.raises(IllegalTransition):
        d.supplement_received(t(9, 28, 11), WINDOW)
    d.accept(t(9, 28, 11), WINDOW)
    with pytest.raises(IllegalTransition):
        d.decide(False, "", t(9, 29), WINDOW)  # a denial needs its reason
    with pytest.raises(IllegalTransition):
        d.refuse("迟到的不予受理", t(9, 29), WINDOW)


# -- configuration --------------------------------------------------------------------------------------------


def test_rules_from_config():
    assert Rules.from_config(None) == Rules()
    custom = Rules.from_config({"MAX_EXTENSION_DAYS": 5, "JOINT_LIMIT": 30, "SUPPLEMENT_NOTICE_DAYS": 3,
                                "WARN_FRACTION": None, "WARN_DAYS_LEFT": 2, "RED_AFTER_DAYS": 3,
                                "FUTURE_TOLERANCE_SECONDS": 60})
    assert (custom.max_extension_days, custom.joint_limit, custom.supplement_notice_days) == (5, 30, 3)
    assert (custom.warn_fraction, custom.warn_days_left, custom.red_after_days) == (None, 2, 3)
    assert custom.future_tolerance == timedelta(minutes=1) and custom.max_extension_days_joint == 15
    d = accepted(t(9, 30), rules=custom)
    assert d.outcomes[-1].alarms == replace_alarms([(WARNING_DAYS_LEFT, midnight(10, 11)),
                                                    (YELLOW_CARD, midnight(10, 14)), (RED_CARD, midnight(10, 17))])
