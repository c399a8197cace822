"""Late reporting (迟报, issue 13): an action — the submission included — that reaches the monitor more than
APPROVALS.LATE_REPORT_HOURS (24 h) after its `at` is recorded and raises one irregularity, once per action and
never again on a retry; a submission dated in the future is refused and alerted once per submission however often
the window system retries it. Through the use cases on SQLite (`Driver`), without a broker."""

from datetime import timedelta

import pytest

from services.approvals import handlers, store
from services.approvals.domain import IllegalTransition, Rules
from tests.unit.test_approvals_usecases import ITEM, WINDOW, Driver, t

LATE = Rules()  # the defaults: 24 hours


def late_alerts(d):
    """The late reports' alerts, oldest first."""
    return sorted((a for a in d.alerts() if a["details"].get("code") == "late_report"), key=lambda a: a["id"])


def irregular_events(d):
    return [e["payload"] for e in d.published if e["event_type"] == "monitor.irregularity"]


def test_the_setting():
    assert LATE.late_report_after == timedelta(hours=24)
    assert Rules.from_config({"LATE_REPORT_HOURS": 48}).late_report_after == timedelta(hours=48)
    assert Rules.from_config({"LATE_REPORT_HOURS": 0}).late_report_after is None  # off
    with pytest.raises(ValueError):
        Rules.from_config({"LATE_REPORT_HOURS": -1})
    assert LATE.late_report("accept", t(11, 2, 10), t(11, 3, 10)) is None  # exactly 24 hours: in time
    late = LATE.late_report("accept", t(11, 2, 10), t(11, 5, 12, 30))
    assert (late.code, late.at) == ("late_report", t(11, 2, 10))
    assert late.rule == "late_report:accept@2026-11-02T10:00:00+08:00"
    assert late.description_zh == "迟报：「受理」办理后 3 天 2 小时才报送（应在 24 小时内）"
    assert late.severity == "low" and late.details["delay_hours"] == 74.5


def test_a_late_submission_and_a_late_action_each_raise_one_irregularity():
    d = Driver(received_at=t(11, 2, 9), rules=LATE, now=t(11, 4, 9, 30))  # submitted 48.5 hours late
    [submitted] = late_alerts(d)
    assert submitted["rule"] == "late_report:submit@2026-11-02T09:00:00+08:00" and submitted["level"] == "irregularity"
    assert submitted["details"]["refused"] is False
    [event] = irregular_events(d)
    assert (event["code"], event["application_id"]) == ("late_report", str(d.id))
    assert event["at"] == "2026-11-02T09:00:00+08:00"
    assert event["description_zh"].startswith("迟报：「申请」") and d.row["state"] == "submitted"
    d.accept(t(11, 4, 9), WINDOW)  # in time
    assert len(late_alerts(d)) == 1
    d.now = t(11, 9, 10)
    out = d.request_supplement(["M2"], None, t(11, 5, 10), WINDOW)  # recorded four days later
    assert [i.code for i in out.irregularities] == ["supplement_after_acceptance", "late_report"]
    assert d.row["supplement_count"] == 1  # recorded all the same
    assert [a["rule"] for a in late_alerts(d)] == ["late_report:submit@2026-11-02T09:00:00+08:00",
                                                  "late_report:request_supplement@2026-11-05T10:00:00+08:00"]


def test_a_retried_late_action_is_not_reported_again():
    d = Driver(received_at=t(11, 2, 9), rules=LATE, now=t(11, 2, 10))
    d.now = t(11, 6, 10)
    data = {"at": t(11, 3, 10)}
    ref = handlers.ActionRef.of("WIN-1", d.id, "accept", data)
    first = handlers.run_action(d.db, d.settings, d.id, "accept", data, WINDOW, d.now, ref=ref, shape=lambda a: 1)
    again = handlers.run_action(d.db, d.settings, d.id, "accept", data, WINDOW, t(11, 6, 11), ref=ref,
                                shape=lambda a: 1)
    assert isinstance(first, handlers.Done) and isinstance(again, handlers.Replay)
    assert len(late_alerts(d)) == 1 and len(irregular_events(d)) == 1
    # and the monitor's own acts are never late reports
    d.fire(t(12, 31))
    assert len(late_alerts(d)) == 1


def test_the_same_late_action_reported_twice_is_one_alert():
    d = Driver(received_at=t(11, 2, 9), rules=LATE, now=t(11, 2, 10))
    d.now = t(11, 9, 10)
    d.request_supplement(["M2"], None, t(11, 3, 10), WINDOW)
    with pytest.raises(IllegalTransition):
        d.supplement_received(t(11, 3, 9), WINDOW)  # out of order: refused, no late report of a refused action
    assert sorted(a["details"]["code"] for a in d.alerts()) == ["late_report", "out_of_order_time"]


def test_a_future_submission_retried_raises_one_alert():
    d = Driver(rules=LATE, now=t(11, 2, 10))
    data = {"external_ref": "F-9", "item_code": ITEM.code, "at": t(11, 3), "materials": [], "green_channel": False,
            "service_point": "city_center", "project_code": None,
            "applicant": {"name": "李四", "kind": "person", "id_number": "330102199001011234"}}
    for now in (t(11, 2, 10), t(11, 2, 10, 5), t(11, 2, 16)):  # the window system retries through the day
        with pytest.raises(IllegalTransition):
            handlers.receive_application(d.db, d.settings, data, WINDOW, now)
    with d.db.session() as s:
        alerts = store.list_alerts(s, subject="submission")[0]
        assert store.find_by_ref(s, "F-9") is None
    assert [(a["subject_ref"], a["rule"], a["application_id"]) for a in alerts] == [("F-9", "future_time", None)]
    [event] = [e for e in irregular_events(d) if e.get("external_ref") == "F-9"]
    assert event["application_id"] is None and event["subject"] == "submission"
