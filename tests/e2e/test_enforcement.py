"""Enforcement inspections (执法检查审核登记, #17) end to end on the real broker with a frozen clock: a clean inspection
(registered, approved, reported) raises nothing and every call is retry-safe; each irregularity — an uncertified
inspector, an inspection carried out without approval or before it, too many inspections of one enterprise (扰企),
a result not reported in time, an unregistered inspection an enterprise reported — is exactly one alert and one
`enforcement.irregularity`, also when the same data arrives twice; bad input 400, roles 403, other departments'
inspections 404, illegal changes 409."""

import os
from collections import Counter
from datetime import datetime

import pytest

from services.kernel import clock
from services.kernel.keys import KeyStore
from tests.conftest import ROOT, wait_for
from tests.e2e.approvals_client import start_approvals

DEMO = os.path.join(ROOT, "services", "approvals", "certificates.demo.yaml")

TZ = clock.TZ
MON = datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
CODE = "91330100MA2B3C4D5E"
CERTS = {"SC-0001": ("张执法", "SCJGJ"), "SC-0002": ("李执法", "SCJGJ"), "SC-0003": ("王执法", "SCJGJ"),
         "ZJ-0001": ("赵执法", "ZJJ"), "ZJ-0002": ("钱执法", "ZJJ")}


def start(service_config, start_service, api_keys, keys_file, amqp_uri, **overrides):
    store = KeyStore(keys_file)
    extra = {"legal": store.add("legal-city", "legal_office"),
             "legal_zjj": store.add("legal-zjj", "legal_office", "ZJJ"),
             "desk": store.add("enterprise-desk", "enterprise_desk")}

    def config(service, **more):
        return service_config(service, ENFORCEMENT={"MAX_PER_ENTERPRISE": 2, "PERIOD": "month", "RESULT_DAYS": 5,
                                                    "MATCH_DAYS": 3}, **overrides, **more)

    return start_approvals(config, start_service, {**api_keys, **extra}, keys_file, amqp_uri)


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    return start(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)


def certify(api):
    for number, (holder, dept) in CERTS.items():
        api.ok("PUT", f"/api/v1/enforcement-certificates/{number}", "admin",
               {"holder": holder, "department": dept, "valid_from": "2026-01-01", "valid_until": "2028-12-31"})


def register(api, ref, who="SCJGJ", enterprise="杭州某化工有限公司", code=CODE, inspectors=("SC-0001", "SC-0002"),
             planned_on="2026-11-03", status=201):
    body = {"enterprise": enterprise, "enterprise_code": code, "basis": "《安全生产法》第六十五条",
            "inspectors": list(inspectors), "planned_on": planned_on, "external_ref": ref}
    return api.ok("POST", "/api/v1/inspections", who, body, status=status)


def decide(api, inspection, approved=True, who="legal", status=200):
    return api.ok("POST", f"/api/v1/inspections/{inspection['id']}/decide", who,
                  {"approved": approved, "note": "依据充分"}, status=status)


def result(api, inspection, day="2026-11-03", inspectors=("SC-0001", "SC-0002"), who="SCJGJ", status=200):
    return api.ok("POST", f"/api/v1/inspections/{inspection['id']}/result", who,
                  {"carried_out_on": day, "result": "no_violation", "findings": "未发现问题",
                   "inspectors": list(inspectors)}, status=status)


def irregularities(tap):
    return [m["payload"] for m in tap.drain() if m["event_type"] == "enforcement.irregularity"]


def of(tap, event_type, inspection_id):
    return [m["payload"] for m in tap.drain()
            if m["event_type"] == event_type and m["payload"].get("inspection_id") == str(inspection_id)]


def inspection_alerts(api):
    return api.ok("GET", "/api/v1/alerts", "monitor", subject="inspection", per_page=500)["items"]


def test_a_clean_inspection_raises_nothing_retry_safe_and_confined(env, frozen):
    api, tap = env
    frozen(MON)
    certify(api)
    listed = api.ok("GET", "/api/v1/enforcement-certificates", "SCJGJ")
    assert listed["total"] == 3 and {c["department"] for c in listed["items"]} == {"SCJGJ"}

    one = register(api, "R-1")
    assert (one["state"], one["state_zh"], one["department"], one["inspectors"]) == (
        "registered", "待审核", "SCJGJ", ["SC-0001", "SC-0002"])
    assert one["reference_no"] == f"JC-SCJGJ-2026-{one['id']:06d}"
    assert register(api, "R-1", status=200) == one  # a retry: the first answer
    other = api.call("POST", "/api/v1/inspections", "SCJGJ", {
        "enterprise": "另一家公司", "basis": "依据", "inspectors": ["SC-0001", "SC-0002"], "planned_on": "2026-11-04",
        "external_ref": "R-1"})
    assert other.status_code == 409 and other.json()["error"]["message_zh"] == "该登记编号已用于另一次检查登记"

    # another department's legal section and handler do not even see it; the city's legal office decides it
    assert api.call("POST", f"/api/v1/inspections/{one['id']}/decide", "legal_zjj", {"approved": True}
                    ).status_code == 404
    assert api.call("GET", f"/api/v1/inspections/{one['id']}", "ZJJ").status_code == 404
    assert api.ok("GET", "/api/v1/inspections", "ZJJ")["total"] == 0
    assert api.ok("GET", "/api/v1/inspections", "ZJJ", department="SCJGJ")["total"] == 0
    assert api.call("POST", f"/api/v1/inspections/{one['id']}/result", "ZJJ", {
        "carried_out_on": "2026-11-02", "result": "no_violation", "inspectors": ["ZJ-0001"]}).status_code == 404
    approved = decide(api, one)
    assert (approved["state"], approved["approved"], approved["decided_by"]) == ("approved", True, "legal-city")
    assert approved["result_due_at"] == "2026-11-10T23:59:59.999999+08:00"  # 5 working days after 3 November
    assert decide(api, one) == approved  # the same decision again
    refused = api.call("POST", f"/api/v1/inspections/{one['id']}/decide", "legal", {"approved": False})
    assert refused.status_code == 409 and "不能审核" in refused.json()["error"]["message_zh"]

    frozen(datetime(2026, 11, 3, 17, 0, tzinfo=TZ))
    done = result(api, one)
    assert (done["state"], done["result"], done["result_zh"], done["carried_out_on"]) == (
        "reported", "no_violation", "未发现违法行为", "2026-11-03")
    assert [h["action"] for h in done["history"]] == ["registered", "approved", "result_reported"]
    assert result(api, one) == done  # the same report again
    again = api.call("POST", f"/api/v1/inspections/{one['id']}/result", "SCJGJ", {
        "carried_out_on": "2026-11-03", "result": "case_opened", "inspectors": ["SC-0001", "SC-0002"]})
    assert again.status_code == 409 and again.json()["error"]["message_zh"] == "该检查已报告结果"

    # the enterprise's report of it matches: nothing raised
    report = api.ok("POST", "/api/v1/inspection-reports", "desk", {
        "enterprise": "杭州某化工有限公司", "enterprise_code": CODE, "department": "SCJGJ",
        "inspected_on": "2026-11-03", "note": "检查人员出示了执法证"}, status=201)
    assert (report["matched"], report["inspection_id"]) == (True, one["id"])

    # past the due day: nothing is overdue
    frozen(datetime(2026, 11, 20, 9, 0, tzinfo=TZ))
    wait_for(lambda: {"inspection.registered", "inspection.decided", "inspection.result_reported",
                      "inspection.reported_by_enterprise"} <= {m["event_type"] for m in tap.drain()},
             message="the lifecycle's events")
    registered = of(tap, "inspection.registered", one["id"])
    assert len(registered) == 1 and registered[0]["inspectors_count"] == 2
    assert not any(n in str(tap.messages) for n in ("张执法", "李执法"))  # no holder's name in any event
    assert irregularities(tap) == [] and inspection_alerts(api) == []
    listed = api.ok("GET", "/api/v1/inspections", "monitor", state="reported", enterprise="化工")
    assert [i["id"] for i in listed["items"]] == [one["id"]]


def test_bad_input_roles_and_unknown(env, frozen):
    api, _ = env
    frozen(MON)
    good = {"enterprise": "杭州某化工有限公司", "basis": "依据", "inspectors": ["SC-0001", "SC-0002"],
            "planned_on": "2026-11-03", "external_ref": "R-9"}
    for body, field in (({**good, "inspectors": ["SC-0001"]}, "inspectors"),
                        ({**good, "inspectors": ["SC-0001", "SC-0001"]}, "inspectors"),
                        ({**good, "inspectors": ["SC 01", "SC-0002"]}, "inspectors"),
                        ({**good, "enterprise_code": "123"}, "enterprise_code"),
                        ({**good, "planned_on": "3 November"}, "planned_on"),
                        ({**good, "planned_on": "9999-01-01"}, "planned_on"),
                        ({k: v for k, v in good.items() if k != "basis"}, "basis"),
                        ({**good, "external_ref": ""}, "external_ref")):
        r = api.call("POST", "/api/v1/inspections", "SCJGJ", body)
        assert r.status_code == 400 and field in r.json()["errors"], (body, r.text)
    cert = {"holder": "张执法", "department": "SCJGJ", "valid_from": "2026-01-01", "valid_until": "2025-12-31"}
    r = api.call("PUT", "/api/v1/enforcement-certificates/SC-0001", "admin", cert)
    assert r.status_code == 400 and "valid_until" in r.json()["errors"]
    r = api.call("PUT", "/api/v1/enforcement-certificates/SC%2001", "admin", {**cert, "valid_until": "2027-01-01"})
    assert r.status_code == 400 and "number" in r.json()["errors"]
    for who in ("window_system", "ZJJ", "legal", "desk"):
        assert api.call("PUT", "/api/v1/enforcement-certificates/SC-0001", who, cert).status_code == 403
    for who in ("window_system", "legal", "desk", "monitor"):
        assert api.call("POST", "/api/v1/inspections", who, good).status_code == 403, who
    assert api.call("POST", "/api/v1/inspection-reports", "SCJGJ", {}).status_code == 403
    assert api.call("POST", "/api/v1/inspections/1/decide", "SCJGJ", {"approved": True}).status_code == 403
    assert api.call("GET", "/api/v1/inspections", "desk").status_code == 403
    assert api.call("POST", "/api/v1/inspections/999999/decide", "legal", {"approved": True}).status_code == 404
    assert api.call("GET", "/api/v1/inspections/999999", "monitor").status_code == 404
    r = api.call("POST", "/api/v1/inspections/1/decide", "legal", {"approved": "maybe"})
    assert r.status_code == 400 and "approved" in r.json()["errors"]
    r = api.call("POST", "/api/v1/inspection-reports", "desk", {"enterprise": "某公司", "department": "SCJGJ",
                                                                "inspected_on": "2026-11-09"})
    assert r.status_code == 400 and "inspected_on" in r.json()["errors"]  # in the future
    r = api.call("GET", "/api/v1/inspections", "monitor", state="lost")
    assert r.status_code == 400 and "state" in r.json()["errors"]


def test_every_irregularity_is_one_alert_and_one_event(env, frozen):
    api, tap = env
    frozen(MON)
    certify(api)
    api.ok("PUT", "/api/v1/enforcement-certificates/SC-0003", "admin",
           {"holder": "王执法", "department": "SCJGJ", "valid_from": "2026-01-01", "valid_until": "2028-12-31",
            "revoked": True})

    # an unknown and a revoked certificate at registration; the retry raises nothing more
    uncertified = register(api, "U-1", enterprise="甲公司", code=None, inspectors=("SC-0003", "XX-9999"))
    register(api, "U-1", enterprise="甲公司", code=None, inspectors=("SC-0003", "XX-9999"), status=200)

    # carried out without approval; carried out the day before its approval
    pending = register(api, "P-1", enterprise="乙公司", code=None)
    early = register(api, "E-1", enterprise="丙公司", code=None, planned_on="2026-11-02")
    decide(api, early)
    frozen(datetime(2026, 11, 3, 9, 0, tzinfo=TZ))
    for _ in range(2):
        result(api, pending)
        result(api, early, day="2026-11-02")  # approved on the 2nd: fine
    late = register(api, "E-2", enterprise="丙公司", code=None, planned_on="2026-11-03")
    frozen(datetime(2026, 11, 4, 9, 0, tzinfo=TZ))
    decide(api, late)
    result(api, late, day="2026-11-03")
    # an inspector of another department actually went
    other = register(api, "O-1", enterprise="丁公司", code=None, planned_on="2026-11-04")
    decide(api, other)
    result(api, other, day="2026-11-04", inspectors=("SC-0001", "ZJ-0001"))

    # 扰企: a third inspection of one enterprise in the month (by any department) — once per month
    register(api, "C-1", planned_on="2026-11-05")
    zjj = api.ok("POST", "/api/v1/inspections", "ZJJ", {
        "enterprise": "杭州某化工有限公司", "enterprise_code": CODE, "basis": "《建筑法》",
        "inspectors": ["ZJ-0001", "ZJ-0002"], "planned_on": "2026-11-06", "external_ref": "Z-1"}, status=201)
    assert decide(api, zjj, who="legal_zjj")["decided_by"] == "legal-zjj"  # its department's legal section
    third = register(api, "C-3", planned_on="2026-11-20")
    register(api, "C-3", planned_on="2026-11-20", status=200)
    register(api, "C-4", planned_on="2026-11-23")
    register(api, "C-5", planned_on="2026-12-01")  # another month: one there so far

    # an approved inspection whose result does not come
    silent = register(api, "S-1", enterprise="戊公司", code=None, planned_on="2026-11-04")
    decide(api, silent)
    # an inspection the enterprise reports that nobody registered; reported twice
    report = {"enterprise": "己公司", "department": "ZJJ", "inspected_on": "2026-11-03", "note": "两人来检查"}
    unregistered = api.ok("POST", "/api/v1/inspection-reports", "desk", report, status=201)
    assert api.ok("POST", "/api/v1/inspection-reports", "desk", report, status=200) == unregistered
    assert unregistered["matched"] is False and unregistered["message_zh"].startswith("未找到该检查的登记")
    frozen(datetime(2026, 11, 12, 0, 1, tzinfo=TZ))  # past the end of 11 November (5 working days after the 4th)
    expected = {(str(uncertified["id"]), "uncertified_inspector"), (str(pending["id"]), "inspection_without_approval"),
                (str(late["id"]), "inspection_without_approval"), (str(other["id"]), "uncertified_inspector"),
                (str(third["id"]), "too_many_inspections"), (str(silent["id"]), "result_not_reported"),
                (str(unregistered["inspection_id"]), "unregistered_inspection")}
    wait_for(lambda: {(p["subject_ref"], p["code"]) for p in irregularities(tap)} >= expected,
             message="the irregularities' events")
    # a tick more may not add any
    wait_for(lambda: api.ok("GET", "/health", "monitor")["outbox"]["pending"] == 0, message="outbox drained")
    events = irregularities(tap)
    assert Counter((p["subject_ref"], p["code"]) for p in events) == Counter(expected)
    alerts = inspection_alerts(api)
    assert Counter((a["subject_ref"], a["rule"]) for a in alerts) == Counter(expected)
    by_ref = {(a["subject_ref"], a["rule"]): a for a in alerts}
    crowded = by_ref[(str(third["id"]), "too_many_inspections")]
    assert (crowded["department"], crowded["details"]["period"], crowded["details"]["count"]) == ("SCJGJ", "2026-11", 3)
    cert_alert = by_ref[(str(uncertified["id"]), "uncertified_inspector")]
    assert cert_alert["details"]["inspectors"] == {"SC-0003": "revoked", "XX-9999": "unknown"}
    assert cert_alert["details"]["reference_no"] == uncertified["reference_no"]
    assert by_ref[(str(other["id"]), "uncertified_inspector")]["details"]["inspectors"] == {
        "ZJ-0001": "other_department"}
    assert by_ref[(str(unregistered["inspection_id"]), "unregistered_inspection")]["department"] == "ZJJ"
    for p in events:
        assert (p["level"], p["subject"], p["rule"]) == ("irregularity", "inspection", p["code"])
        assert p["reference_no"] == by_ref[(p["subject_ref"], p["code"])]["details"]["reference_no"]
    assert not any(n in str(tap.messages) for n in ("张执法", "李执法", "王执法", "赵执法", "钱执法"))
    overdue = api.ok("GET", f"/api/v1/inspections/{silent['id']}", "monitor")
    assert overdue["overdue"] is True

    # a department sees its own alerts only; a monitor resolves one with the usual endpoint
    zjj = api.ok("GET", "/api/v1/alerts", "ZJJ", subject="inspection")["items"]
    assert {a["rule"] for a in zjj} == {"unregistered_inspection"}
    alert_id = by_ref[(str(pending["id"]), "inspection_without_approval")]["id"]
    resolved = api.ok("POST", f"/api/v1/alerts/{alert_id}/resolve", "monitor", {"note": "已责令补办审核"})
    assert resolved["state"] == "resolved"
    answer = wait_for(lambda: [m["payload"] for m in tap.drain() if m["event_type"] == "monitor.alert_resolved"],
                      message="the resolution")
    assert (answer[0]["subject"], answer[0]["subject_ref"], answer[0]["reference_no"]) == (
        "inspection", str(pending["id"]), pending["reference_no"])


def test_certificates_are_seeded_into_an_empty_register(service_config, start_service, api_keys, keys_file,
                                                        fresh_amqp_uri, frozen):
    frozen(MON)
    api, tap = start(service_config, start_service, api_keys, keys_file, fresh_amqp_uri, SEED_CERTIFICATES=DEMO)
    listed = api.ok("GET", "/api/v1/enforcement-certificates", "monitor", per_page=500)
    assert listed["total"] == 10
    revoked = api.ok("GET", "/api/v1/enforcement-certificates", "SCJGJ")["items"]
    assert [(c["number"], c["revoked"]) for c in revoked][:4] == [
        ("SCJ-330101", False), ("SCJ-330102", False), ("SCJ-330103", False), ("SCJ-330104", True)]
    # an expired and a revoked certificate of the demo: the registration raises the irregularity
    register(api, "D-1", inspectors=("SCJ-330103", "SCJ-330104"))
    [event] = wait_for(lambda: irregularities(tap), message="the irregularity")
    assert event["code"] == "uncertified_inspector" and "周明远" not in str(tap.messages)
