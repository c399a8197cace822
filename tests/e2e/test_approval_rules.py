"""The approval rules end to end, on the real broker with a frozen clock: each clock rule (DOMAIN.md's make-up
working day, Spring Festival, a hearing across National Day, an extension, a due date in a year without
calendar, deemed acceptance), each irregularity of issue 4 stored once and published once, and each alert
level firing exactly once however often the monitor looks again."""

from datetime import datetime

import pytest

from services.approvals.service import ApprovalsService
from services.kernel import clock
from services.kernel.keys import KeyStore
from tests.conftest import wait_for
from tests.e2e.approvals_client import ApprovalsApi as Api
from tests.support import Tap

TZ = clock.TZ
END_OF_DAY = "T23:59:59.999999+08:00"


@pytest.fixture
def make_env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    def make(**overrides):
        store = KeyStore(keys_file)
        keys = dict(api_keys)
        keys["SCJGJ"] = store.add("handler-SCJ", "department_handler", "SCJGJ")
        cfg = service_config("approvals", AMQP_URI=fresh_amqp_uri, **overrides)
        tap = Tap(fresh_amqp_uri, "approvals")
        start_service(ApprovalsService, cfg)
        return Api(cfg["base_url"], keys), tap

    return make


@pytest.fixture
def env(make_env):
    return make_env()


def events(tap, application_id):
    return [(m["event_type"], m["payload"]) for m in tap.drain()
            if m["payload"].get("application_id") == str(application_id)]


def of_type(tap, application_id, event_type):
    return [p for t, p in events(tap, application_id) if t == event_type]


def wait_event(tap, application_id, event_type, count=1):
    return wait_for(lambda: (found := of_type(tap, application_id, event_type)) and len(found) >= count and found,
                    message=f"{count} × {event_type} of {application_id}")


def at(*parts):
    return datetime(*parts, tzinfo=TZ)


def iso(*parts):
    return at(*parts).isoformat()


def assert_one_irregularity(api, tap, application_id, code, refused):
    """Exactly one stored irregularity alert and exactly one monitor.irregularity event, with this code."""
    wait_event(tap, application_id, "monitor.irregularity")
    api.drained()
    published = of_type(tap, application_id, "monitor.irregularity")
    assert [(p["code"], p["refused"]) for p in published] == [(code, refused)], published
    stored = api.alerts(application_id=application_id, level="irregularity")
    assert [(x["details"]["code"], x["state"]) for x in stored] == [(code, "open")], stored
    alert, event = stored[0], published[0]
    assert alert["rule"].startswith(f"{code}@") and event["rule"] == alert["rule"]
    assert event["alert_id"] == str(alert["id"]) and event["department"] == alert["department"]
    assert alert["details"]["description_zh"] and alert["details"]["severity"] in ("high", "medium")
    assert event["description_zh"] == alert["details"]["description_zh"]
    return alert, event


# -- the clock rules --------------------------------------------------------------------------------------


def test_a_make_up_working_day_counts(env, frozen):
    """DOMAIN.md: accepted 2026-09-30 with 5 working days is due at the end of 2026-10-13."""
    api, tap = env
    frozen(at(2026, 9, 30, 10, 0))
    a = api.submit()
    c = api.act(a["id"], "accept")["clock"]
    assert (c["limit_days"], c["start_date"], c["due_at"]) == (5, "2026-10-08", "2026-10-13" + END_OF_DAY)
    frozen(at(2026, 10, 7, 23, 0))  # the holiday week: nothing counted yet
    assert api.get(a["id"])["clock"]["elapsed"] == 0
    frozen(at(2026, 10, 11, 12, 0))  # Sunday after the make-up Saturday: Oct 8, 9 and 10 counted
    c = api.get(a["id"])["clock"]
    assert (c["elapsed"], c["remaining"], c["light"]) == (3, 2, "green")
    acc = wait_event(tap, a["id"], "application.accepted")[0]
    assert acc["due_at"] == "2026-10-13" + END_OF_DAY and acc["limit_days"] == 5


def test_a_limit_running_across_the_spring_festival(env, frozen):
    """2026: Saturday Feb 14 is a make-up working day, Feb 15–23 are holidays."""
    api, tap = env
    frozen(at(2026, 2, 12, 15, 0))
    a = api.submit()
    c = api.act(a["id"], "accept")["clock"]
    # counted: Feb 13, Feb 14 (Saturday, make-up), Feb 24, 25, 26
    assert (c["start_date"], c["due_at"]) == ("2026-02-13", "2026-02-26" + END_OF_DAY)
    frozen(at(2026, 2, 23, 18, 0))  # the last day of the holiday: two used
    c = api.get(a["id"])["clock"]
    assert (c["elapsed"], c["remaining"], c["light"]) == (2, 3, "green")
    frozen(at(2026, 2, 27, 0, 0, 1))  # overdue: the yellow card
    y = wait_event(tap, a["id"], "monitor.yellow_card")[0]
    assert y["due_at"] == "2026-02-26" + END_OF_DAY
    assert api.get(a["id"])["clock"]["light"] == "red"


def test_a_hearing_across_national_day_moves_the_due_date_by_the_working_days_inside_it(env, frozen):
    api, tap = env
    frozen(at(2026, 9, 28, 10, 0))
    a = api.submit(at=iso(2026, 9, 28, 9, 0))
    c = api.act(a["id"], "accept")["clock"]
    # without the hearing: Sep 29, Sep 30, Oct 8, 9, 10 (make-up Saturday)
    assert c["due_at"] == "2026-10-10" + END_OF_DAY
    frozen(at(2026, 9, 29, 10, 0))
    c = api.act(a["id"], "special-procedure/start", {"kind": "hearing"})["clock"]
    assert (c["paused"], c["due_at"]) == (True, None)
    frozen(at(2026, 10, 9, 15, 0))
    assert api.get(a["id"])["clock"]["paused"] is True
    c = api.act(a["id"], "special-procedure/end")["clock"]
    # inside the hearing, not counted: Sep 30, Oct 8 and Oct 9 (Oct 1–7 are holidays anyway): three
    # working days, so the due date moves from Oct 10 by three working days: Oct 12, 13, 14
    assert (c["paused"], c["due_at"]) == (False, "2026-10-14" + END_OF_DAY)
    assert [(p["kind"], p["started_at"], p["ended_at"]) for p in c["paused_intervals"]] == [
        ("hearing", iso(2026, 9, 29, 10, 0), iso(2026, 10, 9, 15, 0))]
    assert (c["elapsed"], c["remaining"]) == (1, 4)  # only Sep 29, the day the hearing started
    ended = wait_event(tap, a["id"], "application.special_procedure_ended")[0]
    assert (ended["kind"], ended["due_at"]) == ("hearing", "2026-10-14" + END_OF_DAY)
    started = of_type(tap, a["id"], "application.special_procedure_started")[0]
    assert started["kind"] == "hearing" and started["paused"] is True


def test_an_extension_moves_the_due_time_once_and_only_before_it(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    a = api.submit()
    b = api.submit()
    for x in (a, b):
        assert api.act(x["id"], "accept")["clock"]["due_at"] == "2026-11-09" + END_OF_DAY
    frozen(at(2026, 11, 6, 10, 0))
    ext = api.act(a["id"], "extend", {"days": 3, "approver": "局长", "reason": "需现场核查"})["clock"]
    assert (ext["due_at"], ext["limit_days"], ext["extension_days"]) == ("2026-11-12" + END_OF_DAY, 8, 3)
    err = api.act(a["id"], "extend", {"days": 2, "approver": "局长", "reason": "再延"}, status=409)["error"]
    assert err["message_zh"] == "办理期限只能延长一次"
    assert api.get(a["id"])["clock"]["due_at"] == "2026-11-12" + END_OF_DAY  # the refused one changed nothing
    assert_one_irregularity(api, tap, a["id"], "repeated_extension", refused=True)
    e = of_type(tap, a["id"], "application.extended")
    assert [(x["days"], x["previous_due_at"], x["due_at"]) for x in e] == [
        (3, "2026-11-09" + END_OF_DAY, "2026-11-12" + END_OF_DAY)]

    frozen(at(2026, 11, 10, 9, 0))  # b is overdue: too late to extend
    err = api.act(b["id"], "extend", {"days": 3, "approver": "局长", "reason": "需现场核查"}, status=409)["error"]
    assert err["message_zh"] == "延期须在办理期限届满前批准"
    assert api.get(b["id"])["clock"]["due_at"] == "2026-11-09" + END_OF_DAY
    assert_one_irregularity(api, tap, b["id"], "late_extension", refused=True)
    assert of_type(tap, b["id"], "application.extended") == []


def test_a_due_date_in_a_year_without_calendar_is_an_error_and_an_alert_never_a_guess(env, frozen):
    api, tap = env
    frozen(at(2026, 12, 21, 10, 0))
    item = {"code": "GTJ-001", "name": "建设用地规划许可", "department": "GTJ", "statutory_limit": 20,
            "materials": [{"code": "M1", "name": "申请表"}]}
    api.ok("PUT", "/api/v1/items", "operator", item)
    a = api.submit(item_code="GTJ-001", materials=["M1"])
    accepted = api.act(a["id"], "accept")
    c = accepted["clock"]
    assert accepted["state"] == "accepted" and c["limit_days"] == 20
    # 8 working days are left in 2026 and the package has no 2027 schedule: no Monday–Friday guess
    assert c["due_at"] is None and c["light"] is None and "2027" in c["error"]
    assert accepted.get("due_at") is None
    acc = wait_event(tap, a["id"], "application.accepted")[0]
    assert acc["due_at"] is None and "2027" in acc["clock_error"]
    warning = wait_event(tap, a["id"], "monitor.warning")[0]
    assert (warning["rule"], warning["level"]) == ("calendar_unavailable", "warning")
    api.drained()
    alerts = api.alerts(application_id=a["id"])
    assert [(x["level"], x["rule"]) for x in alerts] == [("warning", "calendar_unavailable")]
    assert "2027" in alerts[0]["details"]["error"]
    assert len(of_type(tap, a["id"], "monitor.warning")) == 1
    frozen(at(2026, 12, 31, 18, 0))  # still no guess at the end of the year
    c = api.get(a["id"])["clock"]
    assert c["due_at"] is None and "2027" in c["error"]


def test_no_supplement_notice_within_five_working_days_is_a_deemed_acceptance(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    a = api.submit(item_code="HBJ-001", materials=["M1", "M2"])  # 10 working days
    assert a["clock"] is None
    frozen(at(2026, 11, 9, 23, 0))  # the fifth working day after receipt: still time for a notice
    assert api.get(a["id"])["state"] == "submitted"
    frozen(at(2026, 11, 10, 0, 0, 1))
    acc = wait_event(tap, a["id"], "application.accepted")[0]
    assert acc["deemed"] is True and acc["clock_started_at"] == iso(2026, 11, 2, 10, 0)
    assert acc["due_at"] == "2026-11-16" + END_OF_DAY  # counted from Nov 3, the day after receipt
    view = api.get(a["id"])
    assert (view["state"], view["deemed_accepted"]) == ("accepted", True)
    c = view["clock"]
    assert (c["started_at"], c["start_date"], c["due_at"]) == (
        iso(2026, 11, 2, 10, 0), "2026-11-03", "2026-11-16" + END_OF_DAY)
    assert (round(c["elapsed"], 3), round(c["remaining"], 3)) == (5, 5)  # a second into Nov 10
    assert view["history"][-1]["action"] == "deem_accepted"


# -- irregularities (纠错), each detected when the action arrives --------------------------------------------


def test_irregularity_decision_without_acceptance(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    a = api.submit()
    api.act(a["id"], "decide", {"approved": True}, status=409)
    alert, event = assert_one_irregularity(api, tap, a["id"], "decision_without_acceptance", refused=True)
    assert event["severity"] == "high" and api.get(a["id"])["state"] == "submitted"


def test_irregularity_a_second_supplement_request(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    a = api.submit(materials=["M1"])
    api.act(a["id"], "request-supplement", {"missing": ["M2", "M3"], "note": "一次告知"})
    api.act(a["id"], "supplement-received")
    second = api.act(a["id"], "request-supplement", {"missing": ["M4"]})
    assert (second["state"], second["supplement_count"]) == ("supplement_requested", 2)
    alert, _ = assert_one_irregularity(api, tap, a["id"], "repeated_supplement_request", refused=False)
    assert alert["details"]["description_zh"] == "多次要求申请人补正材料，违反一次告知"


def test_irregularity_a_supplement_request_after_acceptance(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    a = api.submit()
    api.act(a["id"], "accept")
    after = api.act(a["id"], "request-supplement", {"missing": ["M4"]})
    assert after["state"] == "accepted" and after["clock"]["due_at"] == "2026-11-09" + END_OF_DAY  # clock runs on
    assert_one_irregularity(api, tap, a["id"], "supplement_after_acceptance", refused=False)


def test_irregularity_a_refusal_without_a_reason(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    a = api.submit()
    err = api.act(a["id"], "refuse", {"reason": "  "}, status=409)["error"]
    assert err["message_zh"] == "不予受理须说明理由"
    assert_one_irregularity(api, tap, a["id"], "refusal_without_reason", refused=True)
    assert api.get(a["id"])["state"] == "submitted"


def test_irregularity_an_extension_after_the_due_time(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    a = api.submit()
    api.act(a["id"], "accept")
    frozen(at(2026, 11, 10, 10, 0))
    api.act(a["id"], "extend", {"days": 2, "approver": "局长", "reason": "补办"}, status=409)
    assert_one_irregularity(api, tap, a["id"], "late_extension", refused=True)


def test_irregularity_a_second_extension(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    a = api.submit()
    api.act(a["id"], "accept")
    api.act(a["id"], "extend", {"days": 2, "approver": "局长", "reason": "现场核查"})
    api.act(a["id"], "extend", {"days": 2, "approver": "局长", "reason": "再次核查"}, status=409)
    assert_one_irregularity(api, tap, a["id"], "repeated_extension", refused=True)


def test_irregularity_a_special_procedure_open_longer_than_configured(make_env, frozen):
    api, tap = make_env(APPROVALS={"SPECIAL_PROCEDURE_MAX_DAYS": 10})
    frozen(at(2026, 3, 2, 10, 0))
    a = api.submit()
    api.act(a["id"], "accept")
    frozen(at(2026, 3, 3, 10, 0))
    api.act(a["id"], "special-procedure/start", {"kind": "expert_review"})
    frozen(at(2026, 3, 13, 10, 0, 1))  # ten calendar days and a second: the monitor raises it
    alert, event = assert_one_irregularity(api, tap, a["id"], "special_procedure_overrun", refused=False)
    assert alert["rule"] == "special_procedure_overrun@" + iso(2026, 3, 13, 10, 0)
    frozen(at(2026, 3, 20, 10, 0))  # ended late: the same irregularity, not a second alert
    ended = api.act(a["id"], "special-procedure/end")
    assert ended["clock"]["paused"] is False
    wait_event(tap, a["id"], "application.special_procedure_ended")
    assert_one_irregularity(api, tap, a["id"], "special_procedure_overrun", refused=False)


def test_irregularity_a_time_in_the_future(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    a = api.submit()
    err = api.act(a["id"], "accept", {"at": iso(2026, 11, 2, 11, 0)}, status=409)["error"]
    assert err["message_zh"] == "办理时间晚于当前时间"
    _, event = assert_one_irregularity(api, tap, a["id"], "future_time", refused=True)
    assert api.get(a["id"])["state"] == "submitted"


def test_irregularity_a_time_out_of_order(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 12, 0))
    a = api.submit(at=iso(2026, 11, 2, 10, 0))
    err = api.act(a["id"], "accept", {"at": iso(2026, 11, 2, 9, 30)}, status=409)["error"]
    assert err["message_zh"] == "办理时间早于上一环节"
    _, event = assert_one_irregularity(api, tap, a["id"], "out_of_order_time", refused=True)
    assert event["at"] == iso(2026, 11, 2, 9, 30)
    assert api.get(a["id"])["state"] == "submitted"


def test_irregularity_acceptance_of_an_item_the_window_may_not_decide(env, frozen):
    """窗口服务、后台决定: the window accepted an item it is not fully authorised for."""
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    item = {"code": "WJW-001", "name": "医疗机构执业许可", "department": "WJW", "statutory_limit": 20,
            "committed_limit": 10, "fully_authorised": False, "materials": [{"code": "M1", "name": "申请书"}]}
    assert api.ok("PUT", "/api/v1/items", "operator", item)["fully_authorised"] is False
    a = api.submit(item_code="WJW-001", materials=["M1"])
    accepted = api.act(a["id"], "accept")
    assert accepted["state"] == "accepted" and accepted["clock"]["limit_days"] == 10
    alert, event = assert_one_irregularity(api, tap, a["id"], "window_not_authorised", refused=False)
    assert alert["department"] == "WJW" and event["item_code"] == "WJW-001"


# -- the alert levels ---------------------------------------------------------------------------------------


def test_each_alert_level_fires_exactly_once(env, frozen):
    api, tap = env
    frozen(at(2026, 11, 2, 10, 0))
    a = api.submit(item_code="HBJ-001", materials=["M1", "M2"])
    # 10 working days from Nov 3: 80 % used at the end of Nov 12, one day left at the end of Nov 13,
    # due at the end of Nov 16, red card five working days later (end of Nov 23)
    assert api.act(a["id"], "accept")["clock"]["due_at"] == "2026-11-16" + END_OF_DAY
    steps = (
        (at(2026, 11, 13, 0, 0, 1), "monitor.warning", 1, "warning_fraction"),
        (at(2026, 11, 16, 0, 0, 1), "monitor.warning", 2, "warning_days_left"),
        (at(2026, 11, 17, 0, 0, 1), "monitor.yellow_card", 1, "yellow_card"),
        (at(2026, 11, 24, 0, 0, 1), "monitor.red_card", 1, "red_card"),
    )
    for moment, event_type, count, rule in steps:
        frozen(moment)
        fired = wait_event(tap, a["id"], event_type, count)
        assert fired[-1]["rule"] == rule, (moment, fired)
    # more ticks, and every alarm of the application rescheduled into the past (a supplement notice after
    # acceptance recomputes them): nothing fires twice
    frozen(at(2026, 12, 1, 10, 0))
    api.act(a["id"], "request-supplement", {"missing": ["M3"]})
    # a later application whose deemed-acceptance alarm is past too: the monitor claims alarms in time order,
    # so once this one fired every re-scheduled alarm above has been looked at
    sentinel = api.submit(item_code="HBJ-001", materials=["M1", "M2"], at=iso(2026, 11, 20, 10, 0))
    wait_event(tap, sentinel["id"], "application.accepted")
    api.drained()
    types = [t for t, _ in events(tap, a["id"])]
    for event_type, n in (("monitor.warning", 2), ("monitor.yellow_card", 1), ("monitor.red_card", 1),
                          ("monitor.irregularity", 1)):
        assert types.count(event_type) == n, (event_type, types)
    alerts = api.alerts(application_id=a["id"])
    assert sorted((x["level"], x["rule"].split("@")[0]) for x in alerts) == [
        ("irregularity", "supplement_after_acceptance"), ("red", "red_card"), ("warning", "warning_days_left"),
        ("warning", "warning_fraction"), ("yellow", "yellow_card")]



def test_a_red_card_moment_in_a_year_without_calendar_is_alerted_not_dropped(env, frozen):
    api, tap = env
    frozen(at(2026, 12, 18, 10, 0))
    a = api.submit()
    # due at the end of Dec 25; the red card would come five working days later: Dec 28–31, then January 2027
    assert api.act(a["id"], "accept")["clock"]["due_at"] == "2026-12-25" + END_OF_DAY
    frozen(at(2026, 12, 31, 12, 0))
    wait_event(tap, a["id"], "monitor.yellow_card")
    api.drained()
    rules = {x["rule"] for x in api.alerts(application_id=a["id"])}
    # the monitors must hear that the red card cannot be scheduled
    assert "calendar_unavailable" in rules or "red_card" in rules, rules


def test_a_notice_period_running_into_a_year_without_calendar_says_which_year(env, frozen):
    api, tap = env
    frozen(at(2026, 12, 28, 10, 0))
    a = api.submit()  # the five working days for a supplement notice run into 2027
    assert a["state"] == "submitted"
    warning = wait_event(tap, a["id"], "monitor.warning")[0]
    assert warning["rule"] == "calendar_unavailable"
    alerts = api.alerts(application_id=a["id"])
    assert [x["rule"] for x in alerts] == ["calendar_unavailable"]
    assert "2027" in (alerts[0]["details"]["error"] or ""), alerts[0]["details"]
