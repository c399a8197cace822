"""Major administrative penalties and discretion end to end on the real broker with a frozen clock: the catalogue of
penalty bases (seeded, edited by monitors), penalties filed by their departments — one in band raising nothing,
a major one filed in time across National Day and one filed late, one out of its band, a fine without a stated
circumstance: each irregularity exactly one alert and one `enforcement.irregularity`, a retried filing none more —,
a person's name never in answers, events or logs, bad input, roles and department isolation."""

import logging
import os
from datetime import datetime

import pytest

from services.kernel import clock
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals

TZ = clock.TZ
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASES = os.path.join(ROOT, "services", "approvals", "penalty_bases.demo.yaml")
PERSON = "王小明"
# decided Wednesday 30 September 2026, 5 working days to file: 1–7 October are holidays and Saturday 10 October a
# make-up working day, so the limit is the end of Tuesday 13 October (13 calendar days later)
DECIDED = "2026-09-30"
DUE = "2026-10-13T23:59:59.999999+08:00"


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    def config(service, **overrides):
        return service_config(service, SEED_PENALTY_BASES=BASES, PENALTIES={"FILING_DAYS": 5}, **overrides)

    return start_approvals(config, start_service, api_keys, keys_file, fresh_amqp_uri,
                           departments=("SCJGJ", "GAJ", "HBJ", "ZJJ"))


def penalty(case_no, basis_code, kinds, amount=None, circumstance=None, decided_on=DECIDED, party_kind="enterprise",
            party_name="莱州某食品有限公司", **more):
    return {"case_no": case_no, "party_kind": party_kind, "party_name": party_name, "basis_code": basis_code,
            "kinds": kinds, "amount": amount, "circumstance": circumstance, "decided_on": decided_on, **more}


def of_type(tap, event_type):
    return [m["payload"] for m in tap.drain() if m["event_type"] == event_type]


def test_the_catalogue_of_bases_seeded_and_edited_by_monitors(env):
    api, _ = env
    bases = {b["code"]: b for b in api.ok("GET", "/api/v1/penalty-bases", "SCJGJ")}
    assert {"SP-122", "SP-126", "HB-99", "SW-60", "GA-26", "GA-23"} <= set(bases)
    assert bases["SP-122"]["kinds_zh"] == ["没收违法所得", "罚款"]
    assert bases["SP-122"]["bands"]["general"] == {"min": 60000.0, "max": 80000.0} and bases["GA-23"]["bands"] == {}

    body = {"name": "未按规定公示食品经营许可", "law": "《食品经营许可和备案管理办法》", "article": "第五十一条",
            "kinds": ["warning", "fine"], "bands": {"minor": {"min": 0, "max": 2000}, "general": {"min": 2000,
                                                                                                "max": 5000}}}
    created = api.ok("PUT", "/api/v1/penalty-bases/SP-T1", "monitor", body, status=201)
    assert (created["code"], created["updated_by"], created["kinds_zh"]) == ("SP-T1", "test-monitor", ["警告", "罚款"])
    changed = api.ok("PUT", "/api/v1/penalty-bases/SP-T1", "admin", {**body, "bands": {}}, status=200)
    assert changed["bands"] == {} and changed["updated_by"] == "test-admin"

    for bad, field in (({**body, "kinds": ["flogging"]}, "kinds"), ({**body, "kinds": []}, "kinds"),
                       ({**body, "kinds": ["fine", "fine"]}, "kinds"),
                       ({**body, "bands": {"general": {"min": 5000, "max": 2000}}}, "bands"),
                       ({**body, "bands": {"awful": {"min": 0, "max": 1}}}, "bands"),
                       ({**body, "bands": {"minor": {"min": -1, "max": 1}}}, "bands"),
                       ({**body, "kinds": ["warning"]}, "bands"),  # bands bound a fine
                       ({k: v for k, v in body.items() if k != "law"}, "law")):
        r = api.call("PUT", "/api/v1/penalty-bases/SP-T2", "monitor", bad)
        assert r.status_code == 400 and field in r.json()["errors"], (bad, r.text)
    r = api.call("PUT", "/api/v1/penalty-bases/SP T2", "monitor", body)
    assert r.status_code == 400 and "code" in r.json()["errors"]
    for who in ("SCJGJ", "assessor", "window_system", "operator"):
        assert api.call("PUT", "/api/v1/penalty-bases/SP-T1", who, body).status_code == 403
    assert api.call("GET", "/api/v1/penalty-bases", "window_system").status_code == 403


def test_each_irregularity_once_and_the_limit_across_national_day(env, frozen, caplog):
    caplog.set_level(logging.INFO)
    api, tap = env
    # on the last day of the limit: in time, though 13 calendar days after the decision
    frozen(datetime(2026, 10, 13, 22, 0, tzinfo=TZ))
    in_time = api.ok("POST", "/api/v1/penalties", "GAJ", penalty(
        "莱公(治)行罚决字[2026]101号", "GA-26", ["detention", "fine"], 300, "general", party_kind="person",
        party_name=PERSON), status=201)
    assert (in_time["major"], in_time["major_reasons"], in_time["filing_due_at"], in_time["late"]) == (
        True, ["行政拘留"], DUE, False)
    assert in_time["irregularities"] == [] and in_time["party_name"] == "王**"

    frozen(datetime(2026, 10, 14, 9, 0, tzinfo=TZ))
    body = penalty("莱公(治)行罚决字[2026]102号", "GA-26", ["detention"], party_kind="person", party_name=PERSON)
    late = api.ok("POST", "/api/v1/penalties", "GAJ", body, status=201)
    assert (late["late"], late["irregularities"], late["irregularities_zh"]) == (
        True, ["late_filing"], ["重大行政处罚逾期备案"])
    in_band = api.ok("POST", "/api/v1/penalties", "SCJGJ", penalty(
        "莱市监罚[2026]201号", "SP-126", ["warning", "fine"], 20000, "general", decided_on="2026-10-09"), status=201)
    assert (in_band["major"], in_band["late"], in_band["filing_due_at"], in_band["irregularities"]) == (
        False, False, None, [])
    out_of_band = api.ok("POST", "/api/v1/penalties", "HBJ", penalty(
        "莱环罚[2026]301号", "HB-99", ["fine"], 700000, "general", decided_on="2026-10-12",
        party_name="莱州某化工有限公司"), status=201)
    assert (out_of_band["major"], out_of_band["late"], out_of_band["irregularities"]) == (True, False,
                                                                                         ["out_of_band"])
    no_circumstance = api.ok("POST", "/api/v1/penalties", "HBJ", penalty(
        "莱环罚[2026]302号", "HB-99", ["fine"], 200000, decided_on="2026-10-12", party_name="莱州某化工有限公司"),
        status=201)
    assert no_circumstance["irregularities"] == ["no_circumstance"]

    # retries: the first answers, nothing raised again; the same case number with other content is refused
    assert api.ok("POST", "/api/v1/penalties", "GAJ", body, status=200) == late
    again = api.ok("POST", "/api/v1/penalties", "HBJ", penalty(
        "莱环罚[2026]301号", "HB-99", ["fine"], 700000.0, "general", decided_on="2026-10-12",
        party_name="莱州某化工有限公司"), status=200)
    assert again["id"] == out_of_band["id"]
    conflict = api.call("POST", "/api/v1/penalties", "GAJ", {**body, "kinds": ["detention", "fine"], "amount": 500})
    assert conflict.status_code == 409 and "已备案" in conflict.json()["error"]["message_zh"]

    expected = {(str(late["id"]), "late_filing", "莱公(治)行罚决字[2026]102号", "GAJ"),
                (str(out_of_band["id"]), "out_of_band", "莱环罚[2026]301号", "HBJ"),
                (str(no_circumstance["id"]), "no_circumstance", "莱环罚[2026]302号", "HBJ")}
    alerts = api.alerts(subject="penalty")
    assert {(a["subject_ref"], a["rule"], a["details"]["reference_no"], a["department"]) for a in alerts} == expected
    assert len(alerts) == 3 and {a["level"] for a in alerts} == {"irregularity"}
    by_rule = {a["rule"]: a for a in alerts}
    assert "超出一般情节幅度（300,000–600,000元）" in by_rule["out_of_band"]["details"]["description_zh"]
    assert "2026年10月13日前" in by_rule["late_filing"]["details"]["description_zh"]

    wait_for(lambda: len(of_type(tap, "enforcement.irregularity")) >= 3 and len(of_type(tap, "penalty.filed")) >= 5,
             message="the events")
    api.drained()
    irregularities = of_type(tap, "enforcement.irregularity")
    assert {(e["subject_ref"], e["code"], e["reference_no"], e["department"]) for e in irregularities} == expected
    assert len(irregularities) == 3 and {e["subject"] for e in irregularities} == {"penalty"}
    assert {e["alert_id"] for e in irregularities} == {str(a["id"]) for a in alerts}
    filed = {e["case_no"]: e for e in of_type(tap, "penalty.filed")}
    assert len(of_type(tap, "penalty.filed")) == 5
    assert filed["莱公(治)行罚决字[2026]101号"]["party"] == "个人"
    assert filed["莱环罚[2026]301号"]["party"] == "莱州某化工有限公司"
    assert (filed["莱公(治)行罚决字[2026]102号"]["late"], filed["莱公(治)行罚决字[2026]101号"]["filing_due_at"]) == (
        True, DUE)

    # a person's name: never in an answer, an event or a log line (not even masked in events)
    everything = [api.call("GET", "/api/v1/penalties", "monitor").text,
                  api.call("GET", f"/api/v1/penalties/{late['id']}", "GAJ").text,
                  api.call("GET", "/api/v1/alerts", "monitor").text, str(tap.messages), caplog.text]
    for text in everything:
        assert PERSON not in text and "王**" not in str(tap.messages)


def test_bad_input_roles_and_department_isolation(env, frozen):
    api, _ = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    good = penalty("莱市监罚[2026]401号", "SP-122", ["confiscation", "fine"], 70000, "general",
                   decided_on="2026-10-30")
    for bad, field in (({**good, "case_no": ""}, "case_no"), ({**good, "case_no": "a b"}, "case_no"),
                       ({**good, "party_kind": "robot"}, "party_kind"), ({**good, "party_name": "  "}, "party_name"),
                       ({**good, "kinds": ["flogging"]}, "kinds"), ({**good, "kinds": []}, "kinds"),
                       ({**good, "amount": None}, "amount"), ({**good, "amount": 0}, "amount"),
                       ({**good, "amount": -5}, "amount"), ({**good, "amount": 1.234}, "amount"),
                       ({**good, "amount": "lots"}, "amount"), ({**good, "kinds": ["warning"]}, "amount"),
                       ({**good, "circumstance": "awful"}, "circumstance"),
                       ({**good, "decided_on": "2026-13-01"}, "decided_on"),
                       ({**good, "decided_on": "2026-11-03"}, "decided_on"),  # in the future
                       ({**good, "basis_code": "NO-SUCH"}, "basis_code"),
                       ({**good, "basis_code": "SW-60", "kinds": ["fine"], "amount": 100, "circumstance": "minor"},
                        "circumstance"),  # SW-60 has no band minor
                       ({k: v for k, v in good.items() if k != "decided_on"}, "decided_on")):
        r = api.call("POST", "/api/v1/penalties", "SCJGJ", bad)
        assert r.status_code == 400 and field in r.json()["errors"], (bad, r.text)
    for who in ("monitor", "assessor", "window_system", "operator"):
        assert api.call("POST", "/api/v1/penalties", who, good).status_code == 403
    assert api.call("GET", "/api/v1/penalties", "window_system").status_code == 403
    assert api.ok("GET", "/api/v1/penalties", "monitor")["total"] == 0

    mine = api.ok("POST", "/api/v1/penalties", "SCJGJ", good, status=201)
    assert (mine["department"], mine["filed_by"], mine["basis_name"]) == (
        "SCJGJ", "handler-SCJGJ", "未取得食品经营许可从事食品经营活动")
    theirs = api.ok("POST", "/api/v1/penalties", "ZJJ", {**good, "basis_code": "SP-126", "kinds": ["warning"],
                                                        "amount": None, "circumstance": None}, status=201)
    assert theirs["case_no"] == mine["case_no"]  # case numbers are unique per department only
    assert api.call("GET", f"/api/v1/penalties/{mine['id']}", "ZJJ").status_code == 404
    assert api.call("GET", "/api/v1/penalties/999999", "monitor").status_code == 404
    assert api.ok("GET", f"/api/v1/penalties/{mine['id']}", "SCJGJ") == mine
    assert [p["id"] for p in api.ok("GET", "/api/v1/penalties", "ZJJ")["items"]] == [theirs["id"]]
    assert api.ok("GET", "/api/v1/penalties", "ZJJ", department="SCJGJ")["items"] == []
    assert api.ok("GET", "/api/v1/penalties", "monitor")["total"] == 2
    assert [p["id"] for p in api.ok("GET", "/api/v1/penalties", "assessor", department="SCJGJ")["items"]] == [
        mine["id"]]
    assert api.ok("GET", "/api/v1/penalties", "monitor", irregular="true")["total"] == 0
    assert api.ok("GET", "/api/v1/penalties", "monitor", major="false", to="2026-10-30")["total"] == 2
    assert api.ok("GET", "/api/v1/penalties", "monitor", **{"from": "2026-10-31"})["total"] == 0
    for params in ({"per_page": 0}, {"from": "2026-11-02", "to": "2026-11-01"}, {"party_kind": "robot"},
                   {"major": "perhaps"}):
        assert api.call("GET", "/api/v1/penalties", "monitor", **params).status_code == 400, params
