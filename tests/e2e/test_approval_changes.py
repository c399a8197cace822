"""Changes after registration and the alerts beyond applications, on the real broker with a frozen clock: a key
project and its plan edited (history, event, checks rescheduled), project and joint-case alerts in the one alert
listing and acknowledged/resolved like any other, a submission dated in the future refused and alerted, and a
joint approval created all at once or not at all."""

from datetime import datetime

import eventlet
import pytest

from services.approvals import handlers as approvals_handlers
from services.kernel import clock
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.e2e.test_approval_projects import APPLICANT, ITEMS, Api, of_type, wait_event

TZ = clock.TZ


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    return start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri,
                           departments=("SCJGJ", "ZJJ", "HBJ"), client=Api)


def drained(api):
    wait_for(lambda: api.ok("GET", "/health", "monitor")["outbox"]["pending"] == 0, message="outbox drained")


def quiet(api, seconds=0.6):
    """Let the monitors' 0.2 s timers run a few times, then let what they published reach the tap."""
    eventlet.sleep(seconds)
    drained(api)


def test_a_project_and_its_plan_are_edited_with_history_and_rescheduled_checks(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 9, 0, tzinfo=TZ))
    p = api.project(milestones=[{"name": "完成施工许可", "deadline": "2026-11-10", "responsible_unit": "ZJJ"}])
    mid = p["milestones"][0]["id"]
    assert p["history"] == [] and p["next_self_check"]["due_day"] == 5

    frozen(datetime(2026, 11, 3, 10, 0, tzinfo=TZ))
    edited = api.ok("PATCH", "/api/v1/projects/XM-1", "operator", {
        "name": "某新能源汽车整车项目", "responsible_units": ["HBJ", "FGJ", "ZJJ"],
        "agent": {"name": "李代办", "phone": "0571-87000002"}, "self_check_due_day": 10, "reason": "项目扩容"})
    assert (edited["name"], edited["responsible_units"][0], edited["agent"]["name"]) == (
        "某新能源汽车整车项目", "HBJ", "李代办")
    assert edited["next_self_check"] == {"period": "2026-11", "missing_from": "2026-12-11T00:00:00+08:00",
                                         "due_day": 10}
    line = edited["history"][0]
    assert (line["action"], line["actor"], line["reason"], line["at"]) == (
        "project_changed", "test-operator", "项目扩容", "2026-11-03T10:00:00+08:00")
    assert line["changes"]["name"] == {"from": "某新能源汽车零部件项目", "to": "某新能源汽车整车项目"}
    assert line["changes"]["self_check_due_day"] == {"from": None, "to": 10}
    changed = wait_for(lambda: of_type(tap, "project.plan_changed"), message="project.plan_changed")
    assert (changed[0]["action"], changed[0]["by"], changed[0]["responsible_units"][0]) == (
        "project_changed", "test-operator", "HBJ")
    # the same values again change nothing and record nothing
    same = api.ok("PATCH", "/api/v1/projects/XM-1", "operator", {"name": "某新能源汽车整车项目"})
    assert len(same["history"]) == 1

    # the milestone's deadline moves: its check moves with it
    m = api.ok("PATCH", f"/api/v1/projects/XM-1/milestones/{mid}", "operator",
               {"deadline": "2026-11-20", "reason": "施工图调整"})
    assert m["milestones"][0]["deadline"] == "2026-11-20"
    assert m["history"][-1]["changes"] == {"deadline": {"from": "2026-11-10", "to": "2026-11-20"}}
    extra = api.ok("POST", "/api/v1/projects/XM-1/milestones", "operator",
                   {"name": "完成节能审查", "deadline": "2026-11-12", "responsible_unit": "FGJ"}, status=201)
    extra_id = next(x["id"] for x in extra["milestones"] if x["name"] == "完成节能审查")
    cancelled = api.ok("POST", f"/api/v1/projects/XM-1/milestones/{extra_id}/cancel", "operator",
                       {"reason": "并入施工许可"})
    assert next(x for x in cancelled["milestones"] if x["id"] == extra_id)["cancelled_by"] == "test-operator"
    assert [h["action"] for h in cancelled["history"]] == [
        "project_changed", "milestone_changed", "milestone_added", "milestone_cancelled"]
    # a cancelled milestone is neither done nor changed
    assert api.call("POST", f"/api/v1/projects/XM-1/milestones/{extra_id}/done", "operator", {}).status_code == 409
    assert api.call("PATCH", f"/api/v1/projects/XM-1/milestones/{extra_id}", "operator",
                    {"name": "x"}).status_code == 409

    frozen(datetime(2026, 11, 13, 9, 0, tzinfo=TZ))  # past the old deadline and the cancelled one's
    quiet(api)
    assert of_type(tap, "project.milestone_missed") == []
    frozen(datetime(2026, 11, 21, 0, 0, 1, tzinfo=TZ))  # past the new one
    missed = wait_event(tap, "project.milestone_missed")
    assert (missed[0]["deadline"], missed[0]["rule"]) == ("2026-11-20", f"milestone_missed:{mid}@2026-11-20")
    # moved again after it was missed: the new deadline is checked anew, and missed once more
    api.ok("PATCH", f"/api/v1/projects/XM-1/milestones/{mid}", "operator", {"deadline": "2026-11-25"})
    frozen(datetime(2026, 11, 26, 0, 0, 1, tzinfo=TZ))
    wait_event(tap, "project.milestone_missed", deadline="2026-11-25")
    quiet(api)
    assert sorted(x["deadline"] for x in of_type(tap, "project.milestone_missed")) == ["2026-11-20", "2026-11-25"]

    # the self-check is now due by the 10th of December, and the lead unit is HBJ
    frozen(datetime(2026, 12, 6, 9, 0, tzinfo=TZ))
    quiet(api)
    assert of_type(tap, "project.self_check_missing") == []
    frozen(datetime(2026, 12, 11, 0, 0, 1, tzinfo=TZ))
    missing = wait_event(tap, "project.self_check_missing")
    assert (missing[0]["period"], missing[0]["due_by"]) == ("2026-11", "2026-12-10T23:59:59.999999+08:00")
    alerts = api.ok("GET", "/api/v1/alerts", "HBJ", subject="project")["items"]
    assert [a["rule"] for a in alerts] == ["self_check_missing:2026-11"]


def test_bad_project_changes_are_refused_and_change_nothing(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 9, 0, tzinfo=TZ))
    p = api.project(milestones=[{"name": "完成施工许可", "deadline": "2026-11-10", "responsible_unit": "ZJJ"}])
    mid = p["milestones"][0]["id"]
    cases = [
        ("PATCH", "/api/v1/projects/XM-1", "operator", {"reason": "只有理由"}, 400, "_body"),
        ("PATCH", "/api/v1/projects/XM-1", "operator", {"self_check_due_day": 31}, 400, "self_check_due_day"),
        ("PATCH", "/api/v1/projects/XM-1", "operator", {"self_check_from": "2026-10"}, 400, "self_check_from"),
        ("PATCH", "/api/v1/projects/XM-1", "operator", {"responsible_units": []}, 400, "responsible_units"),
        ("PATCH", "/api/v1/projects/XM-1", "monitor", {"name": "x"}, 403, None),
        ("PATCH", "/api/v1/projects/ZJJ", "ZJJ", {"name": "x"}, 403, None),
        ("PATCH", "/api/v1/projects/XM-9", "operator", {"name": "x"}, 404, None),
        ("PATCH", f"/api/v1/projects/XM-1/milestones/{mid}", "operator", {"deadline": "11/20"}, 400, "deadline"),
        ("PATCH", "/api/v1/projects/XM-1/milestones/999", "operator", {"name": "x"}, 404, None),
        ("POST", f"/api/v1/projects/XM-1/milestones/{mid}/cancel", "operator", {}, 400, "reason"),
        ("POST", "/api/v1/projects/XM-1/milestones", "operator", {"name": "x"}, 400, "deadline"),
    ]
    for method, path, who, body, status, field in cases:
        r = api.call(method, path, who, body)
        assert r.status_code == status, (method, path, body, r.status_code, r.text)
        if field is not None:
            assert field in r.json()["errors"], r.text
    api.ok("POST", f"/api/v1/projects/XM-1/milestones/{mid}/done", "ZJJ", {})
    r = api.call("PATCH", f"/api/v1/projects/XM-1/milestones/{mid}", "operator", {"deadline": "2026-12-01"})
    assert r.status_code == 409 and r.json()["error"]["message_zh"] == "节点已完成，不能修改"
    view = api.ok("GET", "/api/v1/projects/XM-1", "monitor")
    assert view["history"] == [] and view["milestones"][0]["deadline"] == "2026-11-10"
    drained(api)
    assert of_type(tap, "project.plan_changed") == []


def test_project_and_joint_alerts_are_handled_with_every_other_alert(env, frozen):
    api, tap = env
    frozen(datetime(2026, 8, 3, 9, 0, tzinfo=TZ))
    api.project(milestones=[{"name": "完成施工许可", "deadline": "2026-08-10", "responsible_unit": "ZJJ"}])
    joint = api.joint()
    own = api.ok("POST", "/api/v1/applications", "window_system", {
        "external_ref": "A-1", "item_code": "SCJ-001", "applicant": APPLICANT, "materials": ["M1", "M2", "M3"],
        "service_point": "city_center"}, status=201)
    api.call("POST", f"/api/v1/applications/{own['id']}/decide", "window_system", {"approved": True})  # irregular
    frozen(datetime(2026, 10, 12, 9, 0, tzinfo=TZ))  # the milestone missed, the joint case overdue
    wait_event(tap, "project.milestone_missed")
    wait_event(tap, "joint_approval.alert_raised", level="yellow")

    everything = api.ok("GET", "/api/v1/alerts", "monitor", per_page=500)["items"]
    subjects = {a["subject"] for a in everything}
    assert {"application", "project", "joint_approval"} <= subjects
    mine = api.ok("GET", "/api/v1/alerts", "monitor", project_code="XM-1")["items"]
    assert {a["subject"] for a in mine} == {"project", "joint_approval"}
    # the milestone's (ZJJ's); the missing self-checks of August and September are the lead unit's (FGJ's)
    project_alert = next(a for a in mine if a["rule"].startswith("milestone_missed:"))
    assert sorted(a["rule"] for a in mine if a["subject"] == "project" and a is not project_alert) == [
        "self_check_missing:2026-08", "self_check_missing:2026-09"]
    assert (project_alert["application_id"], project_alert["department"], project_alert["level"]) == (
        None, "ZJJ", "accountability")
    joint_alerts = api.ok("GET", "/api/v1/alerts", "monitor", joint_id=joint["id"])["items"]
    assert sorted(a["level"] for a in joint_alerts) == ["warning", "warning", "yellow"]
    assert {(a["department"], a["project_code"], a["subject_ref"]) for a in joint_alerts} == {
        (None, "XM-1", str(joint["id"]))}
    # department scope: ZJJ sees its milestone's alert, not HBJ's nor the joint case's own
    assert [a["id"] for a in api.ok("GET", "/api/v1/alerts", "ZJJ", subject="project")["items"]] == [
        project_alert["id"]]
    assert api.ok("GET", "/api/v1/alerts", "HBJ", subject="project")["total"] == 0
    assert api.ok("GET", "/api/v1/alerts", "ZJJ", subject="joint_approval")["total"] == 0
    # the former listing shows the same alerts
    assert {a["id"] for a in api.ok("GET", "/api/v1/project-alerts", "monitor")["items"]} == {
        a["id"] for a in mine}

    frozen(datetime(2026, 10, 12, 10, 0, tzinfo=TZ))
    api.ok("POST", f"/api/v1/alerts/{project_alert['id']}/acknowledge", "monitor", {"note": "已约谈住建局"})
    resolved = api.ok("POST", f"/api/v1/alerts/{project_alert['id']}/resolve", "monitor", {"note": "节点已补办"})
    assert (resolved["state"], resolved["resolved_by"], resolved["note"]) == ("resolved", "test-monitor", "节点已补办")
    yellow = next(a for a in joint_alerts if a["level"] == "yellow")
    api.ok("POST", f"/api/v1/alerts/{yellow['id']}/resolve", "monitor", {"note": "已协调三部门限期办结"})
    acked = wait_event(tap, "monitor.alert_acknowledged", alert_id=str(project_alert["id"]))[0]
    assert (acked["subject"], acked["project_code"], acked["department"], acked["application_id"], acked["by"]) == (
        "project", "XM-1", "ZJJ", None, "test-monitor")
    done = wait_event(tap, "monitor.alert_resolved", alert_id=str(yellow["id"]))[0]
    assert (done["subject"], done["joint_id"], done["project_code"], done["department"], done["note"]) == (
        "joint_approval", str(joint["id"]), "XM-1", None, "已协调三部门限期办结")
    assert done["resolved_at"] == "2026-10-12T10:00:00+08:00"
    # resolved is final; the others' handling is the monitors' alone
    assert api.call("POST", f"/api/v1/alerts/{yellow['id']}/resolve", "monitor", {"note": "again"}).status_code == 409
    assert api.call("POST", f"/api/v1/alerts/{yellow['id']}/acknowledge", "ZJJ", {}).status_code == 403
    assert api.ok("GET", "/api/v1/alerts", "monitor", joint_id=joint["id"], state="resolved")["total"] == 1
    drained(api)
    assert len(of_type(tap, "monitor.alert_resolved", alert_id=str(yellow["id"]))) == 1


def test_a_submission_dated_in_the_future_is_refused_and_alerted(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 9, 0, tzinfo=TZ))
    body = {"external_ref": "F-1", "item_code": "SCJ-001", "applicant": APPLICANT, "materials": ["M1", "M2", "M3"],
            "service_point": "town_street_center", "at": "2026-11-02T11:00:00+08:00"}
    r = api.call("POST", "/api/v1/applications", "window_system", body)
    assert r.status_code == 409 and r.json()["error"]["message_zh"] == "办理时间晚于当前时间"
    assert api.ok("GET", "/api/v1/applications", "monitor")["total"] == 0  # no application
    irregular = wait_event(tap, "monitor.irregularity")[0]
    assert (irregular["subject"], irregular["external_ref"], irregular["item_code"], irregular["department"]) == (
        "submission", "F-1", "SCJ-001", "SCJGJ")
    assert (irregular["code"], irregular["refused"], irregular["application_id"]) == ("future_time", True, None)
    alerts = api.ok("GET", "/api/v1/alerts", "SCJGJ", subject="submission")["items"]
    assert [(a["subject_ref"], a["level"], a["rule"], a["application_id"]) for a in alerts] == [
        ("F-1", "irregularity", "future_time", None)]  # one per submission, however often it is retried
    assert alerts[0]["details"]["details"]["claimed_at"] == "2026-11-02T11:00:00+08:00"
    assert api.ok("GET", "/api/v1/alerts", "ZJJ")["total"] == 0
    api.ok("POST", f"/api/v1/alerts/{alerts[0]['id']}/resolve", "monitor", {"note": "窗口系统时钟已校准"})
    done = wait_event(tap, "monitor.alert_resolved")[0]
    assert (done["subject"], done["external_ref"], done["item_code"]) == ("submission", "F-1", "SCJ-001")

    # sent again with the right time, it is received; an unknown item is a 400 and alerts nothing
    fixed = api.ok("POST", "/api/v1/applications", "window_system", {**body, "at": None}, status=201)
    assert fixed["external_ref"] == "F-1"
    assert api.call("POST", "/api/v1/applications", "window_system",
                    {**body, "external_ref": "F-2", "item_code": "NOPE"}).status_code == 400

    # a joint approval dated in the future is refused as a whole, and alerted once
    api.project()
    r = api.call("POST", "/api/v1/joint-approvals", "window_system", {
        "external_ref": "J-F", "project_code": "XM-1", "applicant": APPLICANT, "item_codes": ITEMS,
        "at": "2026-11-03T09:00:00+08:00"})
    assert r.status_code == 409
    wait_for(lambda: len(of_type(tap, "monitor.irregularity")) == 2, message="the joint refusal's irregularity")
    quiet(api)
    assert api.ok("GET", "/api/v1/applications", "monitor")["total"] == 1
    assert of_type(tap, "joint_approval.created") == []
    assert [a["subject_ref"] for a in api.ok("GET", "/api/v1/alerts", "monitor", subject="submission")["items"]] == [
        "J-F/HBJ-001", "F-1"]


def test_a_joint_approval_is_created_all_at_once_or_not_at_all(env, frozen, monkeypatch):
    api, tap = env
    frozen(datetime(2026, 8, 3, 9, 0, tzinfo=TZ))
    api.project()
    real_submit = approvals_handlers.domain_submit
    calls = []

    def crash_on_the_third(*args, **kwargs):
        calls.append(args[0].code)
        if len(calls) == 3:
            raise RuntimeError("the process died here")
        return real_submit(*args, **kwargs)

    monkeypatch.setattr(approvals_handlers, "domain_submit", crash_on_the_third)
    assert api.call("POST", "/api/v1/joint-approvals", "window_system", {
        "external_ref": "J-1", "project_code": "XM-1", "applicant": APPLICANT, "item_codes": ITEMS}).status_code == 500
    assert len(calls) == 3
    # nothing of the case remains: no sub-application, no event
    quiet(api)
    assert api.ok("GET", "/api/v1/applications", "monitor")["total"] == 0
    assert api.ok("GET", "/api/v1/projects/XM-1/applications", "monitor")["items"] == []
    assert of_type(tap, "application.submitted") == [] and of_type(tap, "joint_approval.created") == []

    monkeypatch.setattr(approvals_handlers, "domain_submit", real_submit)
    joint = api.joint()  # the window system's retry: created whole
    assert len(joint["sub_applications"]) == 3 and joint["state"] == "open"
    assert api.joint(status=200)["id"] == joint["id"]
    wait_event(tap, "joint_approval.created")
    wait_event(tap, "application.submitted", count=3)
    quiet(api)
    assert len(of_type(tap, "application.submitted")) == 3 and len(of_type(tap, "joint_approval.created")) == 1
