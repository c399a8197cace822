"""Key projects and joint approval on the real broker with a frozen clock: a joint approval across three
departments (its joint due date, department scope on its sub-applications, completion when all three are
decided, the joint clock's own cards), a missed milestone and a missing monthly self-check each alerted once,
and the green channel's priority and agent."""

import uuid
from datetime import datetime

import eventlet
import pytest
import requests

from services.approvals.service import ApprovalsService
from services.kernel import clock
from services.kernel.keys import KeyStore
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.support import Tap

TZ = clock.TZ
APPLICANT = {"name": "杭州某制造有限公司", "kind": "enterprise", "id_number": "91330100MA27XXXX1X"}
ITEMS = ["HBJ-001", "SCJ-001", "ZJJ-001"]


class Api:
    def __init__(self, base_url, keys):
        self.base = base_url
        self.keys = keys

    def call(self, method, path, who, body=None, **params):
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        return requests.request(method, f"{self.base}{path}", json=body, headers=headers, params=params, timeout=10)

    def ok(self, method, path, who, body=None, status=200, **params):
        r = self.call(method, path, who, body, **params)
        assert r.status_code == status, (method, path, who, r.status_code, r.text)
        return r.json()

    def project(self, code="XM-1", milestones=(), units=("FGJ", "SCJGJ", "ZJJ", "HBJ")):
        return self.ok("POST", "/api/v1/projects", "operator", {
            "code": code, "name": "某新能源汽车零部件项目", "responsible_units": list(units),
            "agent": {"name": "王代办", "phone": "0571-87000001"}, "milestones": list(milestones)}, status=201)

    def joint(self, ref="J-1", items=ITEMS, status=201, project="XM-1"):
        return self.ok("POST", "/api/v1/joint-approvals", "window_system", {
            "external_ref": ref, "project_code": project, "applicant": APPLICANT, "item_codes": list(items),
            "materials": {"SCJ-001": ["M1", "M2", "M3"], "ZJJ-001": ["M1", "M2", "M3"], "HBJ-001": ["M1", "M2"]}},
            status=status)


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    return start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri,
                           departments=("SCJGJ", "ZJJ", "HBJ"), client=Api)


def of_type(tap, event_type, **match):
    return [m["payload"] for m in tap.drain() if m["event_type"] == event_type
            and all(m["payload"].get(k) == v for k, v in match.items())]


def wait_event(tap, event_type, count=1, **match):
    return wait_for(lambda: len(found := of_type(tap, event_type, **match)) >= count and found,
                    message=f"{count} × {event_type} {match}")


def test_a_joint_approval_across_three_departments(env, frozen):
    api, tap = env
    frozen(datetime(2026, 8, 3, 9, 0, tzinfo=TZ))
    api.project()
    joint = api.joint()
    assert joint["state"] == "open" and joint["project_code"] == "XM-1"
    # one joint limit of 45 working days, from the day after; Oct 1–8 off, Saturday Oct 10 a make-up day
    c = joint["clock"]
    assert (c["limit_days"], c["due_at"], c["light"]) == (45, "2026-10-10T23:59:59.999999+08:00", "green")
    subs = joint["sub_applications"]
    assert [(s["item_code"], s["department"], s["state"]) for s in subs] == [
        ("HBJ-001", "HBJ", "submitted"), ("SCJ-001", "SCJGJ", "submitted"), ("ZJJ-001", "ZJJ", "submitted")]
    ids = {s["department"]: s["id"] for s in subs}
    again = api.joint(status=200)  # idempotent by the window system's reference
    assert again["id"] == joint["id"] and [s["id"] for s in again["sub_applications"]] == list(ids.values())
    created = wait_event(tap, "joint_approval.created")
    assert len(created) == 1 and sorted(created[0]["departments"]) == ["HBJ", "SCJGJ", "ZJJ"]
    # each sub-application went through the window contract's submission
    wait_event(tap, "application.submitted", count=3)

    # department scope: ZJJ sees its own part in full, the others' only by state, and cannot touch them
    seen = api.ok("GET", f"/api/v1/joint-approvals/{joint['id']}", "ZJJ")["sub_applications"]
    assert [("id" in s, s["department"]) for s in seen] == [(False, "HBJ"), (False, "SCJGJ"), (True, "ZJJ")]
    assert api.call("GET", f"/api/v1/applications/{ids['SCJGJ']}", "ZJJ").status_code == 404
    assert api.call("POST", f"/api/v1/applications/{ids['SCJGJ']}/accept", "ZJJ", {}).status_code == 404
    assert api.ok("GET", f"/api/v1/applications/{ids['ZJJ']}", "ZJJ")["project_code"] == "XM-1"

    for dept in ("SCJGJ", "ZJJ", "HBJ"):
        api.ok("POST", f"/api/v1/applications/{ids[dept]}/accept", dept, {})
    frozen(datetime(2026, 8, 5, 10, 0, tzinfo=TZ))
    for dept in ("SCJGJ", "ZJJ"):
        api.ok("POST", f"/api/v1/applications/{ids[dept]}/decide", dept, {"approved": True})
    eventlet.sleep(0.6)
    assert api.ok("GET", f"/api/v1/joint-approvals/{joint['id']}", "monitor")["state"] == "open"
    assert of_type(tap, "joint_approval.completed") == []
    api.ok("POST", f"/api/v1/applications/{ids['HBJ']}/decide", "HBJ", {"approved": True})
    done = wait_event(tap, "joint_approval.completed")[0]
    assert (done["joint_id"], done["approved"], done["in_time"]) == (str(joint["id"]), True, True)
    view = api.ok("GET", f"/api/v1/joint-approvals/{joint['id']}", "monitor")
    assert (view["state"], view["approved"], view["decided"]) == ("completed", True, 3)
    assert view["completed_at"] == "2026-08-05T10:00:00+08:00"
    eventlet.sleep(0.5)
    assert len(of_type(tap, "joint_approval.completed")) == 1


def test_the_joint_clock_is_monitored_as_a_whole(env, frozen):
    api, tap = env
    frozen(datetime(2026, 8, 3, 9, 0, tzinfo=TZ))
    api.project()
    joint = api.joint()
    frozen(datetime(2026, 10, 12, 9, 0, tzinfo=TZ))  # past the joint due date, still open
    wait_event(tap, "joint_approval.alert_raised", level="yellow")
    eventlet.sleep(0.6)
    raised = of_type(tap, "joint_approval.alert_raised", joint_id=str(joint["id"]))
    assert sorted(p["level"] for p in raised) == ["warning", "warning", "yellow"]  # each once
    alerts = api.ok("GET", "/api/v1/project-alerts", "monitor", subject="joint_approval")["items"]
    assert sorted(a["level"] for a in alerts) == ["warning", "warning", "yellow"]
    assert api.ok("GET", f"/api/v1/joint-approvals/{joint['id']}", "monitor")["clock"]["light"] == "red"
    # and per department: each sub-application has its own clock and alerts
    assert api.ok("GET", "/api/v1/alerts", "monitor")["total"] >= 1


def test_a_missed_milestone_and_a_missing_self_check_are_alerted_once(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 9, 0, tzinfo=TZ))
    p = api.project(milestones=[
        {"name": "完成施工许可", "deadline": "2026-11-10", "responsible_unit": "ZJJ"},
        {"name": "完成环评批复", "deadline": "2026-11-10", "responsible_unit": "HBJ"}])
    kept = {m["responsible_unit"]: m["id"] for m in p["milestones"]}
    api.project(code="XM-2")
    api.ok("POST", f"/api/v1/projects/XM-1/milestones/{kept['HBJ']}/done", "HBJ", {"at": "2026-11-09T16:00:00+08:00"})
    # another unit cannot mark ZJJ's milestone
    assert api.call("POST", f"/api/v1/projects/XM-1/milestones/{kept['ZJJ']}/done", "HBJ", {}).status_code == 404

    frozen(datetime(2026, 11, 10, 23, 0, tzinfo=TZ))  # the deadline day is not over
    eventlet.sleep(0.5)
    assert of_type(tap, "project.milestone_missed") == []
    frozen(datetime(2026, 11, 11, 0, 0, 1, tzinfo=TZ))
    missed = wait_event(tap, "project.milestone_missed")
    eventlet.sleep(0.6)
    missed = of_type(tap, "project.milestone_missed")
    assert len(missed) == 1
    assert (missed[0]["milestone_id"], missed[0]["responsible_unit"], missed[0]["deadline"]) == (
        str(kept["ZJJ"]), "ZJJ", "2026-11-10")
    alerts = api.ok("GET", "/api/v1/project-alerts", "monitor", subject="project")["items"]
    assert [(a["subject_ref"], a["level"], a["rule"], a["department"]) for a in alerts] == [
        ("XM-1", "accountability", f"milestone_missed:{kept['ZJJ']}@2026-11-10", "ZJJ")]
    assert api.ok("GET", "/api/v1/project-alerts", "ZJJ")["total"] == 1
    assert api.ok("GET", "/api/v1/project-alerts", "HBJ")["total"] == 0

    # November's self-check: XM-2 reports it, XM-1 does not; due by the 5th of December
    api.ok("POST", "/api/v1/projects/XM-2/self-checks", "operator",
           {"period": "2026-11", "summary": "进度正常"}, status=201)
    assert api.call("POST", "/api/v1/projects/XM-2/self-checks", "operator",
                    {"period": "2026-11", "summary": "again"}).status_code == 409
    frozen(datetime(2026, 12, 5, 23, 0, tzinfo=TZ))
    eventlet.sleep(0.5)
    assert of_type(tap, "project.self_check_missing") == []
    frozen(datetime(2026, 12, 6, 8, 0, tzinfo=TZ))
    wait_event(tap, "project.self_check_missing")
    eventlet.sleep(0.6)
    missing = of_type(tap, "project.self_check_missing")
    assert [(m["project_code"], m["period"], m["due_by"]) for m in missing] == [
        ("XM-1", "2026-11", "2026-12-05T23:59:59.999999+08:00")]
    rules = [a["rule"] for a in api.ok("GET", "/api/v1/project-alerts", "monitor", subject_ref="XM-1")["items"]]
    assert sorted(rules) == [f"milestone_missed:{kept['ZJJ']}@2026-11-10", "self_check_missing:2026-11"]
    api.ok("POST", "/api/v1/projects/XM-1/inspections", "monitor",
           {"quarter": "2026-Q4", "findings": "自查报告缺失", "findings_count": 1, "rectification": "限期补报"},
           status=201)
    view = api.ok("GET", "/api/v1/projects/XM-1", "monitor")
    assert view["inspections"][0]["quarter"] == "2026-Q4" and view["next_self_check"]["period"] == "2026-12"


def test_green_channel_priority_and_agent(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 9, 0, tzinfo=TZ))
    api.project()

    def submit(ref, **fields):
        return api.ok("POST", "/api/v1/applications", "window_system", {
            "external_ref": ref, "item_code": "SCJ-001", "applicant": APPLICANT, "materials": ["M1", "M2", "M3"],
            "service_point": "city_center", **fields}, status=201)

    green = submit("G-1", green_channel=True, project_code="XM-1")
    plain = submit("G-2", project_code="XM-1")
    other = submit("G-3")
    listed = api.ok("GET", "/api/v1/applications", "monitor")["items"]
    assert [a["id"] for a in listed][0] == green["id"]  # priority in lists
    mine = api.ok("GET", "/api/v1/projects/XM-1/applications", "SCJGJ")["items"]
    assert [(a["id"], a["agent"]) for a in mine] == [
        (green["id"], {"name": "王代办", "phone": "0571-87000001"}), (plain["id"], None)]
    assert other["id"] not in [a["id"] for a in mine]
    assert api.ok("GET", "/api/v1/projects/XM-1/applications", "ZJJ")["items"] == []


def test_two_instances_on_postgresql_alert_and_complete_once(start_on_postgres, service_config, start_service,
                                                             api_keys, keys_file, amqp_uri, frozen):
    tap = Tap(amqp_uri, "approvals")
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("SCJGJ", "ZJJ", "HBJ"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    cfg = start_on_postgres(ApprovalsService)
    # a second instance on the same database: the checks are claimed with SKIP LOCKED
    start_service(ApprovalsService, service_config("approvals", DATABASE_URL=cfg["DATABASE_URL"]))
    api = Api(cfg["base_url"], keys)
    frozen(datetime(2026, 8, 3, 9, 0, tzinfo=TZ))
    code = f"XM-{uuid.uuid4().hex[:8]}"  # the broker's exchange is shared with other runs
    api.project(code, milestones=[{"name": "完成施工许可", "deadline": "2026-08-10", "responsible_unit": "ZJJ"}])
    joint = api.joint(ref=f"J-{code}", project=code)
    for s in joint["sub_applications"]:
        api.ok("POST", f"/api/v1/applications/{s['id']}/accept", "window_system", {})
        api.ok("POST", f"/api/v1/applications/{s['id']}/decide", "window_system", {"approved": True})
    frozen(datetime(2026, 8, 11, 9, 0, tzinfo=TZ))
    wait_event(tap, "project.milestone_missed", project_code=code)
    wait_event(tap, "joint_approval.completed", joint_id=str(joint["id"]))
    eventlet.sleep(1)
    assert len(of_type(tap, "project.milestone_missed", project_code=code)) == 1
    assert len(of_type(tap, "joint_approval.completed", joint_id=str(joint["id"]))) == 1
    assert api.ok("GET", "/api/v1/project-alerts", "monitor")["total"] == 1


def test_a_project_is_shown_to_its_responsible_units_only(env, frozen):
    api, _ = env
    frozen(datetime(2026, 11, 2, 9, 0, tzinfo=TZ))
    api.project("XM-S", units=("FGJ", "SCJGJ"))
    assert api.ok("GET", "/api/v1/projects/XM-S", "SCJGJ")["agent"]["phone"] == "0571-87000001"
    assert api.ok("GET", "/api/v1/projects/XM-S", "monitor")["code"] == "XM-S"
    for department in ("ZJJ", "HBJ"):  # not responsible: as if it did not exist, the agent's phone unread
        hidden, missing = (api.call("GET", f"/api/v1/projects/{code}", department) for code in ("XM-S", "XM-NONE"))
        assert (hidden.status_code, missing.status_code) == (404, 404), hidden.text
        assert hidden.json()["error"] == {**missing.json()["error"], "message": "no project XM-S"}
        assert "0571" not in hidden.text
