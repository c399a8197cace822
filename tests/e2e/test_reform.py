"""Reform figures (精简审批事项, 压减审批时限, #17) end to end on the real broker with a frozen clock: a small known
catalogue added in 2025; in 2026 a committed limit cut by a document, an item merged, one added, one retired from a
coming day; submissions to the merged item refused at once and to the retired one from its day; the history and the
year's changes; the report's every figure per department and for the city, as JSON, CSV and the printable page.
The seed's "initial" entries; bad input: 400 with the field, 403 by role, 404, 409."""

import csv
import io
import uuid
from datetime import date, datetime

import pytest
from sqlalchemy.engine import make_url

from services.kernel import clock
from tests.e2e.approvals_client import start_approvals

TZ = clock.TZ
DOC = "莱政发〔2026〕5号"


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    """The approvals service with an empty catalogue (no demo seed), on SQLite."""
    return _start(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)


@pytest.fixture
def pg_env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri, pg_admin, pg_url):
    """The same on a PostgreSQL database of its own (the instance killed before it is dropped)."""
    name = f"xiaoneng_test_reform_{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    started = []

    def start(cls, cfg):
        started.append(start_service(cls, cfg))
        return started[-1]

    yield _start(service_config, start, api_keys, keys_file, fresh_amqp_uri, DATABASE_URL=url)
    for container in started:
        container.kill()
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(service_config, start_service, api_keys, keys_file, amqp_uri, **overrides):
    def no_seed(service, **more):
        return service_config(service, SEED_ITEMS=None, **overrides, **more)

    api, _ = start_approvals(no_seed, start_service, api_keys, keys_file, amqp_uri, departments=("D1", "D2"))
    return api


def put(api, code, dept, s, c=None, kind="committed", status=200, **record):
    body = {"code": code, "name": f"事项{code}", "department": dept, "kind": kind, "statutory_limit": s,
            "committed_limit": c, **record}
    return api.ok("PUT", "/api/v1/items", "operator", body, status=status)


def decided(api, item, on_accept, on_decide, frozen):
    frozen(on_accept)
    a = api.submit(item_code=item, materials=[])
    api.act(a["id"], "accept")
    frozen(on_decide)
    api.act(a["id"], "decide", {"approved": True})
    return a


def refused(api, item):
    r = api.call("POST", "/api/v1/applications", "window_system", {
        "external_ref": f"R-{item}-{clock.now():%m%d}", "item_code": item, "materials": [],
        "applicant": {"name": "某公司", "kind": "enterprise", "id_number": "91370100MA3C000000"},
        "service_point": "city_center"})
    assert r.status_code == 409, r.text
    return r.json()["error"]


@pytest.mark.parametrize("where", ["env", pytest.param("pg_env", marks=pytest.mark.postgres)])
def test_a_year_of_reform_and_its_report(where, request, frozen):
    api = request.getfixturevalue(where)
    frozen(datetime(2025, 11, 3, 10, 0, tzinfo=TZ))
    put(api, "A1", "D1", 20, 10)
    put(api, "A2", "D1", 20, 8)
    put(api, "A3", "D1", 10, kind="immediate")
    put(api, "B1", "D2", 40, 15)
    put(api, "B2", "D2", None)  # the rules' statutory 20, which the clock runs against too

    frozen(datetime(2026, 3, 2, 9, 0, tzinfo=TZ))
    a1 = put(api, "A1", "D1", 20, 5, document=DOC, effective_on="2026-03-01")
    assert a1["committed_limit"] == 5 and a1["status"] == "active"
    put(api, "A1", "D1", 20, 5, document="ignored: nothing changed")  # no entry
    merged = api.ok("POST", "/api/v1/items/A2/merge", "operator", {"into": "A1", "document": DOC})
    assert merged["item"]["status"] == "merged" and merged["item"]["merged_into"] == "A1"
    assert merged["item"]["ended_on"] == "2026-03-02"
    put(api, "C1", "D1", 15, 5, document=DOC)
    retired = api.ok("POST", "/api/v1/items/B2/retire", "operator",
                     {"document": DOC, "effective_on": "2026-04-01", "reason": "取消该审批事项，改为备案管理"})
    assert retired["item"]["status"] == "retired" and retired["changes"][-1]["change_zh"] == "取消"

    err = refused(api, "A2")  # merged today: refused at once, naming the item to apply for
    assert "A1" in err["message"] and "合并" in err["message_zh"]
    decided(api, "A1", datetime(2026, 3, 2, 10, 0, tzinfo=TZ), datetime(2026, 3, 5, 15, 0, tzinfo=TZ), frozen)  # 3
    decided(api, "A1", datetime(2026, 3, 5, 16, 0, tzinfo=TZ), datetime(2026, 3, 6, 9, 0, tzinfo=TZ), frozen)  # 1
    decided(api, "B1", datetime(2026, 3, 6, 10, 0, tzinfo=TZ), datetime(2026, 3, 13, 10, 0, tzinfo=TZ), frozen)  # 5
    decided(api, "B2", datetime(2026, 3, 16, 10, 0, tzinfo=TZ), datetime(2026, 3, 17, 10, 0, tzinfo=TZ), frozen)  # 1

    frozen(datetime(2026, 4, 2, 10, 0, tzinfo=TZ))
    assert "取消" in refused(api, "B2")["message_zh"]  # retired from 2026-04-01

    history = api.ok("GET", "/api/v1/items/A1/history", "window_system")
    assert [(c["change"], c["effective_on"], c["committed_limit"]) for c in history["changes"]] == [
        ("added", "2025-11-03", 10), ("changed", "2026-03-01", 5)]
    assert history["changes"][1]["document"] == DOC and history["changes"][1]["previous"]["committed_limit"] == 10
    assert history["changes"][1]["recorded_by"] == "test-operator"
    page = api.ok("GET", "/api/v1/catalogue-changes", "monitor", year=2026)
    assert page["total"] == 4
    assert [(c["item_code"], c["change"]) for c in page["items"]] == [
        ("A1", "changed"), ("A2", "merged"), ("C1", "added"), ("B2", "retired")]
    d2 = api.ok("GET", "/api/v1/catalogue-changes", "monitor", year=2026, department="D2", per_page=1)
    assert d2["total"] == 1 and d2["items"][0]["item_code"] == "B2"
    assert api.ok("GET", "/api/v1/catalogue-changes", "monitor", year=2025)["total"] == 5

    r = api.ok("GET", "/api/v1/reports/reform", "monitor", year=2026)
    assert (r["year"], r["start_on"], r["as_of"], r["uncounted"]) == (2026, "2026-01-01", "2026-04-02", 0)
    d1, d2 = r["departments"]
    assert d1 == {"department": "D1", "department_name": "D1", "items_start": 3, "items_now": 3,
                  "items_cut_pct": 0.0, "added": 1, "retired": 0, "merged": 1, "limit_changes": 1,
                  "statutory_avg_start": 16.67, "statutory_avg_now": 15.0, "statutory_cut_pct": 10.0,
                  "committed_avg_start": 6.0, "committed_avg_now": 3.33, "committed_cut_pct": 44.4,
                  "decided": 2, "items_decided": 1, "actual_avg_days": 2.0}
    assert d2 == {"department": "D2", "department_name": "D2", "items_start": 2, "items_now": 1,
                  "items_cut_pct": 50.0, "added": 0, "retired": 1, "merged": 0, "limit_changes": 0,
                  "statutory_avg_start": 30.0, "statutory_avg_now": 40.0, "statutory_cut_pct": -33.3,
                  "committed_avg_start": 17.5, "committed_avg_now": 15.0, "committed_cut_pct": 14.3,
                  "decided": 2, "items_decided": 2, "actual_avg_days": 3.0}
    assert r["city"] == {"items_start": 5, "items_now": 4, "items_cut_pct": 20.0, "added": 1, "retired": 1,
                         "merged": 1, "limit_changes": 1,
                         "statutory_avg_start": 22.0, "statutory_avg_now": 21.25, "statutory_cut_pct": 3.4,
                         "committed_avg_start": 10.6, "committed_avg_now": 6.25, "committed_cut_pct": 41.0,
                         "decided": 4, "items_decided": 3, "actual_avg_days": 2.67}

    c = api.call("GET", "/api/v1/reports/reform", "assessor", year=2026, format="csv")
    assert c.status_code == 200 and c.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(c.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["单位代码", "单位", "年初事项数", "现有事项数"] and len(rows) == 4
    assert rows[-1][:5] == ["", "全市合计", "5", "4", "20.0"]
    h = api.call("GET", "/api/v1/reports/reform", "operator", year=2026, format="html")
    assert h.status_code == 200 and h.headers["Content-Type"].startswith("text/html")
    assert "2026 年度审批事项精简与时限压减情况" in h.text and "全市合计" in h.text
    assert "<script" not in h.text and "http" not in h.text.replace("http-equiv", "")
    accept = api.call("GET", "/api/v1/reports/reform", "monitor", year=2026)
    assert accept.headers["Content-Type"].startswith("application/json")

    # a past year reads to its last day
    past = api.ok("GET", "/api/v1/reports/reform", "monitor", year=2025)
    assert past["as_of"] == "2025-12-31" and past["city"]["items_start"] == 0 and past["city"]["added"] == 5
    assert past["city"]["items_cut_pct"] is None


def test_bad_input_roles_unknown_items_and_refused_changes(env, frozen):
    api = env
    frozen(datetime(2026, 3, 2, 9, 0, tzinfo=TZ))
    put(api, "A1", "D1", 20, 10)
    put(api, "A2", "D1", 20, 8)
    put(api, "A1", "D1", 20, 6, effective_on="2026-03-02")

    def status(method, path, who="operator", body=None, **params):
        r = api.call(method, path, who, body, **params)
        return r.status_code, r.json()

    code, body = status("PUT", "/api/v1/items", body={"code": "A1", "name": "x", "department": "D1",
                                                         "effective_on": "2026-03-03"})
    assert code == 400 and "effective_on" in body["errors"]
    code, body = status("PUT", "/api/v1/items", body={"code": "A1", "name": "x", "department": "D1",
                                                         "statutory_limit": 20, "effective_on": "2026-02-01"})
    assert code == 409 and "生效日期" in body["error"]["message_zh"]  # before the item's last change
    code, body = status("POST", "/api/v1/items/A1/retire", body={"reason": "x"})
    assert code == 400 and {"document", "reason"} <= set(body["errors"])
    code, body = status("POST", "/api/v1/items/A1/retire", body={"document": DOC, "reason": "取消",
                                                                 "effective_on": "2026-13-01"})
    assert code == 400 and "effective_on" in body["errors"]
    assert status("POST", "/api/v1/items/A1/retire", "monitor", {"document": DOC, "reason": "取消"})[0] == 403
    assert status("POST", "/api/v1/items/NOPE/retire", body={"document": DOC, "reason": "取消"})[0] == 404
    assert status("POST", "/api/v1/items/NOPE/merge", body={"document": DOC, "into": "A1"})[0] == 404
    code, body = status("POST", "/api/v1/items/A1/merge", body={"document": DOC, "into": "NOPE"})
    assert code == 400 and "into" in body["errors"]
    assert status("POST", "/api/v1/items/A1/merge", body={"document": DOC, "into": "A1"})[0] == 409
    assert status("POST", "/api/v1/items/A2/merge", body={"document": DOC, "into": "A1"})[0] == 200
    assert status("POST", "/api/v1/items/A2/retire", body={"document": DOC, "reason": "取消"})[0] == 409
    assert status("POST", "/api/v1/items/A1/merge", body={"document": DOC, "into": "A2"})[0] == 409
    code, body = status("PUT", "/api/v1/items", body={"code": "A2", "name": "x", "department": "D1"})
    assert code == 409 and "合并" in body["error"]["message_zh"]
    assert status("GET", "/api/v1/items/NOPE/history", "monitor")[0] == 404
    code, body = status("GET", "/api/v1/catalogue-changes", "monitor", year="x", per_page=0)
    assert code == 400 and {"year", "per_page"} <= set(body["errors"])
    assert status("GET", "/api/v1/catalogue-changes", "monitor")[0] == 400
    assert status("GET", "/api/v1/reports/reform", "window_system", year=2026)[0] == 403
    assert status("GET", "/api/v1/reports/reform", "handler_d1", year=2026)[0] == 403
    code, body = status("GET", "/api/v1/reports/reform", "monitor", year=2026, format="pdf")
    assert code == 400 and "format" in body["errors"]
    code, body = status("GET", "/api/v1/reports/reform", "monitor", year=2027)
    assert code == 400 and "year" in body["errors"]
    assert status("GET", "/api/v1/reports/reform", "monitor")[0] == 400
    assert api.call("GET", "/api/v1/reports/reform", "monitor", year=2026).status_code == 200


def test_the_seed_is_the_initial_catalogue(service_config, start_service, api_keys, keys_file, fresh_amqp_uri,
                                           frozen):
    api, _ = start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)
    items = api.ok("GET", "/api/v1/items", "monitor")
    history = api.ok("GET", "/api/v1/items/SCJ-001/history", "monitor")["changes"]
    assert [(c["change"], c["recorded_by"]) for c in history] == [("initial", "seed")]
    today = clock.now().astimezone(TZ).date()
    assert date.fromisoformat(history[0]["effective_on"]) == today
    r = api.ok("GET", "/api/v1/reports/reform", "monitor", year=today.year)
    # the catalogue as found stands for the start of the year too: nothing added, nothing cut
    assert r["city"]["items_start"] == r["city"]["items_now"] == len(items)
    assert r["city"]["added"] == 0 and r["city"]["statutory_cut_pct"] == 0.0
