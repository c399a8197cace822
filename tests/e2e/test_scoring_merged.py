"""A merged appeal (appeal.merged, 合并) on the real broker and HTTP API: scoring consumes the event on its own queue
and the merged case's received and dispatched facts stop counting, before or after they arrive, while its
acceptance keeps counting; the breakdown says why (cause merged, the main case in the reason)."""

from tests.conftest import wait_for
from tests.e2e.test_scoring_department_view import PERIOD
from tests.e2e.test_scoring_objections import case, city  # noqa: F401  (city: the fixture)


def test_a_merged_appeals_volume_facts_stop_counting_whichever_event_comes_first(city):  # noqa: F811
    scoring, send, _ = city
    merging = {"main_id": "9", "main_case_no": "MY9", "reason": "同一事项重复反映", "by": "operator-1"}
    # appeal 1: its facts first, then merged; appeal 2: merged first (twice), its facts after; 9 is the main case
    send("appeals", "appeal.dispatched", case(1, by="op"))
    send("appeals", "appeal.accepted", case(1, in_time=False))
    wait_for(lambda: len(scoring.facts("appeals_accepted")) == 1, message="appeal 1's facts")
    for appeal_id in (1, 2, 2):
        send("appeals", "appeal.merged", case(appeal_id, **merging))
    send("appeals", "appeal.dispatched", case(9, by="op"))
    send("appeals", "appeal.accepted", case(9, in_time=True))

    def breakdown():
        got = scoring.ok("GET", "/api/v1/scores/D1", "handler_d1", period=PERIOD)
        return got, sorted((f["ref"], f["metric"]) for f in got["facts"] if f["voided"])

    wait_for(lambda: breakdown()[1] == [("1", "appeals_dispatched")] and len(scoring.facts("appeals_accepted")) == 2,
             message="appeal 1's dispatch voided, the main case in")
    send("appeals", "appeal.dispatched", case(2, by="op"))
    send("appeals", "appeal.accepted", case(2, in_time=True))
    wait_for(lambda: breakdown()[1] == [("1", "appeals_dispatched"), ("2", "appeals_dispatched")]
             and len(scoring.facts("appeals_accepted")) == 3, message="appeal 2's late dispatch voided as it came")
    got, _ = breakdown()
    # one dispatch counted (the main case's); the three acceptances, one of them late, all count
    assert (got["totals"]["appeals_dispatched"], got["totals"]["appeals_accepted"],
            got["totals"]["appeals_accepted_in_time"], got["totals"]["appeals_response_late"]) == (1, 3, 2, 1)
    for f in got["facts"]:
        if f["voided"]:
            assert (f["void"]["void_cause"], f["void"]["void_reason"]) == ("merged", "并入主件 MY9：同一事项重复反映")
    assert len(scoring.facts("appeals_dispatched")) == 3  # the ledger keeps every fact
