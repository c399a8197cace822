"""Key projects to the end of their chain (#16) on the real broker with a frozen clock: the lists of projects and
joint approvals (paged, filtered, a department's own only), a quarter without an inspection alerted once (a quarter
with one not), an inspection published for scoring, and the accountability procedure from an alert to its
conclusion (a measure: accountability.concluded and the alert resolved; none due), with its refusals."""

from datetime import datetime

import eventlet
import pytest
import requests

from services.kernel import clock
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.e2e.test_approval_projects import APPLICANT, Api, of_type, wait_event

TZ = clock.TZ


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    return start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri,
                           departments=("SCJGJ", "ZJJ", "HBJ", "FGJ"), client=Api)


def codes(page):
    return [p["code"] for p in page["items"]]


def inspection(quarter="2026-Q4", count=2, **more):
    return {"quarter": quarter, "findings": "施工许可办理滞后；代办员未按时跟进", "findings_count": count,
            "rectification": "限期十个工作日整改", **more}


def test_projects_and_joint_approvals_are_listed_paged_filtered_and_by_department(env, frozen):
    api, _ = env
    frozen(datetime(2026, 8, 3, 9, 0, tzinfo=TZ))
    api.project("XM-1")  # FGJ leads; SCJGJ, ZJJ, HBJ take part
    frozen(datetime(2026, 8, 3, 9, 5, tzinfo=TZ))
    api.ok("POST", "/api/v1/projects", "operator", {
        "code": "XM-2", "name": "城东智慧物流园", "responsible_units": ["ZJJ", "HBJ"],
        "agent": {"name": "李代办", "phone": "0571-87000002"}}, status=201)
    j1 = api.joint("J-1", project="XM-1")
    j2 = api.joint("J-2", items=["ZJJ-001", "HBJ-001"], project="XM-2")  # green channel, as joint cases are
    frozen(datetime(2027, 1, 4, 9, 0, tzinfo=TZ))
    api.project("XM-3", units=("SCJGJ",))
    api.ok("POST", "/api/v1/projects/XM-3/close", "operator", {"reason": "项目已建成投产"})
    # the fourth quarter ended without an inspection: XM-1 and XM-2 are checked for the first quarter next
    wait_for(lambda: {p["next_inspection"]["quarter"] for p in api.ok("GET", "/api/v1/projects", "monitor",
                                                                       state="active")["items"]} == {"2027-Q1"},
             message="the fourth quarter checked")

    every = api.ok("GET", "/api/v1/projects", "monitor")
    assert (codes(every), every["total"]) == (["XM-3", "XM-2", "XM-1"], 3)
    xm2 = every["items"][1]
    assert (xm2["lead_unit"], xm2["state"], xm2["open_alerts"] > 0, "agent" in xm2) == ("ZJJ", "active", True, False)
    first = api.ok("GET", "/api/v1/projects", "monitor", per_page=2)
    second = api.ok("GET", "/api/v1/projects", "monitor", per_page=2, page=2)
    assert (codes(first), codes(second), second["total"], second["page"]) == (["XM-3", "XM-2"], ["XM-1"], 3, 2)
    for query, expected in [({"department": "HBJ"}, ["XM-2", "XM-1"]), ({"lead_unit": "ZJJ"}, ["XM-2"]),
                            ({"state": "closed"}, ["XM-3"]), ({"state": "active"}, ["XM-2", "XM-1"]),
                            ({"green_channel": "true"}, ["XM-2", "XM-1"]), ({"green_channel": "false"}, ["XM-3"]),
                            ({"q": "物流"}, ["XM-2"]), ({"q": "xm-3"}, ["XM-3"]), ({"year": 2026}, ["XM-2", "XM-1"]),
                            ({"department": "HB"}, [])]:
        assert codes(api.ok("GET", "/api/v1/projects", "monitor", **query)) == expected, query
    # a department sees the projects it is a responsible unit of, never another's (even when it asks)
    assert codes(api.ok("GET", "/api/v1/projects", "SCJGJ")) == ["XM-3", "XM-1"]
    assert codes(api.ok("GET", "/api/v1/projects", "SCJGJ", department="ZJJ")) == []
    assert codes(api.ok("GET", "/api/v1/projects", "FGJ", lead_unit="ZJJ")) == []
    r = api.call("GET", "/api/v1/projects", "monitor", state="done", per_page=0, year="x", green_channel="maybe")
    assert r.status_code == 400 and {"state", "per_page", "year", "green_channel"} <= set(r.json()["errors"])

    joints = api.ok("GET", "/api/v1/joint-approvals", "monitor")
    assert [j["id"] for j in joints["items"]] == [j2["id"], j1["id"]] and joints["total"] == 2
    listed = joints["items"][1]
    assert (listed["departments"], listed["state"], listed["clock"]["due_at"], "sub_applications" in listed) == (
        ["HBJ", "SCJGJ", "ZJJ"], "open", "2026-10-10T23:59:59.999999+08:00", False)
    for query, expected in [({"project_code": "XM-2"}, [j2]), ({"department": "SCJGJ"}, [j1]),
                            ({"item_code": "HBJ-001"}, [j2, j1]), ({"state": "completed"}, []),
                            ({"per_page": 1, "page": 2}, [j1])]:
        assert [j["id"] for j in api.ok("GET", "/api/v1/joint-approvals", "monitor", **query)["items"]] == [
            j["id"] for j in expected], query
    assert [j["id"] for j in api.ok("GET", "/api/v1/joint-approvals", "SCJGJ")["items"]] == [j1["id"]]
    assert api.ok("GET", "/api/v1/joint-approvals", "SCJGJ", department="ZJJ")["items"] == []
    assert api.ok("GET", "/api/v1/joint-approvals", "FGJ")["total"] == 0
    r = api.call("GET", "/api/v1/joint-approvals", "monitor", state="closed", item_code="bad code")
    assert r.status_code == 400 and {"state", "item_code"} <= set(r.json()["errors"])
    assert api.call("GET", "/api/v1/joint-approvals", "operator").status_code == 200

    # every project and joint endpoint says what it answers with
    doc = requests.get(f"{api.base}/api/openapi.json", timeout=10).json()
    ours = {(path, method): op for path, ops in doc["paths"].items() for method, op in ops.items()
            if path.startswith(("/api/v1/projects", "/api/v1/joint-approvals", "/api/v1/project-alerts",
                                "/api/v1/accountability-procedures")) or path.endswith("/accountability")}
    assert len(ours) >= 17
    for (path, method), op in ours.items():
        ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
        assert "content" in ok and ok["content"]["application/json"]["schema"], (path, method)


def test_a_quarter_without_an_inspection_is_alerted_once(env, frozen):
    api, tap = env
    frozen(datetime(2026, 9, 20, 9, 0, tzinfo=TZ))  # registered in Q3: Q4 is the first quarter inspected
    for code in ("XM-A", "XM-B", "XM-C"):
        api.project(code, units=("ZJJ", "HBJ"))
    frozen(datetime(2026, 11, 5, 10, 0, tzinfo=TZ))
    view = api.ok("POST", "/api/v1/projects/XM-B/inspections", "monitor", inspection(), status=201)
    assert view["inspections"][0]["findings_count"] == 2
    recorded = wait_event(tap, "project.inspection_recorded")[0]
    assert {k: recorded[k] for k in ("project_code", "department", "quarter", "findings_count", "inspected_on")} == {
        "project_code": "XM-B", "department": "ZJJ", "quarter": "2026-Q4", "findings_count": 2,
        "inspected_on": "2026-11-05"}
    assert "施工许可" not in str(recorded)  # the findings' text stays in approvals
    api.ok("POST", "/api/v1/projects/XM-C/close", "operator", {"reason": "项目终止"})

    # refused: a quarter not begun, a moment outside the quarter, no count, a closed project, not an inspector
    r = api.call("POST", "/api/v1/projects/XM-A/inspections", "monitor", inspection("2027-Q1"))
    assert r.status_code == 400 and "quarter" in r.json()["errors"]
    r = api.call("POST", "/api/v1/projects/XM-A/inspections", "monitor",
                 inspection("2026-Q3", at="2026-11-01T10:00:00+08:00"))
    assert r.status_code == 400 and "at" in r.json()["errors"]
    r = api.call("POST", "/api/v1/projects/XM-A/inspections", "monitor",
                 {"quarter": "2026-Q4", "findings": "无", "findings_count": -1})
    assert r.status_code == 400 and "findings_count" in r.json()["errors"]
    assert api.call("POST", "/api/v1/projects/XM-C/inspections", "monitor", inspection()).status_code == 409
    assert api.call("POST", "/api/v1/projects/XM-C/close", "operator", {"reason": "again"}).status_code == 409
    assert api.call("POST", "/api/v1/projects/XM-Z/inspections", "monitor", inspection()).status_code == 404
    assert api.call("POST", "/api/v1/projects/XM-A/inspections", "ZJJ", inspection()).status_code == 403

    frozen(datetime(2026, 12, 31, 23, 59, tzinfo=TZ))
    eventlet.sleep(0.5)
    assert of_type(tap, "project.inspection_missing") == []
    frozen(datetime(2027, 1, 1, 0, 0, 1, tzinfo=TZ))
    wait_event(tap, "project.inspection_missing")
    eventlet.sleep(0.6)
    missing = of_type(tap, "project.inspection_missing")
    assert [(m["project_code"], m["quarter"], m["due_by"], m["rule"]) for m in missing] == [
        ("XM-A", "2026-Q4", "2026-12-31T23:59:59.999999+08:00", "inspection_missing:2026-Q4")]
    alerts = [a for a in api.ok("GET", "/api/v1/project-alerts", "monitor")["items"]
              if a["rule"].startswith("inspection_missing:")]
    assert [(a["subject_ref"], a["rule"], a["level"], a["department"]) for a in alerts] == [
        ("XM-A", "inspection_missing:2026-Q4", "accountability", "ZJJ")]
    assert api.ok("GET", "/api/v1/projects/XM-A", "ZJJ")["next_inspection"]["quarter"] == "2027-Q1"
    # a closed project is checked no more: not even its monthly self-checks
    assert api.ok("GET", "/api/v1/project-alerts", "monitor", subject_ref="XM-C")["total"] == 0


def test_the_accountability_procedure_from_an_alert_to_its_conclusion(env, frozen):
    api, tap = env
    frozen(datetime(2026, 8, 3, 9, 0, tzinfo=TZ))
    api.project(milestones=[{"name": "完成施工许可", "deadline": "2026-08-10", "responsible_unit": "ZJJ"}])
    joint = api.joint()
    own = api.ok("POST", "/api/v1/applications", "window_system", {
        "external_ref": "A-1", "item_code": "SCJ-001", "applicant": APPLICANT, "materials": ["M1", "M2", "M3"],
        "service_point": "city_center"}, status=201)
    api.call("POST", f"/api/v1/applications/{own['id']}/decide", "window_system", {"approved": True})  # irregular
    frozen(datetime(2026, 10, 12, 9, 0, tzinfo=TZ))  # the milestone missed, self-checks missing, the joint overdue
    wait_event(tap, "project.milestone_missed")
    wait_event(tap, "project.self_check_missing", period="2026-09")
    wait_event(tap, "joint_approval.alert_raised", level="yellow")
    alerts = api.ok("GET", "/api/v1/alerts", "monitor", per_page=500)["items"]
    milestone = next(a for a in alerts if a["rule"].startswith("milestone_missed:"))
    self_check = next(a for a in alerts if a["rule"] == "self_check_missing:2026-08")
    yellow = next(a for a in alerts if a["joint_id"] == joint["id"] and a["level"] == "yellow")
    warning = next(a for a in alerts if a["joint_id"] == joint["id"] and a["level"] == "warning")
    irregular = next(a for a in alerts if a["subject"] == "application")

    start = {"reason": "施工许可节点逾期，影响项目落地"}
    url = f"/api/v1/alerts/{milestone['id']}/accountability"
    assert api.call("POST", url, "ZJJ", start).status_code == 403
    assert api.call("POST", "/api/v1/alerts/999999/accountability", "monitor", start).status_code == 404
    r = api.call("POST", url, "monitor", {"reason": "", "responsible_department": "not a code"})
    assert r.status_code == 400 and {"reason", "responsible_department"} <= set(r.json()["errors"])
    for other in (irregular, warning):  # not an accountability alert
        assert api.call("POST", f"/api/v1/alerts/{other['id']}/accountability", "monitor", start).status_code == 409
    # a joint case's card names no department: the monitor says who is responsible
    r = api.call("POST", f"/api/v1/alerts/{yellow['id']}/accountability", "monitor", start)
    assert r.status_code == 400 and "responsible_department" in r.json()["errors"]
    on_joint = api.ok("POST", f"/api/v1/alerts/{yellow['id']}/accountability", "monitor",
                      {**start, "responsible_department": "HBJ"}, status=201)
    assert (on_joint["subject"], on_joint["joint_id"], on_joint["responsible_department"]) == (
        "joint_approval", joint["id"], "HBJ")
    procedure = api.ok("POST", url, "monitor", start, status=201)
    assert (procedure["state"], procedure["responsible_department"], procedure["project_code"]) == (
        "open", "ZJJ", "XM-1")
    assert api.call("POST", url, "monitor", start).status_code == 409  # one procedure per alert
    started = wait_event(tap, "accountability.started", alert_id=str(milestone["id"]))[0]
    assert (started["department"], started["rule"]) == ("ZJJ", milestone["rule"])

    conclude = f"/api/v1/accountability-procedures/{procedure['id']}/conclude"
    measure = {"outcome": "measure", "measure": "efficiency_warning", "target": "person", "post": "审批科科长",
               "deciding_body": "市效能办", "document_no": "效能告诫〔2026〕3号", "decided_on": "2026-10-12",
               "reason": "未按计划完成施工许可节点"}
    for wrong, fields in [({"measure": None, "document_no": None}, {"measure", "document_no"}),
                          ({"post": None}, {"post"}), ({"decided_on": "2026-10-13"}, {"decided_on"}),
                          ({"measure": "fine"}, {"measure"}), ({"outcome": "none_due"}, {"measure", "target", "post"})]:
        r = api.call("POST", conclude, "monitor", {**measure, **wrong})
        assert r.status_code == 400 and fields <= set(r.json()["errors"]), (wrong, r.text)
    assert api.call("POST", conclude, "ZJJ", measure).status_code == 403
    assert api.call("POST", "/api/v1/accountability-procedures/999999/conclude", "monitor",
                    measure).status_code == 404
    frozen(datetime(2026, 10, 12, 15, 0, tzinfo=TZ))
    done = api.ok("POST", conclude, "monitor", measure)
    assert (done["state"], done["measure_zh"], done["post"], done["concluded_by"]) == (
        "concluded", "效能告诫", "审批科科长", "test-monitor")
    assert api.ok("POST", conclude, "monitor", measure) == done  # a retry: the same answer
    r = api.call("POST", conclude, "monitor", {**measure, "measure": "criticism"})
    assert r.status_code == 409 and r.json()["error"]["message_zh"] == "责任追究程序已办结，不能再次办结"
    concluded = wait_event(tap, "accountability.concluded", procedure_id=str(procedure["id"]))[0]
    assert {k: concluded[k] for k in ("alert_id", "project_code", "department", "outcome", "measure", "target",
                                      "post", "deciding_body", "document_no", "decided_on")} == {
        "alert_id": str(milestone["id"]), "project_code": "XM-1", "department": "ZJJ", "outcome": "measure",
        "measure": "efficiency_warning", "target": "person", "post": "审批科科长", "deciding_body": "市效能办",
        "document_no": "效能告诫〔2026〕3号", "decided_on": "2026-10-12"}
    resolved = wait_event(tap, "monitor.alert_resolved", alert_id=str(milestone["id"]))[0]
    assert resolved["note"] == "责任追究程序办结：效能告诫（效能告诫〔2026〕3号）"
    assert api.ok("GET", "/api/v1/alerts", "monitor", project_code="XM-1", state="resolved")["items"][0]["id"] == \
        milestone["id"]

    # none due: recorded, the alert resolved all the same
    other = api.ok("POST", f"/api/v1/alerts/{self_check['id']}/accountability", "monitor",
                   {"reason": "八月自查报告未报"}, status=201)
    assert other["responsible_department"] == "FGJ"
    none_due = {"outcome": "none_due", "decided_on": "2026-10-12", "reason": "系统故障导致未能按时报送，经核实不予追究"}
    api.ok("POST", f"/api/v1/accountability-procedures/{other['id']}/conclude", "monitor", none_due)
    nothing = wait_event(tap, "accountability.concluded", procedure_id=str(other["id"]))[0]
    assert (nothing["outcome"], nothing["measure"], nothing["department"]) == ("none_due", None, "FGJ")
    wait_event(tap, "monitor.alert_resolved", alert_id=str(self_check["id"]))

    # listed, filtered; a department sees the procedures holding it responsible only
    listed = api.ok("GET", "/api/v1/accountability-procedures", "monitor")
    assert [p["id"] for p in listed["items"]] == [other["id"], procedure["id"], on_joint["id"]]
    assert [p["id"] for p in api.ok("GET", "/api/v1/accountability-procedures", "monitor", state="open")["items"]] \
        == [on_joint["id"]]
    assert [p["id"] for p in api.ok("GET", "/api/v1/accountability-procedures", "monitor",
                                    outcome="none_due")["items"]] == [other["id"]]
    assert [p["id"] for p in api.ok("GET", "/api/v1/accountability-procedures", "monitor",
                                    joint_id=joint["id"])["items"]] == [on_joint["id"]]
    assert [p["id"] for p in api.ok("GET", "/api/v1/accountability-procedures", "ZJJ")["items"]] == [procedure["id"]]
    assert api.ok("GET", "/api/v1/accountability-procedures", "ZJJ", department="FGJ")["total"] == 0
    assert api.ok("GET", f"/api/v1/accountability-procedures/{procedure['id']}", "ZJJ")["id"] == procedure["id"]
    assert api.call("GET", f"/api/v1/accountability-procedures/{other['id']}", "ZJJ").status_code == 404
    r = api.call("GET", "/api/v1/accountability-procedures", "monitor", outcome="fine", state="x")
    assert r.status_code == 400 and {"outcome", "state"} <= set(r.json()["errors"])
    eventlet.sleep(0.3)
    assert len(of_type(tap, "accountability.concluded", procedure_id=str(procedure["id"]))) == 1
    assert len(of_type(tap, "monitor.alert_resolved", alert_id=str(milestone["id"]))) == 1


@pytest.mark.postgres
def test_lists_and_the_procedure_on_postgresql(start_on_postgres, keys_file, api_keys, frozen):
    from services.approvals.service import ApprovalsService
    from services.kernel.keys import KeyStore

    keys = dict(api_keys)
    for dept in ("SCJGJ", "ZJJ"):
        keys[dept] = KeyStore(keys_file).add(f"handler-{dept}", "department_handler", dept)
    cfg = start_on_postgres(ApprovalsService)
    api = Api(cfg["base_url"], keys)
    frozen(datetime(2026, 9, 20, 9, 0, tzinfo=TZ))
    api.project("XM_1", units=("ZJJ", "SCJGJ"))  # "_" is no wildcard in the filters
    api.project("XMA1", units=("SCJGJ",))
    assert codes(api.ok("GET", "/api/v1/projects", "monitor", lead_unit="ZJJ")) == ["XM_1"]
    assert codes(api.ok("GET", "/api/v1/projects", "monitor", department="ZJJ", q="m_1")) == ["XM_1"]
    assert codes(api.ok("GET", "/api/v1/projects", "ZJJ")) == ["XM_1"]
    assert codes(api.ok("GET", "/api/v1/projects", "monitor", green_channel="false", year=2026)) == ["XMA1", "XM_1"]
    frozen(datetime(2027, 1, 1, 0, 0, 1, tzinfo=TZ))

    def inspection_alert():
        items = api.ok("GET", "/api/v1/project-alerts", "monitor", subject_ref="XM_1")["items"]
        return next((a for a in items if a["rule"] == "inspection_missing:2026-Q4"), None)

    alert = wait_for(inspection_alert, message="the inspection of 2026-Q4 missing")
    procedure = api.ok("POST", f"/api/v1/alerts/{alert['id']}/accountability", "monitor",
                       {"reason": "四季度未开展重点督察"}, status=201)
    body = {"outcome": "measure", "measure": "criticism", "target": "unit", "deciding_body": "市效能办",
            "document_no": "效通〔2027〕1号", "decided_on": "2027-01-01", "reason": "未按季度开展重点督察"}
    url = f"/api/v1/accountability-procedures/{procedure['id']}/conclude"
    assert api.ok("POST", url, "monitor", body)["measure_zh"] == "通报批评"
    assert api.ok("POST", url, "monitor", body)["state"] == "concluded"
    assert api.call("POST", url, "monitor", {**body, "outcome": "none_due", "measure": None, "target": None,
                                              "document_no": None}).status_code == 409
    assert inspection_alert()["state"] == "resolved"
