"""Enforcement's irregularities on the monitor console (#17), approvals and notify on one real broker with a frozen
clock: an inspection by an inspector without a valid certificate and a fine outside its band reach the console's
list (类别 inspection / penalty), board and feed, each once; resolved through the console, approvals answers and
the alert leaves the board, filed beside its alert (the answer names the inspection)."""

from datetime import datetime
from pathlib import Path

from services.kernel import clock
from services.kernel.keys import KeyStore
from services.notify.service import NotifyService
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.e2e.test_console_projects import Api

TZ = clock.TZ
ROOT = Path(__file__).resolve().parents[2]
REGISTER = str(ROOT / "services" / "scoring" / "departments.demo.yaml")
BASES = str(ROOT / "services" / "approvals" / "penalty_bases.demo.yaml")


def test_an_inspection_and_a_penalty_out_of_rule_are_on_the_console_and_resolved_there(
        service_config, start_service, api_keys, keys_file, fresh_amqp_uri, frozen):
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    keys = {**api_keys, "legal": KeyStore(keys_file).add("legal-city", "legal_office")}
    api, _ = start_approvals(lambda service, **more: service_config(service, SEED_PENALTY_BASES=BASES, **more),
                             start_service, keys, keys_file, fresh_amqp_uri, departments=("SCJGJ",), client=Api)
    cfg = service_config("notify", AMQP_URI=fresh_amqp_uri, NOTIFY={"DEPARTMENTS_FILE": REGISTER})
    start_service(NotifyService, cfg)
    api.console = cfg["base_url"]
    for number, until in (("SC-0001", "2028-12-31"), ("SC-0002", "2026-06-30")):  # the second ran out in June
        api.ok("PUT", f"/api/v1/enforcement-certificates/{number}", "admin",
               {"holder": "执法员", "department": "SCJGJ", "valid_from": "2024-01-01", "valid_until": until})
    inspection = api.ok("POST", "/api/v1/inspections", "SCJGJ", {
        "enterprise": "杭州某化工有限公司", "basis": "《安全生产法》第六十五条", "inspectors": ["SC-0001", "SC-0002"],
        "planned_on": "2026-11-04", "external_ref": "JC-1"}, status=201)
    penalty = api.ok("POST", "/api/v1/penalties", "SCJGJ", {
        "case_no": "市监罚〔2026〕9号", "party_kind": "enterprise", "party_name": "好运来超市", "basis_code": "SP-126",
        "kinds": ["fine"], "amount": 20000, "circumstance": "minor", "decided_on": "2026-10-30"}, status=201)

    def on_console(subject):
        return api.console_alerts(subject=subject)

    [checked] = wait_for(lambda: on_console("inspection"), message="the inspection's alert on the console")
    [fined] = wait_for(lambda: on_console("penalty"), message="the penalty's alert on the console")
    assert (checked["level"], checked["department"], checked["subject_zh"]) == ("irregularity", "SCJGJ", "执法检查")
    assert checked["ref_no"] == inspection["reference_no"] and "执法证" in checked["title_zh"]
    assert (fined["subject_zh"], fined["ref_no"]) == ("行政处罚", penalty["case_no"])
    board = {d["department"]: d for d in api.on_console("GET", "/api/v1/console/board")}
    assert (board["SCJGJ"]["subjects"]["inspection"], board["SCJGJ"]["subjects"]["penalty"]) == (1, 1)
    feed = api.on_console("GET", "/api/v1/console/feed")
    assert sum(1 for line in feed if line.get("alert", {}).get("id") == checked["id"]) == 1

    api.on_console("POST", f"/api/v1/console/alerts/{checked['id']}/resolve", body={"note": "已更换持证执法人员"},
                   status=202)
    done = wait_for(lambda: (a := api.console_alerts(subject="inspection", state="resolved")) and a,
                    message="resolved on the console")[0]
    assert (done["id"], done["resolved_by"], done["note"]) == (checked["id"], "test-monitor", "已更换持证执法人员")
    stored = next(a for a in api.ok("GET", "/api/v1/alerts", "monitor", subject="inspection")["items"])
    assert stored["state"] == "resolved"
    board = {d["department"]: d for d in api.on_console("GET", "/api/v1/console/board")}
    assert (board["SCJGJ"]["subjects"]["inspection"], board["SCJGJ"]["subjects"]["penalty"]) == (0, 1)
