"""Applications that end without a decision (issue 13): withdrawn (撤回) and terminated (终止) by the window,
abandoned (视为撤回) by the monitor when a requested supplement is not delivered in time; and the clock in whole
working days, late data raising only what is true when it arrives. Driven through the use cases on SQLite
(`Driver`), without a broker."""

from datetime import timedelta

import pytest

from services.approvals import handlers
from services.approvals.domain import (
    ABANDONMENT,
    RED_CARD,
    SYSTEM,
    WARNING_DAYS_LEFT,
    YELLOW_CARD,
    IllegalTransition,
    Item,
    Rules,
    whole_days,
)
from services.kernel.outcome import CANCEL, replace_alarms
from tests.unit.test_approvals_usecases import WINDOW, Driver, accepted, midnight, t


def events(d, event_type):
    return [e["payload"] for e in d.published if e["event_type"] == event_type]


def ended_quietly(d, later):
    """Nothing raised after the end: every alarm gone, the monitor's ticks and any window action add no alert or
    event, and each action is a plain refusal (no irregularity, not even a decision without acceptance)."""
    alerts, published = len(d.alerts()), len(d.published)
    assert d.alarms() == []
    for moment in (later, later + timedelta(days=30), later + timedelta(days=400)):
        d.fire(moment)
    for command, args in (("decide", (True, None)), ("accept", ()), ("withdraw", ("又撤回",)),
                          ("terminate", ("终止",)), ("request_supplement", (["M2"], None)), ("deliver", ())):
        for at in (later, t(1, 1, year=2026)):  # in order, and before the last action (out of order)
            with pytest.raises(IllegalTransition) as err:
                getattr(d, command)(*args, at, WINDOW)
            assert err.value.irregularities == []
    assert (len(d.alerts()), len(d.published)) == (alerts, published)


# -- withdraw and terminate ---------------------------------------------------------------------------------


def test_a_withdrawal_stops_the_clock_cancels_the_alarms_and_resolves_the_open_alerts():
    d = accepted(t(9, 30))
    d.fire(midnight(10, 13))  # the warning: one working day left
    [warning] = d.alerts()
    assert (warning["rule"], warning["state"]) == (WARNING_DAYS_LEFT, "open")
    out = d.withdraw("申请人主动撤回申请", t(10, 13, 9), WINDOW)
    assert out.alarms == CANCEL and out.irregularities == []
    row = d.row
    assert (row["state"], row["ended_at"], row["end_reason"]) == ("withdrawn", t(10, 13, 9), "申请人主动撤回申请")
    [withdrawn] = events(d, "application.withdrawn")
    assert (withdrawn["reason"], withdrawn["from_state"], withdrawn["by"]) == ("申请人主动撤回申请", "accepted", "w1")
    assert withdrawn["application_id"] == str(d.id) and withdrawn["department"] == "SCJ"
    [warning] = d.alerts()
    assert (warning["state"], warning["resolved_by"], warning["note"]) == (
        "resolved", "system", "申请已撤回：申请人主动撤回申请")
    [resolved] = events(d, "monitor.alert_resolved")
    assert (resolved["alert_id"], resolved["by"], resolved["rule"]) == (str(warning["id"]), "system", WARNING_DAYS_LEFT)
    ended_quietly(d, t(10, 14, 9))  # the yellow card's moment passes: nothing
    # the clock stopped when it ended: months later it still shows the day it was withdrawn, and no light
    c = d.app.clock_status(t(12, 20))
    assert (c["days_left"], c["days_overdue"], c["light"], c["elapsed"]) == (1, 0, None, 4 + 9 / 24)


def test_a_termination_from_any_open_state_and_never_from_a_closed_one():
    for prepare in (lambda d: None,
                    lambda d: d.request_supplement(["M2"], None, t(9, 28, 10), WINDOW),
                    lambda d: d.accept(t(9, 28, 10), WINDOW)):
        d = Driver()
        prepare(d)
        before = d.row["state"]
        d.terminate("申请人死亡，许可事项终止", t(9, 29, 10), WINDOW)
        assert d.row["state"] == "terminated"
        [ended] = events(d, "application.terminated")
        assert ended["from_state"] == before and ended["reason"] == "申请人死亡，许可事项终止"
        ended_quietly(d, t(9, 29, 11))
    decided = accepted(t(9, 28, 10))
    decided.decide(True, None, t(9, 29, 10), WINDOW)
    refused = Driver()
    refused.refuse("不属于本机关职权", t(9, 28, 10), WINDOW)
    for d in (decided, refused):
        for command in ("withdraw", "terminate"):
            with pytest.raises(IllegalTransition) as err:
                getattr(d, command)("理由", t(9, 30, 10), WINDOW)
            assert err.value.irregularities == []


def test_an_end_needs_its_reason():
    d = Driver()
    with pytest.raises(IllegalTransition):
        d.withdraw("  ", t(9, 28, 10), WINDOW)
    assert d.row["state"] == "submitted"


def test_a_supervision_order_of_a_withdrawn_application_is_closed_and_its_overdue_alert_never_comes():
    from services.approvals.supervision import domain as supervision

    assert supervision.is_overdue("withdrawn") is False and supervision.is_overdue("abandoned") is False
    with pytest.raises(IllegalTransition):
        supervision.require_open("terminated")


# -- abandonment (视为撤回) --------------------------------------------------------------------------------


def test_a_supplement_not_delivered_in_time_abandons_the_application():
    d = Driver(received_at=t(11, 2, 9))
    d.request_supplement(["M2", "M3"], None, t(11, 2, 11), WINDOW)
    d.request_supplement(["M3"], None, t(11, 3, 11), WINDOW)  # a second notice: irregular, and moves the limit
    [irregular] = d.alerts()
    assert irregular["details"]["code"] == "repeated_supplement_request"
    # 30 working days after the day of the last notice, end of day
    assert d.alarms() == [(ABANDONMENT, midnight(12, 16))]
    assert d.fire(midnight(12, 15)) == 0 and d.row["state"] == "supplement_requested"
    d.fire(midnight(12, 16) + timedelta(hours=5))  # the monitor late: the abandonment keeps its own moment
    row = d.row
    assert (row["state"], row["ended_at"]) == ("abandoned", midnight(12, 16))
    assert row["end_reason"] == "申请人未在 30 个工作日内补正材料，视为撤回申请"
    [ended] = events(d, "application.abandoned")
    assert (ended["supplement_limit_days"], ended["from_state"], ended["at"]) == (
        30, "supplement_requested", "2026-12-16T00:00:00+08:00")
    assert ended["supplement_requested_at"] == "2026-11-03T11:00:00+08:00"
    assert ended["supplement_due_at"] == "2026-12-15T23:59:59.999999+08:00" and ended["by"] == "system"
    [irregular] = d.alerts()
    assert (irregular["state"], irregular["resolved_by"]) == ("resolved", "system")
    assert d.app.row["last_action_at"] == t(11, 3, 11)  # the monitor's act is not the counter's
    ended_quietly(d, midnight(12, 17))


def test_a_supplement_delivered_in_time_cancels_the_abandonment_and_an_item_may_shorten_the_limit():
    d = Driver(received_at=t(11, 2, 9))
    d.request_supplement(["M2"], None, t(11, 2, 11), WINDOW)
    d.supplement_received(t(12, 14, 16), WINDOW)
    assert d.alarms() == []
    d.fire(midnight(12, 20))
    assert d.row["state"] == "supplement_received" and events(d, "application.abandoned") == []
    five = Item("Q", "q", "SCJ", statutory_limit=20, supplement_limit=5)
    d = Driver(five, received_at=t(11, 2, 9))
    out = d.request_supplement(["M2"], None, t(11, 2, 11), WINDOW)
    assert out.alarms == replace_alarms([(ABANDONMENT, midnight(11, 10))])
    d.fire(midnight(11, 10))
    assert d.row["state"] == "abandoned"
    assert Rules.from_config({"SUPPLEMENT_LIMIT": 10}).supplement_limit == 10


def test_an_item_supplement_limit_is_a_whole_number_of_working_days():
    with pytest.raises(ValueError):
        Item("Q", "q", "SCJ", supplement_limit=-1)


# -- whole working days and late data ----------------------------------------------------------------------


def test_whole_days_never_negative_nor_fractional():
    assert whole_days(1.58, 3.42, 5, False) == (2, 0)  # today and tomorrow
    assert whole_days(1.0, 4.0, 5, False) == (1, 0)  # the due day begins: one left
    assert whole_days(1.0000000001, 3.9999999999, 5, False) == (1, 0)  # a midnight's rounding
    assert whole_days(-5.00001, 10.00001, 5, True) == (0, 5)  # a second after midnight: the day just ended
    assert whole_days(-5.01, 10.01, 5, True) == (0, 6)  # a quarter of an hour into the sixth
    assert whole_days(0, 5.0, 5, True) == (0, 0)  # the first overdue instant (a weekend after the due day)
    assert whole_days(-0.4, 5.4, 5, True) == (0, 1)
    assert whole_days(-142.5, 147.5, 5, True) == (0, 143)


def test_the_clock_speaks_in_whole_working_days():
    d = accepted(t(9, 30))  # 5 working days: Oct 8, 9, 10 (a make-up Saturday), 12, 13
    app = d.app
    assert [(c["days_left"], c["days_overdue"]) for c in (
        app.clock_status(t(10, 12, 10)), app.clock_status(midnight(10, 13)), app.clock_status(t(10, 13, 23)),
        app.clock_status(t(10, 14, 10)), app.clock_status(t(10, 16, 10)))] == [(2, 0), (1, 0), (1, 0), (0, 1), (0, 3)]
    figures = app.event_figures(t(10, 16, 10))
    assert (figures["days_left"], figures["days_overdue"]) == (0, 3)


def test_an_application_overdue_when_its_data_arrives_gets_its_cards_and_no_warning():
    # accepted on 30 September, reported in the spring: the warning, the yellow and the red card are all due
    d = accepted(t(9, 30))
    assert [kind for kind, _ in d.alarms()] == [WARNING_DAYS_LEFT, YELLOW_CARD, RED_CARD]
    d.fire(t(12, 20, 10))
    assert sorted(a["rule"] for a in d.alerts()) == [RED_CARD, YELLOW_CARD]
    assert events(d, "monitor.warning") == []
    [yellow] = events(d, "monitor.yellow_card")
    assert yellow["days_overdue"] > 40 and yellow["days_left"] == 0 and yellow["remaining_days"] < 0
    # in time, the same warning is raised with its whole days
    d = accepted(t(9, 30))
    d.fire(midnight(10, 13))
    [warning] = events(d, "monitor.warning")
    assert (warning["days_left"], warning["days_overdue"], warning["remaining_days"]) == (1, 0, 1.0)


def test_the_monitor_abandons_through_the_same_outcome_as_its_command():
    d = Driver(received_at=t(11, 2, 9))
    d.request_supplement(["M2"], None, t(11, 2, 11), WINDOW)
    app = d.app
    assert app.on_alarm(ABANDONMENT, t(12, 14, 23)) is None  # not yet
    out = app.on_alarm(ABANDONMENT, midnight(12, 15))
    assert out.changes["state"] == "abandoned" and out.alarms == CANCEL
    assert out.events[0].type == "application.abandoned"
    assert app.abandon(app.supplement_limit(), SYSTEM).changes == out.changes
    assert handlers.ACTIONS["withdraw"] == ("reason",) == handlers.ACTIONS["terminate"]


def test_a_withdrawn_sub_application_concludes_its_part_of_a_joint_case_unapproved():
    from services.approvals.projects.domain import joint_outcome

    decided = {"state": "decided", "approved": True, "decided_at": t(10, 9), "refused_at": None, "ended_at": None}
    withdrawn = {"state": "withdrawn", "approved": None, "decided_at": None, "refused_at": None, "ended_at": t(10, 12)}
    assert joint_outcome([decided, withdrawn]) == (t(10, 12), False)
    assert joint_outcome([decided, {**withdrawn, "state": "accepted", "ended_at": None}]) is None
