"""The rectification (整改) of undercover-visit findings, driven on a SQLite unit of work without nameko: the due
time in working days (the official calendar, said when a year is missing), the report, its return and
resubmission, its acceptance closing the finding out, retried requests answered as the first, another
department's finding answered as a missing one, and the overdue check once."""

from datetime import datetime

import pytest

from services.kernel.clock import TZ
from services.kernel.db import Database
from services.kernel.errors import Conflict, NotFound
from services.kernel.workcal import WorkCalendar
from services.scoring import handlers, store
from services.scoring.domain import rectification_due, rectification_step

NOW = datetime(2026, 9, 30, 16, 0, tzinfo=TZ)
CAL = WorkCalendar.load(None)
REPORT = {"corrected": "已安排专人值守窗口并公示监督电话", "corrected_by": "王科长",
          "attachments": ["https://oa.example.gov.cn/files/1.pdf"]}


def test_the_report_is_due_after_working_days_and_a_missing_year_is_said():
    # the domain brief's example: 2026-09-30 + 5 working days ends with 2026-10-13 (holidays, a make-up Saturday)
    assert rectification_due(CAL, NOW, 5) == (datetime(2026, 10, 14, tzinfo=TZ), None)
    due, error = rectification_due(CAL, datetime(2026, 12, 28, 10, tzinfo=TZ), 10)
    assert due is None and "2027" in error
    assert rectification_step("pending", "submit") == "submitted"
    for state, act in (("submitted", "submit"), ("accepted", "return"), ("pending", "accept")):
        with pytest.raises(ValueError):
            rectification_step(state, act)


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/scoring.db", store.metadata, service="scoring")
    database.create_all()
    with database.unit_of_work() as uow:
        for code in ("ZJJ", "SWJ"):
            handlers.register_department(uow, {"code": code, "name": code, "approval_functions": True,
                                               "enforcement_functions": False, "tier": "city"}, NOW)
    yield database
    database.dispose()


def visit(db, department="ZJJ", days=5):
    with db.unit_of_work() as uow:
        return handlers.add_visit(uow, {"department": department, "point_code": None, "visited_at": NOW,
                                        "finding": "窗口无人值守", "due_at": datetime(2026, 10, 20, tzinfo=TZ),
                                        "visitor": "暗访员甲"}, NOW, CAL, days)


def submit(db, visit_id, scope="ZJJ", report=REPORT, now=NOW):
    with db.unit_of_work() as uow:
        view, created = handlers.submit_rectification(uow, visit_id, report, "zjj-handler", scope, now)
        return view, created, [e["event_type"] for e in uow.published]


def review(db, visit_id, act, note=None, now=NOW):
    with db.unit_of_work() as uow:
        return handlers.review_rectification(uow, visit_id, act, note, "考核办", now), [
            e["event_type"] for e in uow.published]


def check(db, now):
    with db.unit_of_work() as uow:
        handlers.check_due_rectifications(uow, now)
        return [(e["event_type"], e["payload"]["visit_id"], e["occurred_at"]) for e in uow.published]


def test_a_report_returned_then_accepted_closes_the_finding_out(db):
    v = visit(db)
    view, created, events = submit(db, v["id"])
    assert created and view["state"] == "submitted" and events == ["visit.rectification_submitted"]
    again, created, events = submit(db, v["id"])  # retried: the same report
    assert not created and events == [] and len(again["rounds"]) == 1
    with pytest.raises(Conflict):
        submit(db, v["id"], report={**REPORT, "corrected": "另一份报告"})
    with pytest.raises(NotFound):  # another department's finding is a missing one
        submit(db, v["id"], scope="SWJ")
    returned, events = review(db, v["id"], "return", "未附整改前后照片")
    assert returned["state"] == "returned" and events == ["visit.rectification_returned"]
    assert review(db, v["id"], "return", "未附整改前后照片")[1] == []  # retried
    with pytest.raises(Conflict):
        review(db, v["id"], "accept")  # nothing waits for review
    second, _, _ = submit(db, v["id"], report={**REPORT, "attachments": [*REPORT["attachments"],
                                                                         "https://oa.example.gov.cn/files/2.jpg"]})
    assert [r["round"] for r in second["rounds"]] == [1, 2] and second["rounds"][0]["decision"] == "returned"
    accepted, events = review(db, v["id"], "accept", "整改到位")
    assert accepted["state"] == "accepted" and events == ["visit.rectification_accepted"]
    with db.reader() as s:
        closed = store.get_visit(s, v["id"])
    assert closed["state"] == "closed" and "已安排专人值守窗口" in closed["evidence"] and "2.jpg" in closed["evidence"]
    assert review(db, v["id"], "accept", "整改到位")[1] == []  # retried: nothing twice
    # nothing is overdue once accepted
    assert check(db, datetime(2026, 11, 1, tzinfo=TZ)) == []


def test_a_report_missing_at_its_due_time_is_overdue_once(db):
    late, submitted_in_time, returned_late = visit(db), visit(db), visit(db)
    submit(db, submitted_in_time["id"])
    submit(db, returned_late["id"])
    due = datetime(2026, 10, 14, tzinfo=TZ)
    assert check(db, datetime(2026, 10, 13, 23, tzinfo=TZ)) == []
    assert check(db, datetime(2026, 10, 14, 9, tzinfo=TZ)) == [
        ("visit.rectification_overdue", str(late["id"]), due.isoformat())]
    assert check(db, datetime(2026, 10, 15, tzinfo=TZ)) == []  # once
    # a report sent back after the due time: overdue at once (it was the department's move past its due)
    review(db, returned_late["id"], "return", "材料不全", now=datetime(2026, 10, 16, tzinfo=TZ))
    assert [e[1] for e in check(db, datetime(2026, 10, 16, 0, 1, tzinfo=TZ))] == [str(returned_late["id"])]
    with db.reader() as s:
        assert handlers.get_rectification(s, late["id"], "ZJJ", datetime(2026, 10, 16, tzinfo=TZ))["overdue"]
        assert not handlers.get_rectification(s, submitted_in_time["id"], None,
                                              datetime(2026, 10, 16, tzinfo=TZ))["overdue"]


def test_a_finding_closed_out_otherwise_stops_its_clock(db):
    v = visit(db)
    with db.unit_of_work() as uow:
        handlers.close_visit(uow, v["id"], "现场复查已整改", None, "考核办", NOW)
    assert check(db, datetime(2026, 11, 1, tzinfo=TZ)) == []
    with pytest.raises(Conflict):
        submit(db, v["id"])
