"""The scoring service's own inputs and outputs over HTTP: the department register and its seed, evaluations,
monitoring points, the visit ledger, adjustments and criticisms; every bad input refused with a clear error
that changes nothing; who may read and write; periods; red and black lists; CSV and the printable report;
and the same service on PostgreSQL."""

import csv
import io
import uuid
from datetime import datetime

import pytest
import requests
from sqlalchemy.engine import make_url

from services.kernel.clock import TZ
from services.kernel.contracts import make_event
from services.scoring.service import ScoringService
from tests.conftest import wait_for
from tests.e2e.test_scoring_rules import Scoring
from tests.support import publish_raw

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)


@pytest.fixture
def scoring(service_config, start_service, api_keys, fresh_amqp_uri, frozen):
    frozen(NOW)
    cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri)
    start_service(ScoringService, cfg)
    return Scoring(cfg["base_url"], api_keys)


def iso(*parts):
    return datetime(*parts, tzinfo=TZ).isoformat()


EVALUATION = {"enterprise": "某食品公司", "department": "SCJGJ", "period": "2026-09",
              "scores": {"效率": 90, "服务": 70}}
SEEDED = ("ZJJ", "SWJ", "HBJ", "GAJ", "SCJGJ", "RSJ", "JYJ", "WJW", "ZWFW", "JW", "ZFB", "CGJ", "WCJD", "DCJD", "FGJ",
          "SWGS")


def test_the_register_is_seeded_from_the_demo_file_and_upserted_by_code(scoring):
    codes = {d["code"]: d for d in scoring.ok("GET", "/api/v1/departments")}
    for code in SEEDED:
        assert code in codes, code
    assert len(codes) >= 14
    assert codes["WCJD"]["tier"] == "town_street" and codes["JW"]["name"].startswith("市纪委")
    changed = scoring.ok("POST", "/api/v1/departments", body={"code": "JW", "name": "市纪委监委",
                                                               "enforcement_functions": True})
    assert (changed["name"], changed["enforcement_functions"], changed["tier"]) == ("市纪委监委", True, "city")
    scoring.ok("POST", "/api/v1/departments", body={"code": "NEW", "name": "新部门", "tier": "town_street"},
               status=201)
    r = scoring.call("POST", "/api/v1/departments", body={"code": "bad code!", "name": "", "tier": "county"})
    assert r.status_code == 400 and set(r.json()["errors"]) == {"code", "name", "tier"}
    assert len(scoring.ok("GET", "/api/v1/departments")) == len(codes) + 1


def test_an_evaluation_once_per_enterprise_department_and_period(scoring):
    e = scoring.ok("POST", "/api/v1/evaluations", body=EVALUATION, status=201)
    assert (e["score"], e["scores"]) == (80.0, {"效率": 90.0, "服务": 70.0})
    dup = scoring.call("POST", "/api/v1/evaluations", body=EVALUATION)
    assert dup.status_code == 409
    err = dup.json()["error"]
    assert "already evaluated" in err["message"] and "只能评议一次" in err["message_zh"]
    # another period, or another department, is another evaluation
    scoring.ok("POST", "/api/v1/evaluations", body={**EVALUATION, "period": "2026-10"}, status=201)
    scoring.ok("POST", "/api/v1/evaluations", body={**EVALUATION, "department": "ZJJ"}, status=201)
    facts = scoring.facts("evaluation_score")
    assert sorted((f["department"], f["period"], f["value"]) for f in facts) == [
        ("SCJGJ", "2026-09", 80.0), ("SCJGJ", "2026-10", 80.0), ("ZJJ", "2026-09", 80.0)]


@pytest.mark.parametrize("change, field, words", [
    ({"department": "NOPE"}, "department", "unknown department"),
    ({"scores": {"效率": 101}}, "scores", "0..100"),
    ({"scores": {"效率": -1}}, "scores", "0..100"),
    ({"scores": {"效率": "好"}}, "scores", "number"),
    ({"scores": {}}, "scores", "at least one"),
    ({"period": "2026-13"}, "period", "a quarter"),
    ({"enterprise": ""}, "enterprise", "between 1 and 200"),
])
def test_bad_evaluations_are_refused_and_change_nothing(scoring, change, field, words):
    r = scoring.call("POST", "/api/v1/evaluations", body={**EVALUATION, **change})
    assert r.status_code == 400, r.text
    errors = r.json()["errors"]
    assert list(errors) == [field] and words.lower() in str(errors[field]).lower(), errors
    assert scoring.facts() == [] and scoring.ok("GET", "/api/v1/evaluations") == []


def test_an_unknown_department_is_refused_in_chinese_and_english_everywhere(scoring):
    bodies = {
        "/api/v1/visits": {"department": "NOPE", "visited_at": iso(2026, 9, 1, 9), "finding": "x",
                           "due_at": iso(2026, 9, 5), "visitor": "暗访组"},
        "/api/v1/adjustments": {"department": "NOPE", "period": "2026", "value": 0.1, "reason": "x",
                                "approved_by": "主任"},
        "/api/v1/criticisms": {"department": "NOPE", "issued_at": iso(2026, 9, 1), "document": "x", "reason": "x"},
    }
    for path, body in bodies.items():
        r = scoring.call("POST", path, body=body)
        assert r.status_code == 400 and r.json()["errors"] == {
            "department": ["unknown department; see GET /api/v1/departments / 未登记的部门，请先登记"]}, (path, r.text)
    assert scoring.facts() == []
    assert scoring.call("GET", "/api/v1/scores/NOPE", period="2026").status_code == 404


def test_the_visit_ledger_open_until_closed_out_once_with_evidence(scoring):
    scoring.ok("POST", "/api/v1/monitoring-points", body={"code": "V01", "name": "文昌村", "kind": "village",
                                                           "town_street": "WCJD"}, status=201)
    bad = scoring.call("POST", "/api/v1/monitoring-points", body={"code": "V02", "name": "x", "kind": "farm"})
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["kind"]
    body = {"department": "WCJD", "point_code": "V01", "visited_at": iso(2026, 9, 1, 9), "finding": "便民服务点无人",
            "due_at": iso(2026, 9, 15, 18), "visitor": "暗访组"}
    v = scoring.ok("POST", "/api/v1/visits", body=body, status=201)
    assert (v["state"], v["overdue"]) == ("open", True)  # 15 Sep has passed (now is 12 Oct)
    for change, field in (({"point_code": "NOPE"}, "point_code"), ({"due_at": iso(2026, 8, 1)}, "due_at"),
                          ({"visited_at": iso(2026, 12, 1), "due_at": iso(2026, 12, 5)}, "visited_at"),
                          ({"finding": ""}, "finding")):
        r = scoring.call("POST", "/api/v1/visits", body={**body, **change})
        assert r.status_code == 400 and list(r.json()["errors"]) == [field], r.text
    assert scoring.call("POST", f"/api/v1/visits/{v['id']}/close", body={}).status_code == 400  # evidence needed
    closed = scoring.ok("POST", f"/api/v1/visits/{v['id']}/close", body={"evidence": "已安排专人值守"})
    assert (closed["state"], closed["closed_at"], closed["overdue"]) == ("closed", NOW.isoformat(), True)
    again = scoring.call("POST", f"/api/v1/visits/{v['id']}/close", body={"evidence": "再次"})
    assert again.status_code == 409 and again.json()["error"]["message_zh"] == "该问题已销号，不能重复销号"
    assert scoring.call("POST", "/api/v1/visits/999/close", body={"evidence": "x"}).status_code == 404
    assert [x["id"] for x in scoring.ok("GET", "/api/v1/visits", state="closed", department="WCJD")] == [v["id"]]
    assert scoring.ok("GET", "/api/v1/visits", state="open") == []
    # closed after its due time: it still counts against WCJD in September (visits 90)
    row = scoring.ok("GET", "/api/v1/scores/WCJD", period="2026-09")
    assert {m["code"]: m["score"] for m in row["metrics"]}["undercover_visits"] == 90.0


def test_roles_readers_and_writers(scoring):
    assert scoring.call("POST", "/api/v1/evaluations", who="monitor", body=EVALUATION).status_code == 403
    assert scoring.call("POST", "/api/v1/periods/2026-09/close", who="operator").status_code == 403
    assert scoring.call("GET", "/api/v1/scores", who="operator", period="2026").status_code == 403
    assert scoring.call("GET", "/api/v1/scores", who="monitor", period="2026").status_code == 200
    assert scoring.call("POST", "/api/v1/evaluations", who="admin", body=EVALUATION).status_code == 201
    r = requests.get(f"{scoring.base}/api/v1/scores", params={"period": "2026"}, timeout=5)
    assert r.status_code == 401


def test_periods_bad_running_closed_and_reopened(scoring):
    assert scoring.call("GET", "/api/v1/scores", period="2026-9").status_code == 400
    assert list(scoring.call("GET", "/api/v1/scores").json()["errors"]) == ["period"]
    assert scoring.call("POST", "/api/v1/periods/someday/close").status_code == 404
    running = scoring.call("POST", "/api/v1/periods/2026-Q4/close")
    assert running.status_code == 409 and "尚未结束" in running.json()["error"]["message_zh"]
    assert scoring.call("POST", "/api/v1/periods/2026-09/reopen", body={"reason": "x"}).status_code == 409
    closed = scoring.ok("POST", "/api/v1/periods/2026-Q3/close")
    assert (closed["state"], closed["revision"], closed["closed_by"]) == ("closed", 1, "test-assessor")
    assert scoring.scores("2026-Q3")["state"] == "closed" and scoring.scores("2026-09")["state"] == "open"
    r = scoring.call("POST", "/api/v1/adjustments", body={"department": "ZJJ", "period": "2026-Q3", "value": 11,
                                                          "reason": "x", "approved_by": "主任"})
    assert r.status_code == 400 and "-10..10" in r.json()["errors"]["value"][0]


def test_red_and_black_lists_and_the_exports(scoring):
    # September: three enterprises evaluate SCJGJ low and ZJJ lower still (three evaluations: the minimum
    # sample); nothing else happened, so every other department has not enough data and is not ranked — no
    # longer thirteen departments tied at 100 for doing nothing — and JW (registered as not assessed) is listed
    # as not assessed
    for i in range(3):
        scoring.ok("POST", "/api/v1/evaluations", body={**EVALUATION, "enterprise": f"企业{i}", "scores": {"效率": 40}},
                   status=201)
        scoring.ok("POST", "/api/v1/evaluations", body={**EVALUATION, "enterprise": f"企业{i}", "department": "ZJJ",
                                                        "scores": {"效率": 20}}, status=201)
    lists = scoring.ok("GET", "/api/v1/red-black-lists", period="2026-09")
    assert [r["department"] for r in lists["black"]] == ["ZJJ", "SCJGJ"]
    assert [(r["department"], r["rank"]) for r in lists["red"]] == [("SCJGJ", 1), ("ZJJ", 2)]
    assert scoring.call("GET", "/api/v1/red-black-lists", period="2026").json()["errors"]["period"]
    by = {r["department"]: r for r in scoring.scores()["rows"]}
    assert (by["FGJ"]["standing"], by["FGJ"]["rank"], by["FGJ"]["composite"]) == ("not_ranked", None, None)
    assert (by["JW"]["standing"], by["JW"]["rank"], by["JW"]["final"]) == ("not_assessed", None, None)

    r = scoring.call("GET", "/api/v1/reports/scores", period="2026-09", format="csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["排名", "部门代码", "部门名称", "层级", "综合得分"] and rows[0][-2:] == ["考核状态", "说明"]
    zjj = next(row for row in rows if len(row) > 1 and row[1] == "ZJJ")
    # ZJJ: evaluation 20, the only metric with enough data (the others' weights are renormalised away)
    assert (zjj[0], zjj[4], zjj[-2]) == ("2", "20.00", "参与排名")
    assert "数据不足未计入" in zjj[-1]
    jw = next(row for row in rows if len(row) > 1 and row[1] == "JW")
    assert (jw[0], jw[4], jw[5], jw[-2]) == ("—", "—", "不参与考核", "不参与考核")
    fgj = next(row for row in rows if len(row) > 1 and row[1] == "FGJ")
    assert (fgj[0], fgj[-2]) == ("—", "不参与排名") and "最少样本" in fgj[-1] and "数据不足" in fgj

    page = scoring.call("GET", "/api/v1/reports/scores", period="2026-09", headers=None, format="html")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.text
    assert "2026年9月机关效能考核结果" in text and text.count("<svg") == 9 and "住房和城乡建设局" in text
    assert "不参与考核" in text and "数据不足" in text and "数据不足不参与排名 13 个" in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched from elsewhere
    assert scoring.ok("GET", "/api/v1/reports/scores", period="2026-09")["period"] == "2026-09"


def test_the_same_service_on_postgresql(pg_admin, pg_url, service_config, start_service, api_keys, fresh_amqp_uri,
                                        frozen):
    """Events consumed (once, although sent twice), inputs, the ranking, close and a late fact on PostgreSQL."""
    frozen(NOW)
    name = f"xiaoneng_test_scoring_{uuid.uuid4().hex[:8]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    container = None
    try:
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri, DATABASE_URL=url)
        container = start_service(ScoringService, cfg)
        s = Scoring(cfg["base_url"], api_keys)
        sept = datetime(2026, 9, 3, 10, tzinfo=TZ)
        events = [make_event("application.decided", {
            "application_id": str(i), "application_no": f"SP{i}", "item_code": "SCJ-001", "department": "SCJGJ",
            "approved": True, "in_time": i != 0, "at": sept}, service="approvals") for i in range(5)]
        events.append(make_event("efficiency_warning.issued", {"warning_id": "EW-1", "unit": "SCJGJ",
                                                               "reason": "推诿"}, service="appeals",
                                 occurred_at=sept))
        for body in events + events:
            publish_raw(fresh_amqp_uri, f"{body['source']['service']}.events", body["event_type"], body)
        wait_for(lambda: len(s.facts()) == 16, message="16 facts on PostgreSQL")
        s.ok("POST", "/api/v1/evaluations", body=EVALUATION, status=201)
        assert s.call("POST", "/api/v1/evaluations", body=EVALUATION).status_code == 409
        row = next(r for r in s.scores()["rows"] if r["department"] == "SCJGJ")
        # 4 of 5 in time → 80 (w20), monitoring 100 (w15: five decided, nothing against it); one evaluation and
        # no appeal or visit: not enough data, left out: (1600 + 1500) / 35
        assert (row["composite"], row["efficiency_warnings"], row["deduction"]) == (88.57, 1, 0.5)
        closed = s.ok("POST", "/api/v1/periods/2026-09/close")
        assert closed["replay_matches"] is True
        frozen(datetime(2026, 10, 12, 11, tzinfo=TZ))
        s.ok("POST", "/api/v1/adjustments", body={"department": "SCJGJ", "period": "2026-09", "value": 0.5,
                                                   "reason": "补录", "approved_by": "主任"}, status=201)
        result = s.scores()
        assert [f["metric"] for f in result["late_facts"]] == ["adjustment"]
        assert next(r for r in result["rows"] if r["department"] == "SCJGJ")["adjustment"] == 0.0
    finally:
        if container is not None:
            container.kill()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
