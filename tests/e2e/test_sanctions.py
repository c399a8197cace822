"""The sanctions register (效能问责) end to end on the real broker and HTTP API. A 效能告诫 from each source — an
upheld complaint (appeals' efficiency_warning.issued), a visit finding, a monitor alert, a key project's
accountability procedure (approvals' accountability.concluded), an inspection, entered directly — lands in the
register and costs exactly 0.5 (the one from appeals once, not twice); a 通报批评 takes the unit out of the advanced
units and costs nothing else; a measure withdrawn on review leaves the score as it was, audited; a review after its
time, or asked twice, is a 409; bad input 400, the wrong role 403, another unit's measure 404."""

from datetime import date, datetime, timedelta

import pytest

from services.kernel.clock import TZ
from services.kernel.contracts import make_event
from services.scoring.service import ScoringService
from tests.conftest import wait_for
from tests.e2e.test_scoring_rules import Scoring
from tests.support import Tap, publish_raw

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)
SEPT = datetime(2026, 9, 1, 9, 0, tzinfo=TZ)
LATE_SEPT = datetime(2026, 9, 28, 9, 0, tzinfo=TZ)  # its review window (15 working days) runs past NOW
PERIOD = "2026-09"
NAME = "张三丰"


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

    def send(source, event_type, payload, at=LATE_SEPT, body=None):
        body = body or make_event(event_type, payload, service=source, occurred_at=at)
        publish_raw(fresh_amqp_uri, f"{source}.events", event_type, body)
        return body

    return scoring, send, tap


def decided(send, department, n):
    for i in range(n):
        app = {"application_id": f"{department}-{i}", "application_no": f"SP{department}{i}", "item_code": "X-001",
               "department": department}
        send("approvals", "application.submitted", {**app, "at": SEPT}, at=SEPT)
        send("approvals", "application.decided", {**app, "approved": True, "in_time": True,
                                                  "at": SEPT + timedelta(days=3)}, at=SEPT)


def row(scoring, department="D1"):
    return next(r for r in scoring.scores(PERIOD)["rows"] if r["department"] == department)


def measure(kind="efficiency_warning", number=1, **fields):
    return {"kind": kind, "department": "D1", "source": "direct", "deciding_body": "市效能办",
            "document_no": f"效能告诫〔2026〕{number}号", "decided_on": "2026-09-28", "reason": "推诿扯皮", **fields}


def entries(scoring, who="assessor", **query):
    return scoring.ok("GET", "/api/v1/sanctions", who, **query)


def published(tap, event_type):
    return [m for m in tap.drain() if m["event_type"] == event_type]


def test_a_warning_from_each_source_costs_exactly_half_a_point(city):
    scoring, send, tap = city
    visit = scoring.ok("POST", "/api/v1/visits", status=201, body={
        "department": "D1", "point_code": None, "visited_at": SEPT.isoformat(), "finding": "窗口无人值守",
        "due_at": datetime(2026, 12, 31, tzinfo=TZ).isoformat(), "visitor": "暗访组"})
    base = row(scoring)
    assert (base["efficiency_warnings"], base["deduction"]) == (0, 0)

    def costs(n):
        r = row(scoring)
        assert r["efficiency_warnings"] == n and r["deduction"] == 0.5 * n, r
        assert round(base["final"] - r["final"], 2) == 0.5 * n if base["final"] is not None else True
        return r

    # entered by hand: a visit finding, a monitor alert, an inspection, directly
    for n, (source, ref) in enumerate((("visit", str(visit["id"])), ("monitor_alert", "ALERT-7"),
                                       ("inspection", None), ("direct", None)), start=1):
        entry = scoring.ok("POST", "/api/v1/sanctions", status=201,
                           body=measure(number=n, source=source, source_ref=ref))
        assert (entry["state"], entry["costs_points"], entry["ledger"], entry["source"]) == (
            "in_force", True, "own", source)
        costs(n)

    # an upheld complaint: appeals' warning to one of D1's staff; delivered twice, counted once
    warning = send("appeals", "efficiency_warning.issued", {
        "warning_id": "W-1", "unit": "D1", "person": NAME, "reason": "投诉查实", "appeal_id": "9",
        "case_no": "MY9"})
    send("appeals", "efficiency_warning.issued", None, body=warning)
    wait_for(lambda: entries(scoring, source="complaint")["total"] == 1
             and len(scoring.facts("efficiency_warnings")) == 5, message="the warning in the register and ledger")
    complaint = entries(scoring, source="complaint")["items"][0]
    assert (complaint["target"], complaint["person_name"], complaint["ledger"], complaint["ledger_ref"]) == (
        "person", NAME, "core", "W-1")
    costs(5)  # 0.5 once, not 1.0

    # a key project's accountability procedure: a measure, and one that ended with none due
    concluded = {"procedure_id": "P-1", "alert_id": "AL-1", "project_code": "XM-1", "department": "D1",
                 "outcome": "measure", "measure": "efficiency_warning", "target": "person", "post": "科长",
                 "deciding_body": "市纪委监委", "document_no": "效能告诫〔2026〕99号", "decided_on": "2026-09-28",
                 "reason": "项目推进不力", "by": "monitor-1", "concluded_at": LATE_SEPT.isoformat()}
    send("approvals", "accountability.concluded", concluded)
    send("approvals", "accountability.concluded", {**concluded, "procedure_id": "P-2", "outcome": "none_due",
                                                   "measure": None, "document_no": None})
    wait_for(lambda: entries(scoring, source="project_accountability")["total"] == 1, message="the procedure's")
    costs(6)
    assert entries(scoring)["total"] == 6 and entries(scoring, year=2026, kind="efficiency_warning")["total"] == 6

    # the complaint's warning withdrawn on review (asked for by the office on the unit's behalf): its core fact
    # voided, 0.5 back, the other five stand
    scoring.ok("POST", f"/api/v1/sanctions/{complaint['id']}/review", status=201, body={"reason": "当事人申辩"})
    done = scoring.ok("POST", f"/api/v1/sanctions/{complaint['id']}/review/decide",
                      body={"decision": "withdrawn", "note": "复核不属实"})
    assert done["state"] == "withdrawn" and [h["action"] for h in done["history"]] == [
        "recorded", "review_requested", "withdrawn"]
    costs(5)
    voided = [f for f in scoring.ok("GET", "/api/v1/scores/D1", period=PERIOD)["facts"] if f["voided"]]
    assert [(f["ref"], f["void"]["void_cause"]) for f in voided] == [("W-1", "sanction_withdrawn")]

    # events: one per entry, no person's name anywhere in them
    recorded = published(tap, "sanction.recorded")
    assert sorted(e["payload"]["source"] for e in recorded) == sorted(
        ["visit", "monitor_alert", "inspection", "direct", "complaint", "project_accountability"])
    assert NAME not in str(tap.messages)
    # the person's name is internal: the unit itself and the office see it, another unit never
    assert scoring.ok("GET", f"/api/v1/sanctions/{complaint['id']}", "handler_d1")["person_name"] == NAME
    assert scoring.call("GET", f"/api/v1/sanctions/{complaint['id']}", "handler_d2").status_code == 404
    assert entries(scoring, "handler_d2")["total"] == 0
    assert entries(scoring, "handler_d2", department="D1")["total"] == 0
    assert entries(scoring, "handler_d1")["total"] == 6


def test_a_criticism_disqualifies_and_a_withdrawn_measure_leaves_the_score_as_it_was(city, frozen):
    scoring, send, tap = city
    decided(send, "D1", 6)
    decided(send, "D2", 6)
    wait_for(lambda: len(scoring.facts("approvals_decided")) == 12, message="the September facts in scoring")
    base = row(scoring)
    assert base["advanced_unit"] is True and base["disqualified"] is False

    # 通报批评: out of the advanced units, nothing else
    criticism = scoring.ok("POST", "/api/v1/sanctions", status=201, body=measure(
        "criticism", document_no="通报〔2026〕5号", source="inspection"))
    assert criticism["disqualifies"] is True and criticism["costs_points"] is False
    criticised = row(scoring)
    assert criticised["advanced_unit"] is False and criticised["disqualified"] is True
    for key in ("composite", "rank", "tier", "tier_bonus", "efficiency_warnings", "deduction", "adjustment"):
        assert criticised[key] == base[key], key
    assert round(base["final"] - criticised["final"], 2) == 0.2  # the advanced unit's bonus, no point taken
    assert [c["document"] for c in scoring.ok("GET", "/api/v1/criticisms", department="D1")] == ["通报〔2026〕5号"]
    assert row(scoring, "D2")["advanced_unit"] is True

    # a warning to one of its staff, then withdrawn on the unit's own request
    warning = scoring.ok("POST", "/api/v1/sanctions", status=201, body=measure(
        target="person", person_name=NAME, post="窗口负责人"))
    assert row(scoring)["deduction"] == 0.5
    ask = {"reason": "已按规定一次性告知，有录音为证"}
    asked = scoring.ok("POST", f"/api/v1/sanctions/{warning['id']}/review", "handler_d1", status=201, body=ask)
    assert asked["state"] == "under_review"
    assert scoring.ok("POST", f"/api/v1/sanctions/{warning['id']}/review", "handler_d1", body=ask)[  # a retry
        "history"] == asked["history"]
    assert scoring.call("POST", f"/api/v1/sanctions/{warning['id']}/review", "handler_d1",
                        body={"reason": "再次申辩"}).status_code == 409  # twice
    assert scoring.call("POST", f"/api/v1/sanctions/{warning['id']}/review", "handler_d2",
                        body=ask).status_code == 404  # another unit's
    assert scoring.call("POST", f"/api/v1/sanctions/{warning['id']}/review/decide", "handler_d1",
                        body={"decision": "withdrawn", "note": "x"}).status_code == 403
    frozen(NOW + timedelta(hours=1))
    decision = {"decision": "withdrawn", "note": "经复核，告知程序合规"}
    withdrawn = scoring.ok("POST", f"/api/v1/sanctions/{warning['id']}/review/decide", body=decision)
    assert scoring.ok("POST", f"/api/v1/sanctions/{warning['id']}/review/decide", body=decision)[
        "history"] == withdrawn["history"]  # a retry
    assert scoring.call("POST", f"/api/v1/sanctions/{warning['id']}/review/decide",
                        body={"decision": "upheld", "note": "维持"}).status_code == 409
    assert row(scoring) == criticised  # exactly as before the warning
    history = scoring.ok("GET", f"/api/v1/sanctions/{warning['id']}", "handler_d1")["history"]
    assert [(h["action"], h["by"], h["note"]) for h in history] == [
        ("recorded", "test-assessor", None), ("review_requested", "test-handler-d1", ask["reason"]),
        ("withdrawn", "test-assessor", decision["note"])]
    assert history[2]["at"].startswith("2026-10-12T11:00")

    # the criticism withdrawn too: the unit is an advanced unit again, the score as at the start
    scoring.ok("POST", f"/api/v1/sanctions/{criticism['id']}/review", status=201, body={"reason": "代为申请"})
    scoring.ok("POST", f"/api/v1/sanctions/{criticism['id']}/review/decide", body=decision)
    assert row(scoring) == base
    # one upheld stays and costs; a decision with no review asked: 409
    upheld = scoring.ok("POST", "/api/v1/sanctions", status=201, body=measure(number=2))
    assert scoring.call("POST", f"/api/v1/sanctions/{upheld['id']}/review/decide",
                        body={"decision": "upheld", "note": "维持"}).status_code == 409
    scoring.ok("POST", f"/api/v1/sanctions/{upheld['id']}/review", "handler_d1", status=201, body=ask)
    assert scoring.ok("POST", f"/api/v1/sanctions/{upheld['id']}/review/decide",
                      body={"decision": "upheld", "note": "维持"})["state"] == "upheld"
    assert row(scoring)["deduction"] == 0.5

    # the review after its time: decided on 1 September, 15 working days ended on 21 September (the 20th a make-up day)
    old = scoring.ok("POST", "/api/v1/sanctions", status=201, body=measure(number=3, decided_on="2026-09-01"))
    assert old["review_due_on"] == "2026-09-21"
    late = scoring.call("POST", f"/api/v1/sanctions/{old['id']}/review", "handler_d1", body=ask)
    assert late.status_code == 409 and "2026-09-21" in late.json()["error"]["message_zh"]

    assert entries(scoring, state="withdrawn")["total"] == 2
    assert entries(scoring, kind="criticism")["items"][0]["state"] == "withdrawn"
    assert {e["payload"]["decision"] for e in published(tap, "sanction.review_decided")} == {"withdrawn", "upheld"}
    assert all(set(e["payload"]) >= {"sanction_id", "department", "on_behalf"}
               for e in published(tap, "sanction.review_requested"))


def test_bad_input_is_400_the_wrong_role_403_the_same_number_200_or_409(city):
    scoring, _, _ = city

    def refused(body, *fields, who="assessor", status=400):
        r = scoring.call("POST", "/api/v1/sanctions", who, body=body)
        assert r.status_code == status, (body, r.text)
        if status == 400:
            assert set(fields) <= set(r.json()["errors"]), r.text
        return r

    refused({}, "kind", "department", "source", "deciding_body", "document_no", "decided_on", "reason")
    refused(measure(kind="censure"), "kind")
    refused(measure(target="group"), "target")
    refused(measure(target="person"), "person_name", "post")
    refused(measure(person_name=NAME), "person_name")
    refused(measure(department="NOPE"), "department")
    refused(measure(decided_on="2026-13-01"), "decided_on")
    refused(measure(decided_on=str(date(2026, 10, 13))), "decided_on")  # tomorrow
    refused(measure(source="visit"), "source_ref")
    refused(measure(source="visit", source_ref="12345"), "source_ref")
    refused(measure(source="complaint"), "source")  # appeals brings it: it would count twice
    refused(measure(), who="handler_d1", status=403)
    refused(measure(), who="monitor", status=403)
    assert entries(scoring)["total"] == 0  # a refused request changes nothing

    first = scoring.ok("POST", "/api/v1/sanctions", status=201, body=measure())
    assert scoring.ok("POST", "/api/v1/sanctions", status=200, body=measure())["id"] == first["id"]  # a retry
    clash = refused(measure(deciding_body="区效能办"), status=409)
    assert "message_zh" in clash.json()["error"]
    # another kind may carry the same number
    scoring.ok("POST", "/api/v1/sanctions", status=201, body=measure("organisational"))
    assert scoring.facts("efficiency_warnings") and len(scoring.facts("efficiency_warnings")) == 1

    for path in ("/api/v1/sanctions/999999", "/api/v1/sanctions/abc"):
        assert scoring.call("GET", path).status_code == 404
    assert scoring.call("POST", "/api/v1/sanctions/999999/review", body={"reason": "x"}).status_code == 404
    assert scoring.call("POST", "/api/v1/sanctions/999999/review/decide",
                        body={"decision": "withdrawn", "note": "x"}).status_code == 404
    bad = scoring.call("POST", f"/api/v1/sanctions/{first['id']}/review/decide", body={"decision": "maybe"})
    assert bad.status_code == 400 and {"decision", "note"} <= set(bad.json()["errors"])
    assert scoring.call("POST", f"/api/v1/sanctions/{first['id']}/review", body={}).status_code == 400
    for query in ({"kind": "x"}, {"state": "x"}, {"year": "x"}, {"source": "x"}, {"page": 0}, {"per_page": 501}):
        assert scoring.call("GET", "/api/v1/sanctions", **query).status_code == 400, query
    page = entries(scoring, per_page=1, page=2)
    assert (page["total"], len(page["items"]), page["page"]) == (2, 1, 2)
