"""Rectification (整改) of monitor alerts end to end, with the real approvals and notify services on a broker vhost
of the test's own and a frozen clock: a department submits a report for its own alert (never another
department's: every endpoint), the console shows it waiting for review, and its accept / send back is carried out
by approvals (`alert.action_requested`, actions accept_rectification / return_rectification), whose events update
the console; an overdue rectification is announced once, also on PostgreSQL with reports racing the timer."""

from datetime import datetime

import pytest

from services.kernel import clock
from services.notify.service import NotifyService
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.e2e.test_approval_lifecycle import types_of, wait_event
from tests.e2e.test_console_api import REGISTER, Console

TZ = clock.TZ
REPORT = {"corrected": "已补办受理手续，窗口人员已培训", "corrected_by": "王科长",
          "attachments": ["https://files.example.gov.cn/zg/1.pdf"]}


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    approvals, tap = start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)
    cfg = service_config("notify", AMQP_URI=fresh_amqp_uri, NOTIFY={"DEPARTMENTS_FILE": REGISTER})
    start_service(NotifyService, cfg)
    return approvals, tap, Console(cfg["base_url"], approvals.keys)


def irregular_alert(api):
    """Decide before accept: refused (409), and an irregularity alert of SCJGJ."""
    app = api.submit()
    api.act(app["id"], "decide", {"approved": True}, status=409)
    [alert] = api.alerts(application_id=app["id"])
    return app, alert


def rect_path(alert, suffix=""):
    return f"/api/v1/alerts/{alert['id']}/rectification{suffix}"


def test_a_department_never_sees_or_touches_another_departments_rectification(env, frozen):
    api, tap, console = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    app, alert = irregular_alert(api)
    assert alert["department"] == "SCJGJ"
    [own] = wait_for(lambda: api.ok("GET", "/api/v1/rectifications", "monitor", alert_id=alert["id"])["items"],
                     message="the alert's rectification")
    assert api.ok("GET", f"/api/v1/rectifications/{own['id']}", "SCJGJ")["alert_id"] == alert["id"]
    assert api.call("GET", "/api/v1/rectifications/999999", "monitor").status_code == 404
    for who in ("ZJJ", "handler_d1"):
        assert api.call("POST", rect_path(alert), who, REPORT).status_code == 404
        assert api.call("GET", f"/api/v1/rectifications/{own['id']}", who).status_code == 404
        assert api.ok("GET", "/api/v1/rectifications", who)["total"] == 0
        assert api.ok("GET", "/api/v1/rectifications", who, department="SCJGJ")["total"] == 0
        # reviewing is the monitors' and assessors' business, a handler's own alert or not
        assert api.call("POST", rect_path(alert, "/accept"), who, {}).status_code == 403
        assert api.call("POST", rect_path(alert, "/return"), who, {"reason": "不行"}).status_code == 403
    assert api.call("POST", rect_path(alert, "/accept"), "SCJGJ", {}).status_code == 403
    for who in ("monitor", "operator", "window_system"):
        assert api.call("POST", rect_path(alert), who, REPORT).status_code == 403
    assert api.call("POST", "/api/v1/alerts/999999/rectification", "SCJGJ", REPORT).status_code == 404
    # the department's own: its listing shows it (pending, due five working days after the day raised)
    listed = wait_for(lambda: (r := api.ok("GET", "/api/v1/rectifications", "SCJGJ")["items"]) and r[0]["due_at"]
                      and r, message="the rectification with its due time")
    assert (listed[0]["alert_id"], listed[0]["state"], listed[0]["due_at"]) == (
        alert["id"], "pending", "2026-11-09T23:59:59.999999+08:00")
    bad = api.call("POST", rect_path(alert), "SCJGJ", {**REPORT, "attachments": ["javascript:alert(1)"]})
    assert bad.status_code == 400 and "attachments" in bad.json()["errors"]
    assert api.call("POST", rect_path(alert), "SCJGJ", {"corrected": "x"}).status_code == 400
    assert "monitor.rectification_submitted" not in types_of(tap, app["id"])


def test_submit_send_back_resubmit_and_accept_through_the_console(env, frozen):
    api, tap, console = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    app, alert = irregular_alert(api)
    first = api.ok("POST", rect_path(alert), "SCJGJ", REPORT, status=201)
    assert (first["state"], first["round"], first["corrected_by"]) == ("submitted", 1, "王科长")
    assert api.ok("POST", rect_path(alert), "SCJGJ", REPORT, status=200)["round"] == 1  # a retry: the same
    other = api.call("POST", rect_path(alert), "SCJGJ", {**REPORT, "corrected": "另一份报告"})
    assert other.status_code == 409
    submitted = wait_event(tap, app["id"], "monitor.rectification_submitted")[0]
    assert (submitted["alert_id"], submitted["round"], submitted["department"]) == (str(alert["id"]), 1, "SCJGJ")
    assert "王科长" not in str(submitted) and "files.example" not in str(submitted)

    # the console's review queue; a handler's key is no monitor's
    item = wait_for(lambda: console.ok("GET", "/api/v1/console/rectifications"), message="on the console")[0]
    assert (item["alert_id"], item["state"], item["round"]) == (str(alert["id"]), "submitted", 1)
    assert console.call("GET", "/api/v1/console/rectifications", "SCJGJ").status_code == 403
    assert console.call("POST", f"/api/v1/console/rectifications/{item['id']}/return", "SCJGJ",
                        {"reason": "附件不全"}).status_code == 403
    r = console.call("POST", f"/api/v1/console/rectifications/{item['id']}/return", body={"reason": "x"})
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    sent = console.ok("POST", f"/api/v1/console/rectifications/{item['id']}/return",
                      body={"reason": "缺少整改前后对比照片"}, status=202)
    assert sent["pending_decision"] == "return"
    again = console.call("POST", f"/api/v1/console/rectifications/{item['id']}/accept", body={})
    assert again.status_code == 409  # one decision at a time
    returned = wait_event(tap, app["id"], "monitor.rectification_returned")[0]
    assert (returned["reason"], returned["by"]) == ("缺少整改前后对比照片", "test-monitor")
    shown = wait_for(lambda: console.ok("GET", "/api/v1/console/rectifications", state="returned"),
                     message="returned on the console")[0]
    assert shown["pending_decision"] is None and shown["review_note"] == "缺少整改前后对比照片"
    assert api.ok("GET", f"/api/v1/rectifications/{first['id']}", "SCJGJ")["state"] == "returned"

    frozen(datetime(2026, 11, 3, 9, 0, tzinfo=TZ))
    second = api.ok("POST", rect_path(alert), "SCJGJ", {**REPORT, "attachments": REPORT["attachments"] * 2},
                    status=201)
    assert second["round"] == 2
    item = wait_for(lambda: [i for i in console.ok("GET", "/api/v1/console/rectifications") if i["round"] == 2],
                    message="the second report on the console")[0]
    console.ok("POST", f"/api/v1/console/rectifications/{item['id']}/accept", body={"note": "同意销号"}, status=202)
    resolved = wait_event(tap, app["id"], "monitor.alert_resolved")[0]
    assert (resolved["alert_id"], resolved["rectification_id"], resolved["by"]) == (
        str(alert["id"]), str(second["id"]), "test-monitor")
    wait_event(tap, app["id"], "monitor.rectification_accepted")
    wait_for(lambda: console.ok("GET", "/api/v1/console/rectifications", state="accepted"), message="accepted")
    wait_for(lambda: console.alert("approvals", alert["id"])["state"] == "resolved", message="the alert resolved")
    stored = api.ok("GET", f"/api/v1/rectifications/{first['id']}", "monitor")
    assert [h["decision"] for h in stored["history"]] == ["returned", "accepted"]
    assert api.alerts(application_id=app["id"])[0]["state"] == "resolved"
    assert api.call("POST", rect_path(alert), "SCJGJ", REPORT).status_code == 409  # nothing left to rectify
    api.drained()
    types = types_of(tap, app["id"])
    assert (types.count("monitor.rectification_submitted"), types.count("monitor.rectification_returned"),
            types.count("monitor.rectification_accepted"), types.count("monitor.alert_resolved")) == (2, 1, 1, 1)


def test_an_assessor_accepts_over_http_and_a_retry_changes_nothing(env, frozen):
    api, tap, console = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    app, alert = irregular_alert(api)
    assert api.call("POST", rect_path(alert, "/accept"), "assessor", {}).status_code == 409  # nothing submitted
    api.ok("POST", rect_path(alert), "SCJGJ", REPORT, status=201)
    out = api.ok("POST", rect_path(alert, "/accept"), "assessor", {"note": "整改到位"})
    assert (out["state"], out["reviewed_by"], out["alert_state"]) == ("accepted", "test-assessor", "resolved")
    assert api.ok("POST", rect_path(alert, "/accept"), "assessor", {"note": "整改到位"})["state"] == "accepted"
    assert api.call("POST", rect_path(alert, "/return"), "monitor", {"reason": "晚了"}).status_code == 409
    listed = api.ok("GET", "/api/v1/rectifications", "monitor", state="accepted", department="SCJGJ")
    assert [i["alert_id"] for i in listed["items"]] == [alert["id"]]
    api.drained()
    assert types_of(tap, app["id"]).count("monitor.alert_resolved") == 1


def test_an_overdue_rectification_is_announced_once_and_shown(env, frozen):
    api, tap, console = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    app, alert = irregular_alert(api)
    wait_for(lambda: api.ok("GET", "/api/v1/rectifications", "SCJGJ")["items"][0]["due_at"],
             message="the due time computed")
    frozen(datetime(2026, 11, 9, 23, 59, tzinfo=TZ))  # the last day is still the department's
    frozen(datetime(2026, 11, 10, 0, 1, tzinfo=TZ))
    overdue = wait_event(tap, app["id"], "monitor.rectification_overdue")[0]
    assert (overdue["alert_id"], overdue["rectification_state"], overdue["rectification_days"]) == (
        str(alert["id"]), "pending", 5)
    listed = api.ok("GET", "/api/v1/rectifications", "SCJGJ", state="overdue")["items"]
    assert [i["alert_id"] for i in listed] == [alert["id"]] and listed[0]["overdue"]
    wait_for(lambda: console.ok("GET", "/api/v1/console/rectifications", state="overdue"), message="on the console")
    api.ok("POST", rect_path(alert), "SCJGJ", REPORT, status=201)  # late, but still welcome
    frozen(datetime(2026, 11, 12, 9, 0, tzinfo=TZ))
    api.drained()
    assert types_of(tap, app["id"]).count("monitor.rectification_overdue") == 1


@pytest.mark.postgres
def test_on_postgresql_overdue_once_while_reports_race_the_timer(start_on_postgres, api_keys, keys_file, amqp_uri,
                                                                 frozen):
    import eventlet

    from services.approvals.service import ApprovalsService
    from services.kernel.keys import KeyStore
    from tests.e2e.approvals_client import ApprovalsApi
    from tests.support import Tap

    keys = {**api_keys, "SCJGJ": KeyStore(keys_file).add("handler-SCJGJ-pg-rect", "department_handler", "SCJGJ")}
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    tap = Tap(amqp_uri, "approvals")
    cfg = start_on_postgres(ApprovalsService)
    api = ApprovalsApi(cfg["base_url"], keys)
    alerts = [irregular_alert(api) for _ in range(5)]
    for _app, alert in alerts:
        wait_for(lambda a=alert: api.ok("GET", "/api/v1/rectifications", "monitor", alert_id=a["id"])["items"][0][
            "due_at"], message="the due time computed")
    for _app, alert in alerts[:2]:  # in time
        api.ok("POST", rect_path(alert), "SCJGJ", REPORT, status=201)
    # past the due time: reports for the third race the timer (each answer 201 or the retry's 200)
    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))
    racing = [eventlet.spawn(api.call, "POST", rect_path(alerts[2][1]), "SCJGJ", REPORT) for _ in range(4)]
    assert sorted(g.wait().status_code for g in racing) == [200, 200, 200, 201]
    for app, _alert in alerts[3:]:
        wait_event(tap, app["id"], "monitor.rectification_overdue")
    api.drained()
    frozen(datetime(2026, 11, 12, 9, 0, tzinfo=TZ))
    api.drained()
    counts = [types_of(tap, app["id"]).count("monitor.rectification_overdue") for app, _ in alerts]
    assert counts[:2] == [0, 0] and counts[2] in (0, 1) and counts[3:] == [1, 1]
    assert [types_of(tap, app["id"]).count("monitor.rectification_submitted") for app, _ in alerts] == [1, 1, 1, 0, 0]
    overdue = api.ok("GET", "/api/v1/rectifications", "monitor", state="overdue")["items"]
    # the third is listed overdue exactly when the timer got there before its report
    expected = [a["id"] for _, a in alerts[3:]] + ([alerts[2][1]["id"]] if counts[2] else [])
    assert sorted(i["alert_id"] for i in overdue) == sorted(expected)


def test_approvals_carries_out_a_console_review_once_and_refuses_what_it_must(env, frozen, fresh_amqp_uri):
    from services.kernel.contracts import make_event
    from tests.support import publish_raw

    api, tap, console = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    app, alert = irregular_alert(api)
    api.ok("POST", rect_path(alert), "SCJGJ", REPORT, status=201)
    actor = {"name": "张监察", "role": "monitor", "department": None}

    def command(**fields):
        payload = {"owner": "approvals", "alert_id": str(alert["id"]), "department": "SCJGJ",
                   "action": "return_rectification", "note": "附件不全", "actor": actor, **fields}
        return make_event("alert.action_requested", payload, service="notify")

    refused = [command(actor={**actor, "role": "operator"}), command(actor={**actor, "role": "department_handler",
                                                                           "department": "SCJGJ"}),
               command(department="ZJJ"), command(note=None), command(note="x"), command(alert_id="99999"),
               command(alert_id="x1"), command(action="accept_rectification", alert_id=str(2**70))]
    for event in refused:
        publish_raw(fresh_amqp_uri, "notify.events", "alert.action_requested", event)
    marker = command(note="最后一条")
    for _ in range(3):  # redelivered: carried out once
        publish_raw(fresh_amqp_uri, "notify.events", "alert.action_requested", marker)
    returned = wait_event(tap, app["id"], "monitor.rectification_returned")[0]
    assert (returned["reason"], returned["by"], returned["round"]) == ("最后一条", "张监察", 1)
    api.drained()
    assert types_of(tap, app["id"]).count("monitor.rectification_returned") == 1
    [row] = api.ok("GET", "/api/v1/rectifications", "monitor", alert_id=alert["id"])["items"]
    assert (row["state"], row["review_note"], len(row["history"])) == ("returned", "最后一条", 1)
