"""Late reports on the real broker: a case and its handling sent in with past times (`received_at`, `at`)
keep their real moments and in-time verdicts; times in the future or before the case's previous step are
refused and change nothing; alarms that a late report finds already due wait LATE_REPORT_GRACE_SECONDS,
then fire once, dated when the case really became overdue."""

from datetime import datetime, timedelta

import pytest

from services.appeals.service import AppealsService
from services.kernel.keys import KeyStore
from tests.conftest import wait_for
from tests.e2e.test_appeal_lifecycle import TZ, Api, events, types_of, wait_types
from tests.support import Tap

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
GRACE = 30


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("ZJJ", "JW"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri, LATE_REPORT_GRACE_SECONDS=GRACE)
    tap = Tap(fresh_amqp_uri, "appeals")
    start_service(AppealsService, cfg)
    return Api(cfg["base_url"], keys), tap


def march(day, hour=10):
    return datetime(2026, 3, day, hour, 0, tzinfo=TZ).isoformat()


def test_a_late_report_keeps_its_moments_and_in_time_verdicts(env, frozen):
    api, tap = env
    frozen(NOW)
    # Monday 2 March; a complaint has 13 working days: due at the end of Thursday 19 March
    a = api.intake(category="road", type="complaint", received_at=march(2))
    n, aid = a["case_no"], a["id"]
    assert a["dispatched_at"].startswith("2026-03-02T10:00") and a["due_at"].startswith("2026-03-19T23:59:59")
    assert n.startswith("MY20260302")
    assert api.act(aid, "accept", "ZJJ", {"at": march(2, 15)})["accepted_at"].startswith("2026-03-02T15:00")
    api.act(aid, "reply", "ZJJ", {"reply": "路灯已修复", "at": march(10)})
    closed = api.act(aid, "callback", "operator", {"satisfaction": "satisfied", "resolved": True, "at": march(11)})
    assert closed["status"] == "closed" and closed["closed_at"].startswith("2026-03-11T10:00")

    expected = ["appeal.received", "appeal.dispatched", "appeal.accepted", "appeal.replied",
                "appeal.callback_recorded", "appeal.closed"]
    wait_types(tap, n, expected)
    by_type = dict(events(tap, n))
    assert by_type["appeal.accepted"]["in_time"] is True and by_type["appeal.replied"]["in_time"] is True
    occurred = {m["event_type"]: m["occurred_at"][:16] for m in tap.drain() if m["payload"].get("case_no") == n}
    assert occurred == {"appeal.received": "2026-03-02T10:00", "appeal.dispatched": "2026-03-02T10:00",
                        "appeal.accepted": "2026-03-02T15:00", "appeal.replied": "2026-03-10T10:00",
                        "appeal.callback_recorded": "2026-03-11T10:00", "appeal.closed": "2026-03-11T10:00"}
    history = api.ok("GET", f"/api/v1/appeals/{aid}", "operator")["history"]
    assert [h["at"][:16] for h in history] == ["2026-03-02T10:00", "2026-03-02T10:00", "2026-03-02T15:00",
                                              "2026-03-10T10:00", "2026-03-11T10:00"]
    # past the grace the alarms of March would have fired: the reply cancelled them
    frozen(NOW + timedelta(seconds=GRACE + 1))
    wait_for(lambda: api.ok("GET", "/health", "operator")["outbox"]["pending"] == 0, message="outbox drained")
    assert types_of(tap, n) == expected


def test_a_late_reply_follows_the_warnings_overdue_notice_and_urging_it_came_after(env, frozen):
    api, tap = env
    frozen(NOW)
    a = api.intake(category="road", type="help", received_at=march(2))  # 3 working days: due 5 March
    n = a["case_no"]
    api.act(a["id"], "accept", "ZJJ", {"at": march(3)})
    replied = api.act(a["id"], "reply", "ZJJ", {"reply": "已处理", "at": march(9)})
    assert replied["clock"]["overdue"] is True and replied["clock"]["urged_at"].startswith("2026-03-06T00:00:00")
    wait_types(tap, n, ["appeal.received", "appeal.dispatched", "appeal.accepted", "appeal.deadline_warning",
                        "appeal.deadline_warning", "appeal.overdue", "appeal.urged", "appeal.replied"])
    assert dict(events(tap, n))["appeal.replied"]["in_time"] is False
    occurred = [m["occurred_at"][:16] for m in tap.drain() if m["payload"].get("case_no") == n]
    assert occurred == ["2026-03-02T10:00", "2026-03-02T10:00", "2026-03-03T10:00", "2026-03-05T00:00",
                        "2026-03-05T09:36", "2026-03-06T00:00", "2026-03-06T00:00", "2026-03-09T10:00"]
    # the escalation (due 14 March) was not reached before the reply, which cancelled it
    frozen(NOW + timedelta(seconds=GRACE + 1))
    wait_for(lambda: api.ok("GET", "/health", "operator")["outbox"]["pending"] == 0, message="outbox drained")
    assert "appeal.escalated" not in types_of(tap, n)
    history = api.ok("GET", f"/api/v1/appeals/{a['id']}", "operator")["history"]
    assert [(h["action"], h["at"][:10]) for h in history][-2:] == [("overdue_urged", "2026-03-06"),
                                                                   ("reply", "2026-03-09")]


def test_a_step_reported_long_after_the_urging_follows_the_escalation_too(env, frozen):
    api, tap = env
    frozen(NOW)
    a = api.intake(category="road", type="help", received_at=march(2))
    n = a["case_no"]
    api.act(a["id"], "accept", "ZJJ", {"at": march(3)})
    api.act(a["id"], "reply", "ZJJ", {"reply": "已处理", "at": march(20)})
    wait_for(lambda: types_of(tap, n)[-4:] == ["appeal.overdue", "appeal.urged", "appeal.escalated",
                                              "appeal.replied"], message="overdue, urged, escalated, replied")
    assert api.ok("GET", f"/api/v1/appeals/{a['id']}", "operator")["clock"]["escalated_at"].startswith(
        "2026-03-14T00:00:00")


def test_times_in_the_future_or_before_the_previous_step_are_refused(env, frozen):
    api, tap = env
    frozen(NOW)
    a = api.intake(category="road", type="complaint", received_at=march(2))
    aid = a["id"]
    r = api.call("POST", f"/api/v1/appeals/{aid}/accept", "ZJJ", {"at": (NOW + timedelta(hours=1)).isoformat()})
    assert r.status_code == 400 and "at" in r.json()["errors"], r.text
    r = api.call("POST", f"/api/v1/appeals/{aid}/accept", "ZJJ", {"at": "2026-03-03T10:00:00"})  # no offset
    assert r.status_code == 400 and "at" in r.json()["errors"], r.text
    r = api.call("POST", f"/api/v1/appeals/{aid}/accept", "ZJJ", {"at": march(1)})  # before it was received
    assert r.status_code == 409 and r.json()["error"]["message_zh"].startswith("办理时间早于"), r.text
    api.act(aid, "accept", "ZJJ", {"at": march(5)})
    for action, body in (("reply", {"reply": "已处理"}), ("extension", {"days": 3, "reason": "需要协调"})):
        r = api.call("POST", f"/api/v1/appeals/{aid}/{action}", "ZJJ", {**body, "at": march(4)})
        assert r.status_code == 409, (action, r.text)
    view = api.ok("GET", f"/api/v1/appeals/{aid}", "operator")
    assert view["status"] == "accepted" and view["accepted_at"].startswith("2026-03-05")
    # accepted after the acceptance limit (the end of 3 March): the monitor's line for it came first
    assert not view["extension"]["used"] and [h["action"] for h in view["history"]] == [
        "intake", "dispatch", "acceptance_overdue", "accept"]
    # a few seconds ahead of our clock is the sender's skew: taken as now
    ahead = api.act(aid, "reply", "ZJJ", {"reply": "已处理", "at": (NOW + timedelta(seconds=20)).isoformat()})
    assert ahead["replied_at"].startswith("2026-11-26T10:00:00")


def test_alarms_a_late_report_finds_due_wait_the_grace_then_fire_once(env, frozen):
    api, tap = env
    frozen(NOW)
    a = api.intake(category="road", type="complaint", received_at=march(2))  # left open: overdue since 20 March
    n = a["case_no"]
    wait_types(tap, n, ["appeal.received", "appeal.dispatched"])
    frozen(NOW + timedelta(seconds=GRACE - 5))
    wait_for(lambda: api.ok("GET", "/health", "operator")["outbox"]["pending"] == 0, message="outbox drained")
    assert types_of(tap, n) == ["appeal.received", "appeal.dispatched"]  # still within the grace

    frozen(NOW + timedelta(seconds=GRACE + 1))
    wait_for(lambda: "appeal.urged" in types_of(tap, n), message="overdue and urged after the grace")
    view = api.ok("GET", f"/api/v1/appeals/{a['id']}", "monitor")
    assert view["clock"]["overdue"] is True and view["clock"]["urged_at"].startswith("2026-03-20T00:00:00")
    # the escalation (5 working days after 20 March) is due as well: it waits its own grace
    frozen(NOW + timedelta(seconds=2 * GRACE + 2))
    wait_for(lambda: "appeal.escalated" in types_of(tap, n), message="escalation after its grace")
    view = api.ok("GET", f"/api/v1/appeals/{a['id']}", "monitor")
    assert view["clock"]["escalated_at"].startswith("2026-03-28T00:00:00")  # five working days after urging
    occurred = {m["event_type"]: m["occurred_at"][:19] for m in tap.drain() if m["payload"].get("case_no") == n}
    assert occurred["appeal.overdue"] == occurred["appeal.urged"] == "2026-03-20T00:00:00"
    assert occurred["appeal.escalated"] == "2026-03-28T00:00:00"
    kinds = types_of(tap, n)
    for t in ("appeal.overdue", "appeal.urged", "appeal.escalated"):
        assert kinds.count(t) == 1, kinds
    assert kinds.count("appeal.deadline_warning") == 2


@pytest.mark.postgres
def test_a_late_report_on_postgresql_fires_each_alarm_once(start_on_postgres, api_keys, keys_file, amqp_uri, frozen):
    # no grace here: the monitor and the late reply race for the same alarms, and each fires once all the same
    keys = {**api_keys, "ZJJ": KeyStore(keys_file).add("handler-ZJJ-pg", "department_handler", "ZJJ")}
    frozen(NOW)
    tap = Tap(amqp_uri, "appeals")
    cfg = start_on_postgres(AppealsService)
    api = Api(cfg["base_url"], keys)
    cases = [api.intake(category="road", type="help", received_at=march(2), external_ref=f"PG-{i}",
                        appellant={"name": "张三", "phone": f"1390000000{i}"}) for i in range(3)]
    for a in cases:
        api.act(a["id"], "accept", "ZJJ", {"at": march(3)})
        replied = api.act(a["id"], "reply", "ZJJ", {"reply": "已处理", "at": march(20)})
        assert replied["clock"]["overdue"] is True
    for a in cases:
        # after the reply (20 March) the call-back's clock runs, long past too: its alarms may follow the reply
        kinds = wait_for(lambda n=a["case_no"]: (t := types_of(tap, n)) and "appeal.replied" in t and t,
                         message="the reply's events")
        kinds = kinds[:kinds.index("appeal.replied") + 1]
        for t in ("appeal.overdue", "appeal.urged"):
            assert kinds.count(t) == 1, kinds
        assert kinds.count("appeal.escalated") <= 1 and kinds.count("appeal.deadline_warning") == 2, kinds
