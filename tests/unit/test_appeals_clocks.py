"""The hotline centre's clocks and the acceptance limit as pure rules (#13): a return waits for its review,
an approved return for re-dispatch, a reply for its call-back, each on a working-day clock with a warning, an
overdue notice and an escalation to the hotline centre; a dispatch not signed for in time is told once."""

from datetime import date, datetime, timedelta

import pytest

from services.appeals.domain import (
    ALARM_ACCEPTANCE,
    ALARM_OVERDUE,
    ALARM_WAIT_ESCALATION,
    ALARM_WAIT_OVERDUE,
    ALARM_WAIT_WARNING,
    AWAITING_DISPATCH,
    REPLIED,
    RETURN_PENDING,
    Appeal,
    AppealRules,
    acceptance_moment,
    wait_clock,
)
from services.appeals.supervision import domain as orders
from services.kernel.clock import TZ
from services.kernel.domain import Actor, IllegalTransition
from services.kernel.workcal import WorkCalendar

CAL = WorkCalendar.load(None)
RULES = AppealRules()
WED = datetime(2026, 11, 4, 10, tzinfo=TZ)  # a Wednesday
HANDLER = Actor("h", "department_handler", "ZJJ")
OPERATOR = Actor("op", "operator", None)


def _row(**kw):
    row = dict(id=1, case_no="MY1", type="help", urgency="normal", category="road", department="ZJJ",
               subject_department=None, status="dispatched", dispatched_at=WED, accepted_at=None,
               clock_started_at=WED, limit_days=3, due_at=datetime(2026, 11, 9, 23, 59, 59, 999999, tzinfo=TZ),
               clock_error=None, extension_used=False, extension_days=None, reopen_count=0, return_count=0,
               exposed=False, overdue=False, urged_at=None, escalated_at=None, acceptance_overdue=False,
               returned_by=None, waiting_since=None, wait_due_at=None)
    row.update(kw)
    return row


def _kinds(outcome):
    return {kind: at for kind, at in outcome.alarms.moments}


def test_configuration_of_the_new_clocks():
    rules = AppealRules.from_config({"REDISPATCH_WITHIN_DAYS": 2, "CALLBACK_WITHIN_DAYS": 5, "REVIEW_WITHIN_DAYS": 3,
                                     "HOTLINE_ESCALATE_AFTER_DAYS": 2, "SUPERVISION_WARN_DAYS": 0})
    assert (rules.wait_limit(AWAITING_DISPATCH), rules.wait_limit(REPLIED), rules.wait_limit(RETURN_PENDING)) == (
        2, 5, 3)
    assert (rules.hotline_escalate_after_days, rules.supervision_warn_days) == (2, 0)
    assert (RULES.redispatch_within_days, RULES.callback_within_days, RULES.review_within_days) == (1, 3, 1)


def test_a_dispatch_starts_an_acceptance_limit_with_its_alarm():
    out = Appeal(_row(status="awaiting_dispatch", department=None), CAL, RULES).dispatch("ZJJ", WED, OPERATOR)
    # one working day, counted from the day after: the first instant after Thursday
    assert _kinds(out)[ALARM_ACCEPTANCE] == datetime(2026, 11, 6, tzinfo=TZ)
    assert out.changes["acceptance_overdue"] is False and out.alarms.cancel
    assert acceptance_moment(CAL, RULES, datetime(2026, 12, 31, 10, tzinfo=TZ)) is None  # 2027: no schedule


def test_acceptance_overdue_once_and_only_while_not_signed_for():
    moment = datetime(2026, 11, 6, tzinfo=TZ)
    out = Appeal(_row(), CAL, RULES).on_alarm(ALARM_ACCEPTANCE, moment)
    assert out.changes == {"acceptance_overdue": True}
    assert [(e.type, e.payload) for e in out.events] == [("appeal.acceptance_overdue", {"dispatched_at": WED})]
    assert Appeal(_row(acceptance_overdue=True), CAL, RULES).on_alarm(ALARM_ACCEPTANCE, moment) is None
    assert Appeal(_row(status="accepted"), CAL, RULES).on_alarm(ALARM_ACCEPTANCE, moment) is None
    assert Appeal(_row(status=RETURN_PENDING), CAL, RULES).on_alarm(ALARM_ACCEPTANCE, moment) is None


def test_an_approved_extension_keeps_the_acceptance_alarm_unless_it_fired():
    pending = _row(extension_used=True, extension_days=2)
    out = Appeal(pending, CAL, RULES).decide_extension(True, None, WED, OPERATOR)
    assert ALARM_ACCEPTANCE in _kinds(out) and ALARM_OVERDUE in _kinds(out)
    out = Appeal({**pending, "acceptance_overdue": True}, CAL, RULES).decide_extension(True, None, WED, OPERATOR)
    assert ALARM_ACCEPTANCE not in _kinds(out)


def test_a_return_waits_for_review_on_its_clock():
    out = Appeal(_row(status="accepted"), CAL, RULES).return_("不属于本单位职责", WED, HANDLER)
    ch = out.changes
    assert (ch["status"], ch["department"], ch["returned_by"], ch["return_count"]) == (RETURN_PENDING, None, "ZJJ", 1)
    assert ch["waiting_since"] == WED and ch["wait_due_at"] == datetime(2026, 11, 5, 23, 59, 59, 999999, tzinfo=TZ)
    kinds = _kinds(out)
    assert kinds[ALARM_WAIT_WARNING] == datetime(2026, 11, 5, 0, 0, tzinfo=TZ)  # the last day begins
    assert kinds[ALARM_WAIT_OVERDUE] == datetime(2026, 11, 6, 0, 0, tzinfo=TZ)
    # one working day after it became overdue, counted as the urging's escalation is (from the day after: Monday)
    assert kinds[ALARM_WAIT_ESCALATION] == datetime(2026, 11, 10, 0, 0, tzinfo=TZ)
    assert out.alarms.cancel  # the department's alarms end
    assert [e.type for e in out.events] == ["appeal.returned"]


def test_review_approved_waits_for_redispatch_rejected_goes_back_to_the_department():
    pending = _row(status=RETURN_PENDING, department=None, returned_by="ZJJ", waiting_since=WED, dispatched_at=None)
    thu = WED + timedelta(days=1)
    ok = Appeal(pending, CAL, RULES).review_return("approved", "确非本单位职责", thu, OPERATOR)
    assert ok.changes["status"] == AWAITING_DISPATCH and ok.changes["waiting_since"] == thu
    assert ok.events[0] == ("appeal.return_reviewed", {"returned_by": "ZJJ", "decision": "approved",
                                                       "note": "确非本单位职责", "by": "op"})
    assert set(_kinds(ok)) == {ALARM_WAIT_WARNING, ALARM_WAIT_OVERDUE, ALARM_WAIT_ESCALATION}
    no = Appeal(pending, CAL, RULES).review_return("rejected", "属于本单位职责", thu, OPERATOR)
    assert (no.changes["status"], no.changes["department"], no.changes["dispatched_at"]) == ("dispatched", "ZJJ", thu)
    assert no.changes["waiting_since"] is None and no.changes["due_at"] > thu
    assert [e.type for e in no.events] == ["appeal.return_reviewed", "appeal.dispatched"]
    assert no.events[0].payload["decision"] == "rejected"
    assert ALARM_ACCEPTANCE in _kinds(no) and ALARM_WAIT_OVERDUE not in _kinds(no)


@pytest.mark.parametrize("status", ["dispatched", "accepted", "awaiting_dispatch", "replied", "closed"])
def test_a_review_needs_a_pending_return(status):
    with pytest.raises(IllegalTransition) as err:
        Appeal(_row(status=status), CAL, RULES).review_return("approved", None, WED, OPERATOR)
    assert "退单" in err.value.message_zh


def test_a_pending_return_is_reviewed_before_a_dispatch():
    with pytest.raises(IllegalTransition) as err:
        Appeal(_row(status=RETURN_PENDING, department=None), CAL, RULES).dispatch("HBJ", WED, OPERATOR)
    assert "审核" in err.value.message_zh


def test_a_reply_starts_the_callback_clock_and_a_callback_ends_it():
    out = Appeal(_row(status="accepted"), CAL, RULES).reply("已处理", WED, HANDLER)
    assert out.changes["waiting_since"] == WED
    assert out.changes["wait_due_at"] == datetime(2026, 11, 9, 23, 59, 59, 999999, tzinfo=TZ)  # Thu, Fri, Mon
    assert _kinds(out)[ALARM_WAIT_OVERDUE] == datetime(2026, 11, 10, tzinfo=TZ)
    replied = _row(status=REPLIED, waiting_since=WED, wait_due_at=out.changes["wait_due_at"])
    closed = Appeal(replied, CAL, RULES).record_callback("satisfied", True, WED + timedelta(days=1), OPERATOR)
    assert closed.changes["waiting_since"] is None and closed.alarms.cancel and not closed.alarms.moments
    reopened = Appeal(replied, CAL, RULES).record_callback("unsatisfied", False, WED + timedelta(days=1), OPERATOR)
    assert reopened.changes["waiting_since"] is None and ALARM_ACCEPTANCE in _kinds(reopened)


def test_the_wait_alarms_tell_the_hotline_centre_by_status():
    since = WED
    for status, prefix, extra in ((RETURN_PENDING, "return_review", {"returned_by": "ZJJ"}),
                                  (AWAITING_DISPATCH, "dispatch", {}),
                                  (REPLIED, "callback", {"replied_by": "ZJJ"})):
        row = _row(status=status, waiting_since=since, wait_due_at=since + timedelta(days=1), returned_by="ZJJ",
                   department=None if status != REPLIED else "ZJJ")
        appeal = Appeal(row, CAL, RULES)
        for kind, suffix in ((ALARM_WAIT_WARNING, "warning"), (ALARM_WAIT_OVERDUE, "overdue"),
                             (ALARM_WAIT_ESCALATION, "escalated")):
            out = appeal.on_alarm(kind, since + timedelta(days=2))
            assert out.changes == {} and len(out.events) == 1
            event = out.events[0]
            assert event.type == f"appeal.{prefix}_{suffix}"
            assert event.payload == {"department": None, "waiting_since": since,
                                     "wait_due_at": since + timedelta(days=1), **extra}
    # moot once the wait is over
    assert Appeal(_row(status="dispatched"), CAL, RULES).on_alarm(ALARM_WAIT_OVERDUE, WED) is None
    assert Appeal(_row(status="closed", waiting_since=WED), CAL, RULES).on_alarm(ALARM_WAIT_OVERDUE, WED) is None


def test_a_late_report_finds_the_wait_moments_and_dates_them_really():
    replied = _row(status=REPLIED, waiting_since=WED)
    appeal = Appeal(replied, CAL, RULES)
    moments = appeal.alarm_moments()
    assert moments[ALARM_WAIT_OVERDUE] == datetime(2026, 11, 10, tzinfo=TZ)
    assert ALARM_OVERDUE not in moments and ALARM_ACCEPTANCE not in moments  # the department's clocks stopped
    late = datetime(2026, 11, 20, tzinfo=TZ)
    assert appeal.claimed_alarm_moment(ALARM_WAIT_OVERDUE, late, late) == datetime(2026, 11, 10, tzinfo=TZ)
    assert appeal.claimed_alarm_moment(ALARM_WAIT_WARNING, late, late) == late


def test_a_wait_running_into_a_year_without_schedule_says_so():
    wait = wait_clock(CAL, RULES, REPLIED, datetime(2026, 12, 30, 10, tzinfo=TZ))
    assert wait.due_at is None and "2027" in wait.error and wait.alarms == []


# -- supervision orders ------------------------------------------------------------------------------------

def test_a_supervision_order_warns_on_its_last_working_day_and_is_checked_after_act_by():
    ordered = datetime(2026, 11, 4, 10, tzinfo=TZ)
    assert orders.check_moment(date(2026, 11, 6)) == datetime(2026, 11, 7, tzinfo=TZ)
    assert orders.warning_moment(CAL, date(2026, 11, 6), 1, ordered) == datetime(2026, 11, 6, tzinfo=TZ)
    # act_by a Sunday: its last working day is the Friday before
    assert orders.warning_moment(CAL, date(2026, 11, 8), 1, ordered) == datetime(2026, 11, 6, tzinfo=TZ)
    assert orders.warning_moment(CAL, date(2026, 11, 9), 2, ordered) == datetime(2026, 11, 6, tzinfo=TZ)
    # a warning not after the order, or none asked for
    assert orders.warning_moment(CAL, date(2026, 11, 4), 1, ordered) is None
    assert orders.warning_moment(CAL, date(2026, 11, 6), 0, ordered) is None


def test_an_order_takes_its_steps_once_in_order():
    order = dict(warn_at=datetime(2026, 11, 6, tzinfo=TZ), check_at=datetime(2026, 11, 7, tzinfo=TZ), warned_at=None,
                 checked_at=None, fulfilled_at=None)
    assert orders.due_steps(order, datetime(2026, 11, 5, tzinfo=TZ)) == []
    assert orders.due_steps(order, datetime(2026, 11, 8, tzinfo=TZ)) == [("warning", order["warn_at"]),
                                                                        ("overdue", order["check_at"])]
    assert orders.next_moment(order) == order["warn_at"]
    warned = {**order, "warned_at": WED}
    assert orders.due_steps(warned, datetime(2026, 11, 8, tzinfo=TZ)) == [("overdue", order["check_at"])]
    assert orders.next_moment(warned) == order["check_at"]
    assert orders.next_moment({**warned, "checked_at": WED}) is None
    assert orders.next_moment({**order, "fulfilled_at": WED}) is None
    assert orders.is_settled(order, "closed") and not orders.is_settled(order, "accepted")
    assert orders.fulfils("reply", "replied") and orders.fulfils("callback", "closed")
    assert not orders.fulfils("callback", "dispatched") and not orders.fulfils("accept", "accepted")


def test_a_supervision_order_is_fulfilled_by_an_answer_or_the_case_ending_in_any_way():
    from services.appeals.supervision import domain as orders

    assert orders.fulfils("reply", "replied") and orders.fulfils("finding", "replied")
    for action, status in (("callback", "closed"), ("invalidate", "invalid"), ("withdraw", "withdrawn"),
                           ("merge", "merged")):
        assert orders.fulfils(action, status), status
        assert orders.is_settled({"fulfilled_at": None}, status), status
    assert not orders.fulfils("accept", "accepted") and not orders.fulfils("return", "return_pending")
    assert not orders.is_settled({"fulfilled_at": None}, "accepted")
