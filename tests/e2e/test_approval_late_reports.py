"""Late data on the real broker with a frozen clock (issue 13): a late report (迟报) and a future-dated submission
each raise exactly one alert and one monitor.irregularity, also when the window system retries them; an
application overdue when its data arrives gets its yellow and red cards and no "approaching the deadline" warning;
and what the monitors read — the notification templates and the console's titles, rendered from the events as
published — speaks in whole working days, never negative or fractional."""

import re
from datetime import datetime

import eventlet
import pytest
import requests

from services.kernel import clock
from services.kernel.contracts import parse_event
from services.kernel.db import Database
from services.notify import console
from services.notify.console.domain import alert_title
from services.notify.messages import render
from services.notify.store import metadata as notify_metadata
from tests.e2e.approvals_client import APPLICANT, ID_NUMBER, start_approvals
from tests.e2e.test_approval_rules import of_type, wait_event

TZ = clock.TZ


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    return start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)


def irregularities(tap, **match):
    return [m["payload"] for m in tap.drain() if m["event_type"] == "monitor.irregularity"
            and all(m["payload"].get(k) == v for k, v in match.items())]


def submission(ref, at):
    return {"external_ref": ref, "item_code": "SCJ-001", "materials": ["M1", "M2", "M3"],
            "service_point": "city_center", "at": at,
            "applicant": {"name": APPLICANT, "kind": "enterprise", "id_number": ID_NUMBER}}


def test_a_late_report_raises_one_alert_also_when_retried(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 5, 10, 0, tzinfo=TZ))
    body = submission("LATE-1", "2026-11-02T09:00:00+08:00")  # reaches the monitor three days after
    first = api.ok("POST", "/api/v1/applications", "window_system", body, status=201)
    assert api.ok("POST", "/api/v1/applications", "window_system", body)["id"] == first["id"]  # the retry: 200
    headers = {"Authorization": f"Bearer {api.keys['window_system']}", "Idempotency-Key": "WIN-L-1"}
    url = f"{api.base}/api/v1/applications/{first['id']}/accept"
    for _ in range(2):  # the acceptance of Nov 3, sent now, and its retry
        r = requests.post(url, json={"at": "2026-11-03T10:00:00+08:00"}, headers=headers, timeout=10)
        assert r.status_code == 200, r.text
    api.act(first["id"], "request-supplement", {"missing": ["M4"], "at": "2026-11-05T09:30:00+08:00"})  # in time
    wait_event(tap, first["id"], "monitor.irregularity", count=3)  # + the supplement after acceptance
    api.drained()
    eventlet.sleep(0.5)  # a second copy, were there one, would have arrived by now
    late = [p for p in of_type(tap, first["id"], "monitor.irregularity") if p["code"] == "late_report"]
    assert sorted(p["rule"] for p in late) == ["late_report:accept@2026-11-03T10:00:00+08:00",
                                               "late_report:submit@2026-11-02T09:00:00+08:00"]
    assert all(p["severity"] == "low" and p["refused"] is False for p in late)
    accepted = next(p for p in late if p["rule"].startswith("late_report:accept"))
    assert accepted["description_zh"] == "迟报：「受理」办理后 2 天 0 小时才报送（应在 24 小时内）"
    assert accepted["at"] == "2026-11-03T10:00:00+08:00"
    alerts = [a for a in api.alerts(application_id=first["id"]) if a["details"]["code"] == "late_report"]
    assert len(alerts) == 2 and {a["level"] for a in alerts} == {"irregularity"}
    assert [h["action"] for h in api.get(first["id"])["history"]] == ["submit", "accept", "request_supplement"]


def test_a_submission_dated_in_the_future_raises_one_alert_however_often_it_is_retried(env, frozen, tmp_path):
    api, tap = env
    body = submission("FUT-1", "2026-11-02T18:00:00+08:00")
    for moment in (datetime(2026, 11, 2, 9, 0, tzinfo=TZ), datetime(2026, 11, 2, 9, 1, tzinfo=TZ),
                   datetime(2026, 11, 2, 14, 0, tzinfo=TZ)):  # the window system retries through the day
        frozen(moment)
        r = api.call("POST", "/api/v1/applications", "window_system", body)
        assert r.status_code == 409 and r.json()["error"]["message_zh"] == "办理时间晚于当前时间"
    api.drained()
    eventlet.sleep(0.5)
    [event] = irregularities(tap, external_ref="FUT-1")
    assert (event["subject"], event["application_id"], event["code"], event["rule"]) == (
        "submission", None, "future_time", "future_time")
    [alert] = api.alerts(subject="submission")
    assert (alert["subject_ref"], alert["application_id"], alert["rule"]) == ("FUT-1", None, "future_time")
    assert api.ok("GET", "/api/v1/applications", "monitor", external_ref="FUT-1")["total"] == 0
    # what the monitors read of it names the submission, not an application that does not exist
    subject, text = render("monitor.irregularity", {**event, "severity": "medium", "link": "http://console"})
    assert subject == "【预警】纠错：报送 FUT-1 办理时间晚于当前时间" and "None" not in subject + text
    assert "未形成申请" in text and alert_title("monitor.irregularity", event) == "办理时间晚于当前时间"
    # and the monitors' console shows it, by the window system's reference (it has no application id)
    db = Database(f"sqlite:///{tmp_path}/notify.db", notify_metadata, service="notify")
    db.create_all()
    [message] = [m for m in tap.drain() if m["event_type"] == "monitor.irregularity"]
    with db.unit_of_work() as uow:
        assert console.record_event(uow.session, parse_event(message), clock.now()) is not None
    with db.reader() as s:
        [shown] = console.list_alerts(s, state="all")
    db.dispose()
    assert (shown["ref_no"], shown["ref_id"], shown["title_zh"], shown["level"], shown["department"]) == (
        "FUT-1", None, "办理时间晚于当前时间", "irregularity", "SCJGJ")


def test_an_application_overdue_when_its_data_arrives_gets_its_cards_and_no_warning(env, frozen):
    api, tap = env
    frozen(datetime(2026, 12, 1, 10, 0, tzinfo=TZ))
    # received and accepted in September, reported now: 5 working days, due end of Oct 13, long past
    a = api.ok("POST", "/api/v1/applications", "window_system", submission("OLD-1", "2026-09-29T09:00:00+08:00"),
               status=201)
    view = api.act(a["id"], "accept", {"at": "2026-09-30T10:00:00+08:00"})
    c = view["clock"]
    assert (c["light"], c["days_left"], c["days_overdue"]) == ("red", 0, 35) and c["remaining"] < 0
    [yellow] = wait_event(tap, a["id"], "monitor.yellow_card")
    [red] = wait_event(tap, a["id"], "monitor.red_card")
    api.drained()
    eventlet.sleep(0.5)  # the warning, were it raised, would have arrived by now
    assert of_type(tap, a["id"], "monitor.warning") == []
    assert sorted(x["rule"] for x in api.alerts(application_id=a["id"], level="yellow")
                  + api.alerts(application_id=a["id"], level="red")) == ["red_card", "yellow_card"]
    assert api.alerts(application_id=a["id"], level="warning") == []
    assert (yellow["days_overdue"], yellow["days_left"], red["days_overdue"]) == (35, 0, 35)
    # the messages and the console in whole working days
    for event_type, payload, severity in (("monitor.yellow_card", yellow, "high"),
                                          ("monitor.red_card", red, "critical")):
        subject, text = render(event_type, {**payload, "severity": severity, "link": "http://console"})
        assert "已超期 35 个工作日" in subject + text
        title = alert_title(event_type, payload)
        assert title.endswith("已超期 35 个工作日")
        for shown in (subject, text, title):  # every count of working days is a whole, non-negative number
            counts = re.findall(r"(-?[\d.]+) 个工作日", shown)
            assert counts and all(re.fullmatch(r"\d+", n) for n in counts), shown


def test_a_warning_in_time_says_the_whole_days_left(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit()
    api.act(a["id"], "accept")  # 5 working days: due end of Mon Nov 9
    frozen(datetime(2026, 11, 7, 0, 0, 1, tzinfo=TZ))
    [warning] = wait_event(tap, a["id"], "monitor.warning")
    assert (warning["days_left"], warning["days_overdue"]) == (1, 0)
    subject, text = render("monitor.warning", {**warning, "severity": "medium", "link": "http://console"})
    assert subject.endswith("即将超过办理时限（剩余 1 个工作日）") and "剩余 1 个工作日。" in text
    assert alert_title("monitor.warning", warning) == "临近办结期限（剩余 1 个工作日）"
    frozen(datetime(2026, 11, 9, 10, 0, tzinfo=TZ))
    c = api.get(a["id"])["clock"]
    assert (c["days_left"], c["days_overdue"], c["light"]) == (1, 0, "yellow")
    # a warning about a missing calendar year says so in its subject too
    subject, text = render("monitor.warning", {**warning, "rule": "calendar_unavailable", "severity": "medium",
                                               "link": "http://console"})
    assert "即将超过" not in subject and "缺少工作日历" in subject and "尚无工作日历" in text
