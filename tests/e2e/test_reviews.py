"""好差评 end to end on the real broker with a frozen clock: a review at the window's evaluation device (retry-safe,
one per application, only once the application has an outcome), a review on the public page with the receipt's
query code (nothing of the applicant in the answer or the event), a bad review followed up by its department in
time and re-reviewed (the final one), one overdue and alerted once, the monthly summary's figures, and — with the
real scoring and notify services — the scoring facts (an application counted once, with its final level) and the
department's duty contact told once of the bad review and once of the overdue follow-up."""

from datetime import datetime

import pytest
import requests
import yaml

from services.kernel import clock
from services.notify.service import NotifyService
from services.scoring.service import ScoringService
from tests.conftest import wait_for
from tests.e2e.approvals_client import APPLICANT, start_approvals
from tests.e2e.test_approval_lifecycle import types_of, wait_event
from tests.support import publish_raw

TZ = clock.TZ
MON = datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
# 15 working days after Monday 2 November 2026: Monday 23 November, the whole day
DUE = "2026-11-23T23:59:59.999999+08:00"
BAD = {"level": "unsatisfied", "text": "窗口让我跑了三趟，电话 13812345678", "aspects": ["guidance", "efficiency"]}
GOOD = {"level": "very_satisfied", "text": "办事很快", "aspects": []}


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    return start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)


def ended(api, item="SCJ-001", materials=("M1", "M2", "M3")):
    """An application received, accepted and decided: it may be reviewed."""
    app = api.submit(item_code=item, materials=materials)
    api.act(app["id"], "accept")
    api.act(app["id"], "decide", {"approved": True})
    return app


def review_path(app):
    return f"/api/v1/applications/{app['id']}/review"


def public(api, body):
    return requests.post(f"{api.base}/public/v1/reviews", json=body, timeout=10)


def by_code(app, review):
    return {"application_no": app["application_no"], "query_code": app["query_code"], **review}


def reviews(api, who="monitor", **params):
    return api.ok("GET", "/api/v1/reviews", who, **params)


def test_a_window_review_once_per_application_retry_safe(env, frozen):
    api, tap = env
    frozen(MON)
    app = ended(api)
    first = api.ok("POST", review_path(app), "window_system", GOOD, status=201)
    assert (first["level"], first["level_zh"], first["round"], first["final"], first["channel"], first["bad"]) == (
        "very_satisfied", "非常满意", 1, True, "window", False)
    assert (first["department"], first["follow_up_state"], first["text"]) == ("SCJGJ", None, "办事很快")
    assert api.ok("POST", review_path(app), "window_system", GOOD, status=200) == first  # a retry: the first answer
    other = api.call("POST", review_path(app), "window_system", {**GOOD, "level": "satisfied"})
    assert other.status_code == 409 and other.json()["error"]["message_zh"] == "该办件已评价，每件只能评价一次"
    assert public(api, by_code(app, {"level": "satisfied"})).status_code == 409

    # only once the application has an outcome; bad input is 400 with the field; roles
    running = api.submit()
    refused = api.call("POST", review_path(running), "window_system", GOOD)
    assert refused.status_code == 409 and "办结后方可评价" in refused.json()["error"]["message_zh"]
    assert api.call("POST", "/api/v1/applications/999999/review", "window_system", GOOD).status_code == 404
    for body, field in (({"level": "great"}, "level"), ({**GOOD, "aspects": ["price"]}, "aspects"),
                        ({**GOOD, "aspects": ["attitude", "attitude"]}, "aspects"),
                        ({**GOOD, "text": "长" * 501}, "text"), ({}, "level")):
        r = api.call("POST", review_path(running), "window_system", body)
        assert r.status_code == 400 and field in r.json()["errors"], (body, r.text)
    for who in ("monitor", "SCJGJ", "operator"):
        assert api.call("POST", review_path(app), who, GOOD).status_code == 403
    assert requests.post(f"{api.base}{review_path(app)}", json=GOOD, timeout=10).status_code == 401

    [event] = wait_event(tap, app["id"], "review.recorded")
    assert (event["level"], event["bad"], event["final"], event["channel"], event["round"], event["department"]) == (
        "very_satisfied", False, True, "window", 1, "SCJGJ")
    assert event["review_id"] == str(first["id"]) and event["application_no"] == app["application_no"]
    assert "text" not in event and "办事很快" not in str(event)
    api.drained()
    assert types_of(tap, app["id"]).count("review.recorded") == 1
    assert "review.recorded" not in types_of(tap, running["id"])


def test_a_public_review_with_the_receipts_code_tells_nothing_personal(env, frozen):
    api, tap = env
    frozen(MON)
    app = api.submit()
    api.act(app["id"], "refuse", {"reason": "不属于本部门受理范围"})  # 不予受理: an outcome, reviewable
    wrong = public(api, {"application_no": app["application_no"], "query_code": "WRONG1", **GOOD})
    unknown = public(api, {"application_no": "NO-SUCH-1", "query_code": app["query_code"], **GOOD})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["error"]["message_zh"] == unknown.json()["error"]["message_zh"]
    assert public(api, {"application_no": app["application_no"], **GOOD}).status_code == 400
    text = f"{APPLICANT}的经办人态度很差，身份证 330102199001011234"
    r = public(api, by_code(app, {"level": "very_unsatisfied", "text": text, "aspects": ["attitude"]}))
    assert r.status_code == 201, r.text
    answer = r.json()
    assert (answer["application_no"], answer["level_zh"], answer["round"], answer["final"]) == (
        app["application_no"], "非常不满意", 1, False)
    assert answer["follow_up_due_at"] == DUE and "再评价一次" in answer["message_zh"]
    for personal in (APPLICANT, "330102199001011234", "态度很差", "test-window_system"):
        assert personal not in r.text
    again = public(api, by_code(app, {"level": "very_unsatisfied", "text": text, "aspects": ["attitude"]}))
    assert again.status_code == 200 and again.json() == answer
    stored = reviews(api, application_id=app["id"])["items"]
    assert len(stored) == 1 and stored[0]["channel"] == "public" and stored[0]["by"] == "public"
    assert APPLICANT not in stored[0]["text"] and "[身份证号]" in stored[0]["text"]  # kept scrubbed
    [event] = wait_event(tap, app["id"], "review.recorded")
    assert (event["channel"], event["bad"], event["final"], event["follow_up_due_at"]) == ("public", True, False, DUE)
    assert APPLICANT not in str(event) and "态度" not in str(event)


def test_a_bad_review_followed_up_in_time_and_re_reviewed(env, frozen):
    api, tap = env
    frozen(MON)
    app = ended(api)
    bad = api.ok("POST", review_path(app), "window_system", BAD, status=201)
    assert (bad["follow_up_state"], bad["follow_up_due_at"], bad["final"]) == ("pending", DUE, False)
    assert bad["text"] == "窗口让我跑了三趟，电话 [电话]" and bad["aspects_zh"] == ["一次告知", "办事效率"]
    # no re-review before the department reported
    early = public(api, by_code(app, GOOD))
    assert early.status_code == 409 and "整改反馈后可再评价" in early.json()["error"]["message_zh"]
    path = f"/api/v1/reviews/{bad['id']}/follow-up"
    report = {"report": "经核实，窗口未一次告知补正材料；已约谈窗口人员并组织一次告知制度培训"}
    assert api.call("POST", path, "ZJJ", report).status_code == 404  # another department's: not even confirmed
    assert api.call("POST", "/api/v1/reviews/999999/follow-up", "SCJGJ", report).status_code == 404
    assert api.call("GET", f"/api/v1/reviews/{bad['id']}", "ZJJ").status_code == 404
    assert api.call("POST", path, "monitor", report).status_code == 403
    assert api.call("POST", path, "SCJGJ", {"report": "x"}).status_code == 400
    frozen(datetime(2026, 11, 10, 9, 0, tzinfo=TZ))
    done = api.ok("POST", path, "SCJGJ", report, status=201)
    assert (done["follow_up_state"], done["reported_by"], done["overdue"]) == ("reported", "handler-SCJGJ", False)
    assert api.ok("POST", path, "SCJGJ", report, status=200)["reported_at"] == done["reported_at"]
    assert api.call("POST", path, "SCJGJ", {"report": "另一份反馈"}).status_code == 409
    reported = wait_event(tap, app["id"], "review.follow_up_reported")[0]
    assert (reported["review_id"], reported["overdue"], reported["by"]) == (str(bad["id"]), False, "handler-SCJGJ")
    assert "约谈" not in str(reported)

    # the re-review (the same routes), final; nothing after it
    frozen(datetime(2026, 11, 11, 9, 0, tzinfo=TZ))
    again = public(api, by_code(app, {"level": "satisfied"}))
    assert again.status_code == 201 and (again.json()["round"], again.json()["final"]) == (2, True)
    assert public(api, by_code(app, {"level": "satisfied"})).status_code == 200  # its retry
    assert api.call("POST", review_path(app), "window_system", GOOD).status_code == 409
    first = api.ok("GET", f"/api/v1/reviews/{bad['id']}", "SCJGJ")
    assert (first["follow_up_state"], first["final_level"], first["level"]) == (
        "rereviewed", "satisfied", "unsatisfied")
    assert first["rereview_id"] is not None
    events = [p for t, p in [(m["event_type"], m["payload"]) for m in tap.drain()]
              if t == "review.recorded" and p["application_id"] == str(app["id"])]
    assert [(e["round"], e["level"], e["final"], e["replaces"]) for e in events] == [
        (1, "unsatisfied", False, None), (2, "satisfied", True, str(bad["id"]))]
    assert events[1]["at"] == events[0]["reviewed_at"]  # the application's rating counts in the first's month

    # the list: filters, and a department handler sees its own only
    assert reviews(api, follow_up="rereviewed")["total"] == 1
    assert reviews(api, "SCJGJ", level="unsatisfied")["items"][0]["id"] == bad["id"]
    assert reviews(api, "ZJJ")["total"] == 0 and reviews(api, "ZJJ", department="SCJGJ")["total"] == 0
    assert reviews(api, **{"from": "2026-11-11", "to": "2026-11-11"})["total"] == 1
    assert reviews(api, **{"from": "2026-11-03", "to": "2026-11-10"})["total"] == 0
    assert api.call("GET", "/api/v1/reviews", "monitor", **{"from": "2026-11-12", "to": "2026-11-11"}
                    ).status_code == 400
    assert api.call("GET", "/api/v1/reviews", "window_system").status_code == 403
    # past the due time: nothing is overdue
    frozen(datetime(2026, 11, 24, 9, 0, tzinfo=TZ))
    api.drained()
    assert "review.follow_up_overdue" not in types_of(tap, app["id"])


def test_an_overdue_follow_up_is_alerted_once(env, frozen):
    api, tap = env
    frozen(MON)
    app = ended(api)
    bad = api.ok("POST", review_path(app), "window_system", {"level": "very_unsatisfied"}, status=201)
    frozen(datetime(2026, 11, 23, 23, 59, tzinfo=TZ))  # the last day is still the department's
    api.drained()
    assert reviews(api, follow_up="overdue")["total"] == 0
    frozen(datetime(2026, 11, 24, 0, 1, tzinfo=TZ))
    [overdue] = wait_event(tap, app["id"], "review.follow_up_overdue")
    assert (overdue["review_id"], overdue["follow_up_due_at"], overdue["follow_up_days"], overdue["level"]) == (
        str(bad["id"]), DUE, 15, "very_unsatisfied")
    listed = wait_for(lambda: reviews(api, "SCJGJ", follow_up="overdue")["items"], message="listed overdue")
    assert [r["id"] for r in listed] == [bad["id"]] and listed[0]["overdue"]
    frozen(datetime(2026, 11, 25, 9, 0, tzinfo=TZ))
    late = api.ok("POST", f"/api/v1/reviews/{bad['id']}/follow-up", "SCJGJ", {"report": "已核实并整改，逾期反馈"},
                  status=201)
    assert late["overdue"] and late["follow_up_state"] == "reported"
    assert wait_event(tap, app["id"], "review.follow_up_reported")[0]["overdue"] is True
    frozen(datetime(2026, 12, 1, 9, 0, tzinfo=TZ))
    api.drained()
    assert types_of(tap, app["id"]).count("review.follow_up_overdue") == 1


def test_a_window_device_reporting_late_dates_the_review_and_its_follow_up_from_then(env, frozen):
    api, tap = env
    frozen(MON)
    app = ended(api)  # decided on Monday 2 November at 10:00
    frozen(datetime(2026, 11, 30, 9, 0, tzinfo=TZ))  # the device sends four weeks later, saying when
    before = api.call("POST", review_path(app), "window_system",
                      {"level": "unsatisfied", "at": "2026-11-02T09:00:00+08:00"})
    assert before.status_code == 409 and before.json()["error"]["message_zh"] == "评价时间早于办件办结时间"
    future = api.call("POST", review_path(app), "window_system",
                      {"level": "unsatisfied", "at": "2026-12-31T09:00:00+08:00"})
    assert future.status_code == 400 and list(future.json()["errors"]) == ["at"]
    bad = api.ok("POST", review_path(app), "window_system",
                 {"level": "unsatisfied", "at": "2026-11-02T12:00:00+08:00"}, status=201)
    assert bad["reviewed_at"] == "2026-11-02T12:00:00+08:00" and bad["follow_up_due_at"] == DUE
    # its follow-up was due a week ago: the monitor alerts it once, at its next look
    [overdue] = wait_event(tap, app["id"], "review.follow_up_overdue")
    assert overdue["review_id"] == str(bad["id"]) and overdue["follow_up_due_at"] == DUE
    [recorded] = wait_event(tap, app["id"], "review.recorded")
    assert recorded["reviewed_at"] == recorded["at"] == "2026-11-02T12:00:00+08:00"


def test_the_monthly_summary(env, frozen):
    api, tap = env
    frozen(MON)
    levels = ["very_satisfied", "satisfied", "basically_satisfied", "unsatisfied", "very_unsatisfied"]
    apps = [ended(api) for _ in levels]
    for app, level in zip(apps, levels, strict=True):
        api.ok("POST", review_path(app), "window_system", {"level": level}, status=201)
    zjj = ended(api, "ZJJ-001")
    api.ok("POST", review_path(zjj), "window_system", {"level": "satisfied"}, status=201)
    # the 不满意 one is followed up and re-reviewed 满意 in December: it counts in November, as 满意
    bad = reviews(api, application_id=apps[3]["id"])["items"][0]
    api.ok("POST", f"/api/v1/reviews/{bad['id']}/follow-up", "SCJGJ", {"report": "已整改到位"}, status=201)
    frozen(datetime(2026, 12, 1, 9, 0, tzinfo=TZ))
    api.ok("POST", review_path(apps[3]), "window_system", {"level": "satisfied"}, status=201)

    out = api.ok("GET", "/api/v1/reviews/summary", "assessor", month="2026-11")
    lines = {d["department"]: d for d in out["departments"]}
    assert set(lines) == {"SCJGJ", "ZJJ"}
    assert lines["SCJGJ"]["levels"] == {"very_satisfied": 1, "satisfied": 2, "basically_satisfied": 1,
                                        "unsatisfied": 0, "very_unsatisfied": 1}
    assert (lines["SCJGJ"]["total"], lines["SCJGJ"]["satisfied"], lines["SCJGJ"]["satisfaction_rate"]) == (5, 4, 80.0)
    assert (lines["ZJJ"]["total"], lines["ZJJ"]["satisfaction_rate"]) == (1, 100.0)
    assert (out["total"]["total"], out["total"]["satisfied"], out["total"]["satisfaction_rate"]) == (6, 5, 83.33)
    december = api.ok("GET", "/api/v1/reviews/summary", "monitor", month="2026-12")
    assert december["departments"] == [] and december["total"]["satisfaction_rate"] is None
    own = api.ok("GET", "/api/v1/reviews/summary", "ZJJ", month="2026-11")
    assert [d["department"] for d in own["departments"]] == ["ZJJ"]
    for month in ("2026-13", "2026-1", "november", ""):
        assert api.call("GET", "/api/v1/reviews/summary", "monitor", month=month).status_code == 400


SUBSCRIPTIONS = {
    "recipients": [{"code": "monitors", "name": "电子监察室", "kind": "group", "role": "monitor"},
                   {"code": "duty-SCJGJ", "name": "市场监管局值班室", "kind": "duty", "department": "SCJGJ"}],
    "subscriptions": [{"recipient": "@duty", "event_types": ["review.*"], "min_severity": "medium", "channel": "log"}],
}


@pytest.fixture
def city(service_config, start_service, api_keys, keys_file, fresh_amqp_uri, tmp_path):
    seed = tmp_path / "recipients.yaml"
    seed.write_text(yaml.safe_dump(SUBSCRIPTIONS, allow_unicode=True), encoding="utf-8")
    notify = service_config("notify", AMQP_URI=fresh_amqp_uri, SEED_NOTIFY=str(seed), NOTIFY={"QUIET_HOURS": "off"})
    scoring = service_config("scoring", AMQP_URI=fresh_amqp_uri)
    # the consumers first: their queues are bound before approvals publishes anything
    start_service(NotifyService, notify)
    start_service(ScoringService, scoring)
    api, tap = start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)
    return api, tap, notify["base_url"], scoring["base_url"]


def test_scoring_counts_each_application_once_and_the_duty_contact_is_told_once(city, frozen, api_keys):
    api, tap, notify_url, scoring_url = city
    frozen(MON)
    good, bad, late = ended(api), ended(api), ended(api)
    api.ok("POST", review_path(good), "window_system", {"level": "basically_satisfied"}, status=201)
    first = api.ok("POST", review_path(bad), "window_system", BAD, status=201)
    api.ok("POST", review_path(late), "window_system", {"level": "very_unsatisfied"}, status=201)
    api.ok("POST", f"/api/v1/reviews/{first['id']}/follow-up", "SCJGJ", {"report": "已核实整改"}, status=201)
    frozen(datetime(2026, 11, 24, 0, 1, tzinfo=TZ))
    wait_event(tap, late["id"], "review.follow_up_overdue")
    frozen(datetime(2026, 12, 1, 9, 0, tzinfo=TZ))  # the re-review in December counts in November, with the first
    api.ok("POST", review_path(bad), "window_system", {"level": "very_satisfied"}, status=201)
    api.drained()

    def facts():
        r = requests.get(f"{scoring_url}/api/v1/facts", params={"limit": 5000, "department": "SCJGJ"}, timeout=10,
                         headers={"Authorization": f"Bearer {api_keys['assessor']}"})
        assert r.status_code == 200, r.text
        return [f for f in r.json() if f["metric"] in ("reviews", "reviews_satisfied")]

    found = wait_for(lambda: (f := facts()) and len(f) == 7 and f, message="the review facts")
    totals = {m: sum(f["value"] for f in found if f["metric"] == m) for m in ("reviews", "reviews_satisfied")}
    assert totals == {"reviews": 3, "reviews_satisfied": 2}  # the re-reviewed one counts once, as satisfied
    assert {f["period"] for f in found} == {"2026-11"}
    assert sorted(f["value"] for f in found if f["ref"] == str(bad["id"])) == [0.0, 1.0, 1.0]

    def told():
        r = requests.get(f"{notify_url}/api/v1/deliveries", params={"per_page": 500}, timeout=10,
                         headers={"Authorization": f"Bearer {api_keys['monitor']}"})
        assert r.status_code == 200, r.text
        return [d for d in r.json()["items"] if d["event_type"].startswith("review.")]

    # the two bad first reviews and the overdue follow-up; the good review and the good re-review tell no one
    wait_for(lambda: len(told()) == 3, message="the deliveries")
    api.drained()
    delivered = told()
    assert sorted((d["recipient"], d["event_type"], d["severity"]) for d in delivered) == [
        ("duty-SCJGJ", "review.follow_up_overdue", "high"), ("duty-SCJGJ", "review.recorded", "medium"),
        ("duty-SCJGJ", "review.recorded", "medium")]
    assert all(d["subject"].startswith("【差评】") for d in delivered if d["event_type"] == "review.recorded")
    overdue = [d["subject"] for d in delivered if d["event_type"] == "review.follow_up_overdue"]
    assert len(overdue) == 1 and overdue[0].startswith("【差评整改逾期】")
    for d in delivered:
        assert APPLICANT not in d["body"] and "13812345678" not in d["body"] and "跑了三趟" not in d["body"]

    # the broker delivers the bad review's events again: nothing is told or counted twice (a later review, told
    # and counted, shows the copies were handled before it)
    copies = [m for m in tap.drain() if m["event_type"].startswith("review.")
              and m["payload"]["application_id"] in (str(bad["id"]), str(late["id"]))]
    assert len(copies) == 5  # two reviews of one, the follow-up reported; a review and its overdue of the other
    for message in copies:
        publish_raw(tap.amqp_uri, "approvals.events", message["event_type"], message)
    later = ended(api)
    api.ok("POST", review_path(later), "window_system", {"level": "unsatisfied"}, status=201)
    wait_for(lambda: len(told()) == 4, message="the later bad review told")
    wait_for(lambda: len(facts()) == 9, message="the later review counted")
    assert len(told()) == 4 and len(facts()) == 9


@pytest.mark.postgres
def test_on_postgresql_racing_reviews_record_one_and_a_follow_up_races_the_timer(start_on_postgres, api_keys,
                                                                                 keys_file, amqp_uri, frozen):
    import eventlet

    from services.approvals.service import ApprovalsService
    from services.kernel.keys import KeyStore
    from tests.e2e.approvals_client import ApprovalsApi
    from tests.support import Tap

    keys = {**api_keys, "SCJGJ": KeyStore(keys_file).add("handler-SCJGJ-pg-rev", "department_handler", "SCJGJ")}
    frozen(MON)
    tap = Tap(amqp_uri, "approvals")
    api = ApprovalsApi(start_on_postgres(ApprovalsService)["base_url"], keys)
    app, other = ended(api), ended(api)
    # the device sends the same review four times at once: one is recorded, the others answer as its retries
    racing = [eventlet.spawn(api.call, "POST", review_path(app), "window_system", BAD) for _ in range(4)]
    statuses = sorted(g.wait().status_code for g in racing)
    assert statuses == [200, 200, 200, 201], statuses
    assert public(api, by_code(app, {"level": "satisfied"})).status_code == 409
    [bad] = reviews(api, application_id=app["id"])["items"]
    assert (bad["level"], bad["follow_up_state"]) == ("unsatisfied", "pending")
    api.ok("POST", review_path(other), "window_system", {"level": "very_unsatisfied"}, status=201)
    # past the due time: the reports race the timer; each follow-up is announced overdue at most once
    frozen(datetime(2026, 11, 24, 0, 0, 1, tzinfo=TZ))
    reports = [eventlet.spawn(api.call, "POST", f"/api/v1/reviews/{bad['id']}/follow-up", "SCJGJ",
                              {"report": "已核实整改"}) for _ in range(3)]
    assert sorted(g.wait().status_code for g in reports) == [200, 200, 201]
    wait_event(tap, other["id"], "review.follow_up_overdue")
    frozen(datetime(2026, 11, 26, 9, 0, tzinfo=TZ))
    api.drained()
    assert types_of(tap, app["id"]).count("review.recorded") == 1
    assert types_of(tap, app["id"]).count("review.follow_up_overdue") in (0, 1)
    assert types_of(tap, other["id"]).count("review.follow_up_overdue") == 1
