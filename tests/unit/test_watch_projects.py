"""The terminal watcher's lines for key projects' accountability alerts and joint approval cases' clock alerts
(#16): bound on approvals' exchange, filtered by the project's unit, one line each in Chinese."""

import json
from datetime import date, datetime

from services.kernel.clock import TZ
from services.kernel.contracts import make_event, parse_event
from services.notify import watch

RAISED = datetime(2026, 11, 11, 0, 0, 1, tzinfo=TZ)


def through_the_wire(event_type: str, payload: dict) -> dict:
    """The payload as the watcher reads it: published under its contract, parsed back from JSON."""
    event = make_event(event_type, payload, service="approvals")
    return parse_event(json.loads(json.dumps(event))).payload


def milestone_missed() -> dict:
    return through_the_wire("project.milestone_missed", {
        "project_code": "XM-1", "project_name": "某新能源汽车零部件项目", "milestone_id": "3",
        "milestone": "完成施工许可", "deadline": date(2026, 11, 10), "responsible_unit": "ZJJ", "alert_id": "41",
        "level": "accountability",
        "rule": "milestone_missed:3@2026-11-10", "raised_at": RAISED})


def test_the_project_and_joint_alerts_are_bound():
    for key in ("project.milestone_missed", "project.self_check_missing", "project.inspection_missing",
                "joint_approval.alert_raised"):
        assert key in watch.ROUTING_KEYS


def test_a_missed_milestone_is_one_red_line_of_its_unit():
    p = milestone_missed()
    line = watch.format_line("project.milestone_missed", p, False)
    assert line == ("11-11 00:00:01  【问责】  重点项目  ZJJ  XM-1  milestone_missed:3@2026-11-10  "
                    "某新能源汽车零部件项目：节点「完成施工许可」逾期未完成（应于 2026-11-10 前）")
    assert watch.format_line("project.milestone_missed", p, True) == f"\x1b[1;31m{line}\x1b[0m"
    # the responsible unit is its department for --department; accountability ranks with a red card
    assert watch.wanted(p, "ZJJ", "red") and not watch.wanted(p, "HBJ", "warning")


def test_a_missing_self_check_names_its_lead_unit_and_month():
    p = through_the_wire("project.self_check_missing", {
        "project_code": "XM-1", "project_name": "某新能源汽车零部件项目", "period": "2026-11",
        "due_by": datetime(2026, 12, 5, 23, 59, 59, tzinfo=TZ), "responsible_units": ["FGJ", "ZJJ"],
        "alert_id": "42", "level": "accountability", "rule": "self_check_missing:2026-11",
        "raised_at": datetime(2026, 12, 6, 8, 0, tzinfo=TZ)})
    assert watch.format_line("project.self_check_missing", p, False) == (
        "12-06 08:00:00  【问责】  重点项目  FGJ  XM-1  self_check_missing:2026-11  "
        "某新能源汽车零部件项目：2026-11 月度自查未按时报送")
    assert watch.wanted(p, "FGJ", "warning") and not watch.wanted(p, "ZJJ", "warning")


def test_a_quarter_without_inspection_names_the_quarter():
    p = through_the_wire("project.inspection_missing", {
        "project_code": "XM-1", "project_name": "某新能源汽车零部件项目", "quarter": "2026-Q3",
        "due_by": datetime(2026, 9, 30, 23, 59, 59, tzinfo=TZ), "responsible_units": ["FGJ", "ZJJ"],
        "alert_id": "44", "level": "accountability", "rule": "inspection_missing:2026-Q3",
        "raised_at": datetime(2026, 10, 1, 0, 0, 1, tzinfo=TZ)})
    assert watch.format_line("project.inspection_missing", p, False) == (
        "10-01 00:00:01  【问责】  重点项目  FGJ  XM-1  inspection_missing:2026-Q3  "
        "某新能源汽车零部件项目：2026-Q3 未开展重点督察")
    assert watch.wanted(p, "FGJ", "red")


def test_a_joint_case_alert_has_no_single_department():
    p = through_the_wire("joint_approval.alert_raised", {
        "joint_id": "7", "project_code": "XM-1", "limit_days": 45, "due_at": None, "alert_id": "43",
        "level": "yellow", "rule": "yellow_card", "raised_at": datetime(2026, 10, 12, 9, 0, tzinfo=TZ),
        "elapsed_days": 46.0, "remaining_days": 0.0})
    assert watch.format_line("joint_approval.alert_raised", p, False) == (
        "10-12 09:00:00  【黄牌】  联合审批  多部门  XM-1 联审#7  yellow_card")
    assert watch.wanted(p, None, "yellow") and not watch.wanted(p, None, "red")
    assert not watch.wanted(p, "ZJJ", "warning")  # a department's watcher: the joint case is no one unit's


def test_the_answers_to_a_project_alert_name_the_project():
    p = through_the_wire("monitor.alert_resolved", {
        "subject": "project", "department": "ZJJ", "project_code": "XM-1", "joint_id": None, "alert_id": "41",
        "level": "accountability", "rule": "milestone_missed:3@2026-11-10", "raised_at": RAISED, "by": "张监察",
        "note": "已约谈责任单位", "resolved_at": datetime(2026, 11, 12, 9, 30, tzinfo=TZ)})
    assert watch.format_line("monitor.alert_resolved", p, False) == (
        "11-12 09:30:00  已办结【问责】  重点项目  ZJJ  XM-1  milestone_missed:3@2026-11-10  "
        "（张监察：已约谈责任单位）")
    joint = {"subject": "joint_approval", "department": None, "project_code": "XM-1", "joint_id": "7", "level": "red",
             "rule": "red_card", "raised_at": RAISED, "by": "张监察", "note": None,
             "acknowledged_at": datetime(2026, 11, 12, 9, 0, tzinfo=TZ)}
    assert watch.format_line("monitor.alert_acknowledged", joint, False) == (
        "11-12 09:00:00  已确认【红牌】  联合审批  多部门  XM-1 联审#7  red_card  （张监察）")
