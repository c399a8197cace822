"""Windows, badges and the first responsible (#15) end to end on the real broker: the register of windows (seeded
from the demo file, changed through PUT), the submission and the window actions naming a window and a badge
(佩证上岗) on their history lines, the first badge made responsible (首问负责) once, every bad window or badge a 400
that records nothing, a retried action compared with its window and badge, department handlers confined as before,
and the month's satisfaction per window."""

import os
import uuid
from datetime import datetime

import pytest
from sqlalchemy.engine import make_url

from services.kernel import clock
from tests.e2e.approvals_client import ApprovalsApi

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TZ = clock.TZ
MON = datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
SCJ_WINDOW = "SMZX-B01"  # the demo register's: 市场监管 1 号窗口 (SCJGJ)
ZJJ_WINDOW = "SMZX-C01"  # 住建窗口 (ZJJ)
COMPREHENSIVE = "SMZX-100"  # 综合受理窗口 (every department)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request, service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    """The approvals service with the demo register of windows, on SQLite and on a PostgreSQL database of its own."""
    from services.approvals.service import ApprovalsService
    from services.kernel.keys import KeyStore

    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("SCJGJ", "ZJJ"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    database = {}
    if request.param == "postgres":
        admin, name = request.getfixturevalue("pg_admin"), f"xiaoneng_test_win_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        database["DATABASE_URL"] = make_url(request.getfixturevalue("pg_url")).set(database=name).render_as_string(
            hide_password=False)
    cfg = service_config("approvals", AMQP_URI=fresh_amqp_uri, **database,
                         SEED_WINDOWS=os.path.join(ROOT, "services", "approvals", "windows.demo.yaml"),
                         DEPARTMENTS_FILE=os.path.join(ROOT, "services", "scoring", "departments.demo.yaml"))
    container = start_service(ApprovalsService, cfg)
    yield ApprovalsApi(cfg["base_url"], keys)
    if database:  # the service first, then its database
        container.kill()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def counter(window=None, badge=None, **fields):
    return {**fields, **({"window": window} if window else {}), **({"badge": badge} if badge else {})}


def steps(api, app_id, who="monitor"):
    return [(h["action"], h["window"], h["badge"], h["details"].get("first_responsible"))
            for h in api.get(app_id, who)["history"]]


def test_the_register_of_windows(api):
    windows = api.ok("GET", "/api/v1/windows", "window_system")
    by_code = {w["code"]: w for w in windows}
    assert len(windows) == 11 and by_code[SCJ_WINDOW]["department"] == "SCJGJ"
    assert by_code[SCJ_WINDOW]["department_name"] == "市市场监督管理局"
    assert (by_code[COMPREHENSIVE]["department"], by_code[COMPREHENSIVE]["comprehensive"],
            by_code[COMPREHENSIVE]["department_name"]) == (None, True, "综合窗口")
    own = api.ok("GET", "/api/v1/windows", "ZJJ", department="ZJJ")
    assert {w["code"] for w in own} == {ZJJ_WINDOW, COMPREHENSIVE}

    new = {"code": "SMZX-B03", "name": "市场监管 3 号窗口", "department": "SCJGJ", "service_point": "city_center"}
    put = api.ok("PUT", "/api/v1/windows", "operator", new)
    assert (put["active"], put["comprehensive"], put["updated_at"] is not None) == (True, False, True)
    changed = api.ok("PUT", "/api/v1/windows", "operator", {**new, "name": "市场监管 3 号窗口（暂停）",
                                                            "active": False})
    assert (changed["name"], changed["active"]) == ("市场监管 3 号窗口（暂停）", False)
    assert [w["code"] for w in api.ok("GET", "/api/v1/windows", "monitor", active="false")] == ["SMZX-B03"]
    for body, field in (({**new, "service_point": "home"}, "service_point"), ({**new, "code": "有空格 的"}, "code"),
                        ({**new, "name": ""}, "name"), ({"code": "X1", "service_point": "city_center"}, "name")):
        r = api.call("PUT", "/api/v1/windows", "operator", body)
        assert r.status_code == 400 and field in r.json()["errors"], (body, r.text)
    for who in ("window_system", "SCJGJ", "monitor"):
        assert api.call("PUT", "/api/v1/windows", who, new).status_code == 403


def test_badges_on_every_step_and_the_first_responsible(api):
    app = api.submit(**counter(SCJ_WINDOW, "SC-0012"))
    assert app["responsible"] == {"window": SCJ_WINDOW, "window_name": "市民中心二楼 B 区 市场监管 1 号窗口",
                                  "badge": "SC-0012"}
    accepted = api.act(app["id"], "accept", counter(COMPREHENSIVE, "ZH-7"))  # a comprehensive window serves all
    assert accepted["responsible"]["badge"] == "SC-0012"  # set once
    api.act(app["id"], "decide", {"approved": True})  # naming neither is still allowed
    assert steps(api, app["id"]) == [("submit", SCJ_WINDOW, "SC-0012", "首问负责"),
                                     ("accept", COMPREHENSIVE, "ZH-7", None), ("decide", None, None, None)]
    detail = api.get(app["id"])
    assert detail["responsible"]["window"] == SCJ_WINDOW
    assert detail["history"][1]["window_name"] == "市民中心一楼 综合受理窗口"

    # a submission naming no badge: the first action that names one is responsible
    later = api.submit(**counter(SCJ_WINDOW))
    assert later["responsible"] is None
    api.act(later["id"], "request-supplement", counter(badge="SC-0099", missing=["M3"]))
    api.act(later["id"], "supplement-received", counter(SCJ_WINDOW, "SC-0012"))
    assert api.get(later["id"])["responsible"] == {"window": None, "window_name": None, "badge": "SC-0099"}
    assert steps(api, later["id"]) == [("submit", SCJ_WINDOW, None, None),
                                       ("request_supplement", None, "SC-0099", "首问负责"),
                                       ("supplement_received", SCJ_WINDOW, "SC-0012", None)]
    # the lists show the responsible too
    listed = {a["id"]: a for a in api.ok("GET", "/api/v1/applications", "monitor")["items"]}
    assert listed[app["id"]]["responsible"]["badge"] == "SC-0012"


def test_a_bad_window_or_badge_is_400_and_records_nothing(api):
    api.ok("PUT", "/api/v1/windows", "operator", {"code": "OLD-1", "name": "旧窗口", "department": "SCJGJ",
                                                  "service_point": "city_center", "active": False})
    for fields, field in ((counter("NO-SUCH", "SC-1"), "window"), (counter("OLD-1", "SC-1"), "window"),
                          (counter(ZJJ_WINDOW, "SC-1"), "window"), (counter(SCJ_WINDOW, "SC 1"), "badge"),
                          (counter(SCJ_WINDOW, "A" * 33), "badge"), (counter(SCJ_WINDOW, "工号1"), "badge"),
                          ({"badge": ""}, "badge")):
        body = {"external_ref": f"BAD-{field}-{len(str(fields))}", "item_code": "SCJ-001",
                "applicant": {"name": "某公司", "kind": "enterprise", "id_number": "91330100MA2XXXXX1X"},
                "service_point": "city_center", **fields}
        r = api.call("POST", "/api/v1/applications", "window_system", body)
        assert r.status_code == 400 and field in r.json()["errors"], (fields, r.text)
        assert api.ok("GET", "/api/v1/applications", "monitor", external_ref=body["external_ref"])["total"] == 0
    app = api.submit()
    for fields, field in ((counter("NO-SUCH"), "window"), (counter("OLD-1"), "window"),
                          (counter(ZJJ_WINDOW, "ZJ-1"), "window"), (counter(badge="A" * 33), "badge")):
        r = api.call("POST", f"/api/v1/applications/{app['id']}/accept", "window_system", fields)
        assert r.status_code == 400 and field in r.json()["errors"], (fields, r.text)
    detail = api.get(app["id"])
    assert detail["state"] == "submitted" and len(detail["history"]) == 1 and detail["responsible"] is None
    # a ZJJ application takes its own window and the comprehensive one, not SCJGJ's
    zjj = api.submit("ZJJ-001", materials=(), **counter(ZJJ_WINDOW, "ZJ-1"))
    assert api.call("POST", f"/api/v1/applications/{zjj['id']}/accept", "window_system",
                    counter(SCJ_WINDOW)).status_code == 400
    api.act(zjj["id"], "accept", counter(COMPREHENSIVE, "ZH-7"))


def test_a_retried_action_is_compared_with_its_window_and_badge(api):
    app = api.submit(**counter(SCJ_WINDOW, "SC-0012"))
    body = counter(SCJ_WINDOW, "SC-0012", action_ref="ACC-1")
    first = api.act(app["id"], "accept", body)
    assert api.act(app["id"], "accept", body) == first  # the same request: the first answer, nothing recorded
    other = api.call("POST", f"/api/v1/applications/{app['id']}/accept", "window_system", {**body, "badge": "SC-9"})
    assert other.status_code == 409 and "action_ref" in other.text
    assert [s[0] for s in steps(api, app["id"])] == ["submit", "accept"]


def test_department_handlers_see_and_act_on_their_own_only(api):
    scj = api.submit(**counter(SCJ_WINDOW, "SC-0012"))
    zjj = api.submit("ZJJ-001", materials=(), **counter(ZJJ_WINDOW, "ZJ-1"))
    assert api.call("GET", f"/api/v1/applications/{zjj['id']}", "SCJGJ").status_code == 404
    assert api.act(zjj["id"], "accept", counter(ZJJ_WINDOW, "ZJ-1"), status=404, who="SCJGJ")
    accepted = api.act(scj["id"], "accept", counter(SCJ_WINDOW, "SC-0013"), who="SCJGJ")
    assert accepted["responsible"]["badge"] == "SC-0012"
    assert [a["id"] for a in api.ok("GET", "/api/v1/applications", "SCJGJ")["items"]] == [scj["id"]]
    assert steps(api, scj["id"], "SCJGJ")[1] == ("accept", SCJ_WINDOW, "SC-0013", None)


def test_the_months_satisfaction_per_window(api, frozen):
    frozen(MON)

    def reviewed(item, window, badge, level, materials=("M1", "M2", "M3")):
        app = api.submit(item, materials=materials, **counter(window, badge))
        api.act(app["id"], "accept", counter(window, badge))
        api.act(app["id"], "decide", {"approved": True})
        api.ok("POST", f"/api/v1/applications/{app['id']}/review", "window_system", {"level": level}, status=201)
        return app

    reviewed("SCJ-001", SCJ_WINDOW, "SC-1", "very_satisfied")
    reviewed("SCJ-001", SCJ_WINDOW, "SC-2", "unsatisfied")
    reviewed("SCJ-001", COMPREHENSIVE, "ZH-1", "satisfied")
    reviewed("ZJJ-001", COMPREHENSIVE, "ZH-1", "satisfied", materials=())
    reviewed("ZJJ-001", None, None, "basically_satisfied", materials=())

    out = api.ok("GET", "/api/v1/reviews/summary", "assessor", month="2026-11", by="window")
    assert out["by"] == "window" and "departments" not in out
    lines = {w["window"]: w for w in out["windows"]}
    assert set(lines) == {SCJ_WINDOW, COMPREHENSIVE, None}
    assert (lines[SCJ_WINDOW]["total"], lines[SCJ_WINDOW]["satisfaction_rate"]) == (2, 50.0)
    assert (lines[SCJ_WINDOW]["department"], lines[SCJ_WINDOW]["window_name"]) == (
        "SCJGJ", "市民中心二楼 B 区 市场监管 1 号窗口")
    assert (lines[COMPREHENSIVE]["total"], lines[COMPREHENSIVE]["levels"]["satisfied"],
            lines[COMPREHENSIVE]["department_name"]) == (2, 2, "综合窗口")
    assert (lines[None]["window_name"], lines[None]["total"]) == ("未登记窗口", 1)
    assert (out["total"]["total"], out["total"]["satisfied"]) == (5, 4)
    # a department's handler: its own department's applications, wherever they were handled
    own = api.ok("GET", "/api/v1/reviews/summary", "ZJJ", month="2026-11", by="window")
    assert {w["window"]: w["total"] for w in own["windows"]} == {COMPREHENSIVE: 1, None: 1}
    # by department, as before
    departments = api.ok("GET", "/api/v1/reviews/summary", "monitor", month="2026-11")
    assert departments["by"] == "department" and {d["department"] for d in departments["departments"]} == {
        "SCJGJ", "ZJJ"}
    assert api.call("GET", "/api/v1/reviews/summary", "monitor", month="2026-11", by="badge").status_code == 400
