"""The operator's desk (#14) on the real broker, through the HTTP API: a consultation closed on the call (at intake
or after), a case ended as invalid or withdrawn (its alarms cancelled, appeal.voided, left out of the hot-issue
brief and Open311), corrections after intake with their history and a type change's new clock, and an efficiency
complaint's finding told to the complainant as the reply of the case. Department handlers never act on these."""

from datetime import datetime, timedelta

import pytest
import requests

from services.appeals.service import AppealsService
from services.kernel.keys import KeyStore
from tests.conftest import wait_for
from tests.e2e.test_appeal_lifecycle import TZ, Api, events, types_of
from tests.support import Tap

WED = datetime(2026, 11, 4, 10, 0, tzinfo=TZ)  # a Wednesday


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


def payloads(tap, case_no, event_type):
    return [p for t, p in events(tap, case_no) if t == event_type]


def wait_event(tap, case_no, event_type):
    return wait_for(lambda: payloads(tap, case_no, event_type),
                    message=f"{event_type} of {case_no} (have {types_of(tap, case_no)})")[0]


def settled(api):
    wait_for(lambda: api.ok("GET", "/health", "operator")["outbox"]["pending"] == 0, message="outbox drained")


def errors_of(api, appeal_id, action, body):
    r = api.call("POST", f"/api/v1/appeals/{appeal_id}/{action}", "operator", body)
    assert r.status_code == 400, (action, body, r.status_code, r.text)
    return r.json()["errors"]


# -- close on the call ---------------------------------------------------------------------------------

def test_a_consultation_answered_on_the_call_is_closed_at_intake_without_a_department(env, frozen):
    api, tap = env
    frozen(WED)
    body = {"type": "consultation", "external_ref": "call-1", "close_on_call": {"answer": "可在政务服务网在线办理"}}
    a = api.intake(**body)
    assert (a["status"], a["department"], a["reply"], a["closed_on_call"]) == (
        "closed", None, "可在政务服务网在线办理", True)
    assert a["clock"]["due_at"] is None and a["wait"] is None and a["closed_at"] == a["replied_at"]
    n = a["case_no"]
    wait_for(lambda: types_of(tap, n) == ["appeal.received", "appeal.closed_on_call", "appeal.closed"],
             message=f"closed on the call (have {types_of(tap, n)})")
    closed = payloads(tap, n, "appeal.closed_on_call")[0]
    assert closed["department"] is None and closed["by"] == "test-operator"
    assert "政务服务网" not in repr(events(tap))  # the answer does not travel
    # a retried intake is the same case
    assert api.ok("POST", "/api/v1/appeals", "operator", {**{
        "channel": "hotline", "category": "water", "content": "停水三天"}, **body}, status=200)["id"] == a["id"]
    history = api.ok("GET", f"/api/v1/appeals/{a['id']}", "operator")["history"]
    assert [h["action"] for h in history] == ["intake", "close_on_call"]
    # not a consultation: refused before anything is written
    assert "close_on_call" in api.call("POST", "/api/v1/appeals", "operator", {
        "channel": "hotline", "type": "help", "category": "water", "content": "停水",
        "close_on_call": {"answer": "已告知"}}).json()["errors"]
    frozen(WED + timedelta(days=10))
    settled(api)
    # no clock, no call-back: nothing more
    assert types_of(tap, n) == ["appeal.received", "appeal.closed_on_call", "appeal.closed"]


def test_a_consultation_waiting_for_dispatch_closes_on_the_call_and_its_wait_ends(env, frozen):
    api, tap = env
    frozen(WED)
    # a rule for one town-street only: a case from elsewhere waits for dispatch, on the hotline centre's clock
    api.ok("PUT", "/api/v1/catalogue", "operator", {"category": "policy", "town_street": "WCJD", "department": "ZJJ",
                                                    "category_name": "政策咨询"})
    waiting = api.intake(type="consultation", category="policy", appellant={"anonymous": True})
    assert waiting["status"] == "awaiting_dispatch" and waiting["wait"]["due_at"].startswith("2026-11-05T23:59")
    assert api.call("POST", f"/api/v1/appeals/{waiting['id']}/close-on-call", "ZJJ",
                    {"answer": "已答复"}).status_code == 403
    assert "answer" in errors_of(api, waiting["id"], "close-on-call", {"answer": ""})
    frozen(WED + timedelta(minutes=5))
    done = api.act(waiting["id"], "close-on-call", "operator", {"answer": "政策已于今年起施行"})
    assert (done["status"], done["reply"], done["closed_on_call"], done["wait"]) == (
        "closed", "政策已于今年起施行", True, None)
    wait_event(tap, waiting["case_no"], "appeal.closed")
    api.act(waiting["id"], "close-on-call", "operator", {"answer": "再次答复"}, status=409)
    frozen(datetime(2026, 11, 9, 10, tzinfo=TZ))  # the dispatch wait would have been overdue and escalated
    settled(api)
    assert not [t for t in types_of(tap, waiting["case_no"]) if t.startswith("appeal.dispatch_")]

    dispatched = api.intake(type="consultation", category="water", appellant={"anonymous": True})
    r = api.call("POST", f"/api/v1/appeals/{dispatched['id']}/close-on-call", "operator", {"answer": "已答复"})
    assert r.status_code == 409 and "已派单" in r.json()["error"]["message_zh"]
    help_ = api.intake(type="help", category="policy", appellant={"anonymous": True})
    r = api.call("POST", f"/api/v1/appeals/{help_['id']}/close-on-call", "operator", {"answer": "已答复"})
    assert r.status_code == 409 and "咨询" in r.json()["error"]["message_zh"]
    assert api.call("POST", "/api/v1/appeals/999999/close-on-call", "operator", {"answer": "已答复"}).status_code == 404


# -- invalid and withdrawn ------------------------------------------------------------------------------

def test_an_invalid_case_ends_with_its_alarms_and_is_counted_nowhere(env, frozen):
    api, tap = env
    frozen(WED)
    prank = api.intake(category="road", public=True, appellant={"anonymous": True},
                       location={"town_street": "WCJD"})
    kept = api.intake(category="road", public=True, appellant={"anonymous": True},
                      location={"town_street": "WCJD"}, content="路灯不亮")
    for who in ("ZJJ", "SWJ"):  # not a department's to do, its own case or not
        assert api.call("POST", f"/api/v1/appeals/{prank['id']}/invalidate", who,
                        {"kind": "prank", "reason": "恶意骚扰"}).status_code == 403
    errors = errors_of(api, prank["id"], "invalidate", {"kind": "joke", "reason": "x"})
    assert set(errors) == {"kind", "reason"}
    done = api.act(prank["id"], "invalidate", "operator", {"kind": "prank", "reason": "反复恶意来电"})
    assert (done["status"], done["status_zh"], done["invalid_kind"], done["void_reason"]) == (
        "invalid", "无效", "prank", "反复恶意来电")
    voided = wait_event(tap, prank["case_no"], "appeal.voided")
    assert (voided["kind"], voided["invalid_kind"], voided["department"], voided["by"]) == (
        "invalid", "prank", "ZJJ", "test-operator")
    again = api.act(prank["id"], "invalidate", "operator", {"kind": "prank", "reason": "再次"}, status=409)
    assert "无效" in again["error"]["message_zh"]
    api.act(prank["id"], "withdraw", "operator", {"reason": "撤诉"}, status=409)

    # its clock ended: no warning, no overdue, no urging; the other case has them
    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))
    wait_event(tap, kept["case_no"], "appeal.overdue")
    settled(api)
    assert types_of(tap, prank["case_no"]) == ["appeal.received", "appeal.dispatched", "appeal.voided",
                                               "appeal.closed"]
    # counted nowhere: not in the hot-issue brief, not in Open311
    report = api.ok("GET", "/api/v1/reports/hot-issues?from=2026-11-04&to=2026-11-04", "operator")
    assert report["totals"]["count"] == 1
    listed = requests.get(f"{api.base}/open311/v2/requests.json", timeout=10).json()
    assert [r["service_request_id"] for r in listed] == [kept["public_id"]]
    r = requests.get(f"{api.base}/open311/v2/requests/{prank['public_id']}.json", timeout=10)
    assert r.status_code == 404


def test_a_withdrawn_case_ends_from_the_call_back_wait_too_and_a_complaint_is_not_withdrawn(env, frozen):
    api, tap = env
    frozen(WED)
    a = api.intake(category="water", appellant={"anonymous": True})
    api.act(a["id"], "accept", "SWJ")
    api.act(a["id"], "reply", "SWJ", {"reply": "已恢复供水"})
    assert "reason" in errors_of(api, a["id"], "withdraw", {"reason": ""})
    done = api.act(a["id"], "withdraw", "operator", {"reason": "来电人表示不再需要回访"})
    assert (done["status"], done["status_zh"], done["wait"], done["invalid_kind"]) == (
        "withdrawn", "已撤诉", None, None)
    voided = wait_event(tap, a["case_no"], "appeal.voided")
    assert (voided["kind"], voided["invalid_kind"]) == ("withdrawn", None)
    wait_event(tap, a["case_no"], "appeal.closed")
    frozen(datetime(2026, 11, 20, 10, tzinfo=TZ))  # the call-back would have been overdue and escalated
    settled(api)
    assert not [t for t in types_of(tap, a["case_no"]) if t.startswith("appeal.callback")]
    api.act(a["id"], "callback", "operator", {"satisfaction": "satisfied", "resolved": True}, status=409)

    c = api.intake(type="efficiency_complaint", category="efficiency", subject_department="ZJJ", content="推诿")
    r = api.call("POST", f"/api/v1/appeals/{c['id']}/withdraw", "operator", {"reason": "不想投诉了"})
    assert r.status_code == 409 and "调查结论" in r.json()["error"]["message_zh"]


# -- corrections --------------------------------------------------------------------------------------

def test_a_correction_is_in_the_history_and_a_type_change_moves_the_clock(env, frozen):
    api, tap = env
    frozen(WED)
    a = api.intake(category="road", location={"town_street": "WCJD", "address": "文昌路 1 号"},
                   appellant={"anonymous": True})
    assert a["clock"]["limit_days"] == 3 and a["due_at"].startswith("2026-11-09T23:59:59")
    for who in ("ZJJ", "SWJ"):
        assert api.call("POST", f"/api/v1/appeals/{a['id']}/correct", who,
                        {"type": "complaint", "reason": "实为投诉"}).status_code == 403
    assert "_schema" in errors_of(api, a["id"], "correct", {"reason": "没有内容"})
    assert "category" in errors_of(api, a["id"], "correct", {"category": "nosuch", "reason": "改类别"})
    assert "category" in errors_of(api, a["id"], "correct", {"category": "road", "reason": "相同"})
    frozen(WED + timedelta(hours=1))
    fixed = api.act(a["id"], "correct", "operator", {"type": "complaint", "address": "文昌路 3 号",
                                                    "town_street": "DCJD", "reason": "来电人补充说明"})
    # the department stays (a re-dispatch is a dispatch); the clock keeps its start with the complaint's limit
    assert (fixed["type"], fixed["department"], fixed["location"]["town_street"]) == ("complaint", "ZJJ", "DCJD")
    assert fixed["clock"]["limit_days"] == 13 and fixed["due_at"].startswith("2026-11-23T23:59:59")
    line = api.ok("GET", f"/api/v1/appeals/{a['id']}", "operator")["history"][-1]
    assert line["action"] == "correct" and line["details"]["type"] == {"old": "help", "new": "complaint"}
    assert line["details"]["address"] == {"old": "文昌路 1 号", "new": "文昌路 3 号"}
    assert line["details"]["reason"] == "来电人补充说明"
    corrected = wait_event(tap, a["case_no"], "appeal.corrected")
    assert corrected["corrected"] == ["address", "town_street", "type"] and corrected["limit_days"] == 13
    assert corrected["changes"] == {"type": {"old": "help", "new": "complaint"},
                                    "town_street": {"old": "WCJD", "new": "DCJD"},
                                    "limit_days": {"old": 3, "new": 13}}
    assert corrected["due_at"].startswith("2026-11-23T23:59:59") and "文昌路" not in repr(corrected)
    # the old due time passes without a word; the new one is kept
    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))
    settled(api)
    assert "appeal.overdue" not in types_of(tap, a["case_no"])
    frozen(datetime(2026, 11, 24, 0, 0, 1, tzinfo=TZ))
    wait_event(tap, a["case_no"], "appeal.overdue")
    api.act(a["id"], "invalidate", "operator", {"kind": "test", "reason": "测试数据"})
    api.act(a["id"], "correct", "operator", {"category": "water", "reason": "更正"}, status=409)


# -- the finding is told --------------------------------------------------------------------------------

def test_the_complainant_is_told_the_finding_and_called_back_on_it(env, frozen):
    api, tap = env
    frozen(WED)
    c = api.intake(type="efficiency_complaint", category="efficiency", subject_department="ZJJ", content="推诿")
    assert api.call("POST", f"/api/v1/appeals/{c['id']}/finding", "ZJJ",
                    {"finding": "upheld", "reasons": "属实"}).status_code == 404  # the accused never sees it
    told = api.act(c["id"], "finding", "JW", {"finding": "upheld", "reasons": "窗口人员推诿属实，已告诫"})
    assert (told["status"], told["reply"]) == ("replied", "经调查，您反映的问题属实。窗口人员推诿属实，已告诫")
    assert told["wait"]["due_at"].startswith("2026-11-09T23:59:59")  # the call-back: 3 working days
    replied = wait_event(tap, c["case_no"], "appeal.replied")
    assert replied["department"] == "JW" and replied["in_time"] is True
    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))
    assert wait_event(tap, c["case_no"], "appeal.callback_overdue")["replied_by"] == "JW"
    done = api.act(c["id"], "callback", "operator", {"satisfaction": "satisfied", "resolved": True})
    assert done["status"] == "closed" and done["satisfaction"] == "satisfied"
    wait_event(tap, c["case_no"], "appeal.closed")


# -- merge and split -------------------------------------------------------------------------------------

def test_a_case_of_the_same_matter_is_merged_into_the_main_case(env, frozen):
    api, tap = env
    frozen(WED)
    main = api.intake(category="road", content="文昌路路灯不亮", appellant={"anonymous": True})
    other = api.intake(category="road", content="文昌路晚上很黑", appellant={"anonymous": True})
    water = api.intake(category="water", appellant={"anonymous": True})
    body = {"into": main["id"], "reason": "同一路段路灯故障"}
    for who in ("ZJJ", "SWJ"):
        assert api.call("POST", f"/api/v1/appeals/{other['id']}/merge", who, body).status_code == 403
    assert "into" in errors_of(api, other["id"], "merge", {"into": "x", "reason": "同一事项"})
    assert "reason" in errors_of(api, other["id"], "merge", {"into": main["id"]})
    assert "into" in errors_of(api, other["id"], "merge", {"into": other["id"], "reason": "自己"})
    assert "into" in errors_of(api, other["id"], "merge", {"into": 999999, "reason": "不存在"})
    r = api.call("POST", f"/api/v1/appeals/{water['id']}/merge", "operator", body)
    assert r.status_code == 409 and "改派" in r.json()["error"]["message_zh"]
    frozen(WED + timedelta(hours=1))
    merged = api.act(other["id"], "merge", "operator", body)
    assert (merged["status"], merged["status_zh"], merged["merged_into"], merged["department"]) == (
        "merged", "已合并", main["id"], "ZJJ")
    event = wait_event(tap, other["case_no"], "appeal.merged")
    assert (event["main_id"], event["main_case_no"], event["department"]) == (str(main["id"]), main["case_no"], "ZJJ")
    wait_event(tap, other["case_no"], "appeal.closed")
    line = api.ok("GET", f"/api/v1/appeals/{main['id']}", "operator")["history"][-1]
    assert (line["action"], line["details"]) == ("merged_in", {"merged": other["case_no"],
                                                               "reason": "同一路段路灯故障"})
    # merged again, or into a merged case: not open any more
    api.act(other["id"], "merge", "operator", body, status=409)
    api.act(water["id"], "merge", "operator", {"into": other["id"], "reason": "x" * 3}, status=409)
    # its clock ended with it; the main case's goes on
    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))
    wait_event(tap, main["case_no"], "appeal.overdue")
    settled(api)
    assert "appeal.overdue" not in types_of(tap, other["case_no"])


def test_a_case_of_two_matters_is_split_into_full_cases_once(env, frozen):
    api, tap = env
    frozen(WED)
    origin = api.intake(category="road", content="路灯不亮，另外小区停水", appellant={"name": "张三",
                                                                           "phone": "13812345678"})
    body = {"parts": [{"content": "小区停水", "category": "water", "type": "help"}], "reason": "一个来电两件事"}
    for who in ("ZJJ", "SWJ"):
        assert api.call("POST", f"/api/v1/appeals/{origin['id']}/split", who, body).status_code == 403
    assert "parts" in errors_of(api, origin["id"], "split", {"parts": [], "reason": "拆分"})
    assert "parts" in errors_of(api, origin["id"], "split", {"parts": [{"content": "x", "category": "nosuch",
                                                                        "type": "help"}], "reason": "拆分"})
    frozen(WED + timedelta(hours=2))
    done = api.ok("POST", f"/api/v1/appeals/{origin['id']}/split", "operator", body)
    assert (done["id"], done["status"], done["content"]) == (origin["id"], "dispatched", origin["content"])
    (part,) = done["parts"]
    assert (part["split_from"], part["department"], part["status"], part["content"]) == (
        origin["id"], "SWJ", "dispatched", "小区停水")
    assert part["case_no"] != origin["case_no"] and part["appellant"]["phone"] == "13812345678"
    # its own clock, from the split: help, 3 working days
    assert part["clock"]["started_at"] == "2026-11-04T12:00:00+08:00" and part["due_at"].startswith("2026-11-09T23:59")
    split = wait_event(tap, origin["case_no"], "appeal.split")
    assert split["part_case_nos"] == [part["case_no"]] and split["department"] == "ZJJ"
    wait_for(lambda: types_of(tap, part["case_no"]) == ["appeal.received", "appeal.dispatched"],
             message="the part taken in")
    assert api.ok("GET", f"/api/v1/appeals/{origin['id']}", "operator")["history"][-1]["details"]["parts"] == [
        part["case_no"]]
    # a retry answers the same split; another split is refused
    again = api.ok("POST", f"/api/v1/appeals/{origin['id']}/split", "operator", body)
    assert [p["id"] for p in again["parts"]] == [part["id"]]
    body2 = {"parts": [{"content": "噪声扰民", "category": "environment", "type": "complaint"}], "reason": "再拆"}
    r = api.call("POST", f"/api/v1/appeals/{origin['id']}/split", "operator", body2)
    assert r.status_code == 409 and "已拆分" in r.json()["error"]["message_zh"]
    settled(api)
    assert types_of(tap, part["case_no"]) == ["appeal.received", "appeal.dispatched"]
    # each department sees only its own of the two
    assert api.call("GET", f"/api/v1/appeals/{part['id']}", "ZJJ").status_code == 404
    assert api.call("GET", f"/api/v1/appeals/{origin['id']}", "SWJ").status_code == 404
    assert api.ok("GET", f"/api/v1/appeals/{part['id']}", "SWJ")["split_from"] == origin["id"]


# -- assisting departments ------------------------------------------------------------------------------

def test_assisting_departments_sign_and_give_their_parts_and_the_lead_reply_shows_them(env, frozen):
    api, tap = env
    frozen(WED)
    a = api.intake(category="road", content="道路塌陷，疑似水管破裂", appellant={"anonymous": True})  # ZJJ
    n = a["case_no"]
    assert "assisting" in errors_of(api, a["id"], "dispatch", {"department": "ZJJ", "assisting": ["no such!"]})
    r = api.call("POST", f"/api/v1/appeals/{a['id']}/dispatch", "operator", {"department": "ZJJ",
                                                                            "assisting": ["ZJJ"]})
    assert r.status_code == 409 and "主办单位" in r.json()["error"]["message_zh"]
    d = api.act(a["id"], "dispatch", "operator", {"department": "ZJJ", "assisting": ["SWJ"]})
    assert [x["department"] for x in d["assisting"]] == ["SWJ"] and d["clock"]["limit_days"] == 3
    requested = wait_event(tap, n, "appeal.assist_requested")
    assert (requested["department"], requested["lead_department"]) == ("SWJ", "ZJJ")
    assert payloads(tap, n, "appeal.dispatched")[-1]["assisting"] == ["SWJ"]

    # SWJ sees the case it assists on (names masked), HBJ does not; only SWJ acts on the part
    seen = api.ok("GET", f"/api/v1/appeals/{a['id']}", "SWJ")
    assert seen["assisting"][0]["department"] == "SWJ"
    assert api.call("GET", f"/api/v1/appeals/{a['id']}", "HBJ").status_code == 404
    for action, body in (("assist/accept", {}), ("assist/reply", {"part": "管网已查"})):
        assert api.call("POST", f"/api/v1/appeals/{a['id']}/{action}", "HBJ", body).status_code == 404
        assert api.call("POST", f"/api/v1/appeals/{a['id']}/{action}", "operator", body).status_code == 403
    r = api.call("POST", f"/api/v1/appeals/{a['id']}/assist/accept", "ZJJ", {})
    assert r.status_code == 409 and "主办单位" in r.json()["error"]["message_zh"]
    # an assisting department is no lead: the case's own steps stay 404 for it
    assert api.call("POST", f"/api/v1/appeals/{a['id']}/accept", "SWJ", {}).status_code == 404
    assert api.call("POST", f"/api/v1/appeals/{a['id']}/assist/reply", "SWJ", {"part": "管网已查"}).status_code == 409
    assert "part" in api.call("POST", f"/api/v1/appeals/{a['id']}/assist/reply", "SWJ", {}).json()["errors"]

    api.act(a["id"], "accept", "ZJJ")
    r = api.call("POST", f"/api/v1/appeals/{a['id']}/reply", "ZJJ", {"reply": "路面已修复"})
    assert r.status_code == 409 and "SWJ" in r.json()["error"]["message_zh"]  # the part is missing
    signed = api.act(a["id"], "assist/accept", "SWJ")
    assert signed["assisting"][0]["accepted_at"] is not None
    api.act(a["id"], "assist/accept", "SWJ", status=409)
    api.act(a["id"], "assist/reply", "SWJ", {"part": "破损水管已更换"})
    api.act(a["id"], "assist/reply", "SWJ", {"part": "再次答复"}, status=409)
    assert wait_event(tap, n, "appeal.assist_replied")["department"] == "SWJ"
    assert "破损水管" not in repr(events(tap))  # the part stays with the case
    replied = api.act(a["id"], "reply", "ZJJ", {"reply": "路面已修复"})
    assert replied["reply"] == "路面已修复\n\n协办单位答复：\nSWJ：破损水管已更换"
    assert replied["clock"]["due_at"] == d["clock"]["due_at"]  # one clock: the lead's
    api.act(a["id"], "assist/accept", "SWJ", status=409)  # the case is answered
    history = [h["action"] for h in api.ok("GET", f"/api/v1/appeals/{a['id']}", "operator")["history"]]
    assert history[-4:] == ["accept", "assist_accept", "assist_reply", "reply"]
    # a re-dispatch without them ends their part
    b = api.intake(category="road", content="井盖缺失", appellant={"anonymous": True})
    api.act(b["id"], "dispatch", "operator", {"department": "ZJJ", "assisting": ["SWJ", "HBJ"]})
    again = api.act(b["id"], "dispatch", "operator", {"department": "ZJJ"})
    assert again["assisting"] == []
    assert api.call("GET", f"/api/v1/appeals/{b['id']}", "SWJ").status_code == 404


# -- concurrency (PostgreSQL) ---------------------------------------------------------------------------

@pytest.mark.postgres
def test_on_postgresql_crossed_merges_and_retried_splits_have_the_effect_of_one(start_on_postgres, api_keys,
                                                                               amqp_uri, frozen):
    from concurrent.futures import ThreadPoolExecutor

    frozen(WED)
    tap = Tap(amqp_uri, "appeals")
    cfg = start_on_postgres(AppealsService)
    api = Api(cfg["base_url"], dict(api_keys))
    pairs = [(api.intake(category="road", external_ref=f"PG-M-{i}a", appellant={"anonymous": True}),
              api.intake(category="road", external_ref=f"PG-M-{i}b", appellant={"anonymous": True}))
             for i in range(5)]
    origin = api.intake(category="road", external_ref="PG-S", appellant={"anonymous": True})
    split = {"parts": [{"content": "小区停水", "category": "water", "type": "help"}], "reason": "两件事"}

    def merge(a, b):
        return api.call("POST", f"/api/v1/appeals/{a['id']}/merge", "operator",
                        {"into": b["id"], "reason": "同一事项"}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        # each pair merged both ways at once: one wins, the other finds its main case merged (409), no deadlock
        crossed = [pool.submit(merge, a, b) for a, b in pairs] + [pool.submit(merge, b, a) for a, b in pairs]
        splits = [pool.submit(api.call, "POST", f"/api/v1/appeals/{origin['id']}/split", "operator", split)
                  for _ in range(4)]
        statuses = [f.result() for f in crossed]
        answers = [f.result() for f in splits]
    for i, _ in enumerate(pairs):
        assert sorted([statuses[i], statuses[i + len(pairs)]]) == [200, 409], statuses
    for a, b in pairs:
        states = sorted(api.ok("GET", f"/api/v1/appeals/{c['id']}", "operator")["status"] for c in (a, b))
        assert states == ["dispatched", "merged"]
    assert [r.status_code for r in answers] == [200] * 4
    assert len({r.json()["parts"][0]["id"] for r in answers}) == 1  # one part, however often it was asked
    wait_for(lambda: "appeal.split" in types_of(tap, origin["case_no"]), message="appeal.split")
    settled(api)
    assert types_of(tap, origin["case_no"]).count("appeal.split") == 1
