"""Every state an appeal waits in has a clock (#13), on the real broker: a return waits for the hotline centre's
review (退单审核), an approved return for re-dispatch, a reply for its call-back (回访); each is warned with one
working day left, overdue after its limit and escalated one working day later, addressed to the hotline centre
(no department), once; a dispatch not signed for (签收) within the acceptance limit is told once; an approved
return is not counted against the department and a rejected one is (the events say which); late reports fire
these alarms at their real moments."""

from datetime import datetime, timedelta

import pytest

from services.appeals.service import AppealsService
from services.kernel.keys import KeyStore
from tests.conftest import wait_for
from tests.e2e.test_appeal_lifecycle import TZ, Api, events, types_of

GRACE = 30
WED = datetime(2026, 11, 4, 10, 0, tzinfo=TZ)  # a Wednesday


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    from tests.support import Tap

    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("ZJJ", "SWJ", "HBJ"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri, LATE_REPORT_GRACE_SECONDS=GRACE)
    tap = Tap(fresh_amqp_uri, "appeals")
    start_service(AppealsService, cfg)
    return Api(cfg["base_url"], keys), tap


def at(month, day, hour=0, minute=0, second=1):
    return datetime(2026, month, day, hour, minute, second, tzinfo=TZ)


def payloads(tap, case_no, event_type):
    return [p for t, p in events(tap, case_no) if t == event_type]


def wait_event(tap, case_no, event_type, count=1):
    return wait_for(lambda: (found := payloads(tap, case_no, event_type)) and len(found) >= count and found,
                    message=f"{count} × {event_type} of {case_no} (have {types_of(tap, case_no)})")


def settled(api):
    """The monitor has ticked past the frozen moment and the outbox is empty: what was due is on the bus."""
    wait_for(lambda: api.ok("GET", "/health", "operator")["outbox"]["pending"] == 0, message="outbox drained")


def test_a_returned_case_is_warned_and_escalated_while_nobody_reviews_or_redispatches_it(env, frozen):
    api, tap = env
    frozen(WED)
    a = api.intake(category="water", appellant={"anonymous": True})  # SWJ
    n = a["case_no"]
    returned = api.act(a["id"], "return", "SWJ", {"reason": "属于环保部门职责"})
    assert returned["status"] == "return_pending" and returned["status_zh"] == "退单待审核"
    # the review is due within one working day: the end of Thursday
    assert returned["wait"] == {"since": "2026-11-04T10:00:00+08:00", "due_at": "2026-11-05T23:59:59.999999+08:00"}

    frozen(at(11, 5))  # the last day of the review begins
    warning = wait_event(tap, n, "appeal.return_review_warning")[0]
    assert warning["department"] is None and warning["returned_by"] == "SWJ"
    frozen(at(11, 6))
    overdue = wait_event(tap, n, "appeal.return_review_overdue")[0]
    assert overdue["department"] is None and overdue["wait_due_at"].startswith("2026-11-05T23:59:59")
    frozen(at(11, 10))  # one working day after it became overdue (Monday 9th), counted from the day after
    wait_event(tap, n, "appeal.return_review_escalated")

    frozen(at(11, 10, 9))
    approved = api.act(a["id"], "review-return", "operator", {"decision": "approved", "note": "确属环保职责"})
    assert approved["status"] == "awaiting_dispatch" and approved["wait"]["due_at"].startswith("2026-11-11T23:59")
    reviewed = wait_event(tap, n, "appeal.return_reviewed")[0]
    # approved: the return is justified and costs SWJ nothing
    assert (reviewed["decision"], reviewed["returned_by"], reviewed["department"], reviewed["by"]) == (
        "approved", "SWJ", None, "test-operator")

    frozen(at(11, 11))
    wait_event(tap, n, "appeal.dispatch_warning")
    frozen(at(11, 12))
    assert wait_event(tap, n, "appeal.dispatch_overdue")[0]["department"] is None
    frozen(at(11, 14))  # Friday 13th counted: escalated at its end
    wait_event(tap, n, "appeal.dispatch_escalated")

    frozen(at(11, 16, 9))
    dispatched = api.act(a["id"], "dispatch", "operator", {"department": "HBJ"})
    assert dispatched["wait"] is None and dispatched["status"] == "dispatched"
    frozen(at(11, 30, 10))
    settled(api)
    kinds = types_of(tap, n)
    for wait in ("return_review", "dispatch"):
        for stage in ("warning", "overdue", "escalated"):
            assert kinds.count(f"appeal.{wait}_{stage}") == 1, (wait, stage, kinds)
    assert "appeal.callback_overdue" not in kinds


def test_a_rejected_return_goes_back_counted_with_a_new_acceptance_limit(env, frozen):
    api, tap = env
    frozen(WED)
    a = api.intake(category="water", appellant={"anonymous": True})
    n = a["case_no"]
    api.act(a["id"], "review-return", "operator", {"decision": "approved"}, status=409)  # no return pending
    api.act(a["id"], "return", "SWJ", {"reason": "不是我们的"})
    api.act(a["id"], "review-return", "SWJ", {"decision": "rejected"}, status=403)
    bad = api.call("POST", f"/api/v1/appeals/{a['id']}/review-return", "operator", {"decision": "maybe"})
    assert bad.status_code == 400 and "decision" in bad.json()["errors"]
    frozen(WED + timedelta(hours=2))
    back = api.act(a["id"], "review-return", "operator", {"decision": "rejected", "note": "供水属于水务局职责"})
    assert (back["status"], back["department"], back["returned_by"]) == ("dispatched", "SWJ", "SWJ")
    assert back["dispatched_at"].startswith("2026-11-04T12:00") and back["wait"] is None
    conflict = api.act(a["id"], "review-return", "operator", {"decision": "approved"}, status=409)
    assert "退单" in conflict["error"]["message_zh"]
    reviewed = wait_event(tap, n, "appeal.return_reviewed")[0]
    # rejected: an unjustified return, counted against the department that made it
    assert (reviewed["decision"], reviewed["returned_by"], reviewed["department"]) == ("rejected", "SWJ", "SWJ")
    assert types_of(tap, n)[-2:] == ["appeal.return_reviewed", "appeal.dispatched"]
    frozen(at(11, 6))  # the new acceptance limit (from the rejection) has run out unsigned
    late = wait_event(tap, n, "appeal.acceptance_overdue")[0]
    assert late["dispatched_at"].startswith("2026-11-04T12:00") and late["department"] == "SWJ"


def test_acceptance_overdue_once_and_not_for_a_case_signed_returned_or_redispatched_in_time(env, frozen):
    api, tap = env
    frozen(WED)
    unsigned = api.intake(category="road", appellant={"anonymous": True}, content="一")
    signed = api.intake(category="road", appellant={"anonymous": True}, content="二")
    returned = api.intake(category="road", appellant={"anonymous": True}, content="三")
    moved = api.intake(category="road", appellant={"anonymous": True}, content="四")
    api.act(signed["id"], "accept", "ZJJ")
    api.act(returned["id"], "return", "ZJJ", {"reason": "不属于本单位"})
    frozen(at(11, 5, 9))
    api.act(moved["id"], "dispatch", "operator", {"department": "HBJ"})  # a new limit: the end of Friday

    frozen(at(11, 6))  # the first limit (the end of Thursday) has passed
    found = wait_event(tap, unsigned["case_no"], "appeal.acceptance_overdue")[0]
    assert found["department"] == "ZJJ" and found["dispatched_at"].startswith("2026-11-04T10:00")
    view = api.ok("GET", f"/api/v1/appeals/{unsigned['id']}", "monitor")
    assert view["acceptance_overdue"] is True
    # signing for it late still says late
    frozen(at(11, 6, 9))
    api.act(unsigned["id"], "accept", "ZJJ")
    wait_for(lambda: payloads(tap, unsigned["case_no"], "appeal.accepted"), message="accepted")
    assert payloads(tap, unsigned["case_no"], "appeal.accepted")[0]["in_time"] is False
    frozen(at(11, 7))
    wait_event(tap, moved["case_no"], "appeal.acceptance_overdue")
    frozen(at(11, 20, 10))
    settled(api)
    for case in (signed, returned):
        assert "appeal.acceptance_overdue" not in types_of(tap, case["case_no"]), types_of(tap, case["case_no"])
    for case in (unsigned, moved):
        assert types_of(tap, case["case_no"]).count("appeal.acceptance_overdue") == 1


def test_a_replied_case_is_warned_and_escalated_when_nobody_calls_back(env, frozen):
    api, tap = env
    frozen(WED)
    a = api.intake(category="road", appellant={"anonymous": True})
    n = a["case_no"]
    api.act(a["id"], "accept", "ZJJ")
    replied = api.act(a["id"], "reply", "ZJJ", {"reply": "已修复"})
    # three working days for the call-back: Thursday, Friday, Monday
    assert replied["wait"]["due_at"] == "2026-11-09T23:59:59.999999+08:00"
    frozen(at(11, 9))
    warning = wait_event(tap, n, "appeal.callback_warning")[0]
    assert warning["department"] is None and warning["replied_by"] == "ZJJ"
    frozen(at(11, 10))
    wait_event(tap, n, "appeal.callback_overdue")
    frozen(at(11, 12))
    wait_event(tap, n, "appeal.callback_escalated")
    frozen(at(11, 12, 9))
    closed = api.act(a["id"], "callback", "operator", {"satisfaction": "satisfied", "resolved": True})
    assert closed["status"] == "closed" and closed["wait"] is None
    frozen(at(11, 30, 10))
    settled(api)
    kinds = types_of(tap, n)
    for stage in ("warning", "overdue", "escalated"):
        assert kinds.count(f"appeal.callback_{stage}") == 1, kinds


def test_a_callback_in_time_stops_its_clock(env, frozen):
    api, tap = env
    frozen(WED)
    a = api.intake(category="road", appellant={"anonymous": True})
    api.act(a["id"], "accept", "ZJJ")
    api.act(a["id"], "reply", "ZJJ", {"reply": "已修复"})
    api.act(a["id"], "callback", "operator", {"satisfaction": "satisfied", "resolved": True})
    frozen(at(11, 20, 10))
    settled(api)
    # a later case's call-back overdue proves the monitor ran past this one's moments without firing them
    b = api.intake(category="road", appellant={"anonymous": True}, content="另一件")
    api.act(b["id"], "accept", "ZJJ")
    api.act(b["id"], "reply", "ZJJ", {"reply": "已处理"})
    frozen(at(11, 30, 10))
    wait_event(tap, b["case_no"], "appeal.callback_overdue")
    assert not [t for t in types_of(tap, a["case_no"]) if t.startswith("appeal.callback_")
                and t != "appeal.callback_recorded"]


def march(day, hour=10):
    return datetime(2026, 3, day, hour, 0, tzinfo=TZ).isoformat()


def test_late_reports_fire_the_new_alarms_at_their_real_moments(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 26, 10, 0, tzinfo=TZ))
    a = api.intake(category="water", type="complaint", received_at=march(2), appellant={"anonymous": True})
    n, aid = a["case_no"], a["id"]
    api.act(aid, "accept", "SWJ", {"at": march(2, 15)})
    api.act(aid, "return", "SWJ", {"reason": "属于环保部门职责", "at": march(3)})
    # reviewed a week later: the review was due at the end of 4 March
    api.act(aid, "review-return", "operator", {"decision": "approved", "at": march(10)})
    # dispatched two days after the approval: re-dispatch was due at the end of 11 March
    api.act(aid, "dispatch", "operator", {"department": "HBJ", "at": march(12)})
    api.act(aid, "accept", "HBJ", {"at": march(13)})
    api.act(aid, "reply", "HBJ", {"reply": "已处理", "at": march(13, 15)})
    # called back a week later: the call-back was due at the end of 18 March
    closed = api.act(aid, "callback", "operator", {"satisfaction": "satisfied", "resolved": True, "at": march(20)})
    assert closed["status"] == "closed"
    expected = [
        ("appeal.received", "2026-03-02T10:00"), ("appeal.dispatched", "2026-03-02T10:00"),
        ("appeal.accepted", "2026-03-02T15:00"), ("appeal.returned", "2026-03-03T10:00"),
        ("appeal.return_review_warning", "2026-03-04T00:00"), ("appeal.return_review_overdue", "2026-03-05T00:00"),
        ("appeal.return_review_escalated", "2026-03-07T00:00"), ("appeal.return_reviewed", "2026-03-10T10:00"),
        ("appeal.dispatch_warning", "2026-03-11T00:00"), ("appeal.dispatch_overdue", "2026-03-12T00:00"),
        ("appeal.dispatched", "2026-03-12T10:00"), ("appeal.accepted", "2026-03-13T10:00"),
        ("appeal.replied", "2026-03-13T15:00"), ("appeal.callback_warning", "2026-03-18T00:00"),
        ("appeal.callback_overdue", "2026-03-19T00:00"), ("appeal.callback_recorded", "2026-03-20T10:00"),
        ("appeal.closed", "2026-03-20T10:00"),
    ]

    def seen():
        return [(m["event_type"], m["occurred_at"][:16]) for m in tap.drain() if m["payload"].get("case_no") == n]

    wait_for(lambda: seen() == expected, message=f"the late report's events (have {seen()})")
    # past the grace nothing else fires: every clock was stopped by the step that ended its wait
    frozen(datetime(2026, 11, 26, 10, 0, tzinfo=TZ) + timedelta(seconds=GRACE + 1))
    settled(api)
    assert seen() == expected


def test_the_hotline_centre_hears_of_an_overdue_callback_on_the_console_and_by_notification(
        service_config, start_service, api_keys, keys_file, fresh_amqp_uri, frozen):
    from services.notify.service import NotifyService

    keys = {**api_keys, "ZJJ": KeyStore(keys_file).add("handler-ZJJ-notify", "department_handler", "ZJJ")}
    appeals_cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri)
    notify_cfg = service_config("notify", AMQP_URI=fresh_amqp_uri)
    start_service(NotifyService, notify_cfg)  # first: its queues are bound before appeals publishes
    start_service(AppealsService, appeals_cfg)
    api, notify = Api(appeals_cfg["base_url"], keys), Api(notify_cfg["base_url"], keys)
    frozen(WED)
    a = api.intake(category="road", appellant={"anonymous": True})
    api.act(a["id"], "accept", "ZJJ")
    api.act(a["id"], "reply", "ZJJ", {"reply": "已修复"})
    frozen(at(11, 10))  # the call-back was due by the end of Monday 9th

    def alert():
        found = [x for x in notify.call("GET", "/api/v1/console/alerts?state=all", "monitor").json()
                 if x["ref_no"] == a["case_no"]]
        return found and found[0]

    item = wait_for(alert, message="the console's alert")
    assert (item["kind"], item["level"], item["department"], item["title_zh"]) == (
        "appeal.callback_overdue", "yellow", None, "答复后超时未回访")

    def delivered():
        r = notify.call("GET", "/api/v1/deliveries", "monitor")
        return [d for d in r.json()["items"] if d["event_type"] == "appeal.callback_overdue"]

    d = wait_for(delivered, message="the delivery")[0]
    assert a["case_no"] in d["subject"] and "回访" in d["subject"]
    # the call-back comes at last (unsatisfied: the case is reopened, not closed): the wait's alert is done with
    api.act(a["id"], "callback", "operator", {"satisfaction": "unsatisfied", "resolved": False})
    wait_for(lambda: (x := alert()) and x["state"] == "resolved", message="the console's alert resolved")
    assert api.ok("GET", f"/api/v1/appeals/{a['id']}", "operator")["status"] != "closed"
