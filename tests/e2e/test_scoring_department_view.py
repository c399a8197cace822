"""A department handler reads its own department's assessment on the real broker and HTTP API, and never
another's: its scores and breakdown, its row of the ranking, the facts, evaluations (the enterprise not shown),
undercover-visit findings (the visitor not shown), criticisms and objections. Another department's is answered
as a missing one (404, or an empty list), the same answer byte for byte apart from the id; the assessment
office's writes and the other reads stay closed to it (403)."""

from datetime import datetime, timedelta

import pytest

from services.kernel.clock import TZ
from services.kernel.contracts import make_event
from services.scoring.service import ScoringService
from tests.conftest import wait_for
from tests.e2e.test_scoring_rules import Scoring
from tests.support import Tap, publish_raw

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)
SEPT = datetime(2026, 9, 1, 9, 0, tzinfo=TZ)
PERIOD = "2026-09"


@pytest.fixture
def city(service_config, start_service, api_keys, fresh_amqp_uri, frozen):
    frozen(NOW)
    cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri)
    start_service(ScoringService, cfg)
    scoring = Scoring(cfg["base_url"], api_keys)
    for code, name in (("D1", "一号局"), ("D2", "二号局")):
        scoring.ok("POST", "/api/v1/departments", body={"code": code, "name": name, "approval_functions": True},
                   status=201)

    def send(source, event_type, payload, at=SEPT):
        body = make_event(event_type, payload, service=source, occurred_at=at)
        publish_raw(fresh_amqp_uri, f"{source}.events", event_type, body)

    return scoring, send


def decided(send, department, n, late=0):
    for i in range(n):
        app = {"application_id": f"{department}-{i}", "application_no": f"SP{department}{i}", "item_code": "X-001",
               "department": department}
        send("approvals", "application.submitted", {**app, "at": SEPT})
        send("approvals", "application.decided", {**app, "approved": True, "in_time": i < n - late,
                                                  "at": SEPT + timedelta(days=3)})


def own_inputs(scoring, department):
    scoring.ok("POST", "/api/v1/evaluations", status=201, body={
        "enterprise": f"{department}评议企业", "department": department, "period": PERIOD, "scores": {"效率": 80}})
    scoring.ok("POST", "/api/v1/visits", status=201, body={
        "department": department, "visited_at": "2026-09-10T10:00:00+08:00", "finding": "窗口无人值守",
        "due_at": "2026-09-30T18:00:00+08:00", "visitor": "暗访员甲"})
    scoring.ok("POST", "/api/v1/criticisms", status=201, body={
        "department": department, "issued_at": "2026-09-15T10:00:00+08:00", "document": f"效能通报〔2026〕{department}",
        "reason": "推诿扯皮"})


def without_request_id(response):
    body = response.json()
    body.pop("request_id", None)
    return response.status_code, body


def test_a_department_handler_reads_its_own_assessment_and_never_another_departments(city):
    scoring, send = city
    decided(send, "D1", 6, late=1)
    decided(send, "D2", 5)
    wait_for(lambda: len(scoring.facts("approvals_decided")) == 11, message="the September facts in scoring")
    own_inputs(scoring, "D1")
    own_inputs(scoring, "D2")
    d1, d2 = "handler_d1", "handler_d2"

    # its breakdown: every fact its own; another department's answered as one not registered
    mine = scoring.ok("GET", "/api/v1/scores/D1", d1, period=PERIOD)
    assert mine["row"]["department"] == "D1" and {f["department"] for f in mine["facts"]} == {"D1"}
    assert next(m for m in mine["metrics"] if m["code"] == "approval_on_time")["score"] == 83.33
    other = scoring.call("GET", "/api/v1/scores/D2", d1, period=PERIOD)
    missing = scoring.call("GET", "/api/v1/scores/NOPE", d1, period=PERIOD)
    assert other.status_code == missing.status_code == 404
    assert other.json()["error"]["code"] == missing.json()["error"]["code"]
    assert other.json()["error"]["message_zh"] == missing.json()["error"]["message_zh"]
    assert scoring.ok("GET", "/api/v1/scores/D2", d2, period=PERIOD)["row"]["department"] == "D2"

    # the ranking: its own row only (the assessor sees every department)
    assert [r["department"] for r in scoring.ok("GET", "/api/v1/scores", d1, period=PERIOD)["rows"]] == ["D1"]
    assert {"D1", "D2"} <= {r["department"] for r in scoring.scores(PERIOD)["rows"]}

    # the lists: its own, and asking for another's is an empty list, as for a department with nothing
    facts = scoring.ok("GET", "/api/v1/facts", d1, limit=5000)
    assert facts and {f["department"] for f in facts} == {"D1"}
    assert next(f for f in facts if f["metric"] == "evaluations")["detail"] == "（不公开）"
    for path in ("/api/v1/facts", "/api/v1/evaluations", "/api/v1/visits", "/api/v1/criticisms",
                 "/api/v1/objections"):
        assert scoring.ok("GET", path, d1, department="D2") == [], path
    evaluations = scoring.ok("GET", "/api/v1/evaluations", d1)
    assert [(e["department"], e["enterprise"]) for e in evaluations] == [("D1", "（不公开）")]
    visits = scoring.ok("GET", "/api/v1/visits", d1)
    assert [(v["department"], v["visitor"], v["finding"]) for v in visits] == [("D1", "（不公开）", "窗口无人值守")]
    assert [c["department"] for c in scoring.ok("GET", "/api/v1/criticisms", d1)] == ["D1"]
    assert {v["visitor"] for v in scoring.ok("GET", "/api/v1/visits")} == {"暗访员甲"}  # the assessor sees it

    # objections: lodged on its own facts only; another department's fact is answered as a missing one
    d2_fact = next(f for f in scoring.facts("approvals_decided") if f["department"] == "D2")
    d1_fact = next(f for f in facts if f["metric"] == "approvals_overdue" and f["value"] == 1)
    refused = scoring.call("POST", "/api/v1/objections", d1, body={"fact_id": d2_fact["id"], "reasons": "不服"})
    absent = scoring.call("POST", "/api/v1/objections", d1, body={"fact_id": 99999999, "reasons": "不服"})
    assert without_request_id(refused) == without_request_id(absent) and refused.status_code == 400
    d2_objection = scoring.ok("POST", "/api/v1/objections", d2, body={"fact_id": d2_fact["id"], "reasons": "不服"},
                              status=201)
    own = scoring.ok("POST", "/api/v1/objections", d1, body={"fact_id": d1_fact["id"], "reasons": "不服"},
                     status=201)
    assert [o["id"] for o in scoring.ok("GET", "/api/v1/objections", d1)] == [own["id"]]
    assert scoring.ok("GET", f"/api/v1/objections/{own['id']}", d1)["fact"]["id"] == d1_fact["id"]
    theirs = scoring.call("GET", f"/api/v1/objections/{d2_objection['id']}", d1)
    nothing = scoring.call("GET", "/api/v1/objections/99999999", d1)
    assert theirs.status_code == nothing.status_code == 404
    assert theirs.json()["error"]["message_zh"] == nothing.json()["error"]["message_zh"]

    # what is the assessment office's stays closed to a department handler
    for method, path, body in (
            ("POST", f"/api/v1/objections/{own['id']}/uphold", {"reasons": "自己说了算"}),
            ("POST", f"/api/v1/objections/{d2_objection['id']}/reject", {"reasons": "x"}),
            ("POST", "/api/v1/visits/1/close", {"evidence": "已整改"}),
            ("POST", f"/api/v1/periods/{PERIOD}/close", {}),
            ("GET", "/api/v1/red-black-lists", None), ("GET", "/api/v1/reports/scores", None),
            ("GET", f"/api/v1/periods/{PERIOD}", None), ("POST", "/api/v1/criticisms", {})):
        r = scoring.call(method, path, d1, body, period=PERIOD)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
    assert scoring.ok("GET", f"/api/v1/objections/{own['id']}")["state"] == "open"


def test_a_department_rectifies_its_own_visit_finding_and_a_missing_report_is_overdue_once(city, frozen,
                                                                                         fresh_amqp_uri):
    scoring, _ = city
    tap = Tap(fresh_amqp_uri, "scoring")
    visited = NOW - timedelta(days=1)
    ids = {}
    for department in ("D1", "D2"):
        ids[department] = scoring.ok("POST", "/api/v1/visits", status=201, body={
            "department": department, "visited_at": visited.isoformat(), "finding": "窗口无人值守",
            "due_at": (NOW + timedelta(days=20)).isoformat(), "visitor": "暗访员甲"})["id"]
    report = {"corrected": "已安排专人值守并公示监督电话", "corrected_by": "王科长",
              "attachments": ["https://oa.example.gov.cn/f/1.pdf"]}
    mine = f"/api/v1/visits/{ids['D1']}/rectification"

    # another department's finding, to read or to report on, is answered as a missing one
    for method, path, body in (("GET", "/api/v1/visit-rectifications/{}", None),
                               ("POST", "/api/v1/visits/{}/rectification", report)):
        other = scoring.call(method, path.format(ids["D2"]), "handler_d1", body)
        missing = scoring.call(method, path.format(99999999), "handler_d1", body)
        assert other.status_code == missing.status_code == 404
        # the same answer, but for the id it names
        assert other.json()["error"] == {**missing.json()["error"], "message": missing.json()["error"][
            "message"].replace("99999999", str(ids["D2"]))}
    assert scoring.call("POST", mine, "handler_d1", {**report, "attachments": ["file:///c:/x.doc"]}).status_code == 400

    pending = scoring.ok("GET", f"/api/v1/visit-rectifications/{ids['D1']}", "handler_d1")
    # 2026-10-11 + 10 working days ends with 2026-10-23 (the due time is the first instant after)
    assert pending["state"] == "pending" and pending["due_at"] == "2026-10-24T00:00:00+08:00"
    submitted = scoring.ok("POST", mine, "handler_d1", report, status=201)
    assert scoring.ok("POST", mine, "handler_d1", report, status=200)["rounds"] == submitted["rounds"]  # retried
    assert [r["visit_id"] for r in scoring.ok("GET", "/api/v1/visit-rectifications", state="submitted")] == [ids["D1"]]
    assert scoring.ok("GET", "/api/v1/visit-rectifications", "handler_d1", department="D2") == []
    assert scoring.call("POST", f"{mine}/accept", "handler_d1", {}).status_code == 403
    scoring.ok("POST", f"{mine}/return", body={"reason": "缺整改后照片"})
    scoring.ok("POST", mine, "handler_d1", {**report, "attachments": [*report["attachments"],
                                                                      "https://oa.example.gov.cn/f/2.jpg"]},
               status=201)
    accepted = scoring.ok("POST", f"{mine}/accept", body={"note": "整改到位"})
    assert accepted["state"] == "accepted" and [r["decision"] for r in accepted["rounds"]] == ["returned", "accepted"]
    assert scoring.ok("GET", "/api/v1/visits", "handler_d1")[0]["state"] == "closed"  # closed out (销号) with it

    frozen(datetime(2026, 10, 26, 9, 0, tzinfo=TZ))  # D2 never reported
    wait_for(lambda: [m["payload"]["visit_id"] for m in tap.drain()
                      if m["event_type"] == "visit.rectification_overdue"] == [str(ids["D2"])],
             message="D2's rectification overdue")
    seen = [m["event_type"] for m in tap.drain()]
    assert seen.count("visit.rectification_submitted") == 2 and seen.count("visit.rectification_returned") == 1
    assert seen.count("visit.rectification_accepted") == 1 and seen.count("visit.rectification_overdue") == 1
    assert scoring.ok("GET", f"/api/v1/visit-rectifications/{ids['D2']}", "handler_d2")["overdue"] is True
    assert all("王科长" not in str(m["payload"]) for m in tap.messages)  # no names in events
