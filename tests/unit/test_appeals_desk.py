"""The operator's desk as pure rules (#14): a consultation closed on the call, a case ended as invalid or
withdrawn and counted nowhere, corrections after intake with their history and a type change's new limit, and an
efficiency complaint's finding as the reply of the case."""

from datetime import datetime

import pytest

from services.appeals.domain import (
    ALARM_ACCEPTANCE,
    ALARM_OVERDUE,
    Appeal,
    AppealRules,
    finding_reply,
)
from services.kernel.clock import TZ
from services.kernel.domain import Actor, IllegalTransition
from services.kernel.outcome import CANCEL
from services.kernel.workcal import WorkCalendar

CAL = WorkCalendar.load(None)
RULES = AppealRules()
WED = datetime(2026, 11, 4, 10, tzinfo=TZ)  # a Wednesday
OPERATOR = Actor("op", "operator", None)


def _row(**kw):
    row = dict(id=1, case_no="MY1", type="help", urgency="normal", category="road", department="ZJJ",
               subject_department=None, status="dispatched", dispatched_at=WED, accepted_at=None,
               clock_started_at=WED, limit_days=3, due_at=datetime(2026, 11, 9, 23, 59, 59, 999999, tzinfo=TZ),
               clock_error=None, extension_used=False, extension_days=None, reopen_count=0, return_count=0,
               exposed=False, overdue=False, urged_at=None, escalated_at=None, acceptance_overdue=False,
               returned_by=None, waiting_since=None, wait_due_at=None, town_street="WCJD", address="文昌路 1 号")
    row.update(kw)
    return row


def _appeal(**kw):
    return Appeal(_row(**kw), CAL, RULES)


# -- close on the call -------------------------------------------------------------------------------

def test_a_consultation_waiting_for_dispatch_closes_on_the_call_with_the_answer():
    out = _appeal(type="consultation", status="awaiting_dispatch", department=None, waiting_since=WED,
                  clock_started_at=None, limit_days=None, due_at=None).close_on_call("可在政务网办理", WED, OPERATOR)
    assert (out.changes["status"], out.changes["reply"], out.changes["closed_on_call"]) == (
        "closed", "可在政务网办理", True)
    assert out.changes["department"] is None and out.changes["waiting_since"] is None
    assert out.alarms == CANCEL
    # the answer does not travel; appeal.closed follows, addressed to no department
    assert out.events == [("appeal.closed_on_call", {"department": None, "by": "op"}),
                          ("appeal.closed", {"department": None})]


@pytest.mark.parametrize("kw, said", [
    ({"type": "help", "status": "awaiting_dispatch"}, "咨询"),
    ({"type": "consultation", "status": "dispatched"}, "已派单"),
    ({"type": "consultation", "status": "accepted"}, "已派单"),
    ({"type": "consultation", "status": "closed"}, "已办结"),
])
def test_only_a_consultation_not_dispatched_closes_on_the_call(kw, said):
    with pytest.raises(IllegalTransition) as err:
        _appeal(**kw).close_on_call("答复", WED, OPERATOR)
    assert said in err.value.message_zh


def test_the_types_closed_on_the_call_are_configurable():
    rules = AppealRules.from_config({"CLOSE_ON_CALL_TYPES": "consultation, praise"})
    assert rules.close_on_call_types == ("consultation", "praise")
    assert AppealRules.from_config({"CLOSE_ON_CALL_TYPES": ["help"]}).close_on_call_types == ("help",)
    out = Appeal(_row(type="praise", status="awaiting_dispatch"), CAL, rules).close_on_call("感谢", WED, OPERATOR)
    assert out.changes["status"] == "closed"


# -- invalid and withdrawn ---------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["awaiting_dispatch", "return_pending", "dispatched", "accepted", "replied"])
def test_an_open_case_ends_invalid_or_withdrawn_with_its_alarms_cancelled(status):
    out = _appeal(status=status).void("invalid", "prank", "多次骚扰来电", WED, OPERATOR)
    assert (out.action, out.changes["status"], out.changes["invalid_kind"], out.changes["void_reason"]) == (
        "invalidate", "invalid", "prank", "多次骚扰来电")
    assert out.alarms == CANCEL and out.changes["closed_at"] == WED and out.changes["waiting_since"] is None
    assert out.events[0] == ("appeal.voided", {"kind": "invalid", "invalid_kind": "prank", "reason": "多次骚扰来电",
                                               "by": "op"})
    out = _appeal(status=status).void("withdrawn", None, "来电人已自行解决", WED, OPERATOR)
    assert (out.action, out.changes["status"], out.changes["invalid_kind"]) == ("withdraw", "withdrawn", None)
    assert [t for t, _ in out.events] == ["appeal.voided", "appeal.closed"]


@pytest.mark.parametrize("status", ["closed", "duplicate", "invalid", "withdrawn"])
def test_an_ended_case_is_not_voided_again(status):
    with pytest.raises(IllegalTransition) as err:
        _appeal(status=status).void("withdrawn", None, "撤诉", WED, OPERATOR)
    assert "不能撤诉" in err.value.message_zh


def test_an_efficiency_complaint_is_not_withdrawn_but_may_be_invalid():
    complaint = dict(type="efficiency_complaint", department="JW", subject_department="ZJJ")
    with pytest.raises(IllegalTransition) as err:
        _appeal(**complaint).void("withdrawn", None, "不想投诉了", WED, OPERATOR)
    assert "调查结论" in err.value.message_zh
    assert _appeal(**complaint).void("invalid", "test", "测试数据", WED, OPERATOR).changes["status"] == "invalid"


# -- corrections -------------------------------------------------------------------------------------

def test_a_correction_keeps_old_and_new_and_the_address_never_travels():
    out = _appeal().correct({"category": "water", "address": "文昌路 2 号", "town_street": "WCJD"}, "记错了",
                            WED, OPERATOR)
    assert out.changes == {"category": "water", "address": "文昌路 2 号"}  # town_street did not change
    assert out.details == {"category": {"old": "road", "new": "water"},
                           "address": {"old": "文昌路 1 号", "new": "文昌路 2 号"}, "reason": "记错了"}
    (kind, payload), = out.events
    assert kind == "appeal.corrected" and payload["corrected"] == ["address", "category"]
    assert payload["changes"] == {"category": {"old": "road", "new": "water"}}
    assert "文昌路" not in repr(payload)
    assert out.alarms.moments == () and not out.alarms.cancel  # the clock is untouched


def test_nothing_to_correct_is_refused():
    with pytest.raises(ValueError):
        _appeal().correct({"category": "road"}, "无变化", WED, OPERATOR)


def test_a_type_change_recomputes_the_running_clock_from_its_start_keeping_an_extension():
    # help (3 days, due Mon 9th) becomes a complaint (13): due 13 working days after Wed 4th = Mon 23rd
    out = _appeal().correct({"type": "complaint"}, "实为投诉", WED, OPERATOR)
    assert out.changes["limit_days"] == 13 and out.changes["due_at"].date().isoformat() == "2026-11-23"
    kinds = dict(out.alarms.moments)
    assert out.alarms.cancel and ALARM_OVERDUE in kinds and ALARM_ACCEPTANCE in kinds
    assert out.details["limit_days"] == {"old": 3, "new": 13} and out.events[0][1]["limit_days"] == 13
    # an approved extension of 2 days stays on the new limit
    out = _appeal(limit_days=5, status="accepted").correct({"type": "complaint"}, "实为投诉", WED, OPERATOR)
    assert out.changes["limit_days"] == 15 and ALARM_ACCEPTANCE not in dict(out.alarms.moments)


def test_a_longer_limit_lifts_an_overdue_case_and_a_shorter_one_keeps_the_urging():
    late = datetime(2026, 11, 12, 9, tzinfo=TZ)
    urged = dict(status="accepted", overdue=True, urged_at=datetime(2026, 11, 10, 0, 0, tzinfo=TZ))
    out = _appeal(**urged).correct({"type": "complaint"}, "实为投诉", late, OPERATOR)
    assert (out.changes["overdue"], out.changes["urged_at"]) == (False, None) and out.alarms.cancel
    # no warning whose moment has passed is given again
    assert all(m > late for k, m in out.alarms.moments if k != ALARM_OVERDUE)
    out = _appeal(**dict(urged, type="complaint", limit_days=13)).correct({"type": "help"}, "实为求助", late,
                                                                           OPERATOR)
    assert "overdue" not in out.changes and not out.alarms.cancel


def test_an_efficiency_complaint_is_neither_made_nor_unmade_by_a_correction_nor_is_an_ended_case_corrected():
    with pytest.raises(IllegalTransition):
        _appeal().correct({"type": "efficiency_complaint"}, "改为效能投诉", WED, OPERATOR)
    with pytest.raises(IllegalTransition):
        _appeal(type="efficiency_complaint").correct({"type": "help"}, "改为求助", WED, OPERATOR)
    with pytest.raises(IllegalTransition):
        _appeal(status="invalid").correct({"category": "water"}, "更正", WED, OPERATOR)


# -- the finding is the reply -----------------------------------------------------------------------------

def test_the_finding_of_a_complaint_is_its_reply_and_starts_the_callback_clock():
    complaint = _appeal(type="efficiency_complaint", department="JW", subject_department="ZJJ", status="accepted")
    out = complaint.record_finding("upheld", "推诿属实", "李四", False, WED, OPERATOR, "EW-1")
    assert (out.changes["status"], out.changes["reply"]) == ("replied", finding_reply("upheld", "推诿属实"))
    assert out.changes["reply"] == "经调查，您反映的问题属实。推诿属实"
    assert out.changes["waiting_since"] == WED and out.changes["wait_due_at"] is not None
    assert [t for t, _ in out.events] == ["complaint.finding_recorded", "efficiency_warning.issued",
                                          "appeal.replied"]
    assert out.events[-1][1] == {"in_time": True}
    assert "closed_at" not in out.changes


# -- merge and split ------------------------------------------------------------------------------------

def test_a_case_merges_into_an_open_main_case_of_its_department():
    main = _row(id=2, case_no="MY2", status="accepted")
    out = _appeal().merge_into(main, "同一事项", WED, OPERATOR)
    assert (out.changes["status"], out.changes["merged_into"], out.changes["department"]) == ("merged", 2, "ZJJ")
    assert out.alarms == CANCEL and out.details == {"into": "MY2", "reason": "同一事项"}
    assert out.events[0] == ("appeal.merged", {"main_id": "2", "main_case_no": "MY2", "reason": "同一事项",
                                               "by": "op"})
    # not dispatched yet: it takes the main case's department
    waiting = _appeal(status="awaiting_dispatch", department=None).merge_into(main, "同一事项", WED, OPERATOR)
    assert waiting.changes["department"] == "ZJJ"


@pytest.mark.parametrize("mine, main, said", [
    ({}, {"status": "closed"}, "主案件"),
    ({"status": "closed"}, {}, "不能合并"),
    ({"department": "SWJ"}, {}, "改派"),
    ({"type": "efficiency_complaint"}, {}, "效能投诉"),
])
def test_what_cannot_be_merged(mine, main, said):
    with pytest.raises(IllegalTransition) as err:
        _appeal(**mine).merge_into(_row(id=2, case_no="MY2", **main), "同一事项", WED, OPERATOR)
    assert said in err.value.message_zh
    with pytest.raises(ValueError):
        _appeal().merge_into(_row(), "自己", WED, OPERATOR)


def test_the_origin_of_a_split_keeps_its_clock_and_names_its_parts():
    out = _appeal().split_off(["MY3", "MY4"], "一个来电两件事", OPERATOR)
    assert out.changes == {} and not out.alarms.cancel
    assert out.events == [("appeal.split", {"part_case_nos": ["MY3", "MY4"], "reason": "一个来电两件事", "by": "op"})]
    with pytest.raises(IllegalTransition):
        _appeal(status="merged").split_off(["MY3"], "拆分", OPERATOR)


# -- assisting departments --------------------------------------------------------------------------------

def _assist(**kw):
    return {"department": "SWJ", "requested_at": WED, "accepted_at": None, "replied_at": None, "part": None, **kw}


def test_a_dispatch_names_its_assisting_departments_but_not_the_lead_nor_for_a_complaint():
    out = _appeal(status="awaiting_dispatch", department=None).dispatch("ZJJ", WED, OPERATOR, ("SWJ", "HBJ"))
    assert out.events[0][1]["assisting"] == ["SWJ", "HBJ"] and out.details["assisting"] == ["SWJ", "HBJ"]
    assert "assisting" not in _appeal(status="awaiting_dispatch").dispatch("ZJJ", WED, OPERATOR).events[0][1]
    with pytest.raises(IllegalTransition):
        _appeal(status="awaiting_dispatch").dispatch("ZJJ", WED, OPERATOR, ("ZJJ",))
    with pytest.raises(IllegalTransition):
        _appeal(type="efficiency_complaint", department="JW").dispatch("JW", WED, OPERATOR, ("SWJ",))


def test_an_assisting_department_signs_then_gives_its_part_once_while_the_lead_clock_runs():
    handler = Actor("h", "department_handler", "SWJ")
    out = _appeal().assist("accept", _assist(), None, WED, handler)
    assert out.changes == {"accepted_at": WED}
    assert out.events == [("appeal.assist_accepted", {"department": "SWJ", "lead_department": "ZJJ"})]
    with pytest.raises(IllegalTransition) as err:
        _appeal().assist("reply", _assist(), "已核查管网", WED, handler)
    assert "签收" in err.value.message_zh
    out = _appeal().assist("reply", _assist(accepted_at=WED), "已核查管网", WED, handler)
    assert out.changes == {"replied_at": WED, "part": "已核查管网"} and "已核查" not in repr(out.events)
    with pytest.raises(IllegalTransition):
        _appeal().assist("reply", _assist(accepted_at=WED, replied_at=WED), "再答", WED, handler)
    with pytest.raises(IllegalTransition):
        _appeal().assist("accept", _assist(accepted_at=WED), None, WED, handler)
    for status in ("replied", "closed", "awaiting_dispatch"):
        with pytest.raises(IllegalTransition):
            _appeal(status=status).assist("accept", _assist(), None, WED, handler)


def test_the_lead_reply_waits_for_the_parts_and_shows_them():
    handler = Actor("h", "department_handler", "ZJJ")
    waiting = [_assist(accepted_at=WED)]
    with pytest.raises(IllegalTransition) as err:
        _appeal(status="accepted", assisting=waiting).reply("已修复", WED, handler)
    assert "SWJ" in err.value.message_zh
    done = [_assist(accepted_at=WED, replied_at=WED, part="管网已检修")]
    out = _appeal(status="accepted", assisting=done).reply("已修复", WED, handler)
    assert out.changes["reply"] == "已修复\n\n协办单位答复：\nSWJ：管网已检修"
