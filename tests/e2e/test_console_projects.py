"""Key projects' accountability alerts (问责) and joint approval cases' clock alerts on the monitor console (#16),
end to end with the real approvals and notify services on a vhost of the test's own and a frozen clock: a missed
milestone, the missing monthly self-checks and a joint case's warnings and yellow card reach the console's list
(filtered by subject), board (per department and subject) and feed; acknowledge and resolve go through
`alert.action_requested` to approvals, which answers with its usual events; a resolved alert leaves the board; an
answer that overtakes its project alert is filed under the project."""

from datetime import datetime
from pathlib import Path

import requests

from services.kernel import clock
from services.kernel.contracts import make_event
from services.notify.service import NotifyService
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.support import publish_raw

TZ = clock.TZ
REGISTER = str(Path(__file__).resolve().parents[2] / "services" / "scoring" / "departments.demo.yaml")
APPLICANT = {"name": "杭州某制造有限公司", "kind": "enterprise", "id_number": "91330100MA27XXXX1X"}
ITEMS = ["HBJ-001", "SCJ-001", "ZJJ-001"]


class Api:
    """approvals' and the console's HTTP APIs with the test's keys."""

    def __init__(self, base_url, keys):
        self.base = base_url
        self.keys = keys
        self.console = None  # notify's base URL

    def call(self, method, path, who="monitor", body=None, base=None, **params):
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return requests.request(method, f"{base or self.base}{path}", json=body, headers=headers, params=params,
                                timeout=10)

    def ok(self, method, path, who="monitor", body=None, status=200, base=None, **params):
        r = self.call(method, path, who, body, base, **params)
        assert r.status_code == status, (method, path, who, r.status_code, r.text)
        return r.json()

    def on_console(self, method, path, who="monitor", body=None, status=200, **params):
        return self.ok(method, path, who, body, status, base=self.console, **params)

    def console_alerts(self, **params):
        return self.on_console("GET", "/api/v1/console/alerts", **params)

    def project_alert(self, alert_id):
        items = self.ok("GET", "/api/v1/project-alerts", "monitor")["items"]
        return next(a for a in items if str(a["id"]) == str(alert_id))


def start(service_config, start_service, api_keys, keys_file, amqp_uri) -> Api:
    api, _ = start_approvals(service_config, start_service, api_keys, keys_file, amqp_uri,
                             departments=("SCJGJ", "ZJJ", "HBJ"), client=Api)
    cfg = service_config("notify", AMQP_URI=amqp_uri, NOTIFY={"DEPARTMENTS_FILE": REGISTER})
    start_service(NotifyService, cfg)
    api.console = cfg["base_url"]
    return api


def raise_project_and_joint_alerts(api: Api, frozen) -> dict:
    """A key project registered on 3 August with a milestone of ZJJ due 9 October, and a joint approval case on it
    left open; on 12 October the milestone is missed, August's and September's self-checks and the third quarter's
    inspection are missing (the lead unit FGJ) and the joint case is past its due date. Waits until the console
    shows them all."""
    frozen(datetime(2026, 8, 3, 9, 0, tzinfo=TZ))
    api.ok("POST", "/api/v1/projects", "operator", {
        "code": "XM-1", "name": "某新能源汽车零部件项目", "responsible_units": ["FGJ", "SCJGJ", "ZJJ", "HBJ"],
        "agent": {"name": "王代办", "phone": "0571-87000001"},
        "milestones": [{"name": "完成施工许可", "deadline": "2026-10-09", "responsible_unit": "ZJJ"}]}, status=201)
    joint = api.ok("POST", "/api/v1/joint-approvals", "window_system", {
        "external_ref": "J-1", "project_code": "XM-1", "applicant": APPLICANT, "item_codes": ITEMS,
        "materials": {"SCJ-001": ["M1", "M2", "M3"], "ZJJ-001": ["M1", "M2", "M3"], "HBJ-001": ["M1", "M2"]}},
        status=201)
    frozen(datetime(2026, 10, 12, 9, 0, tzinfo=TZ))

    def kinds(subject):
        # (a quarter without inspection is alerted too, once approvals checks inspections: not waited for)
        return sorted(a["kind"] for a in api.console_alerts(subject=subject)
                      if a["kind"] != "project.inspection_missing")

    wait_for(lambda: kinds("project") == ["project.milestone_missed", *["project.self_check_missing"] * 2]
             and kinds("joint_approval") == ["joint_approval.alert_raised"] * 3, timeout=15,
             message="the project's and the joint case's alerts on the console")
    return joint


def test_project_and_joint_alerts_on_the_console_and_their_round_trip(service_config, start_service, api_keys,
                                                                     keys_file, fresh_amqp_uri, frozen):
    api = start(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)
    joint = raise_project_and_joint_alerts(api, frozen)

    # the list, by subject
    projects = api.console_alerts(subject="project")
    [milestone] = [a for a in projects if a["kind"] == "project.milestone_missed"]
    assert (milestone["department"], milestone["department_name"], milestone["level"], milestone["level_zh"]) == (
        "ZJJ", "市住房和城乡建设局", "accountability", "问责")
    assert (milestone["subject"], milestone["subject_zh"], milestone["ref_no"], milestone["owner"]) == (
        "project", "重点项目", "XM-1", "approvals")
    assert "完成施工许可" in milestone["title_zh"] and "2026-10-09" in milestone["title_zh"]
    assert milestone["actionable"] is True and milestone["state"] == "open"
    assert api.project_alert(milestone["alert_id"])["rule"].startswith("milestone_missed:")
    self_checks = sorted((a["department"], a["title_zh"]) for a in projects
                         if a["kind"] == "project.self_check_missing")
    assert [d for d, _ in self_checks] == ["FGJ", "FGJ"]
    assert "2026-08 月度自查未按时报送" in self_checks[0][1] + self_checks[1][1]
    # the third quarter ended without an inspection (重点督察), when approvals checks inspections
    for inspection in [a for a in projects if a["kind"] == "project.inspection_missing"]:
        assert inspection["department"] == "FGJ" and "2026-Q3 未开展重点督察" in inspection["title_zh"]

    joints = api.console_alerts(subject="joint_approval")
    assert sorted(a["level"] for a in joints) == ["warning", "warning", "yellow"]
    assert {(a["ref_no"], a["department"], a["subject_zh"]) for a in joints} == {
        (f"XM-1 联审#{joint['id']}", None, "联合审批")}
    [yellow] = [a for a in joints if a["level"] == "yellow"]
    assert yellow["title_zh"] == "联合审批已超过办结期限仍未办结" and yellow["kind"] == "joint_approval.alert_raised"
    # the other subjects do not show them
    shown = {a["id"] for a in api.console_alerts(subject="application") + api.console_alerts(subject="appeal")}
    assert not shown & {a["id"] for a in projects + joints}
    assert {a["id"] for a in api.console_alerts()} >= {a["id"] for a in projects + joints}
    assert api.console_alerts(subject="project", level="accountability", department="ZJJ") == [milestone]

    # the board: per department and subject; the joint case's alerts are no one department's
    board = {d["department"]: d for d in api.on_console("GET", "/api/v1/console/board")}
    assert (board["ZJJ"]["light"], board["ZJJ"]["counts"]["accountability"], board["ZJJ"]["subjects"]["project"]) == (
        "red", 1, 1)
    fgj = board["FGJ"]["subjects"]
    assert (fgj["application"], fgj["joint_approval"], fgj["appeal"]) == (0, 0, 0) and fgj["project"] >= 2
    assert board[""]["subjects"]["joint_approval"] == 3 and board[""]["light"] == "yellow"

    # the feed names the unit by its name, the project and the milestone
    feed = api.on_console("GET", "/api/v1/console/feed", limit=100)
    [line] = [f for f in feed if f["event_type"] == "project.milestone_missed"]
    assert line["text_zh"].startswith("【问责】市住房和城乡建设局 XM-1：") and "完成施工许可" in line["text_zh"]
    assert line["alert"]["subject"] == "project"
    assert len([f for f in feed if f["event_type"] == "joint_approval.alert_raised"]) == 3

    # acknowledge, then resolve, through the console: approvals carries them out and answers
    sent = api.on_console("POST", f"/api/v1/console/alerts/{milestone['id']}/acknowledge",
                          body={"note": "已通知住建局"}, status=202)
    assert sent["pending_action"] == "acknowledge" and sent["state"] == "open"
    wait_for(lambda: api.project_alert(milestone["alert_id"])["state"] == "acknowledged", message="acknowledged")
    acked = wait_for(lambda: (a := api.console_alerts(subject="project", state="acknowledged")) and a,
                     message="acknowledged on the console")[0]
    assert (acked["id"], acked["acknowledged_by"], acked["pending_action"]) == (milestone["id"], "test-monitor", None)
    api.on_console("POST", f"/api/v1/console/alerts/{milestone['id']}/resolve",
                   body={"note": "已约谈责任单位并限期完成"}, status=202)
    wait_for(lambda: api.project_alert(milestone["alert_id"])["state"] == "resolved", message="resolved in approvals")
    done = wait_for(lambda: (a := api.console_alerts(subject="project", state="resolved")) and a,
                    message="resolved on the console")[0]
    assert (done["resolved_by"], done["note"], done["subject"]) == (
        "test-monitor", "已约谈责任单位并限期完成", "project")
    # it left the board: ZJJ keeps only its sub-application's own cards
    board = {d["department"]: d for d in api.on_console("GET", "/api/v1/console/board")}
    assert (board["ZJJ"]["counts"]["accountability"], board["ZJJ"]["subjects"]["project"]) == (0, 0)
    assert board["ZJJ"]["total"] == board["ZJJ"]["subjects"]["application"]

    # a joint case's alert: resolved straight away (no department on either side)
    api.on_console("POST", f"/api/v1/console/alerts/{yellow['id']}/resolve", body={"note": "已协调三部门并联办理"},
                   status=202)
    wait_for(lambda: api.project_alert(yellow["alert_id"])["state"] == "resolved", message="joint alert resolved")
    wait_for(lambda: [a for a in api.console_alerts(subject="joint_approval", state="resolved")
                      if a["id"] == yellow["id"]], message="the joint alert resolved on the console")
    board = {d["department"]: d for d in api.on_console("GET", "/api/v1/console/board")}
    assert board[""]["subjects"]["joint_approval"] == 2 and board[""]["counts"]["yellow"] == 0

    # bad input: 400 with the field, 403 for another role, 404 for an unknown alert, 409 once resolved
    r = api.call("GET", "/api/v1/console/alerts", base=api.console, subject="item")
    assert r.status_code == 400 and "subject" in r.json()["errors"], r.text
    r = api.call("POST", f"/api/v1/console/alerts/{milestone['id']}/resolve", body={}, base=api.console)
    assert r.status_code == 400 and "note" in r.json()["errors"], r.text
    r = api.call("GET", "/api/v1/console/alerts", "ZJJ", base=api.console, subject="project")
    assert r.status_code == 403, r.text
    r = api.call("POST", "/api/v1/console/alerts/999999/acknowledge", body={}, base=api.console)
    assert r.status_code == 404, r.text
    for action, body in (("acknowledge", {}), ("resolve", {"note": "再次办结"})):
        r = api.call("POST", f"/api/v1/console/alerts/{milestone['id']}/{action}", body=body, base=api.console)
        assert r.status_code == 409 and r.json()["error"]["message_zh"] == "告警当前状态不允许此操作", r.text


def test_an_answer_that_overtakes_its_project_alert_is_filed_under_the_project(service_config, start_service,
                                                                               api_keys, fresh_amqp_uri):
    """notify alone: approvals' resolution of a project's alert arrives before the alert (separate queues); the
    console files it under the project at once, and the alert, when it comes, names it without reopening it."""
    cfg = service_config("notify", AMQP_URI=fresh_amqp_uri, NOTIFY={"DEPARTMENTS_FILE": REGISTER})
    start_service(NotifyService, cfg)
    api = Api(cfg["base_url"], api_keys)
    api.console = cfg["base_url"]
    raised = clock.now()
    resolved = make_event("monitor.alert_resolved", {
        "subject": "project", "department": "ZJJ", "project_code": "XM-9", "joint_id": None, "alert_id": "77",
        "level": "accountability", "rule": "milestone_missed:5@2026-11-10", "raised_at": raised, "by": "张监察",
        "note": "已约谈", "resolved_at": raised}, service="approvals")
    missed = make_event("project.milestone_missed", {
        "project_code": "XM-9", "project_name": "某物流园项目", "milestone_id": "5", "milestone": "完成土地出让",
        "deadline": "2026-11-10", "responsible_unit": "ZJJ", "alert_id": "77", "level": "accountability",
        "rule": "milestone_missed:5@2026-11-10", "raised_at": raised}, service="approvals")
    publish_raw(fresh_amqp_uri, "approvals.events", "monitor.alert_resolved", resolved)
    early = wait_for(lambda: api.console_alerts(subject="project", state="all"), message="the early answer")[0]
    assert (early["state"], early["ref_no"], early["department"], early["subject"]) == (
        "resolved", "XM-9", "ZJJ", "project")
    publish_raw(fresh_amqp_uri, "approvals.events", "project.milestone_missed", missed)
    alert = wait_for(lambda: [a for a in api.console_alerts(subject="project", state="all")
                              if a["kind"] == "project.milestone_missed"], message="the alert after its answer")[0]
    assert (alert["id"], alert["state"], alert["resolved_by"], alert["note"]) == (early["id"], "resolved", "张监察",
                                                                                   "已约谈")
    assert "完成土地出让" in alert["title_zh"]
    assert api.console_alerts(subject="project") == []  # resolved: not on the list of open ones, nor the board
    board = api.on_console("GET", "/api/v1/console/board")
    assert [(d["department"], d["total"], d["light"]) for d in board] == [("ZJJ", 0, "green")]

    doc = requests.get(f"{cfg['base_url']}/api/openapi.json", timeout=10).json()
    params = doc["paths"]["/api/v1/console/alerts"]["get"]["parameters"]
    [param] = [p for p in params if p["name"] == "subject"]
    assert [v for v in param["schema"]["enum"] if v] == ["application", "project", "joint_approval", "inspection",
                                                         "penalty", "appeal"]
