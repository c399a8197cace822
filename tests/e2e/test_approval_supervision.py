"""Alert handling and supervision orders (督办) on the real broker with a frozen clock: acknowledging and
resolving publish who and what; an order is stored and published, and raises its overdue alert exactly once
when `act_by` passes with the application open, never when the application was decided in time."""

from datetime import datetime

import eventlet
import pytest

from services.approvals.service import ApprovalsService
from services.kernel import clock
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.e2e.test_approval_lifecycle import Api, types_of, wait_event
from tests.support import Tap

TZ = clock.TZ


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    return start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)


def supervise(api, application_id, body, who="monitor", status=201):
    return api.ok("POST", f"/api/v1/applications/{application_id}/supervise", who, body, status=status)


def orders(api, who="monitor", **params):
    return api.ok("GET", "/api/v1/supervision-orders", who, **params)


def drained(api):
    wait_for(lambda: api.ok("GET", "/health", "monitor")["outbox"]["pending"] == 0, message="outbox drained")


def test_acknowledge_and_resolve_publish_who_and_what(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 9, 0, tzinfo=TZ))
    a = api.submit()
    api.act(a["id"], "decide", body={"approved": True}, status=409)  # an irregularity: one alert
    alert = api.alerts(application_id=a["id"])[0]
    api.ok("POST", f"/api/v1/alerts/{alert['id']}/acknowledge", "monitor", {"note": "已通知窗口"})
    ack = wait_event(tap, a["id"], "monitor.alert_acknowledged")[0]
    assert (ack["alert_id"], ack["by"], ack["note"], ack["level"]) == (
        str(alert["id"]), "test-monitor", "已通知窗口", "irregularity")
    frozen(datetime(2026, 11, 2, 11, 0, tzinfo=TZ))
    api.ok("POST", f"/api/v1/alerts/{alert['id']}/resolve", "monitor", {"note": "窗口已先受理再决定"})
    done = wait_event(tap, a["id"], "monitor.alert_resolved")[0]
    assert (done["alert_id"], done["by"], done["note"], done["rule"]) == (
        str(alert["id"]), "test-monitor", "窗口已先受理再决定", alert["rule"])
    assert done["resolved_at"] == "2026-11-02T11:00:00+08:00"
    assert (done["application_no"], done["department"], done["item_code"]) == (
        a["application_no"], "SCJGJ", "SCJ-001")
    # a refused resolve (already resolved) publishes nothing
    api.ok("POST", f"/api/v1/alerts/{alert['id']}/resolve", "monitor", {"note": "again"}, status=409)
    drained(api)
    assert types_of(tap, a["id"]).count("monitor.alert_resolved") == 1


def test_a_supervision_order_is_stored_published_and_fires_once_when_overdue(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit()
    api.act(a["id"], "accept")
    order = supervise(api, a["id"], {"act_by": "2026-11-04", "note": "请于11月4日前办结"})
    assert (order["application_id"], order["department"], order["act_by"], order["state"]) == (
        a["id"], "SCJGJ", "2026-11-04", "open")
    assert (order["ordered_by"], order["note"], order["application_no"]) == (
        "test-monitor", "请于11月4日前办结", a["application_no"])
    ordered = wait_event(tap, a["id"], "monitor.supervision_ordered")[0]
    assert (ordered["order_id"], ordered["act_by"], ordered["by"], ordered["department"]) == (
        str(order["id"]), "2026-11-04", "test-monitor", "SCJGJ")
    listed = orders(api, department="SCJGJ", state="open")
    assert [o["id"] for o in listed["items"]] == [order["id"]]
    assert orders(api, "SCJGJ")["total"] == 1 and orders(api, "ZJJ")["total"] == 0  # department scope

    frozen(datetime(2026, 11, 4, 23, 59, tzinfo=TZ))  # the last day is still the department's
    eventlet.sleep(0.6)
    assert [x for x in api.alerts(application_id=a["id"]) if x["level"] == "red"] == []
    frozen(datetime(2026, 11, 5, 0, 0, 1, tzinfo=TZ))
    overdue = wait_event(tap, a["id"], "monitor.supervision_overdue")[0]
    assert (overdue["order_id"], overdue["act_by"], overdue["level"]) == (str(order["id"]), "2026-11-04", "red")
    assert overdue["rule"] == f"supervision_overdue:{order['id']}"
    red = api.alerts(application_id=a["id"], level="red")
    assert [(x["rule"], x["details"]["order_id"]) for x in red] == [(overdue["rule"], order["id"])]
    assert str(red[0]["id"]) == overdue["alert_id"]
    assert orders(api, state="overdue")["items"][0]["overdue_alert_id"] == red[0]["id"]

    # later ticks and a rescheduling action raise nothing more
    api.act(a["id"], "request-supplement", body={"missing": ["M4"]})
    frozen(datetime(2026, 11, 6, 0, 0, 1, tzinfo=TZ))
    eventlet.sleep(0.6)
    drained(api)
    assert types_of(tap, a["id"]).count("monitor.supervision_overdue") == 1
    assert len(api.alerts(application_id=a["id"], level="red")) == 1


def test_an_application_decided_in_time_fulfils_the_order(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit()
    api.act(a["id"], "accept")
    order = supervise(api, a["id"], {"act_by": "2026-11-04", "note": "尽快办结"})
    frozen(datetime(2026, 11, 3, 15, 0, tzinfo=TZ))
    api.act(a["id"], "decide", body={"approved": True})
    fulfilled = orders(api, state="fulfilled")["items"]
    assert [(o["id"], o["fulfilled_at"]) for o in fulfilled] == [(order["id"], "2026-11-03T15:00:00+08:00")]
    frozen(datetime(2026, 11, 5, 0, 0, 1, tzinfo=TZ))
    eventlet.sleep(0.8)
    drained(api)
    assert "monitor.supervision_overdue" not in types_of(tap, a["id"])
    assert api.alerts(application_id=a["id"], level="red") == []
    assert orders(api, state="overdue")["total"] == 0 and orders(api, state="fulfilled")["total"] == 1
    # nothing left to supervise once decided
    supervise(api, a["id"], {"act_by": "2026-11-10", "note": "再督办"}, status=409)


def test_only_monitors_supervise_and_bad_input_is_refused(env, frozen):
    api, _ = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit()
    body = {"act_by": "2026-11-04", "note": "请尽快办理"}
    for who in ("SCJGJ", "window_system", "operator"):
        supervise(api, a["id"], body, who=who, status=403)
    for change, field in (({"act_by": None}, "act_by"), ({"act_by": "tomorrow"}, "act_by"),
                          ({"act_by": "2026-11-01"}, "act_by"),  # in the past
                          ({"note": ""}, "note"), ({"note": None}, "note")):
        r = api.call("POST", f"/api/v1/applications/{a['id']}/supervise", "monitor", {**body, **change})
        assert r.status_code == 400 and field in r.json()["errors"], (change, r.text)
    r = api.call("POST", f"/api/v1/applications/{a['id']}/supervise", "monitor", {"note": "请尽快办理"})
    assert r.status_code == 400 and "act_by" in r.json()["errors"]
    assert api.call("POST", "/api/v1/applications/999999/supervise", "monitor", body).status_code == 404
    r = api.call("GET", "/api/v1/supervision-orders", "monitor", state="lost")
    assert r.status_code == 400
    assert api.call("GET", "/api/v1/supervision-orders", "window_system").status_code == 403
    assert orders(api)["total"] == 0
    supervise(api, a["id"], {**body, "act_by": "2026-11-02"})  # today is allowed
    assert orders(api)["total"] == 1


def test_an_overdue_order_on_postgresql(start_on_postgres, api_keys, amqp_uri, frozen):
    tap = Tap(amqp_uri, "approvals")
    cfg = start_on_postgres(ApprovalsService)
    api = Api(cfg["base_url"], api_keys)
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit()
    api.act(a["id"], "accept")
    order = supervise(api, a["id"], {"act_by": "2026-11-03", "note": "请于次日办结"})
    frozen(datetime(2026, 11, 4, 0, 0, 1, tzinfo=TZ))
    wait_for(lambda: orders(api, state="overdue")["total"] == 1, message="overdue order")
    eventlet.sleep(0.6)
    drained(api)
    mine = [m for m in tap.drain() if m["payload"].get("application_no") == a["application_no"]]
    overdue = [m["payload"] for m in mine if m["event_type"] == "monitor.supervision_overdue"]
    assert [o["order_id"] for o in overdue] == [str(order["id"])]
    assert len(api.alerts(application_id=a["id"], level="red")) == 1
