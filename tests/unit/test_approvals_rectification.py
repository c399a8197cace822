"""Rectification (整改) of alerts: the rules (due time in working days, per level; which state allows which act)
and the use cases on a real SQLite unit of work — a card's rectification is due, checked, announced overdue once;
a report is submitted, retried, sent back, submitted again and accepted (the alert resolved with it); another
department sees nothing; events carry no report text, names or links."""

import json
from datetime import datetime

import pytest

from services.approvals import handlers
from services.approvals import store as core
from services.approvals.domain import IllegalTransition
from services.approvals.rectification import domain, usecases
from services.approvals.rectification import store as rstore
from services.kernel.clock import TZ
from services.kernel.errors import NotFound
from services.kernel.workcal import WorkCalendar
from tests.unit.test_approvals_usecases import accepted, midnight, t

CAL = WorkCalendar.load(None)
REPORT = {"corrected": "已补办受理手续并完成审批", "corrected_by": "李四 13812345678",
          "attachments": ["https://files.example.gov.cn/r/1.pdf"]}


# -- the rules ----------------------------------------------------------------------------------------------


def test_the_due_time_counts_working_days_after_the_day_raised_over_national_day():
    # raised 30 September: Oct 1-7 are holidays, Saturday 10 October is a make-up working day
    assert domain.due_at(CAL, t(9, 30, 15), 5) == datetime(2026, 10, 13, 23, 59, 59, 999999, tzinfo=TZ)
    assert domain.check_after(domain.due_at(CAL, t(9, 30), 5)) == midnight(10, 14)


def test_days_per_level_from_configuration():
    rules = domain.RectificationRules.from_config({"DAYS": "5", "RED_DAYS": "3", "IRREGULARITY_DAYS": "0",
                                                   "YELLOW_DAYS": ""})
    assert (rules.days_for("yellow"), rules.days_for("red"), rules.days_for("irregularity")) == (5, 3, None)
    assert rules.days_for("warning") is None and rules.days_for("accountability") is None
    assert domain.RectificationRules.from_config(None).days_for("red") == 5
    with pytest.raises(ValueError, match="RED_DAYS"):
        domain.RectificationRules.from_config({"RED_DAYS": "-1"})
    with pytest.raises(ValueError, match="DAYS"):
        domain.RectificationRules.from_config({"DAYS": "five"})


def test_which_state_allows_which_act():
    domain.require_submittable("open", "pending")
    domain.require_submittable("acknowledged", "returned")
    for alert_state, state in (("open", "submitted"), ("resolved", "pending"), ("open", "accepted")):
        with pytest.raises(IllegalTransition):
            domain.require_submittable(alert_state, state)
    domain.require_reviewable("open", "submitted")
    for alert_state, state in (("open", "pending"), ("open", "returned"), ("resolved", "submitted")):
        with pytest.raises(IllegalTransition):
            domain.require_reviewable(alert_state, state)


def test_overdue_only_past_due_without_a_report_waiting_or_accepted():
    due = t(10, 13, 23, 59)
    assert domain.is_overdue("pending", "open", due, t(10, 14))
    assert domain.is_overdue("returned", "acknowledged", due, t(10, 14))
    assert not domain.is_overdue("pending", "open", due, t(10, 13, 12))
    assert not domain.is_overdue("submitted", "open", due, t(10, 14))
    assert not domain.is_overdue("pending", "resolved", due, t(10, 14))
    assert not domain.is_overdue("pending", "open", None, t(10, 14))


# -- the use cases --------------------------------------------------------------------------------------------


def yellow(at=None):
    """An application accepted on 30 September whose yellow card was raised at the start of 14 October."""
    d = accepted(t(9, 30))
    d.fire(midnight(10, 14))
    (alert,) = [a for a in d.alerts() if a["level"] == "yellow"]
    return d, alert


def rect(d, alert_id):
    with d.db.session() as s:
        return rstore.get_for_alert(s, alert_id)


def check(d, now):
    with d.db.unit_of_work() as uow:
        return usecases.check_due(uow, d.settings, now)


def submit(d, alert_id, now, report=REPORT, scope="SCJ"):
    with d.db.unit_of_work() as uow:
        return usecases.submit(uow, d.settings, alert_id, report, "handler-SCJ", now, scope=scope)


def review(d, alert_id, decision, note, now, by="monitor-1"):
    with d.db.unit_of_work() as uow:
        return usecases.review(uow, d.settings, alert_id, decision, note, by, now)


def events(d, event_type):
    return [e["payload"] for e in d.published if e["event_type"] == event_type]


def test_a_card_is_due_for_rectification_and_announced_overdue_once():
    d, alert = yellow()
    row = rect(d, alert["id"])
    assert (row["state"], row["due_at"], row["check_at"]) == ("pending", None, alert["raised_at"])
    assert check(d, midnight(10, 14)) == 1
    row = rect(d, alert["id"])
    # raised 14 October (a Wednesday): 5 working days → the end of 21 October
    assert row["due_at"] == datetime(2026, 10, 21, 23, 59, 59, 999999, tzinfo=TZ)
    assert check(d, t(10, 21, 23, 0)) == 0  # not due yet: nothing claimed
    assert check(d, midnight(10, 22)) == 1
    (overdue,) = events(d, "monitor.rectification_overdue")
    assert (overdue["alert_id"], overdue["department"], overdue["rectification_state"],
            overdue["rectification_days"]) == (str(alert["id"]), "SCJ", "pending", 5)
    assert overdue["rectification_due_at"] == "2026-10-21T23:59:59.999999+08:00"
    assert check(d, midnight(10, 30)) == 0
    assert len(events(d, "monitor.rectification_overdue")) == 1
    with d.db.session() as s:
        assert [r["id"] for r in rstore.list_rectifications(s, state="overdue")[0]] == [row["id"]]


def test_submit_retry_return_resubmit_accept():
    d, alert = yellow()
    check(d, midnight(10, 14))
    created, out = submit(d, alert["id"], t(10, 15))
    assert created and (out["state"], out["round"], out["corrected_by"]) == ("submitted", 1, REPORT["corrected_by"])
    assert submit(d, alert["id"], t(10, 15, 11))[0] is False  # the retry: nothing done
    with pytest.raises(IllegalTransition):  # another report while one waits for review
        submit(d, alert["id"], t(10, 15, 12), {**REPORT, "corrected": "另一份"})
    assert len(events(d, "monitor.rectification_submitted")) == 1

    out = review(d, alert["id"], "return", "附件缺少整改前后对比", t(10, 16))
    assert (out["state"], out["review_note"]) == ("returned", "附件缺少整改前后对比")
    review(d, alert["id"], "return", "附件缺少整改前后对比", t(10, 16, 11))  # the retry: nothing done
    assert len(events(d, "monitor.rectification_returned")) == 1
    with pytest.raises(IllegalTransition):
        review(d, alert["id"], "accept", None, t(10, 16, 12))  # nothing waits for review

    created, out = submit(d, alert["id"], t(10, 19), {**REPORT, "attachments": []})
    assert created and out["round"] == 2
    out = review(d, alert["id"], "accept", "同意", t(10, 20))
    assert out["state"] == "accepted" and [h["decision"] for h in out["history"]] == ["returned", "accepted"]
    with d.db.session() as s:
        resolved = core.get_alert(s, alert["id"])
    assert (resolved["state"], resolved["resolved_by"]) == ("resolved", "monitor-1")
    assert "已采纳" in resolved["note"] and "同意" in resolved["note"]
    (done,) = events(d, "monitor.alert_resolved")
    assert done["rectification_id"] == str(out["id"])
    assert len(events(d, "monitor.rectification_accepted")) == 1
    review(d, alert["id"], "accept", "同意", t(10, 20, 11))  # the retry: nothing done
    assert len(events(d, "monitor.alert_resolved")) == 1
    with pytest.raises(IllegalTransition):
        submit(d, alert["id"], t(10, 21))  # resolved: nothing to rectify
    # submitted before the due time, accepted: never overdue
    check(d, midnight(10, 30))
    assert events(d, "monitor.rectification_overdue") == []


def test_a_report_returned_after_the_due_time_is_overdue_at_the_next_look():
    d, alert = yellow()
    check(d, midnight(10, 14))
    submit(d, alert["id"], t(10, 20))
    check(d, midnight(10, 22))  # waiting for review at the due time: not overdue
    assert events(d, "monitor.rectification_overdue") == []
    review(d, alert["id"], "return", "整改不到位", t(10, 23))
    check(d, t(10, 23, 10, 1))
    (overdue,) = events(d, "monitor.rectification_overdue")
    assert overdue["rectification_state"] == "returned"
    submitted = submit(d, alert["id"], t(10, 26))[1]
    assert events(d, "monitor.rectification_submitted")[-1]["overdue"] is True and submitted["overdue"]


def test_another_department_sees_and_touches_nothing():
    d, alert = yellow()
    with pytest.raises(NotFound):
        submit(d, alert["id"], t(10, 15), scope="ZJJ")
    with pytest.raises(NotFound):
        submit(d, 999999, t(10, 15))
    rid = rect(d, alert["id"])["id"]
    with d.db.session() as s:
        with pytest.raises(NotFound):
            usecases.get(s, rid, "ZJJ")
        assert usecases.get(s, rid, "SCJ")["alert_id"] == alert["id"]
        assert usecases.get(s, rid, None)["alert_id"] == alert["id"]
    assert rect(d, alert["id"])["round"] == 0


def test_an_alert_resolved_otherwise_closes_its_rectification():
    d, alert = yellow()
    with d.db.unit_of_work() as uow:
        handlers.act_on_alert(uow, d.settings, alert["id"], "resolve", "monitor-1", "窗口已纠正", t(10, 15))
    row = rect(d, alert["id"])
    assert (row["state"], row["check_at"]) == ("closed", None)
    check(d, midnight(10, 30))
    assert events(d, "monitor.rectification_overdue") == []


def test_events_carry_no_report_text_names_or_links():
    d, alert = yellow()
    check(d, midnight(10, 14))
    submit(d, alert["id"], t(10, 15))
    review(d, alert["id"], "return", "联系人 13812345678 未到场", t(10, 16))
    text = json.dumps([e for e in d.published if "rectification" in e["event_type"]], ensure_ascii=False)
    for secret in ("李四", "13812345678", "files.example", REPORT["corrected"]):
        assert secret not in text
