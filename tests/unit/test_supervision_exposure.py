"""What the exposure board is told of an exposed supervision order (approvals, pure): when the department has
acted, in the board's words, and that no personal data is in it."""

from datetime import date, datetime

import pytest

from services.approvals.supervision import domain
from services.kernel import clock

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=clock.TZ)
ORDER = {"public_id": "f" * 20, "department": "SCJGJ", "act_by": date(2026, 11, 25), "exposed_at": NOW,
         "overdue_alert_id": None, "note": "申请人王小明来电 13912345678 反映久拖不办"}


def app(state: str, **moments) -> dict:
    return {"state": state, "applicant_name": "王小明", "item_code": "SCJ-001", "decided_at": None,
            "refused_at": None, "ended_at": None, **moments}


@pytest.mark.parametrize(("state", "alert", "alert_state", "rect", "rectified"), [
    ("accepted", None, None, None, False),       # still open, in time
    ("decided", None, None, None, True),         # decided in time
    ("refused", None, None, None, True),
    ("withdrawn", None, None, None, True),
    ("accepted", 7, "open", "pending", False),   # overdue, open
    ("decided", 7, "open", "submitted", False),  # decided late: the card waits for its rectification
    ("decided", 7, "resolved", "accepted", True),
    ("accepted", 7, "resolved", "accepted", True),  # a monitor accepted the report
    ("accepted", 7, "resolved", "closed", False),   # resolved otherwise while still open
    ("delivered", 7, "resolved", "closed", True),
])
def test_when_the_department_has_acted(state, alert, alert_state, rect, rectified):
    assert domain.is_rectified(state, alert, alert_state, rect) is rectified


def test_the_board_reads_what_was_done_without_who_it_was_for():
    decided = domain.public_view(ORDER, app("decided", decided_at=datetime(2026, 11, 24, 16, 0, tzinfo=clock.TZ)),
                                 "食品经营许可", None, NOW)
    assert decided["problem"] == "申请人[姓名]来电 [电话] 反映久拖不办"
    assert (decided["rectified"], decided["rectification"], decided["rectified_on"]) == (
        True, "已于2026-11-24作出审批决定，督办事项已办结", date(2026, 11, 24))
    refused = domain.public_view(ORDER, app("refused", refused_at=NOW), None, None, NOW)
    assert refused["rectification"] == "已于2026-11-26作出不予受理决定，督办事项已办结"
    ended = domain.public_view(ORDER, app("withdrawn", ended_at=NOW), None, None, NOW)
    assert ended["rectification"] == "申请已撤回，督办事项已了结" and ended["rectified_on"] == date(2026, 11, 26)
    report = {"state": "accepted", "corrected": "已约谈李建国并告知王小明 0571-87654321",
              "corrected_by": "李建国", "reviewed_at": NOW}
    overdue = domain.public_view({**ORDER, "overdue_alert_id": 7, "alert_state": "resolved"}, app("accepted"),
                                 None, report, NOW)
    assert overdue["rectification"] == "已约谈[姓名]并告知[姓名] [电话]"
    assert set(overdue) >= {"public_id", "item_code", "act_by"} and "applicant_name" not in overdue
    long = domain.public_view({**ORDER, "note": "拖" * 300}, app("accepted"), None, None, NOW)
    assert len(long["problem"]) == domain.MAX_PROBLEM_CHARS and long["problem"].endswith("…")
    assert long["rectified"] is False and long["rectification"] is None and long["rectified_on"] is None
