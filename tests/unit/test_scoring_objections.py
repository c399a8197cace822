"""scoring's objections (申诉) and voidings driven directly on a SQLite unit of work, no nameko: a department's
objection to its own fact, upheld (the fact voided by an entry, the score recomputed) or rejected, retried
requests answered as the first, a period refused closing while objections are open; an appeal voided (invalid
or withdrawn) takes every fact of that appeal out, whichever arrived first."""

from datetime import datetime

import pytest

from services.kernel.clock import TZ
from services.kernel.contracts import make_event, parse_event
from services.kernel.db import Database
from services.kernel.domain import Actor
from services.kernel.errors import BadRequest, Conflict, NotFound
from services.scoring import handlers, store
from services.scoring.domain import Rules, parse_period
from services.scoring.service import DEFAULT_RULES

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)
SEPT = datetime(2026, 9, 1, 9, tzinfo=TZ)
ZJJ = Actor("zjj-handler", "department_handler", "ZJJ")
SWJ = Actor("swj-handler", "department_handler", "SWJ")
OFFICE = Actor("考核办", "assessor")
RULES = Rules.load(DEFAULT_RULES)
SEPTEMBER = parse_period("2026-09")


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/scoring.db", store.metadata, service="scoring")
    database.create_all()
    with database.unit_of_work() as uow:
        for code, name in (("ZJJ", "住建局"), ("SWJ", "水务局")):
            handlers.register_department(uow, {"code": code, "name": name, "approval_functions": True,
                                               "enforcement_functions": False, "tier": "city"}, NOW)
    yield database
    database.dispose()


def event(event_type, payload, moment=SEPT, service="appeals"):
    return parse_event(make_event(event_type, payload, service=service, occurred_at=moment))


def case(appeal_id, department="ZJJ", **fields):
    return {"appeal_id": str(appeal_id), "case_no": f"MY{appeal_id}", "department": department, **fields}


def feed(db, *events):
    consumer = db.batched_consumer("scoring.on_event", handlers.record_facts)
    for e in events:
        consumer.consume(e, handlers.ledger_rows(e))


def voided(appeal_id, kind="invalid"):
    return event("appeal.voided", case(appeal_id, reason="恶意骚扰电话", by="operator-1", kind=kind,
                                       invalid_kind="prank" if kind == "invalid" else None))


def void(db, e):
    with db.unit_of_work() as uow:
        return handlers.void_appeal(uow, e, NOW)


def totals(db, department="ZJJ"):
    with db.reader() as s:
        return handlers.department_score(s, RULES, SEPTEMBER, department, NOW)["totals"]


def facts(db, metric, department="ZJJ"):
    with db.reader() as s:
        return [f for f in store.list_facts(s, department=department) if f["metric"] == metric]


def decided(application_id, in_time, department="ZJJ"):
    app = {"application_id": application_id, "application_no": f"SP{application_id}", "item_code": "X-001",
           "department": department}
    return event("application.decided", {**app, "approved": True, "in_time": in_time, "at": SEPT},
                 service="approvals")


def lodge(db, fact_id, actor, reasons="该件系市级部门延误，非本单位原因", scope="own"):
    with db.unit_of_work() as uow:
        return handlers.lodge_objection(uow, {"fact_id": fact_id, "reasons": reasons}, actor,
                                        actor.department if scope == "own" else None, NOW)


def decide(db, objection_id, action, reasons="经核实，情况属实", at=NOW):
    with db.unit_of_work() as uow:
        return handlers.decide_objection(uow, objection_id, action, reasons, OFFICE.name, at), uow.published


def test_an_upheld_objection_voids_its_fact_by_an_entry_and_the_score_follows(db):
    feed(db, *[decided(f"A{i}", in_time=i != 0) for i in range(6)], decided("B0", False, "SWJ"))
    assert totals(db)["approvals_decided_in_time"] == 5
    late = next(f for f in facts(db, "approvals_overdue") if f["value"] == 1.0)
    in_time_fact = next(f for f in facts(db, "approvals_decided_in_time") if f["ref"] == late["ref"])
    objection, created = lodge(db, late["id"], ZJJ)
    assert created and objection["state"] == "open" and not objection["on_behalf"]
    # retried: the same objection, not a second one; other reasons for the same fact: one objection per fact
    again, created = lodge(db, late["id"], ZJJ)
    assert not created and again["id"] == objection["id"]
    with pytest.raises(Conflict):
        lodge(db, late["id"], ZJJ, reasons="另一理由")
    # another department's fact is answered as a missing one
    swj_fact = facts(db, "approvals_overdue", "SWJ")[0]
    with pytest.raises(BadRequest) as missing:
        lodge(db, 999999, ZJJ)
    with pytest.raises(BadRequest) as others:
        lodge(db, swj_fact["id"], ZJJ)
    assert missing.value.body() == others.value.body()
    with db.reader() as s, pytest.raises(NotFound):
        handlers.get_objection(s, objection["id"], "SWJ")

    upheld, published = decide(db, objection["id"], "uphold")
    assert upheld["state"] == "upheld" and [h["action"] for h in upheld["history"]] == ["lodged", "upheld"]
    assert [(e["event_type"], e["payload"]["decision"]) for e in published] == [("objection.decided", "upheld")]
    # the late decision no longer counts: the fact objected to and the other facts of its event (its count and
    # in-time flag go together: 5 of 5 in time, not 5 of 6)
    t = totals(db)
    assert "approvals_overdue" not in t
    assert t["approvals_decided"] == 5 and t["approvals_decided_in_time"] == 5
    with db.reader() as s:
        shown = handlers.department_score(s, RULES, SEPTEMBER, "ZJJ", NOW)["facts"]
    gone = next(f for f in shown if f["id"] == late["id"])
    assert gone["voided"] is True and gone["void"]["void_cause"] == "objection"
    assert "申诉成立" in gone["void"]["void_reason"] and gone["void"]["voided_by"] == OFFICE.name
    assert facts(db, "approvals_overdue")  # append-only: the fact is still in the ledger
    assert next(f for f in shown if f["id"] == in_time_fact["id"])["voided"] is True
    assert not any(f["voided"] for f in shown if f["ref"] != late["ref"])
    # the same decision again answers as the first; another decision is refused
    assert decide(db, objection["id"], "uphold")[0]["state"] == "upheld"
    with pytest.raises(Conflict):
        decide(db, objection["id"], "reject")
    # a voided fact is not objected to (its sibling voided with it)
    with pytest.raises(Conflict):
        lodge(db, in_time_fact["id"], ZJJ, reasons="又一理由")


def test_a_rejected_objection_leaves_the_fact_and_the_office_may_lodge_for_a_department(db):
    feed(db, decided("A1", False))
    fact = facts(db, "approvals_overdue")[0]
    objection, _ = lodge(db, fact["id"], OFFICE, scope="office")
    assert objection["on_behalf"] and objection["department"] == "ZJJ"
    rejected, published = decide(db, objection["id"], "reject", "超期属实")
    assert rejected["state"] == "rejected" and rejected["history"][-1]["reasons"] == "超期属实"
    assert published[0]["payload"]["decision"] == "rejected"
    assert totals(db)["approvals_overdue"] == 1


def test_a_period_does_not_close_over_open_objections_unless_asked_and_then_lists_them(db):
    feed(db, decided("A1", False))
    fact = facts(db, "approvals_overdue")[0]
    objection, _ = lodge(db, fact["id"], ZJJ)
    with pytest.raises(Conflict) as refused, db.unit_of_work() as uow:
        handlers.close_period(uow, RULES, SEPTEMBER, OFFICE.name, NOW)
    assert str(objection["id"]) in refused.value.message
    for bigger in ("2026-Q3", "2026"):  # the periods containing the fact's month are held as well
        if parse_period(bigger).end <= NOW:
            with pytest.raises(Conflict), db.unit_of_work() as uow:
                handlers.close_period(uow, RULES, parse_period(bigger), OFFICE.name, NOW)
    with db.unit_of_work() as uow:
        closed = handlers.close_period(uow, RULES, SEPTEMBER, OFFICE.name, NOW, with_open_objections=True)
        payload = uow.published[0]["payload"]
    assert [o["objection_id"] for o in payload["open_objections"]] == [str(objection["id"])]
    assert [o["id"] for o in closed["open_objections"]] == [objection["id"]]
    # decided after the close: the published result still lists it as open when it was closed
    decide(db, objection["id"], "reject", at=datetime(2026, 10, 13, 9, tzinfo=TZ))
    with db.reader() as s:
        assert [o["id"] for o in handlers.period_view(s, RULES, SEPTEMBER)["open_objections"]] == [objection["id"]]
        assert handlers.period_view(s, RULES, SEPTEMBER)["replay_matches"] is True
    # a fact of a closed period is not objected to any more
    feed(db, decided("A2", False))
    other = next(f for f in facts(db, "approvals_overdue") if f["ref"] == "A2")
    with pytest.raises(Conflict):
        lodge(db, other["id"], ZJJ)


@pytest.mark.parametrize("order", ["voided last", "voided first", "voided between"])
def test_a_voided_appeal_counts_nowhere_whatever_the_order(db, order):
    steps = [event("appeal.received", case(7, channel="hotline", type="complaint", urgency="normal",
                                           category="road", received_at=SEPT)),
             event("appeal.dispatched", case(7, by="op")),
             event("appeal.accepted", case(7, in_time=False))]
    kept = event("appeal.dispatched", case(8, by="op"))
    if order == "voided first":
        void(db, voided(7))
        feed(db, *steps, kept)
    elif order == "voided between":
        feed(db, steps[0], kept)
        void(db, voided(7, kind="withdrawn"))
        feed(db, *steps[1:])
    else:
        feed(db, *steps, kept)
        void(db, voided(7))
    t = totals(db)
    assert t.get("appeals_dispatched") == 1  # case 8 only
    for metric in ("appeals_received", "appeals_accepted", "appeals_accepted_in_time", "appeals_response_late"):
        assert not t.get(metric), metric
    assert len(facts(db, "appeals_dispatched")) == 2  # the facts stay in the ledger, marked void
    with db.reader() as s:
        shown = handlers.department_score(s, RULES, SEPTEMBER, "ZJJ", NOW)["facts"]
    assert {f["ref"] for f in shown if f["voided"]} == {"7"}
    assert all(f["void"]["void_ref"] == "7" for f in shown if f["voided"])
    # the voiding is recorded once, however often it is delivered
    assert void(db, voided(7)) is False


def test_a_closed_period_replays_without_a_voiding_recorded_after_its_close(db):
    feed(db, event("appeal.dispatched", case(7, by="op")), event("appeal.dispatched", case(8, by="op")))
    with db.unit_of_work() as uow:
        handlers.close_period(uow, RULES, SEPTEMBER, OFFICE.name, NOW)
    later = datetime(2026, 10, 13, 9, tzinfo=TZ)
    with db.unit_of_work() as uow:
        handlers.void_appeal(uow, voided(7), later)
    with db.reader() as s:
        assert handlers.period_view(s, RULES, SEPTEMBER)["replay_matches"] is True
        again = handlers.department_score(s, RULES, SEPTEMBER, "ZJJ", later)
    assert again["state"] == "closed" and sum(f["voided"] for f in again["facts"]) == 1
