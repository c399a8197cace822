"""Assessment end to end on the real broker: appeals and approvals (the real services) produce the events,
scoring turns them into facts and a September 2026 ranking; every rule is checked with exact numbers — the
weighted composite over the metrics with data, a department not ranked and one not assessed, tiers, the
advanced units skipping a criticised unit and one with an unresolved red card, warnings to a unit and to its
staff, an overdue visit finding, an adjustment — then the period is closed, a late event arrives and is shown
but not counted, the audited reopening counts it, and replaying every event (twice, shuffled) into a second
scoring service gives the identical ranking."""

import random
from datetime import datetime

import pytest
import requests
import yaml

from services.appeals.service import AppealsService
from services.kernel.keys import KeyStore
from services.kernel.messaging import events_exchange
from services.scoring.service import ScoringService
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.e2e.test_appeal_lifecycle import TZ, Api
from tests.support import Tap, publish_raw

REGISTER = [
    {"code": "ZWFW", "name": "政务服务办", "approval_functions": False, "enforcement_functions": False},
    {"code": "JW", "name": "纪委监委", "approval_functions": False, "enforcement_functions": False, "assessed": False},
    {"code": "GAJ", "name": "公安局", "approval_functions": True, "enforcement_functions": True},
    {"code": "HBJ", "name": "生态环境局", "approval_functions": True, "enforcement_functions": True},
    {"code": "SCJGJ", "name": "市场监管局", "approval_functions": True, "enforcement_functions": True},
    {"code": "SWJ", "name": "水务局", "approval_functions": True, "enforcement_functions": False},
    {"code": "ZJJ", "name": "住建局", "approval_functions": True, "enforcement_functions": False},
]
MATERIALS = {"SCJ-001": ["M1", "M2", "M3"], "ZJJ-001": ["M1", "M2", "M3"], "HBJ-001": ["M1", "M2"],
             "SWJ-001": ["M1", "M2"]}


def at(*parts):
    return datetime(*parts, tzinfo=TZ)


class Scoring:
    def __init__(self, base, keys):
        self.base, self.keys = base, keys

    def call(self, method, path, who="assessor", body=None, **params):
        return requests.request(method, f"{self.base}{path}", json=body, params=params, timeout=10,
                                headers={"Authorization": f"Bearer {self.keys[who]}"})

    def ok(self, method, path, who="assessor", body=None, status=200, **params):
        r = self.call(method, path, who, body, **params)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return r.json()

    def facts(self, metric=None, **params):
        found = self.ok("GET", "/api/v1/facts", limit=5000, **params)
        return [f for f in found if metric is None or f["metric"] == metric]

    def count(self, metric):
        return len(self.facts(metric))

    def scores(self, period="2026-09"):
        return self.ok("GET", "/api/v1/scores", period=period)


def table(result):
    return [(r["department"], r["composite"], r["rank"], r["tier"], r["advanced_unit"], r["bonus"],
             r["efficiency_warnings"], r["deduction"], r["adjustment"], r["final"]) for r in result["rows"]]


@pytest.fixture
def rules_file(tmp_path):
    """The shipped rules with three advanced units instead of ten (seven departments in this city) and a
    minimum sample of one everywhere: this scenario checks the arithmetic with a case or two of each kind
    (tests/e2e/test_scoring_fairness.py checks the shipped minimums)."""
    from services.scoring.service import DEFAULT_RULES

    rules = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    rules["advanced_units"]["count"] = 3
    for metric in rules["metrics"]:
        metric["min_sample"]["count"] = 1
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    register = tmp_path / "departments.yaml"
    register.write_text(yaml.safe_dump(REGISTER, allow_unicode=True), encoding="utf-8")
    return str(path), str(register)


@pytest.fixture
def city(service_config, start_service, api_keys, keys_file, fresh_amqp_uri, rules_file):
    rules, register = rules_file
    cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri, RULES_FILE=rules, SEED_DEPARTMENTS=register)
    start_service(ScoringService, cfg)  # first: its queues exist before anything is published
    taps = [Tap(fresh_amqp_uri, "appeals"), Tap(fresh_amqp_uri, "approvals")]
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("SWJ", "HBJ", "GAJ", "JW"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    appeals_cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri)
    start_service(AppealsService, appeals_cfg)
    approvals, _ = start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)
    return Scoring(cfg["base_url"], api_keys), Api(appeals_cfg["base_url"], keys), approvals, taps, rules_file


def application(approvals, item, decide=False):
    a = approvals.submit(item_code=item, materials=MATERIALS[item])
    approvals.act(a["id"], "accept")
    if decide:
        approvals.act(a["id"], "decide", {"approved": True})
    return a


def test_a_month_of_the_city_ranked_closed_reopened_and_replayed(city, frozen, service_config, start_service,
                                                                   rabbit_admin):
    scoring, appeals, approvals, taps, (rules, register) = city

    # -- 1 September, 10:00 (a Tuesday) ----------------------------------------------------------------
    frozen(at(2026, 9, 1, 10, 0))
    a1 = application(approvals, "SCJ-001", decide=True)  # in time
    a4 = application(approvals, "SCJ-001")  # 5 working days: due 8 Sep; yellow, then a red card, resolved later
    a2 = application(approvals, "ZJJ-001")  # 7 working days: due 10 Sep; decided late
    a3 = application(approvals, "HBJ-001")  # 10 working days: due 15 Sep; decided in time
    a5 = application(approvals, "SWJ-001")  # due 15 Sep: yellow, then a red card left unresolved
    assert a1["department"] == "SCJGJ"

    water = appeals.intake(category="water", appellant={"anonymous": True})  # → SWJ
    appeals.act(water["id"], "accept", "SWJ")
    appeals.act(water["id"], "reply", "SWJ", {"reply": "已恢复供水"})
    appeals.act(water["id"], "callback", "operator", {"satisfaction": "satisfied", "resolved": True})
    noise = appeals.intake(category="environment", appellant={"anonymous": True})  # → HBJ
    appeals.act(noise["id"], "accept", "HBJ")
    appeals.act(noise["id"], "reply", "HBJ", {"reply": "已责令整改"})
    appeals.act(noise["id"], "callback", "operator", {"satisfaction": "basically_satisfied", "resolved": False})
    traffic = appeals.intake(category="traffic", appellant={"anonymous": True})  # → GAJ, who returns it
    appeals.act(traffic["id"], "return", "GAJ", {"reason": "不属于本单位职责"})
    for person in ("王某", None):  # two upheld efficiency complaints about GAJ: one names a member of its staff
        c = appeals.intake(type="efficiency_complaint", category="efficiency", subject_department="GAJ",
                           content="窗口推诿", appellant={"anonymous": True})
        appeals.act(c["id"], "finding", "monitor", {"finding": "upheld", "reasons": "查实推诿", "person": person})

    # own inputs
    evaluation = scoring.ok("POST", "/api/v1/evaluations", body={
        "enterprise": "某建筑公司", "department": "ZJJ", "period": "2026-09", "scores": {"效率": 80, "态度": 90}},
        status=201)
    assert evaluation["score"] == 85.0
    scoring.ok("POST", "/api/v1/monitoring-points", body={"code": "E001", "name": "某食品厂", "kind": "enterprise"},
               status=201)
    open_finding = scoring.ok("POST", "/api/v1/visits", body={
        "department": "HBJ", "point_code": "E001", "visited_at": at(2026, 9, 1, 9).isoformat(),
        "finding": "窗口无人值守", "due_at": at(2026, 9, 10, 18).isoformat(), "visitor": "暗访组"}, status=201)
    assert open_finding["state"] == "open"
    closed_finding = scoring.ok("POST", "/api/v1/visits", body={
        "department": "SCJGJ", "visited_at": at(2026, 9, 1, 9).isoformat(), "finding": "公示未更新",
        "due_at": at(2026, 9, 10, 18).isoformat(), "visitor": "暗访组"}, status=201)
    scoring.ok("POST", f"/api/v1/visits/{closed_finding['id']}/close",
               body={"evidence": "整改照片", "closed_at": at(2026, 9, 1, 9, 30).isoformat()})
    scoring.ok("POST", "/api/v1/criticisms", body={"department": "GAJ", "issued_at": at(2026, 9, 1, 9).isoformat(),
                                                    "document": "效通〔2026〕9号", "reason": "超期未办"}, status=201)
    scoring.ok("POST", "/api/v1/adjustments", body={"department": "ZJJ", "period": "2026-09", "value": 0.1,
                                                     "reason": "重点项目攻坚", "approved_by": "考核办主任"}, status=201)

    # -- 11 September: ZJJ's application is overdue (yellow card), then decided late; HBJ's in time ------
    frozen(at(2026, 9, 11, 0, 0, 1))
    wait_for(lambda: scoring.count("yellow_cards") == 2, message="yellow cards of a4 and a2 in scoring")
    approvals.act(a2["id"], "decide", {"approved": True})
    approvals.act(a3["id"], "decide", {"approved": True})

    # -- 24 September: red cards for a4 (SCJGJ) and a5 (SWJ); a4's is resolved ---------------------------
    frozen(at(2026, 9, 24, 0, 0, 1))
    wait_for(lambda: scoring.count("red_cards") == 2 and scoring.count("yellow_cards") == 3,
             message="two red cards and three yellow cards in scoring")
    red = [x for x in approvals.alerts(level="red") if str(x["application_id"]) == str(a4["id"])][0]
    approvals.ok("POST", f"/api/v1/alerts/{red['id']}/resolve", "monitor", {"note": "已督促办结"})
    approvals.act(a4["id"], "decide", {"approved": True})
    approvals.act(a5["id"], "decide", {"approved": True})
    a6 = application(approvals, "ZJJ-001")  # decided only after September has been published
    wait_for(lambda: scoring.count("red_cards_resolved") == 1 and scoring.count("approvals_decided") == 5
             and scoring.count("efficiency_warnings") == 2 and scoring.count("callbacks") == 2,
             message="every September fact in scoring")

    # -- the ranking of September, with exact numbers ---------------------------------------------------
    frozen(at(2026, 10, 10, 10, 0))
    result = scoring.scores()
    assert result["state"] == "open" and result["rules_version"] == "2026.4"
    # composites (weights: approval 20, response 10, resolution 10, satisfaction 15, evaluation 15,
    # monitoring 15, handling 10, visits 5; a metric without its (here: one) sample is left out and the weights
    # of the others renormalised):
    #   ZWFW: nothing happened → not ranked (it scored 100 and ranked first before); JW: not assessed
    #   GAJ: its one dispatched case returned, never reviewed → a return alone costs nothing: handling 100
    #   HBJ: approval 100, response 100, resolution 0, satisfaction 100, monitoring 100, handling 100, overdue
    #        visit finding → visits 90: (2000 + 1000 + 0 + 1500 + 1500 + 1000 + 450) / 85 = 87.65
    #   SWJ: late → 0; response, resolution, satisfaction 100; yellow + red → 85; handling 100; no visit:
    #        (0 + 1000 + 1000 + 1500 + 1275 + 1000) / 80 = 72.19
    #   SCJGJ: 1 of 2 in time → 50; a yellow and a red card → monitoring 85; its visit finding closed in time →
    #        100; no appeal dispatched to it → handling has not enough data: (1000 + 1275 + 500) / 40 = 69.38
    #   ZJJ: late → 0; evaluation 85; a yellow card and two irregularities (its item is not fully authorised at
    #        the window: each acceptance, a2 and a6, is one) → 85: (0 + 1275 + 1275) / 50 = 51.0
    # five ranked departments: tiers cut at ranks 2 and 4
    # advanced units (three): GAJ is criticised and SWJ has an unresolved red card, so HBJ, SCJGJ, then ZJJ
    # GAJ: two efficiency warnings (one to its staff) → −1.0; ZJJ: +0.1 adjusted; ZWFW has no tier bonus
    expected = [
        ("GAJ", 100.0, 1, 1, False, 1.0, 2, 1.0, 0.0, 0.0),
        ("HBJ", 87.65, 2, 1, True, 1.2, 0, 0.0, 0.0, 1.2),
        ("SWJ", 72.19, 3, 2, False, 0.75, 0, 0.0, 0.0, 0.75),
        ("SCJGJ", 69.38, 4, 2, True, 0.95, 0, 0.0, 0.0, 0.95),
        ("ZJJ", 51.0, 5, 3, True, 0.7, 0, 0.0, 0.1, 0.8),
        ("ZWFW", None, None, None, False, 0.0, 0, 0.0, 0.0, 0.0),
        ("JW", None, None, None, False, 0.0, 0, 0.0, 0.0, None),
    ]
    assert table(result) == expected
    by = {r["department"]: r for r in result["rows"]}
    assert by["GAJ"]["disqualification"] == ["通报批评（效通〔2026〕9号）"]
    assert by["SWJ"]["disqualification"][0].startswith("红牌未整改")
    assert not by["SCJGJ"]["disqualified"]  # its red card was resolved within the period
    assert (by["ZWFW"]["standing"], by["JW"]["standing"]) == ("not_ranked", "not_assessed")
    assert by["SCJGJ"]["insufficient"] == ["appeal_response", "appeal_resolution", "appeal_satisfaction",
                                           "enterprise_evaluation", "appeal_handling", "service_reviews"]

    # the breakdown, down to every fact and its source event
    gaj = scoring.ok("GET", "/api/v1/scores/GAJ", period="2026-09")
    warnings = [f for f in gaj["facts"] if f["metric"] == "efficiency_warnings"]
    assert sorted(f["detail"] for f in warnings) == ["个人：王某", "单位"]
    assert all(f["source_event_type"] == "efficiency_warning.issued" and f["source_event_id"] for f in warnings)
    assert gaj["criticisms"][0]["document"] == "效通〔2026〕9号"
    hbj = scoring.ok("GET", "/api/v1/scores/HBJ", period="2026-09")
    assert [v["id"] for v in hbj["visits_overdue"]] == [open_finding["id"]]
    assert {m["code"]: m["score"] for m in hbj["metrics"]}["undercover_visits"] == 90.0
    swj = scoring.ok("GET", "/api/v1/scores/SWJ", period="2026-09")
    assert len(swj["unresolved_red_cards"]) == 1
    # the quarter and the year hold the same facts (nothing else happened in 2026)
    assert table(scoring.scores("2026-Q3")) == table(scoring.scores("2026")) == expected

    # -- close: frozen and published ----------------------------------------------------------------------
    scoring_tap = Tap(taps[0].amqp_uri, "scoring")
    closed = scoring.ok("POST", "/api/v1/periods/2026-09/close")
    assert (closed["state"], closed["revision"], closed["replay_matches"]) == ("closed", 1, True)
    published = wait_for(lambda: [m for m in scoring_tap.drain() if m["event_type"] == "scoring.results_published"],
                         message="scoring.results_published")
    assert [(r["department"], r["final"]) for r in published[0]["payload"]["results"]] == [
        (row[0], row[-1]) for row in expected[:5]]
    assert [(u["department"], u["standing"], u["final"]) for u in published[0]["payload"]["unranked"]] == [
        ("ZWFW", "not_ranked", 0.0), ("JW", "not_assessed", None)]
    assert scoring.call("POST", "/api/v1/periods/2026-09/close").status_code == 409

    # -- a late event: ZJJ's a6 decided, reported now with its September moment ----------------------------
    frozen(at(2026, 10, 10, 10, 5))
    approvals.act(a6["id"], "decide", {"approved": True, "at": at(2026, 9, 25, 10).isoformat()})
    late = wait_for(lambda: scoring.scores()["late_facts"], message="the late fact shown")
    assert {(f["department"], f["metric"], f["period"]) for f in late} >= {("ZJJ", "approvals_decided", "2026-09")}
    assert table(scoring.scores()) == expected  # shown, not counted
    assert scoring.ok("GET", "/api/v1/periods/2026-09")["late_facts"] == len(late)

    # -- the audited reopening counts it -------------------------------------------------------------------
    assert scoring.call("POST", "/api/v1/periods/2026-09/reopen", body={}).status_code == 400  # a reason is needed
    reopened = scoring.ok("POST", "/api/v1/periods/2026-09/reopen", body={"reason": "住建局补报9月办结件"})
    assert reopened["state"] == "open" and reopened["audit"][-1]["reason"] == "住建局补报9月办结件"
    # ZJJ: 1 of 2 in time → 50; the back-dated decision is a third irregularity (late report 迟报) → monitoring
    # 80: (1000 + 1275 + 1200) / 50 = 69.5, now fourth
    recounted = table(scoring.scores())
    assert recounted[:3] == expected[:3] and recounted[5:] == expected[5:]
    assert recounted[3:5] == [("ZJJ", 69.5, 4, 2, True, 0.95, 0, 0.0, 0.1, 1.05),
                              ("SCJGJ", 69.38, 5, 3, True, 0.7, 0, 0.0, 0.0, 0.7)]
    again = scoring.ok("POST", "/api/v1/periods/2026-09/close")
    assert (again["revision"], [a["action"] for a in again["audit"]]) == (2, ["close", "reopen", "close"])
    final = scoring.scores()
    assert table(final) == recounted and final["late_facts"] == []

    # -- replay: every event, twice and shuffled, into a second scoring service gives the same ranking -------
    events = [m for tap in taps for m in tap.drain()]
    assert len({m["event_id"] for m in events}) == len(events) > 30
    vhost = rabbit_admin.create_vhost("xiaoneng-test-replay")
    try:
        uri = rabbit_admin.amqp_uri(vhost)
        cfg2 = service_config("scoring", AMQP_URI=uri, RULES_FILE=rules, SEED_DEPARTMENTS=register,
                              DATABASE_URL=f"sqlite:///{register}.replay.db")
        start_service(ScoringService, cfg2)
        second = Scoring(cfg2["base_url"], scoring.keys)
        replay = events * 2
        random.Random(7).shuffle(replay)
        for m in replay:
            publish_raw(uri, events_exchange(m["source"]["service"]).name, m["event_type"], m)
        scoring_inputs_again(second)
        wait_for(lambda: second.count("approvals_decided") == 6 and second.count("red_cards_resolved") == 1
                 and second.count("efficiency_warnings") == 2 and second.count("callbacks") == 2,
                 message="the replayed facts")
        assert len(second.facts()) == len(scoring.facts())  # each event counted once, although sent twice
        assert table(second.scores()) == recounted
    finally:
        rabbit_admin.delete_vhost(vhost)


def scoring_inputs_again(s):
    """The assessors' own inputs of the scenario, as they were entered (they are not events)."""
    s.ok("POST", "/api/v1/evaluations", body={"enterprise": "某建筑公司", "department": "ZJJ", "period": "2026-09",
                                              "scores": {"效率": 80, "态度": 90}}, status=201)
    s.ok("POST", "/api/v1/monitoring-points", body={"code": "E001", "name": "某食品厂", "kind": "enterprise"},
         status=201)
    s.ok("POST", "/api/v1/visits", body={"department": "HBJ", "point_code": "E001",
                                         "visited_at": at(2026, 9, 1, 9).isoformat(), "finding": "窗口无人值守",
                                         "due_at": at(2026, 9, 10, 18).isoformat(), "visitor": "暗访组"}, status=201)
    v = s.ok("POST", "/api/v1/visits", body={"department": "SCJGJ", "visited_at": at(2026, 9, 1, 9).isoformat(),
                                             "finding": "公示未更新", "due_at": at(2026, 9, 10, 18).isoformat(),
                                             "visitor": "暗访组"}, status=201)
    s.ok("POST", f"/api/v1/visits/{v['id']}/close", body={"evidence": "整改照片",
                                                          "closed_at": at(2026, 9, 1, 9, 30).isoformat()})
    s.ok("POST", "/api/v1/criticisms", body={"department": "GAJ", "issued_at": at(2026, 9, 1, 9).isoformat(),
                                             "document": "效通〔2026〕9号", "reason": "超期未办"}, status=201)
    s.ok("POST", "/api/v1/adjustments", body={"department": "ZJJ", "period": "2026-09", "value": 0.1,
                                              "reason": "重点项目攻坚", "approved_by": "考核办主任"}, status=201)
