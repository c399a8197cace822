"""The appeal rules without a broker or database: limits, alarms, masking, transitions."""

from datetime import datetime

import pytest

from services.appeals.domain import (
    ALARM_FRACTION,
    ALARM_LAST_DAY,
    ALARM_OVERDUE,
    Appeal,
    AppealRules,
    escalation_moment,
    mask_name,
    mask_phone,
    normalize_phone,
    reply_deadline,
)
from services.kernel.clock import TZ
from services.kernel.domain import SYSTEM, Actor, IllegalTransition
from services.kernel.workcal import WorkCalendar

CAL = WorkCalendar.load(None)
RULES = AppealRules()


def test_limits_by_type_and_urgency_and_from_config():
    assert RULES.limit_for("help", "normal") == 3
    assert RULES.limit_for("complaint", "normal") == 13
    assert RULES.limit_for("complaint", "emergency") == 0
    custom = AppealRules.from_config({"LIMITS": {"help": 2}, "WARN_FRACTION": None, "MAX_REOPEN": 2})
    assert (custom.limit_for("help", "normal"), custom.warn_fraction, custom.max_reopen) == (2, None, 2)
    assert custom.limit_for("report", "normal") == 13


def test_alarms_of_a_three_day_limit():
    dl = reply_deadline(CAL, RULES, datetime(2026, 11, 4, 10, 0, tzinfo=TZ), 3)
    assert dl.due_at.isoformat() == "2026-11-09T23:59:59.999999+08:00"
    kinds = dict(dl.alarms)
    assert kinds[ALARM_LAST_DAY] == datetime(2026, 11, 7, 0, 0, tzinfo=TZ)  # the end of Friday, day two
    assert datetime(2026, 11, 9, 9, 0, tzinfo=TZ) < kinds[ALARM_FRACTION] < datetime(2026, 11, 9, 10, 0, tzinfo=TZ)
    assert kinds[ALARM_OVERDUE] > dl.due_at


def test_the_same_day_limit_has_only_the_overdue_alarm():
    dl = reply_deadline(CAL, RULES, datetime(2026, 11, 4, 10, 0, tzinfo=TZ), 0)
    assert dl.due_at.date().isoformat() == "2026-11-04"
    assert [k for k, _ in dl.alarms] == [ALARM_OVERDUE]


def test_a_deadline_in_a_year_without_schedule_says_so():
    dl = reply_deadline(CAL, RULES, datetime(2026, 12, 28, 10, 0, tzinfo=TZ), 13)
    assert dl.due_at is None and "2027" in dl.error and dl.alarms == []
    assert escalation_moment(CAL, RULES, datetime(2026, 12, 30, 0, 0, tzinfo=TZ)) is None


def test_masking():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("12345") == "1****"
    assert mask_name("王小明") == "王**" and mask_name("李") == "李*"
    assert mask_phone(None) is None


def _row(**kw):
    row = dict(id=1, case_no="MY1", type="help", urgency="normal", category="road", department="ZJJ",
               subject_department=None, status="dispatched", dispatched_at=datetime(2026, 11, 4, 10, tzinfo=TZ),
               clock_started_at=datetime(2026, 11, 4, 10, tzinfo=TZ), limit_days=3,
               due_at=datetime(2026, 11, 9, 23, 59, 59, 999999, tzinfo=TZ), extension_used=False,
               extension_days=None, reopen_count=0, return_count=0, exposed=False)
    row.update(kw)
    return row


def test_reply_needs_acceptance_and_a_complaint_needs_a_finding():
    at = datetime(2026, 11, 5, 9, tzinfo=TZ)
    handler = Actor("h", "department_handler", "ZJJ")
    with pytest.raises(IllegalTransition) as err:
        Appeal(_row(), CAL, RULES).reply("好的", at, handler)
    assert "签收" in err.value.message_zh
    with pytest.raises(IllegalTransition):
        Appeal(_row(type="efficiency_complaint", status="accepted"), CAL, RULES).reply("好的", at, handler)
    out = Appeal(_row(status="accepted"), CAL, RULES).reply("好的", at, handler)
    assert out.changes["status"] == "replied" and out.events == [("appeal.replied", {"in_time": True})]


def test_unsatisfied_reopens_only_up_to_the_limit():
    at = datetime(2026, 11, 6, 9, tzinfo=TZ)
    out = Appeal(_row(status="replied"), CAL, RULES).record_callback("unsatisfied", False, at, SYSTEM)
    assert out.changes["status"] == "dispatched" and out.changes["reopen_count"] == 1
    out = Appeal(_row(status="replied", reopen_count=1), CAL, RULES).record_callback("unsatisfied", False, at, SYSTEM)
    assert out.changes["status"] == "closed"
    assert [t for t, _ in out.events] == ["appeal.callback_recorded", "appeal.closed"]


@pytest.mark.parametrize("written, stored", [
    ("13812345678", "13812345678"), ("138-1234-5678", "13812345678"), ("+86 138 1234 5678", "13812345678"),
    ("008613812345678", "13812345678"), ("8613812345678", "13812345678"),
    ("0571-8888 1234", "057188881234"), ("+86 571 8888 1234", "057188881234"),
    ("+1 415 555 0100", "+14155550100"), ("12345", "12345"), (None, None), ("", ""),
])
def test_a_phone_number_has_one_spelling(written, stored):
    assert normalize_phone(written) == stored
