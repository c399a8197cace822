"""The appeals list and its export with assisting departments (协办), on the real broker through the HTTP API: a
department handler's list holds the cases it assists on as well as its own (`involvement`: lead, assisting, any),
an operator filters a department's assisted cases, each listed case names its assisting departments (loaded for
the page in one query, parts left out), and an assisting department still sees names and phones masked."""

import csv
import io
from datetime import datetime

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from services.appeals.desk import domain, usecases
from services.appeals.service import AppealsService
from services.kernel.db import create_db_engine
from services.kernel.keys import KeyStore
from tests.e2e.test_appeal_lifecycle import TZ, Api

WED = datetime(2026, 11, 4, 10, 0, tzinfo=TZ)  # a Wednesday
PERSON = {"name": "张三", "phone": "13812345678"}


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri, frozen):
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("ZJJ", "SWJ", "HBJ"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    keys["monitor"] = store.add("monitor-1", "monitor")
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri)
    start_service(AppealsService, cfg)
    api = Api(cfg["base_url"], keys)
    frozen(WED)
    # ZJJ leads `assisted` with SWJ assisting, leads `alone`; SWJ leads `own`; HBJ has nothing
    assisted = api.intake(category="road", content="道路塌陷，疑似水管破裂", appellant=PERSON)
    api.act(assisted["id"], "dispatch", "operator", {"department": "ZJJ", "assisting": ["SWJ"]})
    alone = api.intake(category="road", content="路灯不亮", appellant={"name": "李四", "phone": "13912345678"})
    own = api.intake(category="water", content="停水三天", appellant=PERSON)
    assert [(c["department"], c["status"]) for c in (assisted, alone, own)] == [
        ("ZJJ", "dispatched"), ("ZJJ", "dispatched"), ("SWJ", "dispatched")]
    return api, cfg, {"assisted": assisted["id"], "alone": alone["id"], "own": own["id"]}


def listed(api, who, status=200, **params):
    r = api.call("GET", "/api/v1/appeals", who, **params)
    assert r.status_code == status, (who, params, r.status_code, r.text)
    return r.json()


def ids(page):
    assert page["total"] == len(page["items"])
    return sorted(item["id"] for item in page["items"])


def exported(api, who, status=200, **params):
    r = api.call("GET", "/api/v1/appeals/export", who, **params)
    assert r.status_code == status, (who, params, r.status_code, r.text)
    return r


def case_nos_of(csv_response):
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    return sorted(row[0] for row in rows[1:])


def test_a_handler_lists_the_cases_it_leads_and_those_it_assists_on(env):
    api, _, case = env
    both = sorted([case["assisted"], case["own"]])
    assert ids(listed(api, "SWJ")) == both  # default: any
    assert ids(listed(api, "SWJ", involvement="any")) == both
    assert ids(listed(api, "SWJ", involvement="assisting")) == [case["assisted"]]
    assert ids(listed(api, "SWJ", involvement="lead")) == [case["own"]]
    assert ids(listed(api, "SWJ", department="SWJ", involvement="assisting")) == [case["assisted"]]
    # the other filters still apply to the cases it assists on
    assert ids(listed(api, "SWJ", category="road")) == [case["assisted"]]
    assert ids(listed(api, "SWJ", keyword="水管破裂")) == [case["assisted"]]
    # the lead department's list is as before
    assert ids(listed(api, "ZJJ")) == sorted([case["assisted"], case["alone"]])
    assert ids(listed(api, "ZJJ", involvement="assisting")) == []


def test_an_unrelated_department_sees_none_of_them_and_never_another_departments(env):
    api, _, case = env
    for params in ({}, {"involvement": "assisting"}, {"involvement": "any"}):
        assert ids(listed(api, "HBJ", **params)) == []
    for involvement in ("lead", "assisting", "any"):
        assert ids(listed(api, "HBJ", department="SWJ", involvement=involvement)) == []
        assert ids(listed(api, "SWJ", department="ZJJ", involvement=involvement)) == []
    assert case_nos_of(exported(api, "HBJ", department="SWJ", involvement="assisting")) == []
    assert api.call("GET", f"/api/v1/appeals/{case['assisted']}", "HBJ").status_code == 404


def test_an_operator_filters_the_cases_a_department_assists_on(env):
    api, _, case = env
    assert ids(listed(api, "operator", department="SWJ")) == [case["own"]]  # default: lead, as before
    assert ids(listed(api, "operator", department="SWJ", involvement="lead")) == [case["own"]]
    assert ids(listed(api, "operator", department="SWJ", involvement="assisting")) == [case["assisted"]]
    assert ids(listed(api, "operator", department="SWJ", involvement="any")) == sorted([case["assisted"],
                                                                                        case["own"]])
    assert ids(listed(api, "monitor", department="SWJ", involvement="assisting")) == [case["assisted"]]
    assert ids(listed(api, "operator", involvement="lead")) == sorted(case.values())  # lead, no department: all
    # the export reads the same filters
    case_no = {item["id"]: item["case_no"] for item in listed(api, "operator")["items"]}
    assert case_nos_of(exported(api, "operator", department="SWJ", involvement="assisting")) == [
        case_no[case["assisted"]]]
    assert case_nos_of(exported(api, "operator", department="SWJ")) == [case_no[case["own"]]]
    assert case_nos_of(exported(api, "SWJ")) == sorted([case_no[case["assisted"]], case_no[case["own"]]])
    assert case_nos_of(exported(api, "SWJ", involvement="lead")) == [case_no[case["own"]]]
    html = exported(api, "SWJ", format="html", involvement="assisting").text
    assert case_no[case["assisted"]] in html and case_no[case["own"]] not in html


def test_an_involvement_without_a_department_or_unknown_is_a_400(env):
    api, _, _ = env
    for who in ("operator", "monitor"):
        for involvement in ("assisting", "any"):
            errors = listed(api, who, status=400, involvement=involvement)["errors"]
            assert "department" in errors["involvement"][0] and "单位" in errors["involvement"][0]
            assert "involvement" in exported(api, who, status=400, involvement=involvement).json()["errors"]
    for who in ("operator", "SWJ"):
        assert "involvement" in listed(api, who, status=400, department="SWJ", involvement="both")["errors"]
        assert "involvement" in exported(api, who, status=400, involvement="").json()["errors"]


def test_the_list_names_the_assisting_departments_without_their_parts(env):
    api, cfg, case = env
    page = listed(api, "operator", department="ZJJ")
    shown = {item["id"]: item for item in page["items"]}
    # by its name where the register has one (this service runs without a register: the code)
    assert shown[case["assisted"]]["assisting"] == [{"department": "SWJ", "department_name": "SWJ",
                                                     "accepted_at": None, "replied_at": None}]
    assert shown[case["alone"]]["assisting"] == []
    api.act(case["assisted"], "assist/accept", "SWJ")
    api.act(case["assisted"], "assist/reply", "SWJ", {"part": "破损水管已更换"})
    for who, params in (("operator", {"department": "ZJJ"}), ("ZJJ", {}), ("SWJ", {"involvement": "assisting"})):
        r = api.call("GET", "/api/v1/appeals", who, **params)
        assert r.status_code == 200 and "破损水管已更换" not in r.text  # the part is for one case's answer
        item = next(i for i in r.json()["items"] if i["id"] == case["assisted"])
        (swj,) = item["assisting"]
        assert set(swj) == {"department", "department_name", "accepted_at", "replied_at"}
        assert swj["department"] == "SWJ" and swj["accepted_at"].startswith("2026-11-04T10:00")
        assert swj["replied_at"].startswith("2026-11-04T10:00")
    # one case's answer keeps the part
    assert api.ok("GET", f"/api/v1/appeals/{case['assisted']}", "ZJJ")["assisting"][0]["part"] == "破损水管已更换"

    # the page's assisting departments come in one query, however many cases it holds
    for _ in range(3):
        extra = api.intake(category="road", content="井盖缺失", appellant={"anonymous": True})
        api.act(extra["id"], "dispatch", "operator", {"department": "ZJJ", "assisting": ["SWJ", "HBJ"]})
    engine = create_db_engine(cfg["DATABASE_URL"])
    statements = []
    event.listen(engine, "before_cursor_execute", lambda conn, cur, sql, *rest: statements.append(sql))
    try:
        with Session(engine) as s:
            query = {"department": "ZJJ", "page": 1, "per_page": 50}
            records, total = usecases.search(s, query, "operator")
    finally:
        engine.dispose()
    assert total == len(records) == 5
    assert [len(r.row["assisting"]) for r in records] == [2, 2, 2, 0, 1]
    assert len([sql for sql in statements if "appeal_assists" in sql]) == 1


def test_an_assisting_department_sees_names_and_phones_masked(env):
    api, _, case = env
    for who in ("SWJ", "ZJJ", "operator"):  # the list masks for every role, as before
        for item in listed(api, who)["items"]:
            assert item["appellant"] in ({"name": "张*", "phone": "138****5678", "anonymous": False},
                                         {"name": "李*", "phone": "139****5678", "anonymous": False})
    # one case: in full for the lead department, masked for the assisting one
    assert api.ok("GET", f"/api/v1/appeals/{case['assisted']}", "ZJJ")["appellant"]["phone"] == "13812345678"
    seen = api.ok("GET", f"/api/v1/appeals/{case['assisted']}", "SWJ")
    assert (seen["appellant"]["name"], seen["appellant"]["phone"]) == ("张*", "138****5678")
    assert api.ok("GET", f"/api/v1/appeals/{case['own']}", "SWJ")["appellant"]["name"] == "张三"
    # the export too
    rows = exported(api, "SWJ", involvement="assisting").content.decode("utf-8-sig")
    assert "13812345678" not in rows and "张三" not in rows and "138****5678" in rows


def test_the_involvement_rule():
    assert domain.involvement(None, "SWJ", confined=True) == "any"
    assert domain.involvement(None, "SWJ", confined=False) == "lead"
    assert domain.involvement("assisting", "SWJ", confined=False) == "assisting"
    assert domain.involvement(None, None, confined=False) is None
    assert domain.involvement("lead", None, confined=False) is None
    with pytest.raises(domain.SearchRefused):
        domain.involvement("any", None, confined=False)
