"""Fair scores (#13) end to end on the real broker, under the shipped rules: events built to their contracts go
through RabbitMQ into the scoring service (the demo register: JW registered as not assessed). A department
with nothing to count is not ranked (and says why) instead of scoring 100 and ranking first; the assessment
office is listed as not assessed; a case never signed for counts as a late response, and one reported
overdue and then signed for late counts once, whichever of the two events arrives first; a return approved
on review costs nothing, a rejected one costs its department points."""

from datetime import datetime, timedelta

import pytest

from services.kernel.clock import TZ
from services.kernel.contracts import make_event
from services.scoring.service import ScoringService
from tests.conftest import wait_for
from tests.e2e.test_scoring_rules import Scoring
from tests.support import publish_raw

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)
SEPT = datetime(2026, 9, 1, 9, 0, tzinfo=TZ)


@pytest.fixture
def city(service_config, start_service, api_keys, fresh_amqp_uri, frozen):
    frozen(NOW)
    cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri)  # the shipped rules and the demo register
    start_service(ScoringService, cfg)
    scoring = Scoring(cfg["base_url"], api_keys)

    def send(source, event_type, payload, at=SEPT):
        body = make_event(event_type, payload, service=source, occurred_at=at)
        publish_raw(fresh_amqp_uri, f"{source}.events", event_type, body)
        return body["event_id"]

    return scoring, send


def case(appeal_id, department, **fields):
    return {"appeal_id": str(appeal_id), "case_no": f"MY{appeal_id}", "department": department, **fields}


def decided(send, department, n, late=0, item="X-001"):
    """`n` applications of `department` submitted and decided in September, the last `late` of them late."""
    for i in range(n):
        app = {"application_id": f"{department}-{i}", "application_no": f"SP{department}{i}", "item_code": item,
               "department": department}
        send("approvals", "application.submitted", {**app, "at": SEPT})
        send("approvals", "application.decided", {**app, "approved": True, "in_time": i < n - late,
                                                  "at": SEPT + timedelta(days=3)})


def metric(breakdown, code):
    return next(m for m in breakdown["metrics"] if m["code"] == code)


def facts_of_event(scoring, event_id):
    return [f for f in scoring.facts() if f["source_event_id"] == event_id]


def test_an_inactive_department_is_not_ranked_and_the_assessment_office_not_assessed(city):
    scoring, send = city
    decided(send, "ZJJ", 6, late=1)  # 5 of 6 in time → 83.33
    decided(send, "SWJ", 5, late=2)  # 3 of 5 → 60
    decided(send, "WJW", 2)  # both in time, but two applications: too little to judge anything by
    for i in range(5):  # the discipline office handles efficiency complaints: activity, but not assessed
        send("appeals", "appeal.dispatched", case(100 + i, "JW", by="operator"))
        send("appeals", "appeal.accepted", case(100 + i, "JW", in_time=True))
    wait_for(lambda: len(scoring.facts("approvals_decided")) == len(scoring.facts("approvals_submitted")) == 13
             and len(scoring.facts("appeals_accepted")) == len(scoring.facts("appeals_dispatched")) == 5,
             message="the September facts in scoring")

    result = scoring.scores()
    assert result["rules_version"] == "2026.4"
    rows = {r["department"]: r for r in result["rows"]}
    ranked = [(r["department"], r["rank"], r["composite"]) for r in result["rows"] if r["rank"] is not None]
    # ZJJ: approval 83.33 (w20), monitoring 100 (w15: 12 handled, no card); every other metric has not enough
    # data and gives its weight away: (1666.67 + 1500) / 35; SWJ: approval 60: (1200 + 1500) / 35
    assert ranked == [("ZJJ", 1, 90.48), ("SWJ", 2, 77.14)]
    assert (rows["ZJJ"]["tier"], rows["SWJ"]["tier"]) == (1, 2)  # two ranked: the cuts are at 1 and 2
    # WJW: perfect on its two applications, but 2 decided < 5 and 2 + 2 handled < 5: not ranked, not first;
    # FGJ had nothing at all (before: both scored 100 and shared the first rank with JW)
    wjw, fgj = rows["WJW"], rows["FGJ"]
    assert (wjw["standing"], wjw["rank"], wjw["composite"]) == ("not_ranked", None, None)
    assert (fgj["standing"], fgj["rank"], fgj["tier"], fgj["composite"], fgj["bonus"]) == (
        "not_ranked", None, None, None, 0.0)
    assert fgj["standing_zh"] == "不参与排名" and "最少样本" in fgj["standing_reason"]
    jw = rows["JW"]
    assert (jw["standing"], jw["rank"], jw["composite"], jw["final"]) == ("not_assessed", None, None, None)
    assert jw["standing_zh"] == "不参与考核"
    # nobody without data is ranked, let alone first; the unranked come after the ranked
    order = [r["standing"] for r in result["rows"]]
    assert order == sorted(order, key=["ranked", "not_ranked", "not_assessed"].index)

    # the breakdown says why, metric by metric
    why = scoring.ok("GET", "/api/v1/scores/FGJ", period="2026-09")
    assert why["standing"] == "not_ranked" and why["explanation_zh"][0].startswith("不参与排名")
    assert {m["status"] for m in why["metrics"]} == {"insufficient"}
    approval = metric(why, "approval_on_time")
    assert (approval["sample"], approval["min_sample"], approval["effective_weight"]) == (0, 5, 0.0)
    assert approval["explanation_zh"] == "审批办结件数 0，最少样本 5，数据不足，不计入综合得分"
    office = scoring.ok("GET", "/api/v1/scores/JW", period="2026-09")
    assert office["standing"] == "not_assessed" and "不参与考核" in office["explanation_zh"][0]
    swj = scoring.ok("GET", "/api/v1/scores/SWJ", period="2026-09")
    assert metric(swj, "approval_on_time")["effective_weight"] == 57.14  # 20 of the 35 counted
    assert any(line.startswith("数据不足、未计入综合得分的指标") for line in swj["explanation_zh"])
    assert any("诉求响应率" in note for note in swj["notes_zh"])


@pytest.mark.parametrize("order", ["overdue first", "acceptance first"])
def test_a_case_never_signed_for_is_late_and_a_late_acceptance_after_the_overdue_counts_once(city, order):
    scoring, send = city
    for i in range(1, 4):  # three signed for in time
        send("appeals", "appeal.accepted", case(i, "HBJ", in_time=True))
    never = send("appeals", "appeal.acceptance_overdue", case(4, "HBJ", dispatched_at=SEPT),
                 at=SEPT + timedelta(days=2))
    wait_for(lambda: len(scoring.facts("appeals_accepted")) == 3 and facts_of_event(scoring, never),
             message="three acceptances and an overdue")
    by = scoring.ok("GET", "/api/v1/scores/HBJ", period="2026-09")
    response = metric(by, "appeal_response")
    # 3 in time of 4 due: the case never signed for is a late response (before: it counted nowhere, 100%)
    assert (response["inputs"]["appeals_response_due"], response["inputs"]["appeals_response_late"]) == (4, 1)
    assert response["status"] == "insufficient"  # 4 < 5: not yet enough to count

    # case 5: reported overdue and signed for late — the two events on their own queues, in either order
    overdue = case(5, "HBJ", dispatched_at=SEPT + timedelta(hours=1))
    late = case(5, "HBJ", in_time=False)
    first, second = (("appeal.acceptance_overdue", overdue, 2), ("appeal.accepted", late, 3))
    if order == "acceptance first":
        first, second = second, first
    for event_type, payload, day in (first, second):
        event_id = send("appeals", event_type, payload, at=SEPT + timedelta(days=day))
        wait_for(lambda eid=event_id: facts_of_event(scoring, eid), message=f"{event_type} in scoring")
        by = scoring.ok("GET", "/api/v1/scores/HBJ", period="2026-09")
        # counted once however far along: due 5 (3 in time + case 4 + case 5), late 2
        assert metric(by, "appeal_response")["inputs"]["appeals_response_due"] == 5, event_type
    response = metric(by, "appeal_response")
    assert (response["inputs"]["appeals_response_late"], response["inputs"]["appeals_acceptance_overdue"],
            response["inputs"]["appeals_accepted"]) == (2, 2, 4)
    assert (response["status"], response["score"]) == ("scored", 60.0)  # 3 / 5
    row = next(r for r in scoring.scores()["rows"] if r["department"] == "HBJ")
    assert (row["standing"], row["rank"], row["composite"]) == ("ranked", 1, 60.0)

    # the same overdue reported again (another event) is the same dispatch: nothing changes
    again = send("appeals", "appeal.acceptance_overdue", overdue, at=SEPT + timedelta(days=2, hours=1))
    wait_for(lambda: facts_of_event(scoring, again), message="the repeated overdue in scoring")
    assert metric(scoring.ok("GET", "/api/v1/scores/HBJ", period="2026-09"),
                  "appeal_response")["inputs"]["appeals_response_due"] == 5


def test_an_approved_return_costs_nothing_and_a_rejected_one_costs_points(city):
    scoring, send = city
    for i in range(1, 6):  # five cases dispatched to GAJ: the activity appeal handling is judged on
        send("appeals", "appeal.dispatched", case(i, "GAJ", by="operator"))
    for i in (1, 2):
        send("appeals", "appeal.returned", case(i, "GAJ", reason="不属于本单位职责"))
    approved = send("appeals", "appeal.return_reviewed", case(1, None, returned_by="GAJ", decision="approved",
                                                              by="operator"))
    wait_for(lambda: len(scoring.facts("appeals_returned")) == 2 and facts_of_event(scoring, approved)
             and len(scoring.facts("appeals_dispatched")) == 5, message="returns and their first review")
    handling = metric(scoring.ok("GET", "/api/v1/scores/GAJ", period="2026-09"), "appeal_handling")
    assert (handling["score"], handling["status"], handling["sample"]) == (100.0, "scored", 5)
    assert (handling["inputs"]["appeals_returned"], handling["inputs"]["appeals_returned_approved"]) == (2, 1)

    rejected = send("appeals", "appeal.return_reviewed", case(2, "GAJ", returned_by="GAJ", decision="rejected",
                                                              by="operator"))
    wait_for(lambda: facts_of_event(scoring, rejected), message="the rejected review in scoring")
    handling = metric(scoring.ok("GET", "/api/v1/scores/GAJ", period="2026-09"), "appeal_handling")
    assert (handling["score"], handling["inputs"]["appeals_returned_rejected"]) == (98.0, 1)
    row = next(r for r in scoring.scores()["rows"] if r["department"] == "GAJ")
    assert (row["composite"], row["metrics"]["appeal_handling"]) == (98.0, 98.0)
