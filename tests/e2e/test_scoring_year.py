"""The assessment year (#16) end to end on the real broker and HTTP API: a register seeded with town-streets and
a unit stationed in the city under a superior authority (驻莱单位); events of June count in the first half-year
(2026-H1) and those of July in the second; city departments and town-streets ranked separately, each with its own
thirds (and together under a rule file that says so); a voided evaluation changes the ranking, the audit trail
shows the original and the void; a correction into a closed period is refused until it is reopened; the stationed
units' report as JSON, CSV and printable HTML addressed to the superior; every bad input a 400, never a 500."""

import csv
import io
import uuid
from datetime import datetime

import pytest
import yaml
from sqlalchemy.engine import make_url

from services.kernel.clock import TZ
from services.kernel.contracts import make_event
from services.scoring.service import DEFAULT_RULES, ScoringService
from tests.conftest import wait_for
from tests.e2e.test_scoring_rules import Scoring
from tests.support import publish_raw

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)
SUPERIOR = "国家税务总局烟台市税务局"
REGISTER = [
    {"code": "D1", "name": "一号局", "approval_functions": True, "tier": "city"},
    {"code": "D2", "name": "二号局", "approval_functions": True, "tier": "city"},
    {"code": "D3", "name": "三号局", "enforcement_functions": True, "tier": "city"},
    {"code": "SWJ", "name": "国家税务总局莱州市税务局", "approval_functions": True, "tier": "city",
     "superior": SUPERIOR},
    {"code": "T1", "name": "文昌街道", "enforcement_functions": True, "tier": "town_street"},
    {"code": "T2", "name": "东城街道", "enforcement_functions": True, "tier": "town_street"},
]


def rules_file(tmp_path, **changes):
    """The shipped rules with a minimum sample of one (a case or two of each kind here) and `changes`."""
    rules = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    for metric in rules["metrics"]:
        metric["min_sample"]["count"] = 1
    rules.update(changes)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    return str(path)


def start(tmp_path, service_config, start_service, api_keys, fresh_amqp_uri, frozen, **rules):
    frozen(NOW)
    register = tmp_path / "departments.yaml"
    register.write_text(yaml.safe_dump(REGISTER, allow_unicode=True), encoding="utf-8")
    cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri, SEED_DEPARTMENTS=str(register),
                         RULES_FILE=rules_file(tmp_path, **rules))
    start_service(ScoringService, cfg)
    scoring = Scoring(cfg["base_url"], api_keys)

    def send(event_type, payload, at):
        publish_raw(fresh_amqp_uri, "appeals.events", event_type,
                    make_event(event_type, payload, service="appeals", occurred_at=at))

    return scoring, send


@pytest.fixture
def year(tmp_path, service_config, start_service, api_keys, fresh_amqp_uri, frozen):
    return start(tmp_path, service_config, start_service, api_keys, fresh_amqp_uri, frozen)


def accepted(send, department, at, n, late=0, first=0):
    for i in range(n):
        send("appeal.accepted", {"appeal_id": f"{department}-{first + i}", "case_no": f"MY{first + i}",
                                 "department": department, "in_time": i >= late}, at)


def ranking(scoring, period):
    return {r["department"]: (r["ranking_group"], r["rank"], r["tier"], r["composite"])
            for r in scoring.ok("GET", "/api/v1/scores", period=period)["rows"] if r["standing"] == "ranked"}


def evaluate(scoring, enterprise, department, score, period="2026-09", status=201):
    return scoring.ok("POST", "/api/v1/evaluations", body={"enterprise": enterprise, "department": department,
                                                           "period": period, "scores": {"效率": score}},
                      status=status)


def test_the_half_year_ranking_in_groups_of_their_own(year):
    scoring, send = year
    june, july = datetime(2026, 6, 30, 23, 30, tzinfo=TZ), datetime(2026, 7, 1, 0, 30, tzinfo=TZ)
    # June: D1 all in time, D2 one late of two, D3 none in time, T1 in time, T2 late; July the other way round
    accepted(send, "D1", june, 2)
    accepted(send, "D2", june, 2, late=1)
    accepted(send, "D3", june, 2, late=2)
    accepted(send, "T1", june, 1)
    accepted(send, "T2", june, 1, late=1)
    accepted(send, "D1", july, 2, late=2, first=10)
    accepted(send, "D3", july, 2, first=10)
    accepted(send, "T2", july, 1, first=10)
    wait_for(lambda: len(scoring.facts("appeals_accepted")) == 13, message="the June and July facts")
    assert (len(scoring.facts("appeals_accepted", period="2026-H1")),
            len(scoring.facts("appeals_accepted", period="2026-H2"))) == (8, 5)
    assert scoring.call("GET", "/api/v1/facts", period="2026-H3").status_code == 400
    h1 = scoring.ok("GET", "/api/v1/scores", period="2026-H1")
    assert (h1["label_zh"], h1["rules_version"]) == ("2026年上半年", "2026.4")
    # each group its own ranks and thirds: three city departments (one per third), two town-streets
    assert ranking(scoring, "2026-H1") == {
        "D1": ("city", 1, 1, 100.0), "D2": ("city", 2, 2, 50.0), "D3": ("city", 3, 3, 0.0),
        "T1": ("town_street", 1, 1, 100.0), "T2": ("town_street", 2, 2, 0.0)}
    assert ranking(scoring, "2026-H2") == {"D3": ("city", 1, 1, 100.0), "D1": ("city", 2, 2, 0.0),
                                           "T2": ("town_street", 1, 1, 100.0)}
    rows = {r["department"]: r for r in h1["rows"]}
    assert (rows["T1"]["ranking_group_zh"], rows["T1"]["group_size"], rows["T1"]["advanced_unit"]) == ("镇街", 2, True)
    assert rows["SWJ"]["standing"] == "not_ranked"
    lists = scoring.ok("GET", "/api/v1/red-black-lists", period="2026-06")
    assert [(g["group"], [r["department"] for r in g["red"]]) for g in lists["groups"]] == [
        ("city", ["D1", "D2", "D3"]), ("town_street", ["T1", "T2"])]
    csv_rows = list(csv.reader(io.StringIO(scoring.call("GET", "/api/v1/reports/scores", period="2026-H1",
                                                        format="csv").content.decode("utf-8-sig"))))
    group_col = csv_rows[0].index("排名分组")
    assert [(r[1], r[0], r[group_col]) for r in csv_rows[1:6]] == [
        ("D1", "1", "市直部门"), ("D2", "2", "市直部门"), ("D3", "3", "市直部门"),
        ("T1", "1", "镇街"), ("T2", "2", "镇街")]
    page = scoring.call("GET", "/api/v1/reports/scores", period="2026-H1", format="html").text
    assert "2026年上半年机关效能半年点评结果" in page
    assert "市直部门（参加排名 3 个" in page and "镇街（参加排名 2 个" in page
    closed = scoring.ok("POST", "/api/v1/periods/2026-H1/close", body={})
    assert (closed["state"], closed["rules_version"], closed["replay_matches"]) == ("closed", "2026.4", True)
    assert scoring.call("POST", "/api/v1/periods/2026-H2/close", body={}).status_code == 409  # not ended


def test_together_when_the_rule_file_says_so(tmp_path, service_config, start_service, api_keys, fresh_amqp_uri,
                                             frozen):
    scoring, send = start(tmp_path, service_config, start_service, api_keys, fresh_amqp_uri, frozen,
                          groups={"ranking": "together"})
    june = datetime(2026, 6, 10, 9, tzinfo=TZ)
    accepted(send, "D1", june, 2, late=1)
    accepted(send, "T1", june, 1)
    wait_for(lambda: len(scoring.facts("appeals_accepted")) == 3, message="the June facts")
    assert ranking(scoring, "2026-H1") == {"T1": ("all", 1, 1, 100.0), "D1": ("all", 2, 2, 50.0)}


def test_a_voided_evaluation_changes_the_ranking_with_an_audit_entry(year):
    scoring, _ = year
    wrong = evaluate(scoring, "某食品公司", "D1", 10)
    for i, (d1, d2) in enumerate([(90, 60), (90, 60)]):
        evaluate(scoring, f"企业{i}", "D1", d1)
        evaluate(scoring, f"企业{i}", "D2", d2)
    evaluate(scoring, "企业9", "D2", 60)
    assert ranking(scoring, "2026-09")["D1"][1:] == (1, 1, 63.33)
    body = {"reason": "评分录入错误，原表为 100 分", "assessor": "李考核"}
    for bad, field in (({}, "reason"), ({**body, "reason": ""}, "reason"), ({"reason": "录错了"}, "assessor")):
        r = scoring.call("POST", f"/api/v1/evaluations/{wrong['id']}/void", body=bad)
        assert r.status_code == 400 and field in r.json()["errors"], r.text
    assert scoring.call("POST", "/api/v1/evaluations/99999/void", body=body).status_code == 404
    assert scoring.call("POST", f"/api/v1/evaluations/{wrong['id']}/void", "monitor", body=body).status_code == 403
    voided = scoring.ok("POST", f"/api/v1/evaluations/{wrong['id']}/void", body=body)
    assert voided["voided"] and voided["corrections"][0]["before"]["score"] == 10
    # D1 keeps its two evaluations of 90 (the minimum sample is one here): its mean is 90 now
    assert ranking(scoring, "2026-09")["D1"][1:] == (1, 1, 90.0)
    assert scoring.call("POST", f"/api/v1/evaluations/{wrong['id']}/void",
                        body={**body, "reason": "另一个理由"}).status_code == 409
    # a correction of the other kind: D2's evaluation moved up; the ranking follows
    one = next(e for e in scoring.ok("GET", "/api/v1/evaluations") if e["department"] == "D2")
    for bad in ({**body, "changes": {}}, {**body, "changes": {"scores": {"效率": 101}}},
                {**body, "changes": {"period": "2026-H3"}}, {**body, "changes": {"department": "NOPE"}},
                {**body, "changes": {"unknown": 1}}, {**body, "changes": "x"}):
        r = scoring.call("POST", f"/api/v1/evaluations/{one['id']}/correct", body=bad)
        assert r.status_code == 400 and "changes" in r.json()["errors"], (bad, r.text)
    fixed = scoring.ok("POST", f"/api/v1/evaluations/{one['id']}/correct",
                       body={**body, "reason": "分数录错", "changes": {"scores": {"效率": 100, "服务": 100}}})
    assert fixed["score"] == 100 and fixed["corrections"][0]["after"]["scores"] == {"效率": 100, "服务": 100}
    assert ranking(scoring, "2026-09")["D2"][1:] == (2, 2, 73.33)  # (100 + 60 + 60) / 3
    trail = scoring.ok("GET", "/api/v1/corrections", period="2026-09")
    assert [(c["item_id"], c["action"], c["assessor"], c["reason"]) for c in trail] == [
        (wrong["id"], "void", "李考核", body["reason"]), (one["id"], "correct", "李考核", "分数录错")]
    assert scoring.call("GET", "/api/v1/corrections", kind="bogus").status_code == 400
    listed = {e["id"]: e["voided"] for e in scoring.ok("GET", "/api/v1/evaluations")}
    assert listed[wrong["id"]] is True and listed[one["id"]] is False
    # the department sees its own evaluation and its corrections, not who evaluated or corrected it
    mine = scoring.ok("GET", f"/api/v1/evaluations/{wrong['id']}", "handler_d1")
    assert mine["enterprise"] == "（不公开）" and mine["corrections"][0]["before"]["enterprise"] == "（不公开）"
    assert scoring.call("GET", f"/api/v1/evaluations/{one['id']}", "handler_d1").status_code == 404
    facts = scoring.ok("GET", "/api/v1/scores/D1", period="2026-09")["facts"]
    voids = [f["void"] for f in facts if f["voided"]]
    assert len(voids) == 2 and {v["void_cause"] for v in voids} == {"correction"}
    assert all("李考核" in v["void_reason"] for v in voids)

    # closed: a correction dated into it is refused until reopened
    scoring.ok("POST", "/api/v1/periods/2026-09/close", body={})
    refused = scoring.call("POST", f"/api/v1/evaluations/{one['id']}/correct",
                           body={**body, "changes": {"scores": {"效率": 50}}})
    assert refused.status_code == 409 and "重新开启" in refused.json()["error"]["message_zh"]
    scoring.ok("POST", "/api/v1/periods/2026-09/reopen", body={"reason": "更正评议"})
    scoring.ok("POST", f"/api/v1/evaluations/{one['id']}/correct", body={**body, "changes": {"scores": {"效率": 50}}})


def test_criticism_visit_and_adjustment_corrections(year):
    scoring, _ = year
    crit = scoring.ok("POST", "/api/v1/criticisms", status=201, body={
        "department": "D1", "issued_at": "2026-09-05T09:00:00+08:00", "document": "效通〔2026〕9号", "reason": "x"})
    adj = scoring.ok("POST", "/api/v1/adjustments", status=201, body={
        "department": "D1", "period": "2026-09", "value": 1, "reason": "重点工作", "approved_by": "主任"})
    visit = scoring.ok("POST", "/api/v1/visits", status=201, body={
        "department": "D2", "visited_at": "2026-09-01T09:00:00+08:00", "finding": "窗口无人",
        "due_at": "2026-09-15T18:00:00+08:00", "visitor": "暗访组"})
    body = {"reason": "录入错误", "assessor": "李考核"}
    r = scoring.call("POST", f"/api/v1/adjustments/{adj['id']}/correct", body={**body, "changes": {"value": 11}})
    assert r.status_code == 400 and "value" in r.json()["errors"]["changes"]
    r = scoring.call("POST", f"/api/v1/visits/{visit['id']}/correct",
                     body={**body, "changes": {"due_at": "2026-08-01T00:00:00+08:00"}})
    assert r.status_code == 400 and "due_at" in r.json()["errors"]["changes"]
    scoring.ok("POST", f"/api/v1/criticisms/{crit['id']}/void", body=body)
    scoring.ok("POST", f"/api/v1/adjustments/{adj['id']}/correct", body={**body, "changes": {"value": -0.5}})
    scoring.ok("POST", f"/api/v1/visits/{visit['id']}/void", body=body)
    row = scoring.ok("GET", "/api/v1/scores/D1", period="2026-09")["row"]
    assert (row["disqualified"], row["adjustment"]) == (False, -0.5)
    assert scoring.ok("GET", "/api/v1/scores/D2", period="2026-09")["totals"].get("visits_overdue") is None
    assert scoring.ok("GET", f"/api/v1/visits/{visit['id']}")["voided"] is True
    assert scoring.ok("GET", f"/api/v1/criticisms/{crit['id']}", "handler_d1")["voided"] is True
    assert [c["kind"] for c in scoring.ok("GET", "/api/v1/corrections")] == ["criticism", "adjustment", "visit"]
    assert [c["kind"] for c in scoring.ok("GET", "/api/v1/corrections", department="D2")] == ["visit"]


def test_the_stationed_units_report_is_addressed_to_the_superior(year):
    scoring, _ = year
    register = {d["code"]: d for d in scoring.ok("GET", "/api/v1/departments")}
    assert register["SWJ"]["superior"] == SUPERIOR and register["D1"]["superior"] is None
    # a second stationed unit through the API; too long a superior is refused
    assert scoring.call("POST", "/api/v1/departments", body={"code": "YC", "name": "烟草专卖局",
                                                             "superior": "x" * 201}).status_code == 400
    scoring.ok("POST", "/api/v1/departments", status=201, body={"code": "YC", "name": "莱州市烟草专卖局",
                                                                "superior": "山东省烟台市烟草专卖局"})
    for i, score in enumerate((95, 85, 55)):
        evaluate(scoring, f"企业{i}", "SWJ", score)
    evaluate(scoring, "企业1", "YC", 92, period="2026-Q3")
    evaluate(scoring, "企业1", "D1", 99)
    report = scoring.ok("GET", "/api/v1/reports/stationed-units", period="2026-H2")
    assert [(r["department"], r["evaluations"], r["average"], r["rank"]) for r in report["rows"]] == [
        ("YC", 1, 92.0, 1), ("SWJ", 3, 78.33, 2)]
    assert [s["superior"] for s in report["superiors"]] == ["国家税务总局烟台市税务局", "山东省烟台市烟草专卖局"]
    r = scoring.call("GET", "/api/v1/reports/stationed-units", period="2026-H2", format="csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["致（上级主管部门）", "单位代码", "单位名称", "企业评议（份）", "平均分"]
    swj = next(row for row in rows if len(row) > 1 and row[1] == "SWJ")
    assert swj[0] == SUPERIOR and swj[3:5] == ["3", "78.33"] and swj[7:11] == ["1", "1", "0", "1"]
    assert swj[-2:] == ["2", "2"]
    page = scoring.call("GET", "/api/v1/reports/stationed-units", period="2026-H2", format="html")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.text
    assert f"致 {SUPERIOR}：" in text and "2026年下半年驻莱单位企业评议结果" in text
    assert "国家税务总局莱州市税务局" in text
    assert "一号局" not in text and "企业0" not in text  # a city unit and the enterprises are not in it
    assert "http://" not in text
    for period in ("2026-H3", "2026-Q5", "", "x"):
        bad = scoring.call("GET", "/api/v1/reports/stationed-units", period=period)
        assert bad.status_code == 400 and "period" in bad.json()["errors"], period
    assert scoring.call("GET", "/api/v1/reports/stationed-units", period="2026", format="pdf").status_code == 400
    assert scoring.call("GET", "/api/v1/reports/stationed-units", "handler_d1", period="2026").status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/scores", "/api/v1/reports/scores", "/api/v1/evaluations"])
def test_a_bad_half_year_is_a_400(year, path):
    scoring, _ = year
    r = scoring.call("GET", path, period="2026-H3")
    assert r.status_code == 400 and "2026-H1" in str(r.json()["errors"]["period"])
    assert scoring.call("GET", "/api/v1/periods/2026-H3").status_code == 404
    bad = {"enterprise": "e", "department": "D1", "period": "2026-H0", "scores": {"a": 1}}
    assert scoring.call("POST", "/api/v1/evaluations", body=bad).status_code == 400


@pytest.mark.postgres
def test_corrections_and_the_stationed_report_on_postgresql(tmp_path, pg_admin, pg_url, service_config,
                                                           start_service, api_keys, fresh_amqp_uri, frozen):
    """The row locks, the corrections' unique revision and the report's queries on PostgreSQL."""
    frozen(NOW)
    name = f"xiaoneng_test_scoring_year_{uuid.uuid4().hex[:8]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    container = None
    try:
        register = tmp_path / "departments.yaml"
        register.write_text(yaml.safe_dump(REGISTER, allow_unicode=True), encoding="utf-8")
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri, DATABASE_URL=url, SEED_DEPARTMENTS=str(register),
                             RULES_FILE=rules_file(tmp_path))
        container = start_service(ScoringService, cfg)
        scoring = Scoring(cfg["base_url"], api_keys)
        ids = [evaluate(scoring, f"企业{i}", "SWJ", score)["id"] for i, score in enumerate((90, 10))]
        body = {"reason": "录入错误", "assessor": "李考核"}
        scoring.ok("POST", f"/api/v1/evaluations/{ids[1]}/correct", body={**body, "changes": {"scores": {"a": 70}}})
        scoring.ok("POST", f"/api/v1/evaluations/{ids[0]}/void", body=body)
        report = scoring.ok("GET", "/api/v1/reports/stationed-units", period="2026-H2")
        assert [(r["department"], r["evaluations"], r["average"]) for r in report["rows"]] == [("SWJ", 1, 70.0)]
        assert [(c["item_id"], c["revision"], c["action"]) for c in scoring.ok("GET", "/api/v1/corrections")] == [
            (ids[1], 1, "correct"), (ids[0], 1, "void")]
        assert ranking(scoring, "2026-H2")["SWJ"] == ("city", 1, 1, 70.0)
    finally:
        if container is not None:
            container.kill()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
