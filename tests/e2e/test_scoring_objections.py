"""Objections (申诉) and voided appeals end to end on the real broker and HTTP API. A department objects to a
fact of its own; the assessment office upholds it (the fact is voided with the objection as the reason, the
score recomputed; the voiding is an entry, the fact stays) or rejects it with reasons; both sides read the
history; objection.lodged / objection.decided go out once each. A period does not close over open objections
unless the close says with_open_objections, and then publishes them as open. An appeal voided (invalid 无效,
withdrawn 撤诉) counts nowhere, whether appeal.voided arrives after the appeal's facts or before them."""

from datetime import datetime, timedelta

import pytest

from services.kernel.clock import TZ
from services.kernel.contracts import make_event
from services.scoring.service import ScoringService
from tests.conftest import wait_for
from tests.e2e.test_scoring_department_view import PERIOD, SEPT, decided
from tests.e2e.test_scoring_rules import Scoring
from tests.support import Tap, publish_raw

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)


@pytest.fixture
def city(service_config, start_service, api_keys, fresh_amqp_uri, frozen):
    frozen(NOW)
    cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri)
    tap = Tap(fresh_amqp_uri, "scoring")
    start_service(ScoringService, cfg)
    scoring = Scoring(cfg["base_url"], api_keys)
    for code, name in (("D1", "一号局"), ("D2", "二号局")):
        scoring.ok("POST", "/api/v1/departments", body={"code": code, "name": name, "approval_functions": True},
                   status=201)

    def send(source, event_type, payload, at=SEPT):
        body = make_event(event_type, payload, service=source, occurred_at=at)
        publish_raw(fresh_amqp_uri, f"{source}.events", event_type, body)
        return body["event_id"]

    return scoring, send, tap


def approval_score(scoring, department="D1", who="assessor"):
    got = scoring.ok("GET", f"/api/v1/scores/{department}", who, period=PERIOD)
    return next(m for m in got["metrics"] if m["code"] == "approval_on_time")["score"], got


def events_of(tap, event_type):
    return [m for m in tap.drain() if m["event_type"] == event_type]


def test_an_objection_upheld_voids_its_fact_and_a_period_waits_for_open_ones(city, frozen):
    scoring, send, tap = city
    decided(send, "D1", 6, late=1)
    wait_for(lambda: len(scoring.facts("approvals_decided")) == 6, message="the September facts in scoring")
    assert approval_score(scoring)[0] == 83.33
    late = next(f for f in scoring.facts("approvals_overdue") if f["value"] == 1)
    body = {"fact_id": late["id"], "reasons": "申请人补正材料期间已暂停计时，系统未停表"}

    lodged = scoring.ok("POST", "/api/v1/objections", "handler_d1", body=body, status=201)
    again = scoring.ok("POST", "/api/v1/objections", "handler_d1", body=body, status=200)  # a retried request
    assert again["id"] == lodged["id"] and lodged["state"] == "open" and lodged["on_behalf"] is False
    assert scoring.call("POST", "/api/v1/objections", "handler_d1",
                        body={**body, "reasons": "另一理由"}).status_code == 409

    # the period waits for it
    refused = scoring.call("POST", f"/api/v1/periods/{PERIOD}/close")
    assert refused.status_code == 409 and str(lodged["id"]) in refused.json()["error"]["message"]
    assert [o["id"] for o in scoring.ok("GET", f"/api/v1/periods/{PERIOD}")["open_objections"]] == [lodged["id"]]

    frozen(NOW + timedelta(hours=2))
    upheld = scoring.ok("POST", f"/api/v1/objections/{lodged['id']}/uphold", body={"reasons": "经核实属实"})
    assert upheld["state"] == "upheld" and upheld["decided_by"] == "test-assessor"
    # retried: the same answer, nothing twice; the other decision: 409
    assert scoring.ok("POST", f"/api/v1/objections/{lodged['id']}/uphold", body={"reasons": "经核实属实"})[
        "decided_at"] == upheld["decided_at"]
    assert scoring.call("POST", f"/api/v1/objections/{lodged['id']}/reject",
                        body={"reasons": "不成立"}).status_code == 409
    # recomputed: the late decision no longer counts (5 of 5); the fact stays in the ledger, voided, and says why
    score, breakdown = approval_score(scoring, who="handler_d1")
    assert score == 100.0
    voided = [f for f in breakdown["facts"] if f["voided"]]
    assert {f["ref"] for f in voided} == {late["ref"]} and late["id"] in {f["id"] for f in voided}
    assert all(f["void"]["void_cause"] == "objection" and f["void"]["void_ref"] == str(lodged["id"])
               and body["reasons"] in f["void"]["void_reason"] for f in voided)
    # both sides read the history
    for who in ("handler_d1", "assessor"):
        seen = scoring.ok("GET", f"/api/v1/objections/{lodged['id']}", who)
        assert [(h["action"], h["reasons"]) for h in seen["history"]] == [
            ("lodged", body["reasons"]), ("upheld", "经核实属实")]

    # another one, rejected; a third left open, and the period closed with it, listed as open
    other = next(f for f in scoring.facts("approvals_decided") if f["ref"] == "D1-0")
    rejected = scoring.ok("POST", "/api/v1/objections", "assessor", status=201,  # entered on D1's behalf
                          body={"fact_id": other["id"], "reasons": "代为申诉"})
    assert rejected["on_behalf"] is True and rejected["department"] == "D1"
    scoring.ok("POST", f"/api/v1/objections/{rejected['id']}/reject", body={"reasons": "受理属实"})
    third = next(f for f in scoring.facts("approvals_decided") if f["ref"] == "D1-1")
    still_open = scoring.ok("POST", "/api/v1/objections", "handler_d1", status=201,
                            body={"fact_id": third["id"], "reasons": "重复受理"})
    assert [o["state"] for o in scoring.ok("GET", "/api/v1/objections", "handler_d1", period=PERIOD)] == [
        "upheld", "rejected", "open"]
    assert [o["id"] for o in scoring.ok("GET", "/api/v1/objections", state="open")] == [still_open["id"]]
    assert scoring.call("POST", f"/api/v1/periods/{PERIOD}/close").status_code == 409
    closed = scoring.ok("POST", f"/api/v1/periods/{PERIOD}/close", body={"with_open_objections": True})
    assert closed["state"] == "closed" and [o["id"] for o in closed["open_objections"]] == [still_open["id"]]

    wait_for(lambda: len(events_of(tap, "scoring.results_published")) == 1, message="the results published")
    published = events_of(tap, "scoring.results_published")[0]["payload"]
    assert [o["objection_id"] for o in published["open_objections"]] == [str(still_open["id"])]
    lodged_events = events_of(tap, "objection.lodged")
    decided_events = events_of(tap, "objection.decided")
    assert sorted(e["payload"]["objection_id"] for e in lodged_events) == sorted(
        str(o["id"]) for o in (lodged, rejected, still_open))  # once each, the retry published nothing
    assert sorted((e["payload"]["objection_id"], e["payload"]["decision"]) for e in decided_events) == sorted(
        [(str(lodged["id"]), "upheld"), (str(rejected["id"]), "rejected")])
    # no reasons travel in events
    assert all("reasons" not in e["payload"] for e in lodged_events + decided_events)
    # a fact of a closed period is not objected to any more
    fourth = next(f for f in scoring.facts("approvals_decided") if f["ref"] == "D1-2")
    assert scoring.call("POST", "/api/v1/objections", "handler_d1",
                        body={"fact_id": fourth["id"], "reasons": "x"}).status_code == 409


def case(appeal_id, department="D1", **fields):
    return {"appeal_id": str(appeal_id), "case_no": f"MY{appeal_id}", "department": department, **fields}


def test_a_voided_appeal_counts_nowhere_whichever_event_comes_first(city):
    scoring, send, _ = city
    voiding = {"reason": "测试电话", "by": "operator-1", "kind": "invalid", "invalid_kind": "test"}
    # appeal 1: its facts first, then voided; appeal 2: voided first (withdrawn), its facts after; 3..7 stand
    send("appeals", "appeal.dispatched", case(1, by="op"))
    send("appeals", "appeal.accepted", case(1, in_time=False))
    wait_for(lambda: len(scoring.facts("appeals_accepted")) == 1, message="appeal 1's facts")
    send("appeals", "appeal.voided", case(1, **voiding))
    send("appeals", "appeal.voided", case(2, **{**voiding, "kind": "withdrawn", "invalid_kind": None,
                                                "reason": "来电人撤诉"}))
    send("appeals", "appeal.voided", case(2, **{**voiding, "kind": "withdrawn", "invalid_kind": None,
                                                "reason": "来电人撤诉"}))  # another delivery of the same
    for i in range(3, 8):
        send("appeals", "appeal.dispatched", case(i, by="op"))
        send("appeals", "appeal.accepted", case(i, in_time=True))

    def voided_refs():
        got = scoring.ok("GET", "/api/v1/scores/D1", "handler_d1", period=PERIOD)
        return got, {f["ref"] for f in got["facts"] if f["voided"]}

    wait_for(lambda: voided_refs()[1] == {"1"} and len(scoring.facts("appeals_accepted")) == 6,
             message="appeal 1 voided, 3..7 in")
    send("appeals", "appeal.dispatched", case(2, by="op"))
    send("appeals", "appeal.accepted", case(2, in_time=False))
    wait_for(lambda: voided_refs()[1] == {"1", "2"}, message="appeal 2's late facts voided as they came")
    got, _ = voided_refs()
    # counted: appeals 3..7 only, each signed for in time → response 5 of 5 = 100, handling sample 5
    assert (got["totals"]["appeals_dispatched"], got["totals"]["appeals_accepted"],
            got["totals"]["appeals_accepted_in_time"]) == (5, 5, 5)
    assert not got["totals"].get("appeals_response_late")
    response = next(m for m in got["metrics"] if m["code"] == "appeal_response")
    assert (response["score"], response["sample"]) == (100.0, 5)
    reasons = {f["ref"]: f["void"] for f in got["facts"] if f["voided"]}
    assert (reasons["1"]["void_cause"], reasons["2"]["void_cause"]) == ("invalid", "withdrawn")
    assert len(scoring.facts("appeals_dispatched")) == 7  # the ledger keeps every fact


@pytest.mark.postgres
def test_concurrent_lodging_and_deciding_have_the_effect_of_one_on_postgresql(start_on_postgres, api_keys,
                                                                             amqp_uri, frozen):
    import eventlet

    frozen(NOW)
    tap = Tap(amqp_uri, "scoring")
    cfg = start_on_postgres(ScoringService)
    scoring = Scoring(cfg["base_url"], api_keys)
    scoring.ok("POST", "/api/v1/departments", body={"code": "D1", "name": "一号局", "approval_functions": True},
               status=201)

    def send(event_type, payload):
        publish_raw(cfg["AMQP_URI"], "approvals.events", event_type,
                    make_event(event_type, payload, service="approvals", occurred_at=SEPT))

    decided(lambda source, event_type, payload: send(event_type, payload), "D1", 6, late=1)
    wait_for(lambda: len(scoring.facts("approvals_decided")) == 6, message="the facts on PostgreSQL")
    late = next(f for f in scoring.facts("approvals_overdue") if f["value"] == 1)
    body = {"fact_id": late["id"], "reasons": "同时提交"}
    pool = eventlet.GreenPool(8)
    lodged = list(pool.imap(lambda _: scoring.call("POST", "/api/v1/objections", "handler_d1", body), range(8)))
    assert {r.status_code for r in lodged} <= {200, 201, 409} and [r.status_code for r in lodged].count(201) == 1
    objection = next(r.json() for r in lodged if r.status_code == 201)
    decided_ = list(pool.imap(lambda _: scoring.call("POST", f"/api/v1/objections/{objection['id']}/uphold",
                                                     body={"reasons": "属实"}), range(8)))
    assert {r.status_code for r in decided_} <= {200, 409} and 200 in {r.status_code for r in decided_}
    assert len(scoring.ok("GET", "/api/v1/objections")) == 1
    got = scoring.ok("GET", "/api/v1/scores/D1", period=PERIOD)
    assert sum(f["voided"] for f in got["facts"]) == 3  # the late decision's three facts, voided once each
    assert next(m for m in got["metrics"] if m["code"] == "approval_on_time")["score"] == 100.0
    wait_for(lambda: sum(m["event_type"] == "objection.decided" for m in tap.drain()) >= 1,
             message="objection.decided")
    assert [m["event_type"] for m in tap.messages].count("objection.decided") == 1
    assert [m["event_type"] for m in tap.messages].count("objection.lodged") == 1
