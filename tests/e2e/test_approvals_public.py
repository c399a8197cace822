"""The public face of approvals (#15) over HTTP, without a key, on the real broker: the service guide (list,
filters, one item, 404), the progress query by application number and the receipt's query code (one 404 for an
unknown number and a wrong code, 429 with Retry-After for an address that failed too often while another address
goes on), the results disclosure (enterprises by name, persons never, public items only, paging, 400s), the page
and its script with their security headers, the OpenAPI document, and a privacy probe that scans every public
answer for the personal data sent in."""

from __future__ import annotations

import http.client
import json
import os
import re
from datetime import datetime, timedelta

import pytest
import requests

from services.approvals.service import ApprovalsService
from services.kernel import clock, privacy
from tests.conftest import ROOT
from tests.e2e.approvals_client import ApprovalsApi

REGISTER = os.path.join(ROOT, "services", "scoring", "departments.demo.yaml")
FAILURES = 3  # PUBLIC.FAILURES_PER_WINDOW in these tests

PERSON = "欧阳明月"
PERSON_ID = "33010619900101123X"
PHONE = "13912345678"
COMPANY = "杭州西湖明月餐饮有限公司"
COMPANY_ID = "91330106MA2XXXXX1Y"


@pytest.fixture
def env(service_config, start_service, api_keys):
    cfg = service_config("approvals", DEPARTMENTS_FILE=REGISTER,
                         PUBLIC={"FAILURES_PER_WINDOW": FAILURES, "WINDOW_SECONDS": 600})
    start_service(ApprovalsService, cfg)
    return ApprovalsApi(cfg["base_url"], api_keys)


def get(api, path, **params):
    return requests.get(f"{api.base}{path}", params=params, timeout=10)


def progress(api, application_no, query_code):
    return requests.post(f"{api.base}/public/v1/progress", json={"application_no": application_no,
                                                                 "query_code": query_code}, timeout=10)


def progress_from(api, address, application_no, query_code):
    """The progress query from another client address of the loopback network (127.0.0.2 …)."""
    host, port = api.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(address, 0))
    try:
        conn.request("POST", "/public/v1/progress", json.dumps({"application_no": application_no,
                                                                "query_code": query_code}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def submit(api, name, kind, id_number, item_code="SCJ-001", materials=("M1", "M2", "M3")):
    api.refs += 1
    return api.ok("POST", "/api/v1/applications", "window_system", {
        "external_ref": f"PUB-{api.refs}", "item_code": item_code, "materials": list(materials),
        "applicant": {"name": name, "kind": kind, "id_number": id_number}, "service_point": "city_center"},
        status=201)


def make_public(api, code, **extra):
    item = next(i for i in api.ok("GET", "/api/v1/items", "operator") if i["code"] == code)
    body = {k: item[k] for k in ("code", "name", "department", "kind", "statutory_limit", "committed_limit",
                                 "materials", "fully_authorised", "joint", "warn_days_left", "warn_fraction",
                                 "supplement_limit", "handling_place")}
    return api.ok("PUT", "/api/v1/items", "operator", {**body, "public_results": True, **extra})


def decided(api, name, kind, id_number, approved=True, item_code="SCJ-001", materials=("M1", "M2", "M3")):
    app = submit(api, name, kind, id_number, item_code, materials)
    api.act(app["id"], "accept")
    api.act(app["id"], "decide", {"approved": approved, "reason": None if approved else "材料不符合法定条件"})
    return app


# -- the service guide --------------------------------------------------------------------------------------


def test_the_service_guide_lists_filters_and_shows_one_item(env):
    api = env
    make_public(api, "SCJ-001", handling_place="市民中心二楼 B 区 12 号窗口")
    catalogue = api.ok("GET", "/api/v1/items", "operator")

    r = get(api, "/public/v1/guide")
    assert r.status_code == 200, r.text
    guide = r.json()
    assert guide["total"] == len(catalogue) == len(guide["items"]) > 10
    assert [i["code"] for i in guide["items"]] == sorted(i["code"] for i in catalogue)
    food = next(i for i in guide["items"] if i["code"] == "SCJ-001")
    assert food == {
        "code": "SCJ-001", "name": "食品经营许可", "department": "SCJGJ", "department_name": "市市场监督管理局",
        "kind": "committed", "kind_zh": "承诺件", "statutory_limit": 20, "committed_limit": 5,
        "handling_place": "市民中心二楼 B 区 12 号窗口", "window_decides": True, "joint": False,
        "public_results": True,
        "materials": [{"code": "M1", "name": "食品经营许可申请书"}, {"code": "M2", "name": "营业执照复印件"},
                      {"code": "M3", "name": "经营场所平面图"}]}
    # nothing of the monitor's thresholds or the catalogue's bookkeeping
    assert "warn_fraction" not in food and "updated_at" not in food

    by_department = get(api, "/public/v1/guide", department="ZJJ").json()
    assert by_department["items"] and {i["department"] for i in by_department["items"]} == {"ZJJ"}
    assert by_department["total"] == sum(1 for i in catalogue if i["department"] == "ZJJ")
    building = next(i for i in by_department["items"] if i["code"] == "ZJJ-001")
    assert building["window_decides"] is False and building["department_name"] == "市住房和城乡建设局"

    by_word = get(api, "/public/v1/guide", q="食品").json()
    assert [i["code"] for i in by_word["items"]] == [i["code"] for i in catalogue if "食品" in i["name"]]
    assert "SCJ-001" in [i["code"] for i in by_word["items"]]
    assert get(api, "/public/v1/guide", q="食品", department="ZJJ").json() == {"items": [], "total": 0}
    # LIKE's wildcards are words like any other
    assert get(api, "/public/v1/guide", q="%").json()["total"] == 0
    assert get(api, "/public/v1/guide", q="_").json()["total"] == 0

    one = get(api, "/public/v1/guide/SCJ-001")
    assert one.status_code == 200 and one.json() == food
    missing = get(api, "/public/v1/guide/NO-SUCH-ITEM")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found" and missing.json()["error"]["message_zh"] == "没有该办事事项"

    bad = get(api, "/public/v1/guide", department="no such", q="x" * 51)
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"department", "q"}


# -- the progress query -------------------------------------------------------------------------------------


def test_the_progress_query_answers_the_right_pair_only(env):
    api = env
    app = submit(api, PERSON, "person", PERSON_ID)
    no, code = app["application_no"], app["query_code"]
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{8}", code)

    r = progress(api, no, code)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["state"] == "submitted" and first["state_zh"] == "已申请" and first["light"] is None
    assert first["item_name"] == "食品经营许可" and first["department_name"] == "市市场监督管理局"
    assert [s["name"] for s in first["steps"]] == ["提交申请"]

    api.act(app["id"], "request-supplement", {"missing": ["M3"], "note": f"请{PERSON}补交，电话 {PHONE}"})
    api.act(app["id"], "supplement-received")
    api.act(app["id"], "accept")
    api.act(app["id"], "special-procedure/start", {"kind": "hearing"})
    api.act(app["id"], "special-procedure/end")
    api.act(app["id"], "decide", {"approved": False, "reason": f"{PERSON}的经营场所不符合条件"})
    full = api.get(app["id"])

    # the query code is case-insensitive on paper: typed in lower case it still fits
    r = progress(api, no, code.lower())
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["state"] == "decided" and p["state_zh"] == "已决定" and p["decision_zh"] == "不予许可"
    assert p["application_no"] == no and p["received_at"] == full["received_at"]
    assert p["accepted_at"] == full["accepted_at"] and p["decided_at"] == full["decided_at"]
    assert p["due_at"] == full["due_at"] and p["due_at"] is not None
    assert p["light"] == full["clock"]["light"]  # the clock view's: none once decided
    assert [s["name"] for s in p["steps"]] == [
        "提交申请", "一次性告知补正材料", "补正材料已接收", "受理", "特别程序开始（听证）", "特别程序结束（听证）",
        "作出审批决定（不予许可）"]
    assert [s["at"] for s in p["steps"]] == [h["at"] for h in full["history"]]
    assert set(p["steps"][0]) == {"at", "action", "name", "state", "state_zh"}
    text = json.dumps(p, ensure_ascii=False)
    for secret in (PERSON, PERSON_ID, PHONE, full["applicant"]["id_number"], "test-window_system", "不符合条件"):
        assert secret not in text, secret

    # an open application shows its light, as the clock view has it
    other = submit(api, COMPANY, "enterprise", COMPANY_ID)
    api.act(other["id"], "accept")
    view = api.get(other["id"])
    q = progress(api, other["application_no"], other["query_code"]).json()
    assert q["light"] == view["clock"]["light"] == "green"
    assert q["due_at"] == view["due_at"] and q["days_left"] == view["clock"]["days_left"]


def test_a_wrong_code_answers_as_an_unknown_number_and_an_address_that_fails_too_often_waits(env):
    api = env
    app = submit(api, PERSON, "person", PERSON_ID)
    no, code = app["application_no"], app["query_code"]
    wrong_code = "22222222" if code != "22222222" else "33333333"

    wrong = progress(api, no, wrong_code)
    unknown = progress(api, "SP19990101999999", code)
    assert wrong.status_code == unknown.status_code == 404
    a, b = wrong.json(), unknown.json()
    assert a.pop("request_id") != b.pop("request_id")
    assert a == b and a["error"]["message_zh"] == "未找到该办件，请核对办件编号和查询码"
    # byte for byte, but for the request id
    assert wrong.content.replace(wrong.json()["request_id"].encode(), b"") == \
        unknown.content.replace(unknown.json()["request_id"].encode(), b"")
    assert wrong.headers["Content-Type"] == unknown.headers["Content-Type"]

    # a malformed body is a 400 with field messages, and counts for nothing
    bad = requests.post(f"{api.base}/public/v1/progress", json={"application_no": ""}, timeout=10)
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"application_no", "query_code"}

    assert progress(api, no, wrong_code).status_code == 404  # the third failure: the limit
    refused = progress(api, no, wrong_code)
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 600
    assert refused.json()["error"]["code"] == "too_many_requests"
    # while refused, even the right pair is refused: the refusal says nothing about the pair
    assert progress(api, no, code).status_code == 429

    # another address is not held back by this one's failures
    status, body = progress_from(api, "127.0.0.2", no, code)
    assert status == 200, body
    assert body["application_no"] == no
    status, _ = progress_from(api, "127.0.0.3", no, wrong_code)
    assert status == 404


# -- the results --------------------------------------------------------------------------------------------


def test_the_results_disclose_public_items_enterprises_by_name_and_persons_never(env):
    api = env
    make_public(api, "SCJ-001")
    company = decided(api, COMPANY, "enterprise", COMPANY_ID)
    person = decided(api, PERSON, "person", PERSON_ID, approved=False)
    hidden = decided(api, "杭州某水务工程有限公司", "enterprise", "91330106MA2YYYYY2Z", item_code="SWJ-001",
                     materials=("M1", "M2"))  # an item whose results are not disclosed
    open_one = submit(api, "杭州某未决有限公司", "enterprise", "91330106MA2ZZZZZ3A")
    api.act(open_one["id"], "accept")

    r = get(api, "/public/v1/results")
    assert r.status_code == 200, r.text
    page = r.json()
    today = clock.now().date()
    assert page["to"] == today.isoformat() and page["from"] == (today - timedelta(days=365)).isoformat()
    assert page["total"] == 2 and page["page"] == 1 and page["per_page"] == 20
    newest, oldest = page["items"]  # newest first
    assert newest["application_no"] == person["application_no"] and newest["applicant"] == "个人"
    assert newest["approved"] is False and newest["decision_zh"] == "不予许可"
    assert oldest == {"application_no": company["application_no"], "item_code": "SCJ-001",
                      "item_name": "食品经营许可", "department": "SCJGJ", "department_name": "市市场监督管理局",
                      "applicant": COMPANY, "approved": True, "decision_zh": "准予许可",
                      "decided_at": api.get(company["id"])["decided_at"]}
    numbers = {i["application_no"] for i in page["items"]}
    assert hidden["application_no"] not in numbers and open_one["application_no"] not in numbers
    assert PERSON not in r.text and PERSON_ID not in r.text and COMPANY_ID not in r.text

    # paged
    first = get(api, "/public/v1/results", per_page=1).json()
    second = get(api, "/public/v1/results", per_page=1, page=2).json()
    assert first["total"] == second["total"] == 2
    assert [first["items"][0]["application_no"], second["items"][0]["application_no"]] == \
        [person["application_no"], company["application_no"]]
    assert get(api, "/public/v1/results", per_page=1, page=3).json()["items"] == []
    # by department and by day
    assert get(api, "/public/v1/results", department="ZJJ").json()["total"] == 0
    assert get(api, "/public/v1/results", department="SCJGJ").json()["total"] == 2
    yesterday = (today - timedelta(days=1)).isoformat()
    assert get(api, "/public/v1/results", to=yesterday).json()["total"] == 0
    assert get(api, "/public/v1/results", **{"from": today.isoformat(), "to": today.isoformat()}).json()["total"] == 2

    # an item no longer public takes its results with it
    make_public(api, "SCJ-001", public_results=False)
    assert get(api, "/public/v1/results").json()["total"] == 0


@pytest.mark.parametrize("params, field", [
    ({"per_page": "101"}, "per_page"),
    ({"per_page": "0"}, "per_page"),
    ({"page": "0"}, "page"),
    ({"from": "2026-01-01", "to": "2027-01-02"}, "to"),  # 367 days
    ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
    ({"from": "2026-02-30"}, "from"),
    ({"to": "yesterday"}, "to"),
    ({"department": "no such"}, "department"),
])
def test_the_results_refuse_a_bad_query_with_400(env, params, field):
    r = get(env, "/public/v1/results", **params)
    assert r.status_code == 400, r.text
    assert field in r.json()["errors"], r.json()


def test_the_results_take_a_range_of_366_days(env, frozen):
    frozen(datetime(2026, 12, 3, 12, tzinfo=clock.TZ))
    r = get(env, "/public/v1/results", **{"from": "2025-01-01", "to": "2026-01-01"})
    assert r.status_code == 200, r.text
    assert (r.json()["from"], r.json()["to"]) == ("2025-01-01", "2026-01-01")


# -- the page -----------------------------------------------------------------------------------------------


def test_the_page_and_its_script_are_served_with_their_security_headers(env):
    api = env
    for path in ("/public/", "/public/index.html"):
        page = get(api, path)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        html = page.text
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert '<html lang="zh-CN">' in html
        assert "办事指南" in html and "办件进度查询" in html and "审批结果公开" in html
        # no inline script or style, no inline handlers: the policy would block them
        assert re.findall(r"<script[^>]*>", html) == ['<script src="/public/app.js">']
        assert "<style" not in html and not re.search(r"\son[a-z]+=", html) and " style=" not in html
    # /public without its slash leads there
    bare = requests.get(f"{api.base}/public", timeout=10, allow_redirects=False)
    assert bare.status_code == 308 and bare.headers["Location"] == "/public/"
    assert get(api, "/public").url.endswith("/public/")
    script = get(api, "/public/app.js")
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert "/public/v1/progress" in script.text and "innerHTML" not in script.text and "eval(" not in script.text
    style = get(api, "/public/app.css")
    assert style.status_code == 200 and style.headers["Content-Type"].startswith("text/css")
    assert style.headers["X-Content-Type-Options"] == "nosniff"
    # offline: nothing fetched from elsewhere (no CDN, no external fonts or scripts)
    for text in (html, script.text, style.text):
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(", text), text[:200]


def test_every_public_route_is_in_the_openapi_document_without_a_key(env):
    doc = get(env, "/api/openapi.json").json()
    expected = {("/public/v1/guide", "get"), ("/public/v1/guide/{code}", "get"), ("/public/v1/progress", "post"),
                ("/public/v1/results", "get"), ("/public/", "get"), ("/public", "get"), ("/public/index.html", "get"),
                ("/public/app.js", "get"), ("/public/app.css", "get")}
    found = {(path, method) for path, ops in doc["paths"].items() if path.startswith("/public")
             for method in ops}
    assert expected <= found  # (and the reviews' public routes, #15)
    for path, method in found:
        op = doc["paths"][path][method]
        assert "security" not in op and "401" not in op["responses"], (path, method)
    progress_op = doc["paths"]["/public/v1/progress"]["post"]
    assert {"404", "429", "400"} <= set(progress_op["responses"])
    assert "Retry-After" in progress_op["responses"]["429"]["headers"]
    schemas = doc["components"]["schemas"]
    assert {"GuideOut", "GuideItemOut", "ProgressIn", "ProgressOut", "StepOut", "ResultsPage", "ResultOut"} <= \
        set(schemas)
    assert progress_op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ProgressIn"}
    assert progress_op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ProgressOut"}
    assert set(schemas["ProgressOut"]["properties"]).isdisjoint({"applicant", "applicant_name", "id_number"})
    params = {p["name"] for p in doc["paths"]["/public/v1/results"]["get"]["parameters"]}
    assert {"from", "to", "department", "page", "per_page"} <= params


# -- privacy ------------------------------------------------------------------------------------------------


def test_no_public_answer_holds_a_persons_data(env):
    """Applications of persons with their names and id numbers, reasons and notes naming them and their phones:
    none of it in any public answer (the guide, every progress answer, the results, the page)."""
    api = env
    make_public(api, "SCJ-001")
    make_public(api, "SCJ-002")
    people = [("欧阳明月", "33010619900101123X"), ("司马青衫", "330106198512121234"),
              ("诸葛小花", "110101200001011238")]
    pairs = []
    for i, (name, id_number) in enumerate(people):
        app = submit(api, name, "person", id_number)
        pairs.append(app)
        if i == 0:
            api.act(app["id"], "refuse", {"reason": f"{name}（身份证 {id_number}，电话 {PHONE}）材料不全"})
            continue
        api.act(app["id"], "request-supplement", {"missing": ["M2"], "note": f"联系{name} {PHONE}"})
        api.act(app["id"], "supplement-received")
        api.act(app["id"], "accept")
        api.act(app["id"], "extend", {"days": 3, "approver": name, "reason": f"{name}申请延期，电话 {PHONE}"})
        api.act(app["id"], "decide", {"approved": i == 1, "reason": f"{name}不符合条件"})
    immediate = submit(api, "慕容复", "person", "330106197001011231", item_code="SCJ-002", materials=("M1", "M2"))
    api.act(immediate["id"], "withdraw", {"reason": "慕容复主动撤回，电话 13900001111"})
    pairs.append(immediate)

    answers = [get(api, "/public/v1/guide").text, get(api, "/public/v1/results", per_page=100).text,
               get(api, "/public/").text, get(api, "/public/app.js").text]
    answers += [get(api, f"/public/v1/guide/{code}").text for code in ("SCJ-001", "SCJ-002")]
    for app in pairs:
        r = progress(api, app["application_no"], app["query_code"])
        assert r.status_code == 200, r.text
        answers.append(r.text)
    answers.append(progress(api, pairs[0]["application_no"], "WRONG123").text)
    results = get(api, "/public/v1/results", per_page=100).json()
    assert results["total"] == 2 and {i["applicant"] for i in results["items"]} == {"个人"}

    masked = {api.get(app["id"])["applicant"]["id_number"] for app in pairs}
    secrets = [name for name, _ in people] + [id_number for _, id_number in people] + [
        "慕容复", "330106197001011231", PHONE, "13900001111", "test-window_system", *masked]
    for text in answers:
        for secret in secrets:
            assert secret not in text, (secret, text[:300])
        # nor anything else the privacy scrub would cut (a phone, an id number, a card, an e-mail address)
        assert privacy.scrub(text) == text, text[:300]


def test_the_public_routes_on_postgresql(start_on_postgres, api_keys):
    """The same queries on PostgreSQL: the guide's word search, the progress query, the results' range."""
    cfg = start_on_postgres(ApprovalsService)
    api = ApprovalsApi(cfg["base_url"], api_keys)
    make_public(api, "SCJ-001")
    assert [i["code"] for i in get(api, "/public/v1/guide", q="食品经营").json()["items"]] == ["SCJ-001"]
    assert get(api, "/public/v1/guide", q="100%").json()["total"] == 0
    company = decided(api, COMPANY, "enterprise", COMPANY_ID)
    person = decided(api, PERSON, "person", PERSON_ID)
    r = progress(api, person["application_no"], person["query_code"])
    assert r.status_code == 200 and r.json()["decision_zh"] == "准予许可", r.text
    assert progress(api, person["application_no"], company["query_code"]).status_code == 404
    page = get(api, "/public/v1/results").json()
    assert [(i["application_no"], i["applicant"]) for i in page["items"]] == [
        (person["application_no"], "个人"), (company["application_no"], COMPANY)]
