"""The whole life of appeals on the real broker: intake from each channel, duplicates, dispatch, return,
accept, extension, warning, overdue, urging, escalation, reply, call-back, reopen, close, supervision,
emergencies and efficiency complaints with their findings — and who may see and do what."""

from datetime import datetime, timedelta

import pytest
import requests

from services.appeals.service import AppealsService
from services.kernel import clock
from services.kernel.keys import KeyStore
from tests.conftest import wait_for
from tests.support import Tap

TZ = clock.TZ


class Api:
    def __init__(self, base_url, keys):
        self.base = base_url
        self.keys = keys

    def call(self, method, path, who, body=None, **params):
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        r = requests.request(method, f"{self.base}{path}", json=body, headers=headers, params=params, timeout=10)
        return r

    def ok(self, method, path, who, body=None, status=200):
        r = self.call(method, path, who, body)
        assert r.status_code == status, (method, path, who, r.status_code, r.text)
        return r.json()

    def intake(self, **fields):
        body = {"channel": "hotline", "type": "help", "category": "water", "content": "停水三天",
                "appellant": {"name": "张三", "phone": "13812345678"}}
        body.update(fields)
        return self.ok("POST", "/api/v1/appeals", "operator", body, status=201)

    def act(self, appeal_id, action, who, body=None, status=200):
        r = self.call("POST", f"/api/v1/appeals/{appeal_id}/{action}", who, body)
        assert r.status_code == status, (action, who, r.status_code, r.text)
        return r.json()


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("ZJJ", "SWJ", "HBJ", "JW"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri)
    tap = Tap(fresh_amqp_uri, "appeals")
    start_service(AppealsService, cfg)
    return Api(cfg["base_url"], keys), tap


def events(tap, case_no=None):
    msgs = tap.drain()
    return [(m["event_type"], m["payload"]) for m in msgs
            if case_no is None or m["payload"].get("case_no") == case_no]


def types_of(tap, case_no):
    return [t for t, _ in events(tap, case_no)]


def wait_types(tap, case_no, expected, timeout=10):
    return wait_for(lambda: (t := types_of(tap, case_no)) == expected and t, timeout=timeout,
                    message=f"events {expected} of {case_no} (have {types_of(tap, case_no)})")


# -- intake ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", ["hotline", "mayor_line", "sunshine_dialogue", "online_opinion", "window", "web"])
def test_intake_from_every_channel_is_dispatched_by_the_catalogue(env, frozen, channel):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))  # a Wednesday
    a = api.intake(channel=channel, external_ref=f"{channel}-1", appellant={"anonymous": True})
    assert (a["status"], a["department"], a["channel"]) == ("dispatched", "SWJ", channel)
    # help: 3 working days, counted from the day after: Thu, Fri, Mon
    assert a["due_at"] == "2026-11-09T23:59:59.999999+08:00"
    assert a["clock"]["limit_days"] == 3
    wait_types(tap, a["case_no"], ["appeal.received", "appeal.dispatched"])
    again = api.ok("POST", "/api/v1/appeals", "window_system",
                   {"channel": channel, "external_ref": f"{channel}-1", "type": "help", "category": "water",
                    "content": "再次提交"}, status=200)
    assert again["id"] == a["id"]


def test_a_complaint_gets_13_working_days_and_an_emergency_the_same_day(env, frozen):
    api, tap = env
    frozen(datetime(2026, 9, 30, 9, 0, tzinfo=TZ))
    complaint = api.intake(type="complaint", category="road", appellant={"anonymous": True})
    # 13 working days after 30 Sep: Oct 1–7 are holidays, Sat Oct 10 is a make-up working day
    assert complaint["due_at"].startswith("2026-10-23T23:59:59")
    emergency = api.intake(type="help", urgency="emergency", category="road", appellant={"anonymous": True},
                           location={"town_street": "WCJD", "address": "文昌路 1 号"})
    assert emergency["due_at"].startswith("2026-09-30T23:59:59")
    found = wait_for(lambda: [p for t, p in events(tap, emergency["case_no"]) if t == "appeal.emergency"],
                     message="appeal.emergency")
    assert found[0]["department"] == "ZJJ" and found[0]["town_street"] == "WCJD"
    frozen(datetime(2026, 10, 1, 0, 0, 1, tzinfo=TZ))  # the same-day limit has run out at midnight
    wait_for(lambda: "appeal.overdue" in types_of(tap, emergency["case_no"]), message="emergency overdue")
    assert "appeal.overdue" not in types_of(tap, complaint["case_no"])


def test_a_repeat_call_is_linked_to_the_open_case_not_dispatched_again(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    where = {"town_street": "WCJD", "address": "文昌路 8 号"}
    first = api.intake(category="sanitation", location=where)
    assert first["department"] == "WCJD"  # the town-street's own rule
    frozen(datetime(2026, 11, 9, 10, 0, tzinfo=TZ))
    repeat = api.intake(category="sanitation", location=where, content="还是没人管")
    assert repeat["status"] == "duplicate" and repeat["duplicate_of"] == first["case_no"]
    original = api.ok("GET", f"/api/v1/appeals/{first['id']}", "operator")
    assert original["repeat_count"] == 1
    linked = wait_for(lambda: [p for t, p in events(tap, first["case_no"]) if t == "appeal.duplicate_linked"],
                      message="appeal.duplicate_linked")
    assert linked[0]["duplicate_case_no"] == repeat["case_no"] and linked[0]["repeat_count"] == 1
    assert "appeal.dispatched" not in types_of(tap, repeat["case_no"])
    # the same caller however the channel wrote the number: spaces, dashes, the country code
    again = api.intake(category="sanitation", location=where, appellant={"name": "张三", "phone": "+86 138-1234-5678"})
    assert again["status"] == "duplicate" and again["duplicate_of"] == first["case_no"]
    assert api.ok("GET", f"/api/v1/appeals/{again['id']}", "operator")["appellant"]["phone"] == "13812345678"
    assert api.ok("GET", f"/api/v1/appeals/{first['id']}", "operator")["repeat_count"] == 2
    # another town-street, or after the window, is a case of its own
    other = api.intake(category="sanitation", location={"town_street": "DCJD"})
    assert other["status"] == "dispatched" and other["department"] == "DCJD"
    frozen(datetime(2026, 11, 20, 10, 0, tzinfo=TZ))
    later = api.intake(category="sanitation", location=where)
    assert later["status"] == "dispatched"


# -- handling ----------------------------------------------------------------------------------------

def test_return_redispatch_accept_reply_callback_close(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    a = api.intake(category="water")
    n = a["case_no"]
    returned = api.act(a["id"], "return", "SWJ", {"reason": "属于环保部门职责"})
    # a return waits for the hotline centre's review (退单审核) before the case can be dispatched again
    assert (returned["status"], returned["department"], returned["return_count"], returned["returned_by"]) == (
        "return_pending", None, 1, "SWJ")
    assert api.call("POST", f"/api/v1/appeals/{a['id']}/accept", "SWJ").status_code == 404  # no longer theirs
    api.act(a["id"], "dispatch", "operator", {"department": "HBJ"}, status=409)
    reviewed = api.act(a["id"], "review-return", "operator", {"decision": "approved", "note": "确属环保职责"})
    assert reviewed["status"] == "awaiting_dispatch"
    d = api.act(a["id"], "dispatch", "operator", {"department": "HBJ"})
    assert d["status"] == "dispatched" and d["department"] == "HBJ"
    conflict = api.act(a["id"], "reply", "HBJ", {"reply": "已处理"}, status=409)
    assert conflict["error"]["code"] == "conflict" and "签收" in conflict["error"]["message_zh"]
    api.act(a["id"], "accept", "HBJ")
    api.act(a["id"], "accept", "HBJ", status=409)
    replied = api.act(a["id"], "reply", "HBJ", {"reply": "已协调恢复供水"})
    assert replied["status"] == "replied"
    api.act(a["id"], "callback", "HBJ", {"satisfaction": "satisfied", "resolved": True}, status=403)
    closed = api.act(a["id"], "callback", "operator", {"satisfaction": "satisfied", "resolved": True})
    assert closed["status"] == "closed" and closed["satisfaction"] == "satisfied"
    wait_types(tap, n, ["appeal.received", "appeal.dispatched", "appeal.returned", "appeal.return_reviewed",
                        "appeal.dispatched", "appeal.accepted", "appeal.replied", "appeal.callback_recorded",
                        "appeal.closed"])
    evs = events(tap, n)
    accepted = next(p for t, p in evs if t == "appeal.accepted")
    assert accepted["in_time"] is True and accepted["department"] == "HBJ"
    history = api.ok("GET", f"/api/v1/appeals/{a['id']}", "operator")["history"]
    assert [h["action"] for h in history] == ["intake", "dispatch", "return", "review_return", "dispatch", "accept",
                                              "reply", "callback"]
    assert [h["actor"] for h in history][2] == "handler-SWJ"


def test_unsatisfied_reopens_once_then_closes(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    a = api.intake(category="road", type="complaint")
    api.act(a["id"], "accept", "ZJJ")
    api.act(a["id"], "reply", "ZJJ", {"reply": "已修复"})
    frozen(datetime(2026, 11, 6, 10, 0, tzinfo=TZ))
    reopened = api.act(a["id"], "callback", "operator", {"satisfaction": "unsatisfied", "resolved": False})
    assert (reopened["status"], reopened["department"], reopened["reopen_count"]) == ("dispatched", "ZJJ", 1)
    assert reopened["due_at"] > a["due_at"]  # a new deadline from the reopening
    api.act(a["id"], "accept", "ZJJ")
    api.act(a["id"], "reply", "ZJJ", {"reply": "已重新修复"})
    closed = api.act(a["id"], "callback", "operator", {"satisfaction": "unsatisfied", "resolved": False})
    assert closed["status"] == "closed"
    types = wait_for(lambda: (t := types_of(tap, a["case_no"])) and t[-1] == "appeal.closed" and t,
                     message="closed")
    assert types.count("appeal.reopened") == 1


def test_extension_before_the_deadline_moves_it_once(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    a = api.intake(category="road", type="complaint")  # due 2026-11-23
    assert a["due_at"].startswith("2026-11-23")
    api.act(a["id"], "extension", "ZJJ", {"days": 30, "reason": "需要施工"}, status=409)  # over the maximum
    req = api.act(a["id"], "extension", "ZJJ", {"days": 5, "reason": "需要协调施工"})
    assert req["extension"] == {"used": True, "pending_days": 5, "reason": "需要协调施工"}
    api.act(a["id"], "extension", "ZJJ", {"days": 2, "reason": "再延"}, status=409)
    api.act(a["id"], "extension/decision", "ZJJ", {"approved": True}, status=403)
    approved = api.act(a["id"], "extension/decision", "operator", {"approved": True, "note": "同意"})
    assert approved["due_at"].startswith("2026-11-30") and approved["clock"]["limit_days"] == 18
    api.act(a["id"], "extension/decision", "operator", {"approved": True}, status=409)  # nothing pending
    wait_for(lambda: {"appeal.extension_requested", "appeal.extension_decided"} <= set(types_of(tap, a["case_no"])),
             message="extension events")
    b = api.intake(category="road", type="help", appellant={"anonymous": True})
    frozen(datetime(2026, 11, 10, 9, 0, tzinfo=TZ))  # after b's deadline (2026-11-09)
    late = api.act(b["id"], "extension", "ZJJ", {"days": 2, "reason": "来不及了"}, status=409)
    assert "届满前" in late["error"]["message_zh"]


# -- the deadline monitor ------------------------------------------------------------------------------

def test_warnings_overdue_urging_and_escalation_each_fire_once(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    a = api.intake(category="road", type="help", appellant={"anonymous": True})  # due end of Mon 11-09
    n = a["case_no"]
    api.act(a["id"], "accept", "ZJJ")
    wait_types(tap, n, ["appeal.received", "appeal.dispatched", "appeal.accepted"])

    frozen(datetime(2026, 11, 7, 0, 0, 1, tzinfo=TZ))  # two of three working days used: one left
    wait_for(lambda: types_of(tap, n)[-1:] == ["appeal.deadline_warning"], message="last-day warning")
    frozen(datetime(2026, 11, 9, 9, 40, tzinfo=TZ))  # 80 % of the time used
    warnings = wait_for(lambda: (w := [p["kind"] for t, p in events(tap, n) if t == "appeal.deadline_warning"])
                        and len(w) == 2 and w, message="80 % warning")
    assert warnings == ["last_day", "fraction"]

    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))  # the day after the deadline
    wait_for(lambda: types_of(tap, n)[-2:] == ["appeal.overdue", "appeal.urged"], message="overdue + urged")
    view = api.ok("GET", f"/api/v1/appeals/{a['id']}", "monitor")
    assert view["clock"]["overdue"] is True and view["clock"]["urged_at"].startswith("2026-11-10")

    frozen(datetime(2026, 11, 17, 12, 0, tzinfo=TZ))  # four working days after urging: not yet
    frozen(datetime(2026, 11, 18, 0, 0, 1, tzinfo=TZ))  # five working days after urging
    wait_for(lambda: types_of(tap, n)[-1:] == ["appeal.escalated"], message="escalation")
    frozen(datetime(2026, 11, 25, 0, 0, 1, tzinfo=TZ))
    # let the monitor tick a few more times: nothing fires twice
    before = types_of(tap, n)
    wait_for(lambda: api.ok("GET", "/health", "operator")["outbox"]["pending"] == 0, message="outbox drained")
    assert types_of(tap, n) == before
    for t in ("appeal.deadline_warning", "appeal.overdue", "appeal.urged", "appeal.escalated"):
        assert before.count(t) == (2 if t == "appeal.deadline_warning" else 1), (t, before)


def test_a_reply_in_time_stops_the_monitor(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    a = api.intake(category="road", type="help", appellant={"anonymous": True})
    api.act(a["id"], "accept", "ZJJ")
    replied = api.act(a["id"], "reply", "ZJJ", {"reply": "已处理"})
    assert replied["status"] == "replied"
    frozen(datetime(2026, 11, 20, 10, 0, tzinfo=TZ))
    wait_for(lambda: "appeal.replied" in types_of(tap, a["case_no"]), message="replied")
    # a later case's overdue proves the monitor ran past this one's moments without firing them
    b = api.intake(category="road", type="help", appellant={"anonymous": True}, content="另一件")
    frozen(datetime(2026, 11, 26, 10, 0, tzinfo=TZ))
    wait_for(lambda: "appeal.overdue" in types_of(tap, b["case_no"]), message="b overdue")
    assert not {"appeal.deadline_warning", "appeal.overdue"} & set(types_of(tap, a["case_no"]))


# -- supervision and complaints ----------------------------------------------------------------------

def test_a_monitor_supervises_and_exposes(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    a = api.intake(category="road")
    api.act(a["id"], "supervise", "operator", {"act_by": "2026-11-06"}, status=403)
    api.act(a["id"], "supervise", "monitor", {"act_by": "2026-11-01"}, status=409)
    s = api.act(a["id"], "supervise", "monitor", {"act_by": "2026-11-06", "note": "限期办结", "exposed": True})
    assert s["supervised_until"] == "2026-11-06" and s["exposed"] is True
    sup = wait_for(lambda: [p for t, p in events(tap, a["case_no"]) if t == "appeal.supervised"],
                   message="appeal.supervised")
    assert sup[0]["exposed"] is True and sup[0]["act_by"] == "2026-11-06" and sup[0]["department"] == "ZJJ"


def test_an_efficiency_complaint_goes_to_the_discipline_office_and_ends_with_a_finding(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    c = api.intake(type="efficiency_complaint", category="efficiency", subject_department="ZJJ",
                   content="窗口人员推诿，三次未办结")
    assert (c["department"], c["subject_department"]) == ("JW", "ZJJ")
    assert api.call("GET", f"/api/v1/appeals/{c['id']}", "ZJJ").status_code == 404  # not the accused's to see
    assert api.ok("GET", "/api/v1/appeals", "ZJJ")["total"] == 0
    api.act(c["id"], "return", "JW", {"reason": "不归我管"}, status=409)
    api.act(c["id"], "dispatch", "operator", {"department": "ZJJ"}, status=409)
    api.act(c["id"], "accept", "JW")
    api.act(c["id"], "reply", "JW", {"reply": "已处理"}, status=409)  # never closed without a finding
    api.act(c["id"], "finding", "monitor", {"finding": "not_upheld", "reasons": "不属实", "person": "李四"}, status=409)
    done = api.act(c["id"], "finding", "JW", {"finding": "upheld", "reasons": "经查属实", "person": "李四",
                                              "reward": True})
    # the finding is the reply (事事有回声): the complainant is called back on it like on any reply
    assert (done["status"], done["finding"], done["reward"]) == ("replied", "upheld", True)
    assert done["reply"] == "经调查，您反映的问题属实。经查属实" and done["wait"]["since"] == done["replied_at"]
    wait_for(lambda: "appeal.replied" in types_of(tap, c["case_no"]), message="replied")
    closed = api.act(c["id"], "callback", "operator", {"satisfaction": "satisfied", "resolved": True})
    assert closed["status"] == "closed"
    wait_for(lambda: "appeal.closed" in types_of(tap, c["case_no"]), message="closed")
    evs = dict((t, p) for t, p in events(tap, c["case_no"]))
    assert evs["complaint.finding_recorded"]["subject_department"] == "ZJJ"
    warning = evs["efficiency_warning.issued"]
    assert (warning["unit"], warning["person"], warning["reason"]) == ("ZJJ", "李四", "经查属实")
    api.act(c["id"], "finding", "JW", {"finding": "not_upheld", "reasons": "再次认定"}, status=409)

    d = api.intake(type="efficiency_complaint", category="efficiency", subject_department="SWJ", content="态度差")
    told = api.act(d["id"], "finding", "monitor", {"finding": "not_upheld", "reasons": "经查不属实"})
    assert (told["status"], told["reply"]) == ("replied", "经调查，您反映的问题不属实。经查不属实")
    wait_for(lambda: "appeal.replied" in types_of(tap, d["case_no"]), message="replied")
    assert "efficiency_warning.issued" not in types_of(tap, d["case_no"])
    plain = api.intake(category="road", appellant={"anonymous": True})
    api.act(plain["id"], "finding", "monitor", {"finding": "upheld", "reasons": "属实"}, status=409)


# -- access and privacy ------------------------------------------------------------------------------

def test_departments_see_and_touch_only_their_own_cases(env, frozen):
    api, _ = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    mine = api.intake(category="road", appellant={"anonymous": True})
    theirs = api.intake(category="water", appellant={"anonymous": True})
    listed = api.ok("GET", "/api/v1/appeals", "ZJJ")
    assert {i["department"] for i in listed["items"]} == {"ZJJ"} and listed["total"] == 1
    assert api.ok("GET", "/api/v1/appeals?department=SWJ", "ZJJ")["total"] == 0
    for action, body in (("accept", None), ("reply", {"reply": "好的"}), ("return", {"reason": "不是我的"}),
                         ("extension", {"days": 1, "reason": "需要"})):
        r = api.call("POST", f"/api/v1/appeals/{theirs['id']}/{action}", "ZJJ", body)
        assert r.status_code == 404, (action, r.text)
    assert api.call("GET", f"/api/v1/appeals/{theirs['id']}", "ZJJ").status_code == 404
    assert api.call("GET", f"/api/v1/appeals/{mine['id']}", "ZJJ").status_code == 200
    unchanged = api.ok("GET", f"/api/v1/appeals/{theirs['id']}", "operator")
    assert unchanged["status"] == "dispatched" and len(unchanged["history"]) == 2


def test_names_and_phones_are_masked_except_for_operators_and_the_handling_department(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    a = api.intake(category="road", appellant={"name": "王小明", "phone": "13812345678"})
    full = {"name": "王小明", "phone": "13812345678", "anonymous": False}
    masked = {"name": "王**", "phone": "138****5678", "anonymous": False}
    assert a["appellant"] == full
    assert api.ok("GET", f"/api/v1/appeals/{a['id']}", "operator")["appellant"] == full
    assert api.ok("GET", f"/api/v1/appeals/{a['id']}", "ZJJ")["appellant"] == full
    assert api.ok("GET", f"/api/v1/appeals/{a['id']}", "monitor")["appellant"] == masked
    assert api.ok("GET", f"/api/v1/appeals/{a['id']}", "window_system")["appellant"] == masked
    for who in ("operator", "ZJJ", "monitor"):
        assert api.ok("GET", "/api/v1/appeals", who)["items"][0]["appellant"] == masked
    wait_types(tap, a["case_no"], ["appeal.received", "appeal.dispatched"])
    raw = str(tap.messages)
    assert "13812345678" not in raw and "王小明" not in raw and "5678" not in raw


def test_bad_inputs_are_refused_with_field_messages_and_change_nothing(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    cases = [
        ({"category": "no-such-category"}, "category"),
        ({"type": "efficiency_complaint", "category": "efficiency"}, "subject_department"),
        ({"received_at": (clock.now() + timedelta(days=1)).isoformat()}, "received_at"),
        ({"location": {"latitude": 37.1}}, "location"),
        ({"content": "x" * 4001}, "content"),
        ({"attachments": ["ftp://example.org/a.jpg"]}, "attachments"),
        ({"urgency": "urgent"}, "urgency"),
    ]
    for change, field in cases:
        body = {"channel": "hotline", "type": "help", "category": "water", "content": "停水", **change}
        r = api.call("POST", "/api/v1/appeals", "operator", body)
        assert r.status_code == 400, (change, r.text)
        assert field in r.json()["errors"], (change, r.json())
    a = api.intake(category="road", appellant={"anonymous": True})
    for action, body, field in (("reply", {"reply": ""}, "reply"), ("extension", {"days": "3", "reason": "x"}, "days"),
                                ("return", {}, "reason")):
        r = api.call("POST", f"/api/v1/appeals/{a['id']}/{action}", "ZJJ", body)
        assert r.status_code == 400 and field in r.json()["errors"], (action, r.text)
    assert api.call("POST", "/api/v1/appeals/999999/accept", "ZJJ").status_code == 404
    assert api.ok("GET", "/api/v1/appeals", "operator")["total"] == 1
    assert len(api.ok("GET", f"/api/v1/appeals/{a['id']}", "operator")["history"]) == 2


def test_the_catalogue_is_data_editable_through_the_api(env):
    api, _ = env
    rules = api.ok("GET", "/api/v1/catalogue", "monitor")
    assert {"category": "water", "department": "SWJ"}.items() <= next(
        r for r in rules if r["category"] == "water").items()
    api.ok("PUT", "/api/v1/catalogue", "monitor", {"category": "parks", "department": "YLJ",
                                                    "category_name": "园林绿化"}, status=403)
    rule = api.ok("PUT", "/api/v1/catalogue", "operator", {"category": "parks", "department": "YLJ",
                                                             "category_name": "园林绿化"})
    a = api.intake(category="parks", appellant={"anonymous": True})
    assert a["department"] == "YLJ"
    r = api.call("DELETE", f"/api/v1/catalogue/{rule['id']}", "operator")
    assert r.status_code == 204 and r.content == b""
    assert api.call("DELETE", f"/api/v1/catalogue/{rule['id']}", "operator").status_code == 404
