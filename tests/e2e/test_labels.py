"""Codes by their Chinese names everywhere people read them (#14): one register of organisations (DEPARTMENTS_FILE,
the same file for every service) names departments and town-streets, the dispatch catalogue names categories, the
contracts name channels, types and urgencies. On the real broker through the HTTP APIs: an appeal's answer, the
list, the export, Open311, the hot-issue report and its published brief, notify's messages and an application's
answer; a code the register does not hold is shown as itself."""

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest
import requests

from services.appeals.service import AppealsService
from services.approvals.service import ApprovalsService
from services.kernel import clock
from services.notify.service import NotifyService
from tests.conftest import wait_for
from tests.e2e.test_appeal_lifecycle import Api

TZ = clock.TZ
ROOT = Path(__file__).resolve().parents[2]
REGISTER = str(ROOT / "services" / "scoring" / "departments.demo.yaml")
MON = datetime(2026, 11, 9, 10, 0, tzinfo=TZ)
DAY = {"from": "2026-11-09", "to": "2026-11-09"}
CODES = ("road", "hotline", "online_opinion", "ZJJ", "WCJD")


@pytest.fixture
def env(service_config, start_service, api_keys, fresh_amqp_uri):
    # notify reads the register through the top-level DEPARTMENTS_FILE, as every service does (no NOTIFY override)
    notify = service_config("notify", AMQP_URI=fresh_amqp_uri, DEPARTMENTS_FILE=REGISTER,
                            NOTIFY={"QUIET_HOURS": "off"})
    start_service(NotifyService, notify)
    appeals = service_config("appeals", AMQP_URI=fresh_amqp_uri, DEPARTMENTS_FILE=REGISTER)
    start_service(AppealsService, appeals)
    return Api(appeals["base_url"], api_keys), Api(notify["base_url"], api_keys)


def test_an_appeal_is_read_by_names_in_answers_lists_exports_open311_and_reports(env, frozen):
    appeals, _ = env
    frozen(MON)
    case = appeals.intake(category="road", location={"town_street": "WCJD", "address": "文昌路1号"},
                          channel="online_opinion", type="complaint", content="路灯不亮", public=True)
    assert case["department"] == "ZJJ"
    names = {k: case[k] for k in ("category_name", "department_name", "town_street_name", "channel_zh", "type_zh",
                                  "urgency_zh")}
    assert names == {"category_name": "道路设施", "department_name": "市住房和城乡建设局",
                     "town_street_name": "文昌街道", "channel_zh": "网络舆情", "type_zh": "投诉", "urgency_zh": "一般"}
    # the codes stay beside the names
    assert (case["category"], case["channel"], case["location"]["town_street"]) == ("road", "online_opinion", "WCJD")
    # a town-street the register does not hold is shown as it was given
    other = appeals.intake(category="water", location={"town_street": "ZZZ"}, content="停水")
    assert other["town_street_name"] == "ZZZ" and other["department_name"] == "市水务局"

    listed = appeals.ok("GET", f"/api/v1/appeals?case_no={case['case_no']}", "operator")["items"]
    assert [(c["category_name"], c["department_name"], c["town_street_name"]) for c in listed] == \
        [("道路设施", "市住房和城乡建设局", "文昌街道")]
    detail = appeals.ok("GET", f"/api/v1/appeals/{case['id']}", "monitor")
    assert detail["department_name"] == "市住房和城乡建设局"

    r = appeals.call("GET", "/api/v1/appeals/export", "operator", format="csv", department="ZJJ")
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["类别"], x["承办单位"], x["镇街"], x["渠道"]) for x in rows] == \
        [("道路设施", "市住房和城乡建设局", "文昌街道", "网络舆情")]
    r = appeals.call("GET", "/api/v1/appeals/export", "operator", format="html", department="ZJJ",
                     town_street="WCJD")
    assert r.status_code == 200 and "承办单位：市住房和城乡建设局" in r.text and "镇街：文昌街道" in r.text, r.text

    found = requests.get(f"{appeals.base}/open311/v2/requests.json", timeout=10).json()
    mine = [x for x in found if x["service_code"] == "road"]
    assert [(x["service_name"], x["agency_responsible"]) for x in mine] == [("道路设施", "市住房和城乡建设局")]
    assert "由 市住房和城乡建设局 办理" in mine[0]["service_notice"]
    services = requests.get(f"{appeals.base}/open311/v2/services.json", timeout=10).json()
    assert {s["group"] for s in services if s["service_code"] == "road"} == {"市住房和城乡建设局"}

    report = appeals.ok("GET", "/api/v1/reports/hot-issues?from=2026-11-09&to=2026-11-09", "assessor")
    towns = {t["town_street"]: t["town_street_name"] for t in report["town_streets"]}
    assert towns["WCJD"] == "文昌街道" and towns["ZZZ"] == "ZZZ"
    brief = appeals.call("GET", "/api/v1/reports/hot-issues", "assessor", format="html", **DAY)
    assert brief.status_code == 200 and "文昌街道" in brief.text and "WCJD" not in brief.text


def test_notify_messages_name_the_category_channel_department_and_brief(env, frozen):
    appeals, notify = env
    frozen(MON)
    case = appeals.intake(category="road", location={"town_street": "WCJD"}, channel="hotline", content="路灯不亮")
    published = appeals.ok("POST", "/api/v1/reports/hot-issues/publish", "assessor", DAY, status=201)
    assert published["top_categories"] == ["road"] and published["top_category_names"] == ["道路设施"]

    def deliveries():
        return notify.ok("GET", "/api/v1/deliveries?per_page=500", "monitor")["items"]

    def of(event_type):
        return [d for d in deliveries() if d["event_type"] == event_type]

    wait_for(lambda: of("appeal.received") and of("appeal.dispatched") and of("report.hot_issues_published"),
             timeout=20, message="the messages of the intake and of the brief")
    received = of("appeal.received")[0]
    assert "类别：道路设施　渠道：12345热线" in received["body"], received["body"]
    assert "承办单位：市住房和城乡建设局" in received["body"]
    dispatched = of("appeal.dispatched")[0]
    assert dispatched["subject"] == f"【派单】诉求 {case['case_no']} 已派至市住房和城乡建设局"
    brief = [d for d in of("report.hot_issues_published") if d["recipient"] == "kaohe"]
    assert len(brief) == 1 and "诉求量居前的类别：道路设施" in brief[0]["body"], brief
    for d in deliveries():
        text = d["subject"] + d["body"]
        assert not any(code in text for code in ("road", "hotline")), text


@pytest.mark.parametrize("register", [REGISTER, None])
def test_an_application_names_its_department(service_config, start_service, api_keys, register):
    extra = {"DEPARTMENTS_FILE": register} if register else {}
    cfg = service_config("approvals", **extra)
    start_service(ApprovalsService, cfg)
    api = Api(cfg["base_url"], api_keys)
    items = api.ok("GET", "/api/v1/items", "monitor")
    item = next(i for i in items if i["department"] == "ZJJ")
    assert item["department_name"] == ("市住房和城乡建设局" if register else "ZJJ")
    body = {"external_ref": "W-1", "item_code": item["code"], "applicant": {"name": "某某建设有限公司",
            "kind": "enterprise", "id_number": "91370000123456789X"}, "materials": [], "service_point": "city_center"}
    app = api.ok("POST", "/api/v1/applications", "window_system", body, status=201)
    assert app["department_name"] == ("市住房和城乡建设局" if register else "ZJJ")
    listed = api.ok("GET", "/api/v1/applications", "monitor")["items"]
    assert [a["department_name"] for a in listed] == [app["department_name"]]
    # the receipt's query code (#15): in the submission's answer (and its retry's) only
    assert len(app["query_code"]) == 8 and "query_code" not in listed[0]
    again = api.ok("POST", "/api/v1/applications", "window_system", body, status=200)
    assert again["query_code"] == app["query_code"]
