"""The hot-issue report for the joint meeting (`GET /api/v1/reports/hot-issues`) and its publication, on a
running appeals service: rankings against the previous period, open and overdue counts, repeat calls and
callers (masked everywhere), groups of the same place and problem, the period's edges in Asia/Shanghai, CSV
for Excel, the one-page Chinese brief, field messages, roles, and the event on the bus."""

import copy
import csv
import io
import re
from datetime import date, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa
from openapi_spec_validator import validate

from services.appeals import store
from services.appeals.reports import HotIssueEndpoints
from services.appeals.service import AppealsService
from services.kernel import clock
from tests.conftest import wait_for
from tests.support import Tap

REPORT = "/api/v1/reports/hot-issues"
PUBLISH = "/api/v1/reports/hot-issues/publish"
PERIOD = {"from": "2026-03-09", "to": "2026-03-15"}  # a week; the previous one is 03-02 .. 03-08
FULL_PHONES = ("13812345678", "13900001111", "13600002222", "13700000000")
ODD_ADDRESS = "=SUM(1)<b>&"  # a formula for Excel and markup for the brief: neither may work


class AppealsWithReports(AppealsService, HotIssueEndpoints):
    name = "appeals"


def at(day: str, hms: str = "10:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hms}").replace(tzinfo=clock.TZ)


def appeal(n: int, category: str, town: str | None, address: str | None, status: str, received_at: datetime, *,
           phone: str | None = None, overdue: bool = False, duplicate_of: int | None = None) -> dict:
    return {"id": n, "case_no": f"T{n:04d}", "channel": "hotline", "type": "complaint", "urgency": "normal",
            "category": category, "content": "测试诉求", "appellant_phone": phone, "anonymous": phone is None,
            "address": address, "town_street": town, "attachments": [], "status": status,
            "received_at": received_at, "created_at": received_at, "updated_at": received_at, "overdue": overdue,
            "return_count": 0, "reopen_count": 0, "repeat_count": 0, "extension_used": False, "exposed": False,
            "duplicate_of": duplicate_of}


def week() -> list[dict]:
    """The week of PERIOD, the week before it, and appeals just outside both (figures in the tests below)."""
    p138, p139, p136, p137 = FULL_PHONES
    return [
        # road, WCJD: 5 cases (3 open, 1 overdue) and 2 repeat calls this week; 2 cases last week
        appeal(1, "road", "WCJD", "文昌路 1 号", "closed", at("2026-03-09", "00:00:00"), phone=p138),  # first moment
        appeal(2, "road", "WCJD", "文昌路 1 号", "dispatched", at("2026-03-10"), phone=p138, overdue=True),
        appeal(3, "road", "WCJD", "文昌路 1 号", "accepted", at("2026-03-15", "23:59:59")),  # last moment
        appeal(4, "road", "WCJD", "文昌路 9 号", "replied", at("2026-03-11"), phone=p139),
        appeal(5, "road", "WCJD", None, "closed", at("2026-03-12")),
        appeal(6, "road", "WCJD", "文昌路 1 号", "duplicate", at("2026-03-11"), phone=p138, duplicate_of=2),
        appeal(7, "road", "WCJD", "文昌路 1 号", "duplicate", at("2026-03-13"), phone=p139, duplicate_of=2),
        appeal(8, "road", "WCJD", None, "closed", at("2026-03-08", "23:59:59"), phone=p137),  # last week
        appeal(9, "road", "DCJD", None, "closed", at("2026-03-02", "00:00:00")),
        # water, DCJD, no address: 3 cases this week (1 open, 1 overdue), 3 last week
        appeal(10, "water", "DCJD", None, "awaiting_dispatch", at("2026-03-09"), phone=p139),
        appeal(11, "water", "DCJD", None, "closed", at("2026-03-10"), phone=p136),
        appeal(12, "water", "DCJD", None, "closed", at("2026-03-14"), overdue=True),
        *(appeal(13 + i, "water", "DCJD", None, "closed", at(f"2026-03-0{3 + i}")) for i in range(3)),
        # environment, no town-street but an address: 3 cases this week (1 open), none last week
        appeal(16, "environment", None, ODD_ADDRESS, "closed", at("2026-03-12"), phone=p138),
        appeal(17, "environment", None, ODD_ADDRESS, "accepted", at("2026-03-13"), phone=p137),
        appeal(18, "environment", None, ODD_ADDRESS, "closed", at("2026-03-14"), phone=p136),
        # housing: only last week
        appeal(19, "housing", "WCJD", None, "closed", at("2026-03-05")),
        appeal(20, "housing", "WCJD", None, "closed", at("2026-03-06")),
        # outside both weeks
        appeal(21, "road", "WCJD", "文昌路 1 号", "accepted", at("2026-03-16", "00:00:00"), phone=p138),
        appeal(22, "road", "WCJD", "文昌路 1 号", "closed", at("2026-03-01", "23:59:59"), phone=p138),
    ]


class Client:
    def __init__(self, cfg: dict, keys: dict):
        self.base = cfg["base_url"]
        self.keys = keys
        url = cfg["DATABASE_URL"]
        self.engine = sa.create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})

    def insert(self, rows: list[dict]) -> None:
        with self.engine.begin() as conn:
            conn.execute(store.appeals.insert(), rows)

    def get(self, params=None, *, key="monitor", headers=None) -> requests.Response:
        headers = dict(headers or {})
        if key is not None:
            headers["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        return requests.get(self.base + REPORT, params=params, headers=headers, timeout=30)

    def publish(self, body, *, key="monitor") -> requests.Response:
        return requests.post(self.base + PUBLISH, json=body, headers={"Authorization": f"Bearer {self.keys[key]}"},
                             timeout=30)


@pytest.fixture
def start(service_config, start_service, api_keys):
    clients = []

    def start_(**overrides) -> Client:
        cfg = service_config("appeals", **overrides)
        start_service(AppealsWithReports, cfg)
        client = Client(cfg, api_keys)
        clients.append(client)
        return client

    yield start_
    for client in clients:
        client.engine.dispose()


@pytest.fixture
def app(start):
    client = start()
    client.insert(week())
    return client


def by(items: list[dict], key: str) -> dict:
    return {i[key]: i for i in items}


def test_ranks_categories_and_town_streets_against_the_previous_week(app):
    r = app.get(PERIOD)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    report = r.json()
    assert report["period"] == {"from": "2026-03-09", "to": "2026-03-15", "days": 7, "previous_from": "2026-03-02",
                                "previous_to": "2026-03-08", "timezone": "Asia/Shanghai"}
    # repeat calls are not cases; both edges of the week count, the moments just outside do not
    assert report["totals"] == {"count": 11, "previous": 7, "change": 4, "change_pct": 57.1, "open": 5,
                                "overdue": 2, "repeat_calls": 2}

    cats = report["categories"]
    assert [c["category"] for c in cats] == ["road", "water", "environment", "housing"]
    assert [c["rank"] for c in cats] == [1, 2, 3, 4]
    road, water, environment, housing = cats
    assert road == {"rank": 1, "category": "road", "category_name": "道路设施", "count": 5, "previous": 2,
                    "change": 3, "change_pct": 150.0, "open": 3, "overdue": 1, "repeat_calls": 2}
    assert (water["count"], water["previous"], water["change"], water["change_pct"]) == (3, 3, 0, 0.0)
    assert (water["open"], water["overdue"], water["category_name"]) == (1, 1, "供水")
    assert (environment["count"], environment["previous"], environment["change_pct"]) == (3, 0, None)
    assert (housing["count"], housing["previous"], housing["change"], housing["change_pct"]) == (0, 2, -2, -100.0)

    towns = report["town_streets"]
    assert [t["town_street"] for t in towns] == ["WCJD", "DCJD", None]
    wcjd, dcjd, unknown = towns
    assert (wcjd["count"], wcjd["previous"], wcjd["change_pct"], wcjd["open"], wcjd["repeat_calls"]) == \
        (5, 3, 66.7, 3, 2)
    assert (dcjd["count"], dcjd["previous"], dcjd["change"], dcjd["change_pct"]) == (3, 4, -1, -25.0)
    assert (unknown["count"], unknown["previous"], unknown["change_pct"]) == (3, 0, None)


def test_repeat_callers_are_counted_in_the_period_and_never_shown_in_full(app):
    r = app.get(PERIOD)
    callers = r.json()["repeat_callers"]
    # 138…: 2 road cases, 1 repeat call, 1 environment (not the ones outside the week); 137…: 1 this week only
    assert [(c["phone"], c["count"]) for c in callers] == [("138****5678", 4), ("139****1111", 3),
                                                          ("136****2222", 2)]
    first = callers[0]
    assert first["case_nos"] == ["T0016", "T0006", "T0002", "T0001"]  # newest first
    assert first["categories"] == [{"category": "road", "category_name": "道路设施", "count": 3},
                                   {"category": "environment", "category_name": "环境污染", "count": 1}]
    for phone in FULL_PHONES:
        assert phone not in r.text


def test_groups_of_the_same_place_and_problem(app):
    groups = app.get(PERIOD).json()["groups"]
    assert [(g["category"], g["town_street"], g["address"], g["count"]) for g in groups] == [
        ("environment", None, ODD_ADDRESS, 3),  # an address without a town-street is a place
        ("road", "WCJD", "文昌路 1 号", 3),  # 文昌路 9 号 and the address-less road case are one each
        ("water", "DCJD", None, 3),  # no address: the town-street is the place
    ]
    road = groups[1]
    assert road["case_nos"] == ["T0003", "T0002", "T0001"]  # newest first, repeat calls not among them
    assert (road["repeat_calls"], road["open"], road["overdue"], road["category_name"]) == (2, 2, 1, "道路设施")
    assert road["first_received_at"].startswith("2026-03-09T00:00:00")
    assert road["last_received_at"].startswith("2026-03-15T23:59:59")


def test_csv_for_excel(app):
    r = app.get({**PERIOD, "format": "csv"}, key="assessor")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="hot-issues_2026-03-09_2026-03-15.csv"')
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8 Chinese right
    text = r.content.decode("utf-8-sig")
    for phone in FULL_PHONES:
        assert phone not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    sections = [row["板块"] for row in rows]
    assert sections[0] == "合计" and rows[0]["本期件数"] == "11" and rows[0]["上期件数"] == "7"
    cats = [row for row in rows if row["板块"] == "诉求类别"]
    assert [(c["代码"], c["名称"], c["本期件数"], c["上期件数"], c["增减"], c["增减率(%)"]) for c in cats] == [
        ("road", "道路设施", "5", "2", "3", "150.0"), ("water", "供水", "3", "3", "0", "0.0"),
        ("environment", "环境污染", "3", "0", "3", ""), ("housing", "房产物业", "0", "2", "-2", "-100.0")]
    assert [row["代码"] for row in rows if row["板块"] == "镇街"] == ["WCJD", "DCJD", ""]
    groups = [row for row in rows if row["板块"] == "同一地点同类问题"]
    assert groups[0]["地址"] == "'" + ODD_ADDRESS  # text, not a formula
    assert groups[1]["案件编号"] == "T0003 T0002 T0001"
    callers = [row for row in rows if row["板块"] == "重复来电"]
    assert [(c["代码"], c["本期件数"]) for c in callers] == [("138****5678", "4"), ("139****1111", "3"),
                                                            ("136****2222", "2")]
    # the Accept header chooses when ?format does not
    by_accept = app.get(PERIOD, headers={"Accept": "text/csv"})
    assert by_accept.headers["Content-Type"].startswith("text/csv") and by_accept.content == r.content


def test_one_page_chinese_brief(app):
    r = app.get({**PERIOD, "format": "html"}, key="operator")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/html")
    page = r.text
    for heading in ("群众诉求热点问题汇总", "一、总体情况", "二、诉求类别排名", "三、镇街排名", "四、同一地点同类问题",
                    "五、重复来电"):
        assert heading in page
    assert "2026年3月9日至2026年3月15日（7 天）" in page
    assert "本期共受理群众诉求 11 件，较上期（7 件）增加 4 件，增长57.1%" in page
    assert "@page { size: A4" in page
    assert not re.search(r"(https?:)?//[a-z0-9]", page, re.I)  # nothing from elsewhere: no URL at all
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert "&lt;b&gt;&amp;" in page and ODD_ADDRESS not in page  # citizens' text is text
    assert "138****5678" in page
    for phone in FULL_PHONES:
        assert phone not in page
    assert "$" not in page  # every placeholder filled
    browser = app.get(PERIOD, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.headers["Content-Type"].startswith("text/html")
    assert app.get(PERIOD, headers={"Accept": "*/*"}).headers["Content-Type"].startswith("application/json")


def test_an_empty_period_is_a_report_too(app):
    r = app.get({"from": "2025-01-01", "to": "2025-01-31"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["totals"]["count"] == 0 and report["categories"] == [] and report["groups"] == []
    assert report["period"]["days"] == 31 and report["period"]["previous_from"] == "2024-12-01"
    for fmt in ("csv", "html"):
        assert app.get({"from": "2025-01-01", "to": "2025-01-31", "format": fmt}).status_code == 200


@pytest.mark.parametrize(("params", "field"), [
    ({"from": "2026-03-15", "to": "2026-03-09"}, "to"),  # backwards
    ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),  # 367 days
    ({"from": "2026-02-30"}, "from"),
    ({"to": "yesterday"}, "to"),
    ({"from": "1999-12-31"}, "from"),
    ({"format": "xlsx"}, "format"),
    ({"colour": "red"}, "colour"),
])
def test_bad_parameters_are_400_with_field_messages(start, params, field):
    client = start()
    r = client.get(params)
    assert r.status_code == 400, r.text
    assert list(r.json()["errors"]) == [field] and r.json()["errors"][field]


def test_the_longest_period_is_366_days(start):
    r = start().get({"from": "2024-01-01", "to": "2024-12-31"})  # a leap year
    assert r.status_code == 200, r.text
    assert r.json()["period"]["days"] == 366


def test_only_operators_monitors_and_assessors(start):
    client = start()
    for key in ("operator", "monitor", "assessor", "admin"):
        assert client.get(PERIOD, key=key).status_code == 200, key
    for key in ("window_system", "handler_d1"):
        r = client.get(PERIOD, key=key)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", key
        assert client.publish(PERIOD, key=key).status_code == 403, key
    assert client.get(PERIOD, key=None).status_code == 401


def test_default_is_the_last_seven_days_and_counts_intake(start):
    client = start()
    r = requests.post(client.base + "/api/v1/appeals", headers={"Authorization": f"Bearer {client.keys['operator']}"},
                      json={"channel": "hotline", "type": "complaint", "category": "road", "content": "路灯不亮",
                            "appellant": {"phone": "13812345678"}, "location": {"town_street": "WCJD"}}, timeout=10)
    assert r.status_code == 201, r.text
    report = client.get().json()
    today = clock.now().date()
    assert report["period"]["to"] == today.isoformat()
    assert report["period"]["from"] == (today - timedelta(days=6)).isoformat()
    assert report["totals"]["count"] == 1 and report["categories"][0]["category"] == "road"
    # `to` alone: the seven days up to it
    assert client.get({"to": "2026-03-15"}).json()["period"]["from"] == "2026-03-09"
    only_from = client.get({"from": (today - timedelta(days=2)).isoformat()}).json()["period"]
    assert only_from["to"] == today.isoformat() and only_from["days"] == 3


def test_publish_puts_the_summary_on_the_bus(start, fresh_amqp_uri):
    client = start(AMQP_URI=fresh_amqp_uri)
    client.insert(week())
    tap = Tap(fresh_amqp_uri, "appeals", "report.hot_issues_published")
    r = client.publish(PERIOD, key="assessor")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["period_from"] == "2026-03-09" and out["period_to"] == "2026-03-15"
    assert out["top_categories"] == ["road", "water", "environment"] and out["total"] == 11

    event = wait_for(lambda: tap.drain(), message="report.hot_issues_published on the bus")[0]
    assert event["event_id"] == out["event_id"] and event["event_type"] == "report.hot_issues_published"
    assert event["source"]["service"] == "appeals"
    assert event["payload"] == {"period_from": "2026-03-09", "period_to": "2026-03-15",
                                "top_categories": ["road", "water", "environment"],
                                "top_category_names": ["道路设施", "供水", "环境污染"], "total": 11}
    for phone in FULL_PHONES:
        assert phone not in str(event)

    bad = client.publish({"from": "2026-03-15", "to": "2026-03-01"})
    assert bad.status_code == 400 and "to" in bad.json()["errors"]
    with client.engine.connect() as conn:
        outbox = store.metadata.tables["outbox"]
        types = conn.execute(sa.select(outbox.c.event_type)).scalars().all()
    assert types == ["report.hot_issues_published"]  # the refused one wrote nothing


def test_the_report_is_in_the_openapi_document(start):
    client = start()
    spec = requests.get(client.base + "/api/openapi.json", timeout=10).json()
    validate(copy.deepcopy(spec))  # still valid OpenAPI 3 with the report in it
    op = spec["paths"][REPORT]["get"]
    assert set(op["responses"]["200"]["content"]) == {"application/json", "text/csv", "text/html"}
    assert {"400", "401", "403"} <= set(op["responses"])
    names = {p["name"] for p in op["parameters"]}
    assert {"from", "to", "format"} <= names
    publish = spec["paths"][PUBLISH]["post"]
    assert {"201", "400", "401", "403", "413", "415"} <= set(publish["responses"])
    body = publish["requestBody"]["content"]["application/json"]["schema"]
    assert set(spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["properties"]) == {"from", "to"}


@pytest.mark.postgres
def test_the_same_report_on_postgresql(app, start_on_postgres, api_keys):
    pg = Client(start_on_postgres(AppealsWithReports), api_keys)
    try:
        pg.insert(week())
        for params in (PERIOD, {"from": "2026-03-01", "to": "2026-03-31"}, {"from": "2026-03-15", "to": "2026-03-15"}):
            on_sqlite, on_pg = app.get(params).json(), pg.get(params).json()
            assert on_sqlite["totals"]["count"] > 0
            for report in (on_sqlite, on_pg):
                del report["generated_at"]
            assert on_pg == on_sqlite, params
        assert pg.get({**PERIOD, "format": "csv"}).content == app.get({**PERIOD, "format": "csv"}).content
    finally:
        pg.engine.dispose()


def test_period_days_are_shanghai_days():
    from services.appeals.reports import Period, resolve_period

    p = resolve_period(date(2026, 3, 9), date(2026, 3, 15), today=date(2026, 3, 20))
    assert p == Period(date(2026, 3, 9), date(2026, 3, 15))
    assert p.start.isoformat() == "2026-03-09T00:00:00+08:00" and p.end.isoformat() == "2026-03-16T00:00:00+08:00"
    assert p.previous == Period(date(2026, 3, 2), date(2026, 3, 8))
