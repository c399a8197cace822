"""scoring's use cases driven directly, with a SQLite unit of work and no nameko: an event into the ledger,
an own input, and a period closed, refused and reopened."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from services.kernel.clock import TZ
from services.kernel.contracts import make_event, parse_event
from services.kernel.db import Database
from services.kernel.errors import BadRequest, Conflict
from services.scoring import handlers, store
from services.scoring.domain import Rules, parse_period
from services.scoring.service import DEFAULT_RULES

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=TZ)


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/scoring.db", store.metadata, service="scoring")
    database.create_all()
    with database.unit_of_work() as uow:
        handlers.register_department(uow, {"code": "ZJJ", "name": "住建局", "approval_functions": True,
                                           "enforcement_functions": False, "tier": "city"}, NOW)
    yield database
    database.dispose()


def accepted(appeal_id="1"):
    return parse_event(make_event("appeal.accepted", {
        "appeal_id": appeal_id, "case_no": "MY1", "department": "ZJJ", "in_time": True},
        service="appeals", occurred_at=datetime(2026, 9, 30, 23, 30, tzinfo=TZ)))


def test_an_event_becomes_its_ledger_rows_in_the_month_it_reports(db):
    event = accepted()
    rows = handlers.ledger_rows(event)
    assert [(r["metric"], r["value"], r["period"]) for r in rows] == [
        ("appeals_accepted", 1.0, "2026-09"), ("appeals_accepted_in_time", 1.0, "2026-09")]
    consumer = db.batched_consumer("scoring.on_event", handlers.record_facts)
    assert consumer.consume(event, rows) is True
    assert consumer.consume(event, rows) is False
    with db.reader() as s:
        assert [f["source_event_id"] for f in store.list_facts(s)] == [event.event_id] * 2


def test_an_evaluation_counts_once_and_needs_a_registered_department(db):
    data = {"enterprise": "某公司", "department": "ZJJ", "period": "2026-09", "scores": {"效率": 90, "态度": 80}}
    with db.unit_of_work() as uow:
        row = handlers.add_evaluation(uow, data, "考核办", NOW)
    assert row["score"] == 85 and row["scores"] == {"态度": 80, "效率": 90}
    with pytest.raises(Conflict), db.unit_of_work() as uow:
        handlers.add_evaluation(uow, data, "考核办", NOW)
    with pytest.raises(BadRequest), db.unit_of_work() as uow:
        handlers.add_evaluation(uow, {**data, "department": "NOPE"}, "考核办", NOW)
    with db.reader() as s:
        assert {f["metric"] for f in store.list_facts(s)} == {"evaluations", "evaluation_score"}


def test_a_period_closes_once_it_ended_publishes_and_reopens(db):
    rules = Rules.load(DEFAULT_RULES)
    with pytest.raises(Conflict), db.unit_of_work() as uow:
        handlers.close_period(uow, rules, parse_period("2026-11"), "考核办", NOW)
    with db.unit_of_work() as uow:
        closed = handlers.close_period(uow, rules, parse_period("2026-09"), "考核办", NOW)
        assert [e["event_type"] for e in uow.published] == ["scoring.results_published"]
    assert closed["state"] == "closed" and closed["revision"] == 1 and closed["replay_matches"] is True
    with pytest.raises(Conflict), db.unit_of_work() as uow:
        handlers.close_period(uow, rules, parse_period("2026-09"), "考核办", NOW)
    with db.unit_of_work() as uow:
        reopened = handlers.reopen_period(uow, rules, parse_period("2026-09"), "补录遗漏的评议", "考核办", NOW)
    assert reopened["state"] == "open" and [a["action"] for a in reopened["audit"]] == ["close", "reopen"]
    with db.reader() as s:
        assert s.execute(select(func.count()).select_from(db.outbox)).scalar() == 2
