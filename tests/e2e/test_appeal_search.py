"""The operator's search, caller history and export (#14), through the HTTP API of the appeals service on the real
broker and SQLite: every filter, sorting and paging; a caller found by any spelling of the number (operators
only); keywords in the content and the reply, as substrings, kept in step as cases change; a department handler
sees and exports its own department's cases only; the export is Excel-safe and masks as the list does."""

import csv
import io
from datetime import datetime

import pytest

from services.appeals.desk import domain as desk_domain
from services.appeals.service import AppealsService
from services.kernel.keys import KeyStore
from tests.conftest import wait_for
from tests.e2e.test_appeal_lifecycle import TZ, Api

WED = datetime(2026, 11, 4, 10, 0, tzinfo=TZ)
PHONE = "13812345678"


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("ZJJ", "SWJ", "HBJ"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri)
    start_service(AppealsService, cfg)
    return Api(cfg["base_url"], keys)


def search(api, who="operator", expect=200, **params):
    r = api.call("GET", "/api/v1/appeals", who, **params)
    assert r.status_code == expect, (params, r.status_code, r.text)
    return r.json()


def case_nos(page):
    return [i["case_no"] for i in page["items"]]


@pytest.fixture
def cases(env, frozen):
    """Five cases of three departments, two callers, over two weeks."""
    api = env
    frozen(WED)
    out = {}
    out["water"] = api.intake(category="water", content="文昌小区停水三天了，老人孩子没水喝",
                              appellant={"name": "张三", "phone": "+86 138-1234-5678"},
                              received_at="2026-10-26T09:00:00+08:00")  # SWJ
    out["road"] = api.intake(category="road", type="complaint", channel="mayor_line",
                             content="人民路井盖缺失，夜里很危险",
                             appellant={"name": "张三", "phone": "138 1234 5678"},
                             location={"town_street": "WCJD", "address": "人民路 8 号"},
                             received_at="2026-11-02T09:00:00+08:00")  # ZJJ
    out["noise"] = api.intake(category="environment", type="complaint", urgency="emergency",
                              content="=HYPERLINK(\"http://x\") 工地夜间施工噪声扰民",
                              appellant={"name": "李四", "phone": "13900001111"},
                              location={"town_street": "DCJD"})  # HBJ, received now
    out["heating"] = api.intake(category="heating", channel="web", content="暖气不热，室温只有十二度",
                                appellant={"anonymous": True})  # ZJJ
    out["water2"] = api.intake(category="water", type="consultation", content="咨询水费缴纳方式",
                               appellant={"name": "张三", "phone": "0086 13812345678"},
                               received_at="2026-11-03T15:00:00+08:00")  # SWJ, another type: not a repeat call
    return api, out


def test_every_filter_sort_and_page(cases, frozen):
    api, c = cases
    assert search(api)["total"] == 5
    assert case_nos(search(api, case_no=c["road"]["case_no"])) == [c["road"]["case_no"]]
    assert case_nos(search(api, type="complaint", sort="case_no")) == sorted([c["road"]["case_no"],
                                                                              c["noise"]["case_no"]])
    assert case_nos(search(api, channel="web")) == [c["heating"]["case_no"]]
    assert case_nos(search(api, urgency="emergency")) == [c["noise"]["case_no"]]
    assert search(api, category="water")["total"] == 2
    assert search(api, department="ZJJ")["total"] == 2
    assert case_nos(search(api, town_street="DCJD")) == [c["noise"]["case_no"]]
    assert search(api, **{"from": "2026-11-01T00:00:00+08:00", "to": "2026-11-04T00:00:00+08:00"})["total"] == 2
    # several statuses, comma-separated
    api.act(c["road"]["id"], "accept", "ZJJ")
    assert search(api, status="accepted")["total"] == 1
    assert search(api, status="accepted,dispatched")["total"] == 5
    assert search(api, status="closed")["total"] == 0
    assert "status" in search(api, expect=400, status="accepted,nonsense")["errors"]
    # sorted by received_at either way, by due time (none last), paged
    ascending = case_nos(search(api, sort="received_at"))
    assert ascending[:3] == [c["water"]["case_no"], c["road"]["case_no"], c["water2"]["case_no"]]
    assert case_nos(search(api, sort="-received_at")) == ascending[::-1]
    by_due = search(api, sort="due_at")["items"]
    assert [i["due_at"] for i in by_due] == sorted(i["due_at"] for i in by_due)
    pages = [case_nos(search(api, sort="received_at", per_page=2, page=n)) for n in (1, 2, 3)]
    assert sum(pages, []) == ascending and [len(p) for p in pages] == [2, 2, 1]
    assert search(api, per_page=2)["total"] == 5
    # overdue only: the emergency runs out at midnight
    frozen(datetime(2026, 11, 5, 0, 0, 1, tzinfo=TZ))
    wait_for(lambda: c["noise"]["case_no"] in case_nos(search(api, overdue="true")), message="the emergency overdue")
    everything = search(api)["items"]
    overdue = {i["case_no"] for i in everything if i["clock"]["overdue"]}
    assert set(case_nos(search(api, overdue="true"))) == overdue and len(overdue) < 5
    assert set(case_nos(search(api, overdue="false"))) == {i["case_no"] for i in everything} - overdue
    assert search(api, category="water", type="consultation", department="SWJ")["total"] == 1


def test_a_caller_is_found_by_any_spelling_but_only_by_an_operator(cases):
    api, c = cases
    mine = {c["water"]["case_no"], c["road"]["case_no"], c["water2"]["case_no"]}
    for spelling in (PHONE, "+86 138 1234 5678", "138-1234-5678", "0086 138 1234 5678"):
        page = search(api, phone=spelling)
        assert set(case_nos(page)) == mine and page["total"] == 3, spelling
        assert all(i["appellant"]["phone"] == "138****5678" for i in page["items"])  # the list masks, as ever
    assert search(api, phone="13800000000")["total"] == 0
    for who in ("monitor", "window_system", "SWJ"):
        r = api.call("GET", "/api/v1/appeals", who, phone=PHONE)
        assert r.status_code == 403 and r.json()["error"]["message_zh"], who
        # nor through the citizens' text
        assert api.call("GET", "/api/v1/appeals", who, keyword="138 1234 5678").status_code == 403
    assert "phone" in search(api, expect=400, phone="call me")["errors"]


def test_keywords_match_substrings_of_the_content_and_the_reply(cases):
    api, c = cases
    assert case_nos(search(api, keyword="井盖缺")) == [c["road"]["case_no"]]
    assert case_nos(search(api, keyword="停水三天")) == [c["water"]["case_no"]]
    assert search(api, keyword="停水三 老人孩子")["total"] == 1 and search(api, keyword="停水三 井盖缺")["total"] == 0
    assert search(api, keyword="hyperlink")["total"] == 1  # ASCII: case-insensitive
    assert search(api, keyword="已更换新井盖")["total"] == 0
    api.act(c["road"]["id"], "accept", "ZJJ")
    api.act(c["road"]["id"], "reply", "ZJJ", {"reply": "已更换新井盖，并设置警示标志"})
    assert case_nos(search(api, keyword="更换新井盖")) == [c["road"]["case_no"]]
    # 1–2 characters: only in a bounded set (31 days at most, a case number or a caller), else 400
    refused = search(api, expect=400, keyword="停水")
    assert "31" in refused["errors"]["keyword"][0]
    bounded = {"from": "2026-10-20T00:00:00+08:00", "to": "2026-11-05T00:00:00+08:00"}
    assert case_nos(search(api, keyword="停水", **bounded)) == [c["water"]["case_no"]]
    assert case_nos(search(api, keyword="水", phone=PHONE, sort="received_at")) == [c["water"]["case_no"],
                                                                                    c["water2"]["case_no"]]
    assert search(api, keyword="% _", **bounded)["total"] == 0  # LIKE's wildcards match themselves
    assert search(api, expect=400, keyword="   ")["errors"]["keyword"]


def test_a_department_handler_searches_and_exports_its_own_cases_only(cases):
    api, c = cases
    own = search(api, "ZJJ")
    assert set(case_nos(own)) == {c["road"]["case_no"], c["heating"]["case_no"]} and own["total"] == 2
    assert search(api, "ZJJ", department="SWJ")["total"] == 0
    assert search(api, "ZJJ", keyword="停水三天")["total"] == 0  # SWJ's case
    assert search(api, "ZJJ", case_no=c["water"]["case_no"])["total"] == 0
    assert search(api, "SWJ", keyword="停水三天")["total"] == 1
    r = api.call("GET", "/api/v1/appeals/export", "ZJJ", format="csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert sorted(row[0] for row in rows[1:]) == sorted([c["road"]["case_no"], c["heating"]["case_no"]])
    r = api.call("GET", "/api/v1/appeals/export", "ZJJ", format="csv", department="SWJ")
    assert r.status_code == 200 and len(r.content.decode("utf-8-sig").splitlines()) == 1  # the header alone
    page = api.call("GET", "/api/v1/appeals/export", "HBJ", format="html").text
    assert c["noise"]["case_no"] in page and c["road"]["case_no"] not in page
    assert api.call("GET", "/api/v1/appeals/export", "SWJ", phone=PHONE).status_code == 403
    assert api.call("GET", f"/api/v1/callers/{PHONE}/appeals", "SWJ").status_code == 403


def test_a_callers_history_with_repeat_counts(cases, frozen):
    api, c = cases
    frozen(datetime(2026, 11, 5, 10, 0, tzinfo=TZ))
    api.intake(category="road", content="井盖还是没人修", appellant={"name": "张三", "phone": PHONE},
               location={"town_street": "WCJD"})  # a repeat call, linked to the open road case
    frozen(datetime(2026, 11, 25, 10, 0, tzinfo=TZ))  # the water case of 26 Oct is now more than 30 days back
    h = api.ok("GET", "/api/v1/callers/+86%20138-1234-5678/appeals", "operator")
    assert h["phone"] == PHONE and h["total"] == 4
    assert h["items"][0]["status"] == "duplicate" and h["items"][0]["duplicate_of"] == c["road"]["case_no"]
    assert [i["received_at"] for i in h["items"]] == sorted((i["received_at"] for i in h["items"]), reverse=True)
    assert all(i["appellant"]["phone"] == PHONE for i in h["items"])  # the operator on the call sees the number
    counts = h["counts"]
    assert (counts["total"], counts["open"], counts["last_30_days"]) == (4, 3, 3)
    assert counts["by_category"] == [{"category": "road", "category_name": "道路设施", "count": 2},
                                     {"category": "water", "category_name": "供水", "count": 2}]
    assert api.ok("GET", f"/api/v1/callers/{PHONE}/appeals?per_page=1&page=2", "operator")["items"][0]["id"] \
        == h["items"][1]["id"]
    nobody = api.ok("GET", "/api/v1/callers/13700000000/appeals", "operator")
    assert nobody["total"] == 0 and nobody["counts"]["total"] == 0 and nobody["items"] == []
    for who in ("monitor", "window_system", "ZJJ", "assessor"):
        assert api.call("GET", f"/api/v1/callers/{PHONE}/appeals", who).status_code == 403, who
    assert "phone" in api.call("GET", "/api/v1/callers/not-a-number/appeals", "operator").json()["errors"]


def test_the_export_is_excel_safe_masked_and_bounded(cases, monkeypatch):
    api, c = cases
    r = api.call("GET", "/api/v1/appeals/export", "operator", format="csv", sort="received_at")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf") and "attachment" in r.headers["Content-Disposition"]
    assert r.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:4] == ["案件编号", "受理时间", "渠道", "类型"] and "联系电话" in header and "诉求人" in header
    assert [row[0] for row in rows[1:]] == case_nos(search(api, sort="received_at"))
    by_no = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    noise = by_no[c["noise"]["case_no"]]
    assert noise["诉求内容"].startswith("'=HYPERLINK")  # not a formula in Excel
    assert noise["联系电话"] == "139****1111" and noise["诉求人"] == "李*"
    assert by_no[c["road"]["case_no"]]["渠道"] == "市长公开电话" and by_no[c["road"]["case_no"]]["类别"] == "道路设施"
    assert "13812345678" not in r.content.decode("utf-8-sig") and "张三" not in r.content.decode("utf-8-sig")
    # the same filters as the list
    r = api.call("GET", "/api/v1/appeals/export", "operator", format="csv", phone="+86 138 1234 5678",
                 keyword="井盖缺")
    assert [row[0] for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig")))][1:] == [c["road"]["case_no"]]
    # the printable list: self-contained HTML, masked
    r = api.call("GET", "/api/v1/appeals/export", "monitor", format="html", category="water")
    page = r.text
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<table" in page and "共 2 件" in page and "类别：供水" in page and "138****5678" in page
    assert "13812345678" not in page and "<script" not in page and "<link" not in page
    # bounded: more than the limit is a 400 that says to narrow the filters
    monkeypatch.setattr(desk_domain, "EXPORT_LIMIT", 3)
    r = api.call("GET", "/api/v1/appeals/export", "operator", format="csv")
    assert r.status_code == 400 and "缩小筛选范围" in r.json()["errors"]["_query"][0]
    assert api.call("GET", "/api/v1/appeals/export", "operator", format="csv", category="water").status_code == 200
    assert api.call("GET", "/api/v1/appeals/export", "operator", format="pdf").status_code == 400


@pytest.mark.postgres
def test_the_search_on_postgresql_uses_trigram_indexes(start_on_postgres, api_keys, keys_file, frozen):
    import sqlalchemy as sa

    frozen(WED)
    keys = dict(api_keys)
    keys["ZJJ"] = KeyStore(keys_file).add("handler-ZJJ-pg", "department_handler", "ZJJ")
    cfg = start_on_postgres(AppealsService)
    api = Api(cfg["base_url"], keys)
    road = api.intake(category="road", content="人民路井盖缺失，夜里很危险", appellant={"name": "张三", "phone": PHONE})
    water = api.intake(category="water", content="文昌小区停水三天了 50%_用户", appellant={"anonymous": True})
    api.act(road["id"], "accept", "ZJJ")
    api.act(road["id"], "reply", "ZJJ", {"reply": "已更换新井盖"})
    assert case_nos(search(api, keyword="井盖缺")) == [road["case_no"]]
    assert case_nos(search(api, keyword="更换新井盖")) == [road["case_no"]]
    assert case_nos(search(api, keyword="停水三天 50%_")) == [water["case_no"]]
    assert search(api, keyword="停水三天 60%_")["total"] == 0
    assert case_nos(search(api, phone="+86 138-1234-5678")) == [road["case_no"]]
    assert search(api, "ZJJ", keyword="停水三天")["total"] == 0
    assert search(api, expect=400, keyword="停水")["errors"]["keyword"]
    engine = sa.create_engine(cfg["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            names = set(conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'appeals'").scalars())
            assert {"ix_appeals_search_content", "ix_appeals_search_reply"} <= names
            conn.exec_driver_sql("SET enable_seqscan = off")
            explain = sa.text("EXPLAIN SELECT id FROM appeals WHERE content ILIKE :p OR reply ILIKE :p")
            plan = "\n".join(conn.execute(explain, {"p": "%井盖缺%"}).scalars())
            assert "ix_appeals_search_content" in plan and "ix_appeals_search_reply" in plan, plan
    finally:
        engine.dispose()


def test_a_callers_number_never_reaches_the_log(env, frozen, caplog):
    import logging

    def served():  # the service's lines, not the test client's own (urllib3)
        return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("urllib3"))

    api = env
    frozen(WED)
    api.intake(category="water", appellant={"name": "张三", "phone": PHONE})
    with caplog.at_level(logging.DEBUG):
        api.ok("GET", f"/api/v1/callers/{PHONE}/appeals", "operator")
        search(api, phone="+86 138-1234-5678")
        api.call("GET", f"/api/v1/callers/{PHONE}/appeals", "monitor")
        wait_for(lambda: "/api/v1/callers/" in served(), message="the access log line")
    for spelling in (PHONE, "1234-5678", "1234%2D5678", "1234%2d5678"):
        assert spelling not in served(), spelling
