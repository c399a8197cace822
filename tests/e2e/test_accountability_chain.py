"""A key project's chain to its end across services (#16), approvals and scoring on one real broker with a frozen
clock: a missed milestone is an accountability alert and a fact in scoring; the monitor starts the accountability
procedure and concludes it with a 效能告诫 against a post; scoring's sanctions register takes the measure in from
accountability.concluded (source project_accountability, no person's name), and it costs the unit exactly one
efficiency warning (−0.5); an inspection's findings count in 电子监察; a procedure concluded with none due
registers nothing."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from services.kernel import clock
from services.scoring.service import ScoringService
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.e2e.test_approval_projects import Api, wait_event
from tests.e2e.test_scoring_rules import Scoring

TZ = clock.TZ
UNITS = ("FGJ", "ZJJ")


@pytest.fixture
def chain(service_config, start_service, api_keys, keys_file, fresh_amqp_uri, frozen):
    frozen(datetime(2026, 8, 3, 9, 0, tzinfo=TZ))
    api, tap = start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri,
                               departments=UNITS, client=Api)
    cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri)
    start_service(ScoringService, cfg)
    scoring = Scoring(cfg["base_url"], api_keys)
    registered = {d["code"] for d in scoring.ok("GET", "/api/v1/departments")}
    assert set(UNITS) <= registered  # the register of organisations the test config names
    return api, tap, scoring, cfg["DATABASE_URL"]


def sanctions(scoring, **params):
    return scoring.ok("GET", "/api/v1/sanctions", **params)["items"]


def test_a_missed_milestone_ends_in_the_register_and_costs_half_a_point(chain, frozen):
    api, tap, scoring, _ = chain
    api.project("XM-1", units=UNITS,
                milestones=[{"name": "完成施工许可", "deadline": "2026-08-10", "responsible_unit": "ZJJ"}])
    frozen(datetime(2026, 8, 12, 9, 0, tzinfo=TZ))
    wait_event(tap, "project.milestone_missed")
    wait_for(lambda: scoring.facts("milestones_missed", department="ZJJ"), message="the missed milestone counted")
    before = scoring.facts("efficiency_warnings", department="ZJJ")
    alert = next(a for a in api.ok("GET", "/api/v1/alerts", "monitor", per_page=500)["items"]
                 if a["rule"].startswith("milestone_missed:"))

    procedure = api.ok("POST", f"/api/v1/alerts/{alert['id']}/accountability", "monitor",
                       {"reason": "施工许可节点逾期，影响项目落地"}, status=201)
    frozen(datetime(2026, 8, 14, 15, 0, tzinfo=TZ))
    api.ok("POST", f"/api/v1/accountability-procedures/{procedure['id']}/conclude", "monitor", {
        "outcome": "measure", "measure": "efficiency_warning", "target": "person", "post": "审批科科长",
        "deciding_body": "市效能建设领导小组办公室", "document_no": "效能告诫〔2026〕9号", "decided_on": "2026-08-14",
        "reason": "未按计划完成施工许可节点"})

    [entry] = wait_for(lambda: sanctions(scoring, source="project_accountability"), message="the register entry")
    assert (entry["kind"], entry["department"], entry["target"], entry["post"], entry["document_no"]) == (
        "efficiency_warning", "ZJJ", "person", "审批科科长", "效能告诫〔2026〕9号")
    assert entry["source_ref"] == str(procedure["id"]) and not entry.get("person_name")
    after = wait_for(lambda: len(f := scoring.facts("efficiency_warnings", department="ZJJ")) > len(before) and f,
                     message="the warning's fact")
    assert len(after) == len(before) + 1
    row = next(r for r in scoring.scores("2026-08")["rows"] if r["department"] == "ZJJ")
    assert (row["efficiency_warnings"], row["deduction"]) == (1, 0.5)
    # the alert was resolved with the conclusion
    resolved = next(a for a in api.ok("GET", "/api/v1/alerts", "monitor", per_page=500)["items"]
                    if a["id"] == alert["id"])
    assert resolved["state"] == "resolved"

def test_inspection_findings_count_and_a_procedure_with_none_due_registers_nothing(chain, frozen):
    api, tap, scoring, database = chain
    api.project("XM-2", units=UNITS)
    frozen(datetime(2026, 9, 15, 10, 0, tzinfo=TZ))
    api.ok("POST", "/api/v1/projects/XM-2/inspections", "monitor", {
        "quarter": "2026-Q3", "findings": "代办员未按时跟进；材料清单未公示", "findings_count": 2,
        "rectification": "限期整改"}, status=201)
    [fact] = wait_for(lambda: scoring.facts("inspection_findings"), message="the findings counted")
    assert (fact["department"], fact["value"]) == ("FGJ", 2.0)
    frozen(datetime(2026, 10, 12, 9, 0, tzinfo=TZ))  # September's self-check report is missing
    wait_event(tap, "project.self_check_missing", period="2026-09")
    wait_for(lambda: scoring.facts("self_checks_missing", department="FGJ"), message="the missing self-check")
    alert = next(a for a in api.ok("GET", "/api/v1/alerts", "monitor", per_page=500)["items"]
                 if a["rule"] == "self_check_missing:2026-09")
    procedure = api.ok("POST", f"/api/v1/alerts/{alert['id']}/accountability", "monitor",
                       {"reason": "月度自查未报"}, status=201)
    api.ok("POST", f"/api/v1/accountability-procedures/{procedure['id']}/conclude", "monitor", {
        "outcome": "none_due", "decided_on": "2026-10-12", "reason": "因系统故障未能报送，已补报"})
    wait_event(tap, "accountability.concluded", outcome="none_due")
    # scoring has taken it in (its inbox says so) and registered nothing
    engine = sa.create_engine(database)
    query = sa.text("SELECT count(*) FROM inbox WHERE event_type = 'accountability.concluded'")

    def taken_in():
        with engine.connect() as conn:
            return conn.execute(query).scalar() == 1

    try:
        wait_for(taken_in, message="scoring took the conclusion in")
    finally:
        engine.dispose()
    assert sanctions(scoring) == []
