"""Supervision orders (督办) on appeals are monitored (#13), on the real broker: warned when one working day is
left before `act_by` ends and overdue the first instant after it, each once, unless the department replied after
the order or the case closed first; listed by state and department (a department's handlers see their own
only); a late report fires an order's moments at their real times."""

from datetime import datetime, timedelta

import pytest

from services.appeals.service import AppealsService
from services.kernel.keys import KeyStore
from tests.conftest import wait_for
from tests.e2e.test_appeal_lifecycle import TZ, Api, events, types_of
from tests.support import Tap

GRACE = 30
WED = datetime(2026, 11, 4, 10, 0, tzinfo=TZ)


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("ZJJ", "SWJ"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri, LATE_REPORT_GRACE_SECONDS=GRACE)
    tap = Tap(fresh_amqp_uri, "appeals")
    start_service(AppealsService, cfg)
    return Api(cfg["base_url"], keys), tap


def orders(api, who="monitor", **params):
    r = api.call("GET", "/api/v1/supervision-orders", who, **params)
    assert r.status_code == 200, r.text
    return r.json()


def of_type(tap, case_no, event_type):
    return [p for t, p in events(tap, case_no) if t == event_type]


def settled(api):
    wait_for(lambda: api.ok("GET", "/health", "operator")["outbox"]["pending"] == 0, message="outbox drained")


def test_an_order_is_warned_then_overdue_once_and_listed(env, frozen):
    api, tap = env
    frozen(WED)
    a = api.intake(category="road", appellant={"anonymous": True})  # ZJJ
    n = a["case_no"]
    api.act(a["id"], "supervise", "monitor", {"act_by": "2026-11-06", "note": "限期办结"})  # a Friday
    listed = orders(api)
    assert listed["total"] == 1
    order = listed["items"][0]
    assert (order["state"], order["department"], order["case_no"], order["act_by"]) == ("open", "ZJJ", n,
                                                                                        "2026-11-06")
    assert order["warn_at"] == "2026-11-06T00:00:00+08:00" and order["overdue_at"] is None

    frozen(datetime(2026, 11, 6, 0, 0, 1, tzinfo=TZ))  # its last working day begins
    warning = wait_for(lambda: of_type(tap, n, "appeal.supervision_warning"), message="warning")[0]
    assert (warning["department"], warning["act_by"], warning["order_id"]) == ("ZJJ", "2026-11-06", str(order["id"]))
    assert orders(api)["items"][0]["warned_at"] is not None and orders(api)["items"][0]["state"] == "open"

    frozen(datetime(2026, 11, 7, 0, 0, 1, tzinfo=TZ))  # act_by has passed, no reply
    overdue = wait_for(lambda: of_type(tap, n, "appeal.supervision_overdue"), message="overdue")[0]
    assert overdue["department"] == "ZJJ" and overdue["ordered_at"].startswith("2026-11-04T10:00")
    occurred = [m["occurred_at"][:19] for m in tap.drain() if m["event_type"] == "appeal.supervision_overdue"]
    assert occurred == ["2026-11-07T00:00:00"]
    wait_for(lambda: orders(api, state="overdue")["total"] == 1, message="listed overdue")
    assert orders(api, state="overdue")["items"][0]["overdue_at"] == "2026-11-07T00:00:00+08:00"
    assert orders(api, state="open")["total"] == 0

    # a reply after act_by does not undo it: it stays overdue, with the moment it was fulfilled
    frozen(datetime(2026, 11, 9, 10, 0, tzinfo=TZ))
    api.act(a["id"], "accept", "ZJJ")
    api.act(a["id"], "reply", "ZJJ", {"reply": "已修复"})
    late = orders(api)["items"][0]
    assert late["state"] == "overdue" and late["fulfilled_at"].startswith("2026-11-09T10:00")
    frozen(datetime(2026, 11, 30, 10, 0, tzinfo=TZ))
    settled(api)
    kinds = types_of(tap, n)
    assert kinds.count("appeal.supervision_warning") == 1 and kinds.count("appeal.supervision_overdue") == 1


def test_a_reply_after_the_order_fulfils_it_and_nothing_is_raised(env, frozen):
    api, tap = env
    frozen(WED)
    a = api.intake(category="road", appellant={"anonymous": True})
    closed = api.intake(category="water", appellant={"anonymous": True}, content="另一件")
    api.act(a["id"], "supervise", "monitor", {"act_by": "2026-11-09"})
    api.act(closed["id"], "supervise", "monitor", {"act_by": "2026-11-09"})
    frozen(WED + timedelta(hours=3))
    api.act(a["id"], "accept", "ZJJ")
    api.act(a["id"], "reply", "ZJJ", {"reply": "已修复"})
    api.act(closed["id"], "accept", "SWJ")
    api.act(closed["id"], "reply", "SWJ", {"reply": "已恢复供水"})
    api.act(closed["id"], "callback", "operator", {"satisfaction": "satisfied", "resolved": True})
    listed = orders(api, state="fulfilled")
    assert listed["total"] == 2 and {o["fulfilled_at"][:16] for o in listed["items"]} == {"2026-11-04T13:00"}
    frozen(datetime(2026, 11, 12, 10, 0, tzinfo=TZ))
    settled(api)
    for case in (a, closed):
        assert not {"appeal.supervision_warning", "appeal.supervision_overdue"} & set(types_of(tap, case["case_no"]))
    assert orders(api, state="overdue")["total"] == 0


def test_who_sees_which_orders(env, frozen):
    api, _ = env
    frozen(WED)
    road = api.intake(category="road", appellant={"anonymous": True})
    water = api.intake(category="water", appellant={"anonymous": True}, content="另一件")
    for case in (road, water):
        api.act(case["id"], "supervise", "monitor", {"act_by": "2026-11-10"})
    for who in ("monitor", "operator", "assessor"):
        assert orders(api, who)["total"] == 2
    mine = orders(api, "ZJJ")
    assert mine["total"] == 1 and mine["items"][0]["department"] == "ZJJ"
    assert orders(api, "ZJJ", department="SWJ")["total"] == 0
    assert orders(api, department="SWJ")["items"][0]["case_no"] == water["case_no"]
    assert orders(api, per_page=1, page=2)["items"][0]["case_no"] == road["case_no"]  # newest first
    assert api.call("GET", "/api/v1/supervision-orders", "window_system").status_code == 403
    bad = api.call("GET", "/api/v1/supervision-orders", "monitor", state="late")
    assert bad.status_code == 400 and "state" in bad.json()["errors"]


def test_a_late_report_fires_an_orders_moments_at_their_real_times(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 26, 10, 0, tzinfo=TZ))
    a = api.intake(category="road", type="complaint", received_at="2026-03-02T10:00:00+08:00",
                   appellant={"anonymous": True})
    n = a["case_no"]
    api.act(a["id"], "accept", "ZJJ", {"at": "2026-03-02T15:00:00+08:00"})
    api.act(a["id"], "supervise", "monitor", {"act_by": "2026-03-05", "at": "2026-03-03T10:00:00+08:00"})
    # replied after act_by: the warning (5 March) and the overdue notice (6 March) came first
    api.act(a["id"], "reply", "ZJJ", {"reply": "已修复", "at": "2026-03-09T10:00:00+08:00"})
    expected = [("appeal.supervised", "2026-03-03T10:00"), ("appeal.supervision_warning", "2026-03-05T00:00"),
                ("appeal.supervision_overdue", "2026-03-06T00:00"), ("appeal.replied", "2026-03-09T10:00")]

    def seen():
        return [(m["event_type"], m["occurred_at"][:16]) for m in tap.drain()
                if m["payload"].get("case_no") == n and m["event_type"] in dict(expected)]

    wait_for(lambda: seen() == expected, message=f"the order's moments (have {seen()})")
    order = orders(api)["items"][0]
    assert order["state"] == "overdue" and order["overdue_at"].startswith("2026-03-06T00:00")
    frozen(datetime(2026, 11, 26, 10, 0, tzinfo=TZ) + timedelta(seconds=GRACE + 1))
    settled(api)
    assert seen() == expected


@pytest.mark.postgres
def test_on_postgresql_the_timer_and_a_late_reply_raise_each_order_once(start_on_postgres, api_keys, keys_file,
                                                                        amqp_uri, frozen):
    # no grace: the order's timer and the late reply race for the same order, and it is raised once all the same
    keys = {**api_keys, "ZJJ": KeyStore(keys_file).add("handler-ZJJ-pg-orders", "department_handler", "ZJJ")}
    frozen(datetime(2026, 11, 26, 10, 0, tzinfo=TZ))
    tap = Tap(amqp_uri, "appeals")
    cfg = start_on_postgres(AppealsService)
    api = Api(cfg["base_url"], keys)
    cases = [api.intake(category="road", type="complaint", received_at="2026-03-02T10:00:00+08:00",
                        external_ref=f"PG-SUP-{i}", appellant={"anonymous": True}) for i in range(4)]
    for a in cases:
        api.act(a["id"], "accept", "ZJJ", {"at": "2026-03-02T15:00:00+08:00"})
        api.act(a["id"], "supervise", "monitor", {"act_by": "2026-03-05", "at": "2026-03-03T10:00:00+08:00"})
        api.act(a["id"], "reply", "ZJJ", {"reply": "已修复", "at": "2026-03-09T10:00:00+08:00"})
    for a in cases:
        kinds = wait_for(lambda n=a["case_no"]: (t := types_of(tap, n)) and "appeal.replied" in t and t,
                         message="the reply")
        assert kinds.count("appeal.supervision_overdue") == 1 and kinds.count("appeal.supervision_warning") == 1
        assert kinds.index("appeal.supervision_overdue") < kinds.index("appeal.replied")
    wait_for(lambda: orders(api, state="overdue")["total"] == 4, message="four overdue orders")
    settled(api)
    for a in cases:
        kinds = types_of(tap, a["case_no"])
        assert kinds.count("appeal.supervision_overdue") == 1 and kinds.count("appeal.supervision_warning") == 1
