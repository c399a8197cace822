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


def feed(db, *events):
    consumer = db.batched_consumer("scoring.on_event", handlers.record_facts)
    for e in events:
        consumer.consume(e, handlers.ledger_rows(e))


def appeal_event(event_type, moment, appeal_id="1", department="ZJJ", **fields):
    return parse_event(make_event(event_type, {"appeal_id": appeal_id, "case_no": f"MY{appeal_id}",
                                               "department": department, **fields},
                                  service="appeals", occurred_at=moment))


SEPT = datetime(2026, 9, 1, 9, tzinfo=TZ)


def response(db, rules):
    with db.reader() as s:
        got = handlers.department_score(s, rules, parse_period("2026-09"), "ZJJ", NOW)
    m = next(m for m in got["metrics"] if m["code"] == "appeal_response")
    return m["inputs"], m["score"], got


@pytest.mark.parametrize("order", ["overdue first", "acceptance first"])
def test_a_case_overdue_then_accepted_late_is_one_late_response_in_either_order(db, order):
    rules = Rules.load(DEFAULT_RULES)
    overdue = appeal_event("appeal.acceptance_overdue", datetime(2026, 9, 2, 18, tzinfo=TZ), dispatched_at=SEPT)
    late = appeal_event("appeal.accepted", datetime(2026, 9, 3, 10, tzinfo=TZ), in_time=False)
    never = appeal_event("appeal.acceptance_overdue", datetime(2026, 9, 2, 18, tzinfo=TZ), appeal_id="2",
                         dispatched_at=SEPT)
    on_time = [appeal_event("appeal.accepted", SEPT, appeal_id=str(i), in_time=True) for i in range(3, 7)]
    feed(db, *(([overdue, late] if order == "overdue first" else [late, overdue]) + [never] + on_time))
    inputs, score, got = response(db, rules)
    # 4 in time; late: case 1 (overdue and accepted late: once) and case 2 (never accepted) → 4 / 6
    assert (inputs["appeals_accepted_in_time"], inputs["appeals_response_late"], inputs["appeals_response_due"],
            inputs["appeals_acceptance_overdue"]) == (4, 2, 6, 2)
    assert score == 66.67
    assert got["row"]["metrics"]["appeal_response"] == 66.67


def test_only_a_rejected_return_costs_points(db):
    rules = Rules.load(DEFAULT_RULES)
    feed(db, *[appeal_event("appeal.dispatched", SEPT, appeal_id=str(i), by="op") for i in range(1, 6)],
         appeal_event("appeal.returned", SEPT, appeal_id="1", reason="非本单位职责"),
         appeal_event("appeal.returned", SEPT, appeal_id="2", reason="非本单位职责"),
         appeal_event("appeal.return_reviewed", SEPT, appeal_id="1", department=None, returned_by="ZJJ",
                      decision="approved", by="op"))
    with db.reader() as s:
        got = handlers.department_score(s, rules, parse_period("2026-09"), "ZJJ", NOW)
    handling = next(m for m in got["metrics"] if m["code"] == "appeal_handling")
    assert (handling["score"], handling["status"], handling["sample"]) == (100.0, "scored", 5)
    feed(db, appeal_event("appeal.return_reviewed", SEPT, appeal_id="2", returned_by="ZJJ", decision="rejected",
                          by="op"))
    with db.reader() as s:
        got = handlers.department_score(s, rules, parse_period("2026-09"), "ZJJ", NOW)
    handling = next(m for m in got["metrics"] if m["code"] == "appeal_handling")
    assert handling["score"] == 98.0 and handling["inputs"]["appeals_returned_rejected"] == 1
    assert (handling["inputs"]["appeals_returned"], handling["inputs"]["appeals_returned_approved"]) == (2, 1)


def test_the_published_results_list_the_unranked_apart(db):
    rules = Rules.load(DEFAULT_RULES)
    with db.unit_of_work() as uow:
        handlers.register_department(uow, {"code": "JW", "name": "纪委监委", "approval_functions": False,
                                           "enforcement_functions": False, "tier": "city", "assessed": False}, NOW)
        closed = handlers.close_period(uow, rules, parse_period("2026-09"), "考核办", NOW)
        payload = uow.published[0]["payload"]
    assert closed["replay_matches"] is True
    assert payload["results"] == []  # nobody had enough data: nobody ranked, nobody at 100
    assert [(u["department"], u["standing"], u["final"]) for u in payload["unranked"]] == [
        ("ZJJ", "not_ranked", 0.0), ("JW", "not_assessed", None)]
    # the same period under other rules is not replayed against them, and says so
    with db.reader() as s:
        view = handlers.period_view(s, Rules.from_dict({**yaml_rules(), "version": "2027.1"}),
                                    parse_period("2026-09"))
    assert view["replay_matches"] is None and "2026.4" in view["replay_note"]


def yaml_rules():
    import yaml
    return yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
