"""Penalties at the database, on both backends: a major penalty whose filing limit runs into a year the calendar does
not know waits for the timer, which alerts its late filing once the calendar knows the year (once, however often it
looks); an irregularity is alerted and published once whoever raises it; two timers never claim the same penalty."""

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from services.approvals import store as core
from services.approvals.penalties import domain, store, usecases
from services.kernel.clock import TZ
from services.kernel.db import Database
from services.kernel.workcal import WorkCalendar

FILED = datetime(2027, 1, 5, 10, 0, tzinfo=TZ)
# 2027 as a deployment would load it (New Year's Day a holiday): 2 working days after Wednesday 30 December 2026
# end on Monday 4 January 2027
CAL_2027 = WorkCalendar.from_dict({"years": {2027: {"holidays": ["2027-01-01"]}}})
BASIS = {"name": "寻衅滋事", "law": "《中华人民共和国治安管理处罚法》", "article": "第二十六条",
         "kinds": ["detention", "fine"], "bands": {"general": {"min": 0, "max": 500}}}
RULES = domain.PenaltyRules(filing_days=2)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, database_url):
    url = database_url(request.param, "penalties")
    database = Database(url, core.metadata, service="approvals")
    database.create_all()
    with database.unit_of_work() as uow:
        usecases.put_basis(uow, "GA-26", BASIS, "test", FILED)
    yield database
    database.dispose()


def _file(db, case_no="莱公罚[2026]9号", calendar=None):
    data = {"case_no": case_no, "party_kind": "person", "party_name": "李四", "basis_code": "GA-26",
            "kinds": ["detention"], "amount": None, "circumstance": None, "decided_on": date(2026, 12, 30),
            "hearing_held": False}
    with db.unit_of_work() as uow:
        created, row = usecases.file_penalty(uow, SimpleNamespace(calendar=calendar or WorkCalendar()), RULES, data,
                                             "GAJ", "test-gaj", FILED)
        published = [e["event_type"] for e in uow.published]
    return created, row, published


def _penalty_alerts(db):
    with db.session() as s:
        return core.list_alerts(s, subject="penalty")[0]


def test_a_limit_in_an_unknown_year_waits_for_the_calendar_then_late_filing_once(db):
    created, row, published = _file(db)
    assert created and published == ["penalty.filed"]
    assert (row["major"], row["filing_due_at"], row["late"], row["party_name"]) == (True, None, None, "李*")
    assert row["check_at"] == FILED + usecases.CALENDAR_RETRY

    later = FILED + timedelta(hours=2)
    waiting = SimpleNamespace(calendar=WorkCalendar())
    with db.unit_of_work() as uow:
        assert usecases.check_due(uow, waiting, RULES, later) == 1  # still unknown: another look later
        assert uow.published == []
    with db.session() as s:
        assert store.get(s, row["id"])["check_at"] == later + usecases.CALENDAR_RETRY
        assert not store.any_due(s, later)

    known = SimpleNamespace(calendar=CAL_2027)
    at = later + timedelta(hours=2)
    with db.unit_of_work() as uow:
        assert usecases.check_due(uow, known, RULES, at) == 1
        [event] = uow.published
    assert (event["event_type"], event["payload"]["code"], event["payload"]["reference_no"]) == (
        "enforcement.irregularity", "late_filing", "莱公罚[2026]9号")
    assert "李" not in str(event)
    with db.session() as s:
        stored = store.get(s, row["id"])
    assert stored["filing_due_at"] == datetime(2027, 1, 4, 23, 59, 59, 999999, tzinfo=TZ)
    assert (stored["late"], stored["check_at"], stored["irregularities"], stored["irregular"]) == (
        True, None, ["late_filing"], True)
    with db.unit_of_work() as uow:
        assert usecases.check_due(uow, known, RULES, at + timedelta(days=1)) == 0
    [alert] = _penalty_alerts(db)
    assert (alert["rule"], alert["subject_ref"], alert["details"]["reference_no"]) == (
        "late_filing", str(row["id"]), "莱公罚[2026]9号")

    # the same irregularity raised again (another instance, a retry): no second alert, no event
    with db.unit_of_work() as uow:
        late = domain.late_filing(FILED, stored["filing_due_at"], date(2026, 12, 30), 2)
        assert usecases.raise_irregularity(uow, stored, late, at) is None
        assert uow.published == []
    assert len(_penalty_alerts(db)) == 1


def test_a_retried_filing_raises_nothing_more(db):
    created, first, published = _file(db, calendar=CAL_2027)
    assert created and published == ["penalty.filed", "enforcement.irregularity"] and first["late"] is True
    created, again, published = _file(db, calendar=CAL_2027)
    assert (created, again["id"], published) == (False, first["id"], [])
    assert len(_penalty_alerts(db)) == 1


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite serialises writers: no second claimer
def test_two_timers_never_claim_the_same_penalty(db):
    _file(db)
    at = FILED + timedelta(hours=2)
    with db.unit_of_work() as first:
        assert [r["case_no"] for r in store.claim_due(first.session, at, 10)] == ["莱公罚[2026]9号"]
        with db.unit_of_work() as second:
            assert store.claim_due(second.session, at, 10) == []
