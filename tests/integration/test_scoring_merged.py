"""scoring and merged appeals (appeal.merged, 合并) on a SQLite unit of work, no nameko: the matter counts through
the main case, so the merged appeal's volume facts (received, dispatched: the sample of 诉求办理规范) stop counting,
whichever arrives first, while what happened on it (a late acceptance, an urge) keeps counting; the merge is
recorded once and shown as the cause of its facts' voiding, the main case as the reason."""

from datetime import datetime

import pytest

from services.kernel.clock import TZ
from services.scoring import handlers, ledger
from services.scoring.domain import INSUFFICIENT, MERGED_VOIDS
from services.scoring.service import ScoringService
from tests.unit import test_scoring_handlers
from tests.unit.test_scoring_objections import NOW, OFFICE, RULES, SEPTEMBER, case, event, facts, feed, void, voided

MAIN = 8
db = test_scoring_handlers.db  # the fixture: a scoring database with ZJJ registered




def merged(appeal_id=7, main_id=MAIN):
    # `department` is the main case's
    return event("appeal.merged", case(appeal_id, main_id=str(main_id), main_case_no=f"MY{main_id}",
                                       reason="同一小区同一停水问题", by="operator-1"))


def merge(db, e, now=NOW):
    with db.unit_of_work() as uow:
        return handlers.merge_appeal(uow, e, now)


def life(appeal_id, in_time=True):
    out = [event("appeal.received", case(appeal_id, channel="hotline", type="complaint", urgency="normal",
                                         category="water", received_at=datetime(2026, 9, 1, 8, tzinfo=TZ))),
           event("appeal.dispatched", case(appeal_id, by="op")),
           event("appeal.accepted", case(appeal_id, in_time=in_time))]
    return out + ([] if in_time else [event("appeal.urged", case(appeal_id))])


def breakdown(db):
    with db.reader() as s:
        return handlers.department_score(s, RULES, SEPTEMBER, "ZJJ", NOW)


def handling(score):
    return next(m for m in score["metrics"] if m["code"] == "appeal_handling")


@pytest.mark.parametrize("order", ["merged last", "merged first", "merged between"])
def test_a_merged_appeal_counts_through_its_main_case_and_keeps_what_happened_on_it(db, order):
    steps = life(7, in_time=False)
    others = [e for i in range(MAIN, MAIN + 4) for e in life(i)]
    late_dispatch = event("appeal.dispatched", case(7, by="op"))  # a re-dispatch reported after the merge
    if order == "merged first":
        merge(db, merged())
        feed(db, *steps, *others, late_dispatch)
    elif order == "merged between":
        feed(db, *steps[:2], *others)
        assert handling(breakdown(db))["sample"] == 5  # five cases dispatched: enough to count
        merge(db, merged())
        feed(db, *steps[2:], late_dispatch)
    else:
        feed(db, *steps, *others, late_dispatch)
        assert handling(breakdown(db))["sample"] == 6
        merge(db, merged())
    t = breakdown(db)["totals"]
    # one matter, counted once: the main case's received and dispatched only
    assert (t.get("appeals_received"), t.get("appeals_dispatched")) == (4, 4)
    # what happened on the merged case did happen: its late acceptance and its urge
    assert (t.get("appeals_accepted"), t.get("appeals_accepted_in_time")) == (5, 4)
    assert (t.get("appeals_response_late"), t.get("appeals_response_due"), t.get("appeals_urged")) == (1, 5, 1)
    # the dispatched sample of 诉求办理规范 is below its minimum without the merged case
    m = handling(breakdown(db))
    assert (m["sample"], m["min_sample"], m["status"]) == (4, 5, INSUFFICIENT)

    # the facts stay in the ledger; the breakdown shows the voided ones with the merge as the cause
    assert len(facts(db, "appeals_dispatched")) == 6
    gone = [f for f in breakdown(db)["facts"] if f["voided"]]
    assert sorted(f["metric"] for f in gone) == ["appeals_dispatched", "appeals_dispatched", "appeals_received"]
    assert {f["source_event_type"] for f in gone} == set(MERGED_VOIDS)
    for f in gone:
        assert (f["ref"], f["void"]["void_cause"], f["void"]["void_ref"], f["void"]["voided_by"]) == (
            "7", "merged", "7", "operator-1")
        assert f["void"]["void_reason"] == f"并入主件 MY{MAIN}：同一小区同一停水问题"


def test_a_merge_is_recorded_once_however_often_it_is_delivered(db):
    feed(db, *life(7), *life(MAIN))
    first = merged()
    assert merge(db, first) is True
    assert merge(db, first) is False  # redelivered
    assert merge(db, merged(main_id=9)) is False  # published again: the first merge stands
    assert void(db, voided(7)) is False  # a merged case is not voided as a whole afterwards
    t = breakdown(db)["totals"]
    assert (t.get("appeals_received"), t.get("appeals_dispatched"), t.get("appeals_accepted")) == (1, 1, 2)
    gone = [f for f in breakdown(db)["facts"] if f["voided"]]
    assert len(gone) == 2 and {f["void"]["void_reason"] for f in gone} == {f"并入主件 MY{MAIN}：同一小区同一停水问题"}


def test_invalid_and_withdrawn_still_void_every_fact_of_their_appeal(db):
    feed(db, *life(7, in_time=False), *life(MAIN), *life(9, in_time=False))
    merge(db, merged())
    void(db, voided(9, kind="withdrawn"))
    with db.reader() as s:
        causes = {(f["ref"], f["metric"]): f["void_cause"] for f in ledger.voided(s, department="ZJJ")}
    assert causes == {("7", "appeals_received"): "merged", ("7", "appeals_dispatched"): "merged",
                      **{("9", m): "withdrawn" for m in ("appeals_received", "appeals_dispatched",
                                                         "appeals_accepted", "appeals_accepted_in_time",
                                                         "appeals_urged")}}


def test_a_merge_recorded_after_the_close_is_a_late_change(db):
    feed(db, *life(7), *life(MAIN))
    with db.unit_of_work() as uow:
        handlers.close_period(uow, RULES, SEPTEMBER, OFFICE.name, NOW)
    later = datetime(2026, 10, 13, 9, tzinfo=TZ)
    merge(db, merged(), now=later)
    with db.reader() as s:
        assert handlers.period_view(s, RULES, SEPTEMBER)["replay_matches"] is True
        closed = handlers.department_score(s, RULES, SEPTEMBER, "ZJJ", later)
    assert closed["state"] == "closed" and sum(f["voided"] for f in closed["facts"]) == 2


def test_the_service_consumes_appeal_merged_apart_from_the_facts():
    def subscriptions(name):
        return {(e.source_service, e.event_type) for e in getattr(ScoringService, name).nameko_entrypoints}

    subscribed = {name: subscriptions(name) for name in ("on_event", "on_appeal_merged")}
    assert subscribed["on_appeal_merged"] == {("appeals", "appeal.merged")}
    # it brings no fact of its own: the ledger's consumer does not take it
    assert ("appeals", "appeal.merged") not in subscribed["on_event"]
