"""Satisfied windows (群众满意窗口, #15) end to end on the real broker with a frozen clock: a window's half year —
reviews at the window device, an overdue application's red card, an upheld efficiency complaint learnt from appeals
— makes the candidates of 2026-H1 with the evidence per criterion; the leading group's decision names one window
(and another on a recorded override reason), the public list shows them; the next quarter's re-check flags a window
that no longer meets the standard once (two ticks, two instances), and the revocation takes it off the public list.
Bad input: 400 with the field, 403 by role, 404, 409."""

import os
import uuid
from datetime import datetime

import pytest
import requests
from nameko.testing.services import entrypoint_hook
from sqlalchemy.engine import make_url

from services.approvals.service import ApprovalsService
from services.kernel import clock
from services.kernel.contracts import make_event
from services.kernel.messaging import events_exchange
from tests.conftest import free_port, wait_for
from tests.e2e.approvals_client import ApprovalsApi
from tests.support import Tap, publish_raw

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TZ = clock.TZ
GOOD_WINDOW, RED_WINDOW, LOW_WINDOW = "SMZX-B01", "SMZX-B02", "SMZX-C01"  # SCJGJ, SCJGJ, ZJJ (demo register)
STANDARD = """standard:
  reviews: {value: 3, label: "评价数量不少于 {value} 件"}
"""
GOOD = {"level": "very_satisfied", "aspects": []}

# until service.py mixes the endpoints in (the lead's), the tests run them on a subclass
Service = ApprovalsService


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request, service_config, start_service, api_keys, fresh_amqp_uri, tmp_path):
    """(client, tap, start: another instance on the same database and broker, config); on SQLite, or on a
    PostgreSQL database of its own (the instances are killed before it is dropped)."""
    rules = tmp_path / "naming.yaml"
    rules.write_text(STANDARD, encoding="utf-8")
    overrides = {}
    if request.param == "postgres":
        pg_admin, pg_url = request.getfixturevalue("pg_admin"), request.getfixturevalue("pg_url")
        name = f"xiaoneng_test_naming_{uuid.uuid4().hex[:10]}"
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        overrides["DATABASE_URL"] = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    cfg = service_config("approvals", AMQP_URI=fresh_amqp_uri, NAMING_RULES_FILE=str(rules),
                         SEED_WINDOWS=os.path.join(ROOT, "services", "approvals", "windows.demo.yaml"),
                         DEPARTMENTS_FILE=os.path.join(ROOT, "services", "scoring", "departments.demo.yaml"),
                         **overrides)
    tap = Tap(fresh_amqp_uri, "approvals")
    started = []

    def start():
        started.append(start_service(Service, {**cfg, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}
                                     if started else cfg))
        return started[-1]

    start.started = started
    start()
    yield ApprovalsApi(cfg["base_url"], dict(api_keys)), tap, start, cfg
    for container in started:
        container.kill()
    if request.param == "postgres":
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def served(api, window, item="SCJ-001", level="very_satisfied"):
    """An application at `window` (its badge responsible, 首问负责), accepted, decided in time, reviewed."""
    app = api.submit(item_code=item, window=window, badge="B-1")
    api.act(app["id"], "accept")
    api.act(app["id"], "decide", {"approved": True})
    api.ok("POST", f"/api/v1/applications/{app['id']}/review", "window_system", {**GOOD, "level": level},
           status=201)
    return app


def of_type(tap, event_type):
    return [m["payload"] for m in tap.drain() if m["event_type"] == event_type]


def finding(amqp_uri, department, finding_, case_no, event=None):
    event = event or make_event("complaint.finding_recorded", {
        "appeal_id": str(uuid.uuid4().int % 10**6), "case_no": case_no, "subject_department": department,
        "finding": finding_, "reasons": "查实：超期未办结", "reward": False}, service="appeals")
    publish_raw(amqp_uri, events_exchange("appeals").name, "complaint.finding_recorded", event)
    return event


def public(api):
    r = requests.get(f"{api.base}/public/v1/satisfied-windows", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def candidates(api, period="2026-H1", who="assessor"):
    return {w["window"]: w for w in api.ok("GET", "/api/v1/naming/candidates", who, period=period)["windows"]}


def criteria(candidate):
    return {c["criterion"]: c for c in candidate["criteria"]}


def decision(windows, **extra):
    return {"period": "2026-H1", "windows": windows, "decided_by": "市政务服务创建工作领导小组",
            "decided_at": "2026-07-02T09:00:00+08:00", "document_no": "政服〔2026〕12 号", **extra}


def test_a_half_year_selection_naming_recheck_and_revocation(env, frozen):
    api, tap, start, cfg = env
    frozen(datetime(2026, 3, 2, 10, 0, tzinfo=TZ))
    for _ in range(3):
        served(api, GOOD_WINDOW)
        served(api, RED_WINDOW)
    for level in ("very_satisfied", "satisfied", "unsatisfied"):  # 2 of 3: 66.67 %
        served(api, LOW_WINDOW, "ZJJ-001", level)

    # an application of the red window accepted in March and still open in May: its red card
    frozen(datetime(2026, 5, 6, 10, 0, tzinfo=TZ))
    late = api.submit(window=RED_WINDOW, badge="B-2", at="2026-03-03T09:00:00+08:00")
    api.act(late["id"], "accept", {"at": "2026-03-03T10:00:00+08:00"})
    [red] = wait_for(lambda: api.alerts(application_id=late["id"], level="red"), message="the red card")

    # appeals' findings: upheld against ZJJ (twice delivered: kept once), not upheld against SCJGJ (not kept)
    once = finding(cfg["AMQP_URI"], "ZJJ", "upheld", "TS2026-0042")
    finding(cfg["AMQP_URI"], "ZJJ", "upheld", "TS2026-0042", event=once)
    finding(cfg["AMQP_URI"], "SCJGJ", "not_upheld", "TS2026-0043")

    frozen(datetime(2026, 7, 2, 10, 0, tzinfo=TZ))
    wait_for(lambda: criteria(candidates(api)[LOW_WINDOW])["complaints"]["evidence"]["count"] == 1,
             message="the upheld complaint learnt")
    listed = candidates(api, who="monitor")
    good, red_w, low = listed[GOOD_WINDOW], listed[RED_WINDOW], listed[LOW_WINDOW]
    assert good["meets"] and good["department_name"] == "市市场监督管理局" and good["title_id"] is None
    assert criteria(good)["reviews"]["evidence"] == {"reviews": 3}
    assert criteria(good)["on_time"]["evidence"] == {"rate": 100.0, "decided": 3, "in_time": 3}
    assert criteria(good)["complaints"]["evidence"]["count"] == 0  # the finding not upheld is not counted
    assert [c["criterion"] for c in red_w["criteria"] if not c["met"]] == ["red_cards"]
    assert criteria(red_w)["red_cards"]["evidence"] == {"count": 1, "alert_ids": [red["id"]]}
    assert [c["criterion"] for c in low["criteria"] if not c["met"]] == ["satisfaction", "complaints"]
    assert criteria(low)["satisfaction"]["evidence"]["rate"] == 66.67
    assert criteria(low)["complaints"]["evidence"]["references"] == ["TS2026-0042"]
    assert not listed["SMZX-100"]["meets"]  # the comprehensive window: no reviews
    assert criteria(good)["reviews"]["label_zh"] == "评价数量不少于 3 件"  # the rule file's

    # the leading group's decision names the good window; the public list shows it
    named = api.ok("POST", "/api/v1/naming/decisions", "assessor", decision([GOOD_WINDOW]), status=201)
    [title] = named["titles"]
    assert (title["window"], title["state"], title["met"], title["named_on"], title["title_zh"]) == (
        GOOD_WINDOW, "active", True, "2026-07-02", "群众满意窗口")
    [event] = wait_for(lambda: of_type(tap, "naming.window_named"), message="naming.window_named")
    assert (event["window"], event["period"], event["met"], event["title_id"]) == (
        GOOD_WINDOW, "2026-H1", True, str(title["id"]))
    shown = public(api)
    assert shown == {"total": 1, "items": [{
        "window_name": "市民中心二楼 B 区 市场监管 1 号窗口", "department_name": "市市场监督管理局",
        "service_point": "city_center", "period": "2026-H1", "named_on": "2026-07-02", "title_zh": "群众满意窗口"}]}
    assert "B-1" not in str(shown) and "decided_by" not in str(shown)
    assert candidates(api)[GOOD_WINDOW]["title_id"] == title["id"]

    # twice: 409, nothing recorded; a window below the standard only on a recorded override reason
    again = api.call("POST", "/api/v1/naming/decisions", "assessor", decision([LOW_WINDOW, GOOD_WINDOW],
                                                                             override_reason="群众来信表扬较多"))
    assert again.status_code == 409, again.text
    refused = api.call("POST", "/api/v1/naming/decisions", "assessor", decision([LOW_WINDOW]))
    assert refused.status_code == 400 and "override_reason" in refused.json()["errors"], refused.text
    assert api.ok("GET", "/api/v1/naming/titles", "monitor")["total"] == 1
    overridden = api.ok("POST", "/api/v1/naming/decisions", "admin",
                        decision([LOW_WINDOW], override_reason="群众来信表扬较多"), status=201)["titles"][0]
    assert (overridden["met"], overridden["override_reason"]) == (False, "群众来信表扬较多")
    assert wait_for(lambda: len(of_type(tap, "naming.window_named")) == 2, message="the second naming")
    assert public(api)["total"] == 2

    # the third quarter: the good window gets a bad review and too few reviews; a second instance runs too
    frozen(datetime(2026, 8, 3, 10, 0, tzinfo=TZ))
    served(api, GOOD_WINDOW, level="very_unsatisfied")
    first, second = start.started[0], start()
    assert api.ok("GET", "/api/v1/naming/rechecks", "monitor", outcome="all")["total"] == 0  # Q2: before naming
    frozen(datetime(2026, 10, 1, 0, 5, tzinfo=TZ))
    flags = wait_for(lambda: (r := api.ok("GET", "/api/v1/naming/rechecks", "monitor"))["total"] == 2 and r,
                     message="two flags")
    for c in (first, second, first, second):  # more ticks: nothing more
        with entrypoint_hook(c, "naming_recheck") as tick:
            tick()
    assert api.ok("GET", "/api/v1/naming/rechecks", "monitor", outcome="all")["total"] == 2
    flag = next(f for f in flags["items"] if f["window"] == GOOD_WINDOW)
    assert (flag["quarter"], flag["passed"], flag["failing"], flag["title_id"], flag["title_state"]) == (
        "2026-Q3", False, ["reviews", "satisfaction"], title["id"], "active")
    assert flag["failing_zh"][0] == "评价数量不少于 3 件"
    api.drained()
    failed = wait_for(lambda: (e := of_type(tap, "naming.recheck_failed")) and len(e) >= 2 and e,
                      message="naming.recheck_failed")
    assert sorted((e["window"], e["quarter"]) for e in failed) == [(GOOD_WINDOW, "2026-Q3"), (LOW_WINDOW, "2026-Q3")]

    # the revocation: the leading group's reason; off the public list; once
    body = {"reason": "第三季度复查未达标", "decided_by": "市政务服务创建工作领导小组"}
    revoked = api.ok("POST", f"/api/v1/naming/titles/{title['id']}/revoke", "assessor", body)
    assert (revoked["state"], revoked["revoke_reason"], revoked["recheck_id"]) == ("revoked", body["reason"],
                                                                                 flag["id"])
    [gone] = wait_for(lambda: of_type(tap, "naming.title_revoked"), message="naming.title_revoked")
    assert (gone["title_id"], gone["recheck_id"], gone["quarter"], gone["reason"]) == (
        str(title["id"]), str(flag["id"]), "2026-Q3", body["reason"])
    assert [i["window_name"] for i in public(api)["items"]] == ["市民中心三楼 C 区 住建窗口"]
    again = api.call("POST", f"/api/v1/naming/titles/{title['id']}/revoke", "assessor", body)
    assert again.status_code == 409, again.text
    titles = api.ok("GET", "/api/v1/naming/titles", "monitor", state="revoked")["items"]
    assert [t["id"] for t in titles] == [title["id"]]


def test_bad_input_roles_and_unknown_titles(env, frozen):
    api, _tap, _start, _cfg = env
    frozen(datetime(2026, 7, 2, 10, 0, tzinfo=TZ))
    for period in ("2026-Q5", "2026H1", "", "2027"):  # 2027 has not begun
        r = api.call("GET", "/api/v1/naming/candidates", "assessor", period=period)
        assert r.status_code == 400 and "period" in r.json()["errors"], (period, r.text)
    assert api.call("GET", "/api/v1/naming/candidates", "assessor").status_code == 400
    for body, field in ((decision(["NO-SUCH"]), "windows"), (decision([]), "windows"),
                        (decision([GOOD_WINDOW, GOOD_WINDOW]), "windows"), (decision([GOOD_WINDOW], period="H1"),
                                                                           "period"),
                        (decision([GOOD_WINDOW], decided_at="2026-07-03T09:00:00+08:00"), "decided_at"),
                        (decision([GOOD_WINDOW], decided_at="2025-12-31T09:00:00+08:00"), "decided_at"),
                        ({**decision([GOOD_WINDOW]), "decided_by": ""}, "decided_by"),
                        (decision([GOOD_WINDOW]), "override_reason")):  # it has no reviews at all
        r = api.call("POST", "/api/v1/naming/decisions", "assessor", body)
        assert r.status_code == 400 and field in r.json()["errors"], (body, r.text)
    for who in ("window_system", "operator", "monitor"):
        assert api.call("POST", "/api/v1/naming/decisions", who, decision([GOOD_WINDOW])).status_code == 403
    for who in ("window_system", "operator"):
        assert api.call("GET", "/api/v1/naming/candidates", who, period="2026").status_code == 403
        assert api.call("GET", "/api/v1/naming/rechecks", who).status_code == 403
    body = {"reason": "复查未达标", "decided_by": "领导小组"}
    assert api.call("POST", "/api/v1/naming/titles/999/revoke", "assessor", body).status_code == 404
    assert api.call("GET", "/api/v1/naming/titles/999", "monitor").status_code == 404
    r = api.call("POST", "/api/v1/naming/titles/999/revoke", "assessor", {"reason": ""})
    assert r.status_code == 400 and {"reason", "decided_by"} <= set(r.json()["errors"])
    assert api.call("POST", "/api/v1/naming/titles/1/revoke", "monitor", body).status_code == 403
    assert public(api) == {"items": [], "total": 0}
    # the public route is in the OpenAPI document
    doc = requests.get(f"{api.base}/api/openapi.json", timeout=10).json()
    assert "/public/v1/satisfied-windows" in doc["paths"]
