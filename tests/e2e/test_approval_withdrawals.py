"""Applications ended without a decision, on the real broker with a frozen clock (issue 13): withdrawn (撤回) and
terminated (终止) through the window-system contract, retry-safe under the window's reference; abandoned (视为撤回)
by the monitor when a requested supplement is not delivered in time. Each stops the clock, cancels its alarms,
resolves its open alerts as `system` with the reason, and raises nothing afterwards: no warning, card or
irregularity, however long the monitor keeps looking and whatever the window still sends."""

from datetime import datetime

import eventlet
import pytest
import requests

from services.approvals.service import ApprovalsService
from services.kernel import clock
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.e2e.test_approval_rules import of_type, wait_event

TZ = clock.TZ


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    return start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)


def raised_after_the_end(api, tap, application_id, moments):
    """Let the monitor look at every moment, then send window actions: what was published about the application
    after that, and its alerts not resolved."""
    api.drained()
    before = len([m for m in tap.drain() if m["payload"].get("application_id") == str(application_id)])
    for moment in moments:
        clock.freeze(moment)
        eventlet.sleep(0.5)  # a few ticks of the monitor's 0.2 s timer
    for action, body in (("decide", {"approved": True}), ("accept", {}), ("withdraw", {"reason": "再次撤回"}),
                         ("terminate", {"reason": "终止"}), ("extend", {"days": 2, "approver": "局长", "reason": "x"}),
                         ("accept", {"at": "2026-01-05T10:00:00+08:00"})):  # out of order: still only a 409
        r = api.call("POST", f"/api/v1/applications/{application_id}/{action}", "window_system", body)
        assert r.status_code == 409, (action, r.text)
    api.drained()
    eventlet.sleep(0.3)
    after = [m for m in tap.drain() if m["payload"].get("application_id") == str(application_id)][before:]
    open_alerts = [a for a in api.alerts(application_id=application_id) if a["state"] != "resolved"]
    return [m["event_type"] for m in after], open_alerts


def test_a_withdrawal_resolves_the_open_alerts_and_nothing_is_raised_afterwards(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit()
    api.act(a["id"], "accept")  # 5 working days: due end of Mon Nov 9
    frozen(datetime(2026, 11, 7, 0, 0, 1, tzinfo=TZ))  # one working day left
    [warning] = wait_event(tap, a["id"], "monitor.warning")
    assert warning["days_left"] == 1
    frozen(datetime(2026, 11, 9, 15, 0, tzinfo=TZ))
    body = {"reason": "申请人主动撤回申请", "at": "2026-11-09T14:30:00+08:00"}
    headers = {"Authorization": f"Bearer {api.keys['window_system']}", "Idempotency-Key": "WIN-W-1"}
    url = f"{api.base}/api/v1/applications/{a['id']}/withdraw"
    first = requests.post(url, json=body, headers=headers, timeout=10)
    again = requests.post(url, json=body, headers=headers, timeout=10)  # the retry after a lost answer
    assert (first.status_code, again.status_code) == (200, 200) and again.json() == first.json()
    view = first.json()
    assert (view["state"], view["state_zh"], view["end_reason"], view["ended_at"]) == (
        "withdrawn", "已撤回", "申请人主动撤回申请", "2026-11-09T14:30:00+08:00")
    [withdrawn] = wait_event(tap, a["id"], "application.withdrawn")
    assert (withdrawn["reason"], withdrawn["from_state"], withdrawn["by"]) == (
        "申请人主动撤回申请", "accepted", "test-window_system")
    [resolved] = wait_event(tap, a["id"], "monitor.alert_resolved")
    assert (resolved["alert_id"], resolved["by"], resolved["note"], resolved["rule"]) == (
        warning["alert_id"], "system", "申请已撤回：申请人主动撤回申请", "warning_days_left")
    [alert] = api.alerts(application_id=a["id"])
    assert (alert["state"], alert["resolved_by"]) == ("resolved", "system")
    history = api.get(a["id"])["history"]
    assert [h["action"] for h in history] == ["submit", "accept", "withdraw"]  # the retry recorded nothing
    # the yellow card's and the red card's moments pass; the window keeps sending
    raised, still_open = raised_after_the_end(api, tap, a["id"], [
        datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ), datetime(2026, 11, 17, 0, 0, 1, tzinfo=TZ)])
    assert raised == [] and still_open == []
    assert of_type(tap, a["id"], "application.withdrawn") == [withdrawn]
    # the same reference for another request: 409, nothing changes
    other = requests.post(url, json={**body, "reason": "别的理由"}, headers=headers, timeout=10)
    assert other.status_code == 409 and other.json()["error"]["details"]["field"] == "action_ref"


def test_a_termination_ends_an_overdue_application_and_its_cards(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit()
    api.act(a["id"], "accept")
    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))
    [yellow] = wait_event(tap, a["id"], "monitor.yellow_card")
    frozen(datetime(2026, 11, 11, 9, 0, tzinfo=TZ))
    api.ok("POST", f"/api/v1/applications/{a['id']}/supervise", "monitor",
           {"act_by": "2026-11-13", "note": "请于本周内办结"}, status=201)
    r = api.call("POST", f"/api/v1/applications/{a['id']}/terminate", "window_system", {})
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    ended = api.act(a["id"], "terminate", {"reason": "申请人已死亡，许可事项终止"})
    assert ended["state"] == "terminated" and ended["clock"]["limit_days"] == 5
    [terminated] = wait_event(tap, a["id"], "application.terminated")
    assert terminated["from_state"] == "accepted" and terminated["days_overdue"] == 2
    [resolved] = wait_event(tap, a["id"], "monitor.alert_resolved")
    assert (resolved["alert_id"], resolved["by"]) == (yellow["alert_id"], "system")
    # the red card's moment and the supervision order's pass: nothing (the order is closed)
    raised, still_open = raised_after_the_end(api, tap, a["id"], [
        datetime(2026, 11, 14, 0, 0, 1, tzinfo=TZ), datetime(2026, 11, 17, 0, 0, 1, tzinfo=TZ)])
    assert raised == [] and still_open == []
    [order] = api.ok("GET", "/api/v1/supervision-orders", "monitor", application_id=a["id"])["items"]
    assert order["state"] == "closed"
    # a decided application cannot be withdrawn or terminated
    b = api.submit()
    api.act(b["id"], "accept")
    api.act(b["id"], "decide", {"approved": True})
    for action in ("withdraw", "terminate"):
        err = api.act(b["id"], action, {"reason": "x"}, status=409)["error"]
        assert err["message_zh"] == f"申请当前状态为「已决定」，不能{'撤回' if action == 'withdraw' else '终止'}"
    assert api.alerts(application_id=b["id"]) == []  # a plain refusal, no irregularity


def test_a_supplement_not_delivered_in_time_is_deemed_withdrawn(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    item = {"code": "ZJJ-009", "name": "建筑工程施工许可", "department": "ZJJ", "statutory_limit": 20,
            "materials": [{"code": "M1", "name": "申请书"}, {"code": "M2", "name": "施工图"}], "supplement_limit": 3}
    assert api.ok("PUT", "/api/v1/items", "operator", item)["supplement_limit"] == 3
    a = api.submit(item_code="ZJJ-009", materials=["M1"])
    api.act(a["id"], "request-supplement", {"missing": ["M2"], "note": "请补交施工图"})
    api.act(a["id"], "request-supplement", {"missing": ["M2"], "note": "再次补正"})  # irregular: one alert
    [irregular] = wait_event(tap, a["id"], "monitor.irregularity")
    assert irregular["code"] == "repeated_supplement_request"
    frozen(datetime(2026, 11, 5, 23, 0, tzinfo=TZ))  # the third working day after the notice: still in time
    eventlet.sleep(0.5)
    assert api.get(a["id"])["state"] == "supplement_requested"
    frozen(datetime(2026, 11, 6, 0, 0, 1, tzinfo=TZ))
    [abandoned] = wait_event(tap, a["id"], "application.abandoned")
    assert (abandoned["supplement_limit_days"], abandoned["by"], abandoned["at"]) == (
        3, "system", "2026-11-06T00:00:00+08:00")
    assert abandoned["supplement_due_at"] == "2026-11-05T23:59:59.999999+08:00"
    view = api.get(a["id"])
    assert (view["state"], view["state_zh"], view["ended_at"]) == ("abandoned", "视为撤回", "2026-11-06T00:00:00+08:00")
    assert view["history"][-1]["action"] == "abandon" and view["history"][-1]["actor"] == "system"
    [resolved] = wait_event(tap, a["id"], "monitor.alert_resolved")
    assert (resolved["alert_id"], resolved["by"]) == (irregular["alert_id"], "system")
    assert resolved["note"] == "申请视为撤回：申请人未在 3 个工作日内补正材料，视为撤回申请"
    r = api.call("POST", f"/api/v1/applications/{a['id']}/supplement-received", "window_system", {})
    assert r.status_code == 409 and r.json()["error"]["message_zh"] == "申请视为撤回，不能再办理"
    raised, still_open = raised_after_the_end(api, tap, a["id"], [datetime(2026, 12, 31, 0, 0, 1, tzinfo=TZ)])
    assert raised == [] and still_open == []
    assert len(of_type(tap, a["id"], "application.abandoned")) == 1
    # delivered in time: no abandonment
    frozen(datetime(2026, 11, 9, 10, 0, tzinfo=TZ))
    b = api.submit(item_code="ZJJ-009", materials=["M1"])
    api.act(b["id"], "request-supplement", {"missing": ["M2"]})
    api.act(b["id"], "supplement-received")
    frozen(datetime(2026, 11, 20, 10, 0, tzinfo=TZ))
    eventlet.sleep(0.5)
    assert api.get(b["id"])["state"] == "supplement_received"


def test_the_openapi_document_declares_the_new_actions_and_the_idempotency_key_header(env):
    from openapi_spec_validator import validate

    api, _ = env
    spec = requests.get(f"{api.base}/api/openapi.json", timeout=10).json()
    validate(spec)
    actions = [path for path, ops in spec["paths"].items() if "window actions" in ops.get("post", {}).get("tags", ())]
    assert {"/api/v1/applications/{application_id}/withdraw", "/api/v1/applications/{application_id}/terminate",
            "/api/v1/applications/{application_id}/accept"} <= set(actions) and len(actions) == 11
    for path in actions:
        [header] = [p for p in spec["paths"][path]["post"]["parameters"] if p["in"] == "header"]
        assert (header["name"], header["required"], header["schema"]["maxLength"]) == ("Idempotency-Key", False, 128)
    withdraw = spec["paths"]["/api/v1/applications/{application_id}/withdraw"]["post"]
    assert withdraw["requestBody"]["required"] is True and "409" in withdraw["responses"]
    # an endpoint without headers= declares none
    submit = spec["paths"]["/api/v1/applications"]["post"]
    assert [p for p in submit.get("parameters", []) if p["in"] == "header"] == []


@pytest.mark.postgres
def test_withdrawals_racing_the_monitor_leave_no_open_alert_on_postgresql(start_on_postgres, api_keys, amqp_uri,
                                                                           frozen):
    """The window withdraws applications at the very moment their yellow cards fall due: whichever comes first,
    the monitor's card or the withdrawal, no ended application keeps an open alert or gets a card after it."""
    from tests.e2e.approvals_client import ApprovalsApi
    from tests.support import Tap

    tap = Tap(amqp_uri, "approvals")
    cfg = start_on_postgres(ApprovalsService)
    api = ApprovalsApi(cfg["base_url"], api_keys)
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    ids = [api.submit()["id"] for _ in range(12)]
    for application_id in ids:
        api.act(application_id, "accept")  # due end of Mon Nov 9
    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))  # every yellow card due now
    pool = eventlet.GreenPool(12)
    answers = list(pool.imap(lambda i: api.call("POST", f"/api/v1/applications/{i}/withdraw", "window_system",
                                                {"reason": "申请人撤回"}).status_code, ids))
    assert answers == [200] * 12
    eventlet.sleep(1)  # the monitor's ticks
    api.drained()
    for application_id in ids:
        assert api.get(application_id)["state"] == "withdrawn"
        alerts = api.alerts(application_id=application_id)
        assert all(a["state"] == "resolved" and a["resolved_by"] == "system" for a in alerts), alerts
    def published(event_type):
        return {m["payload"]["alert_id"] for m in tap.drain()
                if m["event_type"] == event_type and m["payload"].get("application_id") in {str(i) for i in ids}}

    # every card raised before its withdrawal was resolved by it; none came after
    wait_for(lambda: len(published("monitor.alert_resolved")) == len(published("monitor.yellow_card")),
             message="every card resolved")
    assert published("monitor.yellow_card") == published("monitor.alert_resolved")
