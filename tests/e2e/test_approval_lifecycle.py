"""Approvals on the real broker with a frozen clock: the window-system contract, the statutory clock
(DOMAIN.md's National Day example, a special procedure, an extension), the monitor's cards each firing
once, irregularities stored as alerts (even when the action is refused), department scope, bad input."""

from datetime import datetime

import eventlet
import pytest
import requests

from services.approvals.service import ApprovalsService
from services.kernel import clock
from tests.conftest import wait_for
from tests.e2e.approvals_client import ID_NUMBER, start_approvals
from tests.e2e.approvals_client import ApprovalsApi as Api
from tests.support import Tap

TZ = clock.TZ


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    return start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)


def events(tap, application_id):
    return [(m["event_type"], m["payload"]) for m in tap.drain()
            if m["payload"].get("application_id") == str(application_id)]


def types_of(tap, application_id):
    return [t for t, _ in events(tap, application_id)]


def wait_event(tap, application_id, event_type, count=1):
    return wait_for(lambda: (found := [p for t, p in events(tap, application_id) if t == event_type])
                    and len(found) >= count and found, message=f"{count} × {event_type} of {application_id}")


def test_the_domain_example_national_day(env, frozen):
    api, tap = env
    frozen(datetime(2026, 9, 30, 9, 0, tzinfo=TZ))
    a = api.submit()
    assert (a["state"], a["department"], a["clock"]) == ("submitted", "SCJGJ", None)
    assert a["applicant"]["id_number"] == "330***********1234"
    again = api.ok("POST", "/api/v1/applications", "window_system",
                   {"external_ref": a["external_ref"], "item_code": "SCJ-001", "service_point": "city_center",
                    "applicant": {"name": "x", "kind": "person", "id_number": "123456789"}})
    assert again["id"] == a["id"]  # idempotent by the window system's reference

    frozen(datetime(2026, 9, 30, 11, 0, tzinfo=TZ))  # the window sends its acceptance an hour late
    accepted = api.act(a["id"], "accept", body={"at": "2026-09-30T10:00:00+08:00"})
    c = accepted["clock"]
    assert accepted["state"] == "accepted" and c["limit_days"] == 5
    # Oct 1–7 are holidays, Saturday Oct 10 is a make-up working day
    assert c["due_at"] == "2026-10-13T23:59:59.999999+08:00" and c["start_date"] == "2026-10-08"
    assert (c["elapsed"], c["remaining"], c["light"], c["paused"]) == (0, 5, "green", False)
    frozen(datetime(2026, 10, 12, 12, 0, tzinfo=TZ))  # 3.5 of 5 working days used
    c = api.get(a["id"])["clock"]
    assert (c["elapsed"], c["remaining"], c["light"]) == (3.5, 1.5, "green")
    frozen(datetime(2026, 10, 13, 12, 0, tzinfo=TZ))  # the last day: warned
    assert api.get(a["id"])["clock"]["light"] == "yellow"
    wait_event(tap, a["id"], "monitor.warning")

    decided = api.act(a["id"], "decide", body={"approved": True})
    assert decided["state"] == "decided" and decided["decided_in_time"] is True
    api.act(a["id"], "deliver")
    wait_event(tap, a["id"], "application.delivered")
    evs = events(tap, a["id"])
    assert [t for t, _ in evs] == ["application.submitted", "application.accepted", "monitor.warning",
                                   "application.decided", "application.delivered"]
    acc = dict(evs)["application.accepted"]
    assert (acc["item_code"], acc["department"], acc["limit_days"], acc["deemed"]) == ("SCJ-001", "SCJGJ", 5, False)
    assert acc["due_at"] == "2026-10-13T23:59:59.999999+08:00"
    assert dict(evs)["application.decided"]["in_time"] is True
    raw = str(tap.messages)
    assert ID_NUMBER not in raw and a["applicant"]["id_number"] not in raw and "杭州某餐饮" not in raw
    history = api.get(a["id"])["history"]
    assert [h["action"] for h in history] == ["submit", "accept", "decide", "deliver"]
    assert history[1]["at"] == "2026-09-30T10:00:00+08:00"  # the window's time, not the arrival


def test_decide_before_accept_is_refused_and_alerted(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 9, 0, tzinfo=TZ))
    a = api.submit()
    err = api.act(a["id"], "decide", body={"approved": True}, status=409)["error"]
    assert err["code"] == "conflict" and err["message_zh"] == "申请尚未受理，不能作出决定"
    assert "cannot decide" in err["message"]
    view = api.get(a["id"])
    assert view["state"] == "submitted" and len(view["history"]) == 1
    alerts = api.alerts(application_id=a["id"])
    assert [(x["level"], x["details"]["code"], x["state"]) for x in alerts] == [
        ("irregularity", "decision_without_acceptance", "open")]
    irr = wait_event(tap, a["id"], "monitor.irregularity")[0]
    assert irr["code"] == "decision_without_acceptance" and irr["refused"] is True and irr["severity"] == "high"
    # the very same attempt again is the same irregularity: one alert
    api.act(a["id"], "decide", body={"approved": True, "at": "2026-11-02T09:00:00+08:00"}, status=409)
    assert len(api.alerts(application_id=a["id"])) == 1
    # monitors acknowledge and resolve it, recording who and what was corrected
    ack = api.ok("POST", f"/api/v1/alerts/{alerts[0]['id']}/acknowledge", "monitor", {})
    assert ack["state"] == "acknowledged"
    api.ok("POST", f"/api/v1/alerts/{alerts[0]['id']}/resolve", "window_system", {"note": "已纠正"}, status=403)
    done = api.ok("POST", f"/api/v1/alerts/{alerts[0]['id']}/resolve", "monitor", {"note": "窗口已先受理再决定"})
    assert (done["state"], done["resolved_by"], done["note"]) == ("resolved", "test-monitor", "窗口已先受理再决定")
    api.ok("POST", f"/api/v1/alerts/{alerts[0]['id']}/resolve", "monitor", {"note": "again"}, status=409)


def test_a_special_procedure_stops_the_clock(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 6, 16, 0, tzinfo=TZ))
    a = api.submit(at="2026-11-02T09:00:00+08:00")
    api.act(a["id"], "accept", body={"at": "2026-11-02T10:00:00+08:00"})  # sent late: due end of Nov 9
    started = api.act(a["id"], "special-procedure/start",
                      body={"kind": "testing", "at": "2026-11-04T10:00:00+08:00"})
    c = started["clock"]
    assert c["paused"] is True and c["due_at"] is None and len(c["paused_intervals"]) == 1
    api.act(a["id"], "decide", body={"approved": True}, status=409)  # end the procedure first
    ended = api.act(a["id"], "special-procedure/end", body={"at": "2026-11-06T15:00:00+08:00"})
    c = ended["clock"]
    # Nov 5 and 6 are not counted: due two working days later
    assert c["paused"] is False and c["due_at"] == "2026-11-11T23:59:59.999999+08:00"
    assert c["paused_intervals"][0]["kind"] == "testing"
    assert c["paused_intervals"][0]["ended_at"] == "2026-11-06T15:00:00+08:00"
    evs = dict(events(tap, a["id"]))
    wait_event(tap, a["id"], "application.special_procedure_ended")
    evs = dict(events(tap, a["id"]))
    assert evs["application.special_procedure_started"]["paused"] is True
    assert evs["application.special_procedure_ended"]["due_at"] == "2026-11-11T23:59:59.999999+08:00"


def test_an_extension_moves_the_due_time_once(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 5, 10, 0, tzinfo=TZ))
    a = api.submit(at="2026-11-02T09:00:00+08:00")
    api.act(a["id"], "accept", body={"at": "2026-11-02T10:00:00+08:00"})
    api.act(a["id"], "extend", body={"days": 11, "approver": "局长", "reason": "需现场核查"}, status=409)
    ext = api.act(a["id"], "extend", body={"days": 3, "approver": "局长", "reason": "需现场核查"})
    assert ext["clock"]["due_at"] == "2026-11-12T23:59:59.999999+08:00" and ext["clock"]["limit_days"] == 8
    assert ext["clock"]["extension_days"] == 3
    err = api.act(a["id"], "extend", body={"days": 1, "approver": "局长", "reason": "再延"}, status=409)["error"]
    assert err["message_zh"] == "办理期限只能延长一次"
    # newest first; the submission and the acceptance reached the monitor three days after they happened (迟报)
    assert [x["details"]["code"] for x in api.alerts(application_id=a["id"])] == [
        "repeated_extension", "late_report", "late_report"]
    e = wait_event(tap, a["id"], "application.extended")[0]
    assert (e["days"], e["previous_due_at"], e["due_at"]) == (
        3, "2026-11-09T23:59:59.999999+08:00", "2026-11-12T23:59:59.999999+08:00")


def test_warning_yellow_and_red_cards_each_fire_once(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit()
    api.act(a["id"], "accept")  # due end of Mon Nov 9
    frozen(datetime(2026, 11, 7, 0, 0, 1, tzinfo=TZ))  # one working day left
    w = wait_event(tap, a["id"], "monitor.warning")[0]
    assert (w["rule"], w["level"], w["remaining_days"], w["days_left"]) == ("warning_days_left", "warning", 1, 1)
    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))  # overdue
    y = wait_event(tap, a["id"], "monitor.yellow_card")[0]
    assert (y["level"], y["due_at"], y["department"]) == ("yellow", "2026-11-09T23:59:59.999999+08:00", "SCJGJ")
    assert api.get(a["id"])["clock"]["light"] == "red"
    listed = api.ok("GET", "/api/v1/applications", "monitor", light="red")
    assert [i["id"] for i in listed["items"]] == [a["id"]]
    # an action reschedules the application's alarms; the yellow card is not raised again
    api.act(a["id"], "request-supplement", body={"missing": ["M4"], "note": "补充检测报告"})
    frozen(datetime(2026, 11, 16, 12, 0, tzinfo=TZ))  # four working days after: no red card yet
    frozen(datetime(2026, 11, 17, 0, 0, 1, tzinfo=TZ))  # five
    r = wait_event(tap, a["id"], "monitor.red_card")[0]
    assert (r["level"], r["days_overdue"], r["days_left"]) == ("red", 5, 0)  # whole working days
    frozen(datetime(2026, 11, 25, 0, 0, 1, tzinfo=TZ))
    wait_for(lambda: api.ok("GET", "/health", "monitor")["outbox"]["pending"] == 0, message="outbox drained")
    types = types_of(tap, a["id"])
    for t, n in (("monitor.warning", 1), ("monitor.yellow_card", 1), ("monitor.red_card", 1)):
        assert types.count(t) == n, (t, types)
    levels = sorted(x["level"] for x in api.alerts(application_id=a["id"]))
    assert levels == ["irregularity", "red", "warning", "yellow"]  # + supplement after acceptance
    assert [x["level"] for x in api.alerts(application_id=a["id"], level="yellow")] == ["yellow"]


def test_a_second_supplement_request_is_recorded_and_alerted(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit(materials=["M1"])
    assert a["missing"] == ["M2", "M3"]
    first = api.act(a["id"], "request-supplement", body={"missing": ["M2", "M3"], "note": "请补齐"})
    assert first["state"] == "supplement_requested"
    api.act(a["id"], "accept", status=409)  # the supplement has not arrived
    api.act(a["id"], "supplement-received")
    assert api.alerts(application_id=a["id"]) == []
    second = api.act(a["id"], "request-supplement", body={"missing": ["M4"]})
    assert second["state"] == "supplement_requested" and second["supplement_count"] == 2
    alerts = api.alerts(application_id=a["id"], level="irregularity")
    assert [x["details"]["code"] for x in alerts] == ["repeated_supplement_request"]
    assert alerts[0]["details"]["description_zh"] == "多次要求申请人补正材料，违反一次告知"
    irr = wait_event(tap, a["id"], "monitor.irregularity")[0]
    assert (irr["code"], irr["refused"], irr["department"]) == ("repeated_supplement_request", False, "SCJGJ")
    # refusal without a reason: refused, and alerted all the same
    api.act(a["id"], "supplement-received")
    api.act(a["id"], "refuse", body={"reason": ""}, status=409)
    assert {x["details"]["code"] for x in api.alerts(application_id=a["id"])} == {
        "repeated_supplement_request", "refusal_without_reason"}
    refused = api.act(a["id"], "refuse", body={"reason": "不属于本机关职权范围"})
    assert refused["state"] == "refused" and refused["refusal_reason"] == "不属于本机关职权范围"


def test_a_department_sees_and_touches_only_its_own_applications(env, frozen):
    api, _ = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    mine = api.submit()
    theirs = api.submit(item_code="ZJJ-001")
    assert api.get(mine["id"], "SCJGJ")["id"] == mine["id"]
    assert api.call("GET", f"/api/v1/applications/{theirs['id']}", "SCJGJ").status_code == 404
    for action, body in (("accept", {}), ("refuse", {"reason": "不受理"}), ("decide", {"approved": True}),
                         ("request-supplement", {"missing": ["M1"]})):
        r = api.call("POST", f"/api/v1/applications/{theirs['id']}/{action}", "SCJGJ", body)
        assert r.status_code == 404, (action, r.text)
    listed = api.ok("GET", "/api/v1/applications", "SCJGJ")
    assert listed["total"] == 1 and listed["items"][0]["id"] == mine["id"]
    assert api.ok("GET", "/api/v1/applications", "SCJGJ", department="ZJJ")["total"] == 0
    # its own: the handler acts, and an item the window is not authorised for is alerted on acceptance
    api.act(mine["id"], "accept", who="SCJGJ")
    accepted = api.act(theirs["id"], "accept", who="ZJJ")
    assert accepted["state"] == "accepted"
    assert [x["details"]["code"] for x in api.alerts(application_id=theirs["id"])] == ["window_not_authorised"]
    assert api.ok("GET", "/api/v1/alerts", "SCJGJ")["total"] == 0
    assert api.get(theirs["id"], "operator")["history"][-1]["actor"] == "handler-ZJJ"


def test_bad_inputs_are_refused_with_field_messages_and_change_nothing(env, frozen):
    api, _ = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    good = {"external_ref": "B-1", "item_code": "SCJ-001", "service_point": "city_center",
            "applicant": {"name": "张三", "kind": "person", "id_number": ID_NUMBER}}
    cases = [
        ({"item_code": "NO-SUCH"}, "item_code"),
        ({"service_point": "mall"}, "service_point"),
        ({"applicant": {"name": "张三", "kind": "alien", "id_number": ID_NUMBER}}, "applicant"),
        ({"external_ref": ""}, "external_ref"),
        ({"at": "2026-11-02T10:00:00"}, "at"),  # no offset
        ({"materials": "M1"}, "materials"),
    ]
    for change, field in cases:
        r = api.call("POST", "/api/v1/applications", "window_system", {**good, **change})
        assert r.status_code == 400, (change, r.text)
        assert field in r.json()["errors"], (change, r.json())
    r = api.call("POST", "/api/v1/applications", "window_system", {k: v for k, v in good.items() if k != "applicant"})
    assert r.status_code == 400 and "applicant" in r.json()["errors"]
    assert api.call("POST", "/api/v1/applications", "monitor", good).status_code == 403
    assert api.ok("GET", "/api/v1/applications", "monitor")["total"] == 0

    a = api.submit()
    api.act(a["id"], "accept")
    for action, body, field in (("extend", {"days": "3", "approver": "局长", "reason": "x"}, "days"),
                                ("extend", {"days": 3, "reason": "x"}, "approver"),
                                ("decide", {"reason": "x"}, "approved"),
                                ("special-procedure/start", {"kind": "party"}, "kind"),
                                ("request-supplement", {"missing": []}, "missing"),
                                ("accept", {"at": "yesterday"}, "at")):
        r = api.call("POST", f"/api/v1/applications/{a['id']}/{action}", "window_system", body)
        assert r.status_code == 400 and field in r.json()["errors"], (action, r.text)
    assert api.call("POST", "/api/v1/applications/999999/accept", "window_system", {}).status_code == 404
    view = api.get(a["id"])
    assert view["state"] == "accepted" and len(view["history"]) == 2
    assert api.ok("GET", "/api/v1/applications", "monitor")["total"] == 1


def test_the_item_catalogue_is_data_editable_through_the_api(env, frozen):
    api, _ = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    items = {i["code"]: i for i in api.ok("GET", "/api/v1/items", "window_system")}
    assert items["SCJ-001"]["committed_limit"] == 5 and items["ZJJ-001"]["fully_authorised"] is False
    item = {"code": "JYJ-001", "name": "民办学校办学许可", "department": "JYJ", "statutory_limit": 20,
            "committed_limit": 12, "materials": [{"code": "M1", "name": "申请书"}]}
    api.ok("PUT", "/api/v1/items", "monitor", item, status=403)
    r = api.call("PUT", "/api/v1/items", "operator", {**item, "committed_limit": 30})
    assert r.status_code == 400 and "committed_limit" in r.json()["errors"]
    assert api.ok("PUT", "/api/v1/items", "operator", item)["committed_limit"] == 12
    a = api.submit(item_code="JYJ-001", materials=["M1"])
    assert api.act(a["id"], "accept")["clock"]["limit_days"] == 12


def test_the_monitor_on_postgresql(start_on_postgres, api_keys, amqp_uri, frozen):
    tap = Tap(amqp_uri, "approvals")
    cfg = start_on_postgres(ApprovalsService)
    api = Api(cfg["base_url"], api_keys)
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit()
    api.act(a["id"], "accept")
    api.act(a["id"], "decide", body={"approved": False}, status=409)  # a denial needs its reason
    # the monitor wakes up after the due time: the warning of Nov 9 is no longer true, the yellow card is
    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))
    wait_for(lambda: [x for x in api.alerts(application_id=a["id"]) if x["level"] == "yellow"], message="yellow")
    api.act(a["id"], "request-supplement", body={"missing": ["M4"]})  # reschedules: no second yellow card
    eventlet.sleep(1)  # a few ticks of the monitor
    wait_for(lambda: api.ok("GET", "/health", "monitor")["outbox"]["pending"] == 0, message="outbox drained")
    mine = [m["event_type"] for m in tap.drain() if m["payload"].get("application_no") == a["application_no"]]
    assert mine.count("monitor.yellow_card") == 1 and mine.count("monitor.warning") == 0
    assert sorted(x["level"] for x in api.alerts(application_id=a["id"])) == ["irregularity", "yellow"]


def test_an_action_without_fields_needs_no_body(env, frozen):
    """The window system may POST .../accept with no body at all; its `at` defaults to now."""
    api, _ = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    a = api.submit()
    r = requests.post(f"{api.base}/api/v1/applications/{a['id']}/accept",
                      headers={"Authorization": f"Bearer {api.keys['window_system']}"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "accepted" and r.json()["clock"]["start_date"] == "2026-11-05"
    # an action with a required field still says which is missing
    r = requests.post(f"{api.base}/api/v1/applications/{a['id']}/extend",
                      headers={"Authorization": f"Bearer {api.keys['window_system']}"}, timeout=10)
    assert r.status_code == 400, r.text
