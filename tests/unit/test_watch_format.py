"""The terminal watcher's pure parts: its exchange declaration matches the kernel's (the broker refuses a
second declaration with other arguments), its level filter and its line format."""

from datetime import datetime

import pytest

from services.kernel.clock import TZ
from services.kernel.messaging import UNROUTED_EXCHANGE, events_exchange
from services.notify import watch


def test_the_exchange_is_declared_as_the_kernel_declares_it():
    kernel = events_exchange("approvals")
    assert kernel.name == watch.EXCHANGE and kernel.type == "topic" and kernel.durable and not kernel.auto_delete
    assert watch.EXCHANGE_ARGUMENTS == kernel.arguments == {"alternate-exchange": UNROUTED_EXCHANGE}


@pytest.mark.parametrize(("level", "department", "shown"), [
    ("warning", "D1", ["warning"]),
    ("yellow", "D1", ["warning", "yellow"]),
    ("irregularity", "D1", ["warning", "yellow"]),
    ("red", "D1", ["warning", "yellow", "red"]),
    ("accountability", "D1", ["warning", "yellow", "red"]),
    ("red", "D2", []),
    ("something_new", "D1", []),
])
def test_the_filter_by_department_and_minimum_level(level, department, shown):
    payload = {"level": level, "department": department}
    assert [m for m in watch.MIN_LEVELS if watch.wanted(payload, "D1", m)] == shown
    assert watch.wanted(payload, None, "warning") == (level != "something_new")


def test_one_line_per_alert_in_chinese_with_colour_on_request():
    raised = datetime(2026, 11, 2, 10, 0, 5, tzinfo=TZ)
    p = {"level": "yellow", "department": "SCJGJ", "application_no": "SP1", "rule": "overdue", "raised_at": raised}
    assert watch.format_line("monitor.yellow_card", p, False) == "11-02 10:00:05  【黄牌】  SCJGJ  SP1  overdue"
    line = "11-02 10:00:05  【黄牌】  SCJGJ  SP1  overdue"
    assert watch.format_line("monitor.yellow_card", p, True) == f"\x1b[1;33m{line}\x1b[0m"
    resolved = {**p, "by": "张监察", "note": "已纠正", "resolved_at": datetime(2026, 11, 3, 9, 0, tzinfo=TZ)}
    assert watch.format_line("monitor.alert_resolved", resolved, False) == (
        "11-03 09:00:00  已办结【黄牌】  SCJGJ  SP1  overdue  （张监察：已纠正）")
    submission = {"level": "irregularity", "department": None, "external_ref": "W-9", "rule": "future_time@x",
                  "raised_at": raised, "description_zh": "申请时间晚于当前时间"}
    line = watch.format_line("monitor.irregularity", submission, False)
    assert line.endswith("【纠错】  —  W-9  future_time@x  申请时间晚于当前时间")
