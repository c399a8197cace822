"""Target management (目标管理, seed III.1) end to end on the real broker with a frozen clock: the year's key tasks with
their 六定; the lead units' plans due by 28 February — one in time not alerted, the missing ones alerted once
(over many ticks of two instances, on SQLite and PostgreSQL), a late one recorded as late; a milestone past its day
without a report of it done alerted once; the board's lights as JSON and as the printable page; changes kept in
the history; 400 / 403 / 404 / 409."""

import uuid
from datetime import datetime

import pytest
import requests
from nameko.testing.services import entrypoint_hook
from sqlalchemy.engine import make_url

from services.kernel.clock import TZ
from services.scoring.service import ScoringService
from tests.conftest import free_port, wait_for
from tests.e2e.test_scoring_rules import Scoring
from tests.support import Tap

JAN = datetime(2026, 1, 12, 10, 0, tzinfo=TZ)
PLAN = {"plan": "一、工作目标……二、主要措施……", "assessment_rules": "按季度考核，完成率低于 80% 扣分",
        "attachments": ["https://oa.example.gov.cn/plan/1.pdf"]}


def task(lead, co=(), title="优化营商环境攻坚", milestones=(("2026-06-30", "完成半年目标"), ("2026-12-20", "全面完成")),
         **extra):
    return {"year": 2026, "title": title, "standard": "企业开办 1 个工作日内办结", "lead_unit": lead,
            "co_units": list(co), "steps": ["梳理流程", "一网通办"], "assessment": "按完成情况计分", "weight": 10,
            "milestones": [{"due_on": d, "what": w} for d, w in milestones], **extra}


def _city(request, db, service_config, start_service, api_keys, fresh_amqp_uri, frozen):
    """(client, tap, start: another instance on the same database and broker); D1, D2, D3 registered."""
    frozen(JAN)
    overrides = {}
    if db == "postgres":
        pg_admin, pg_url = request.getfixturevalue("pg_admin"), request.getfixturevalue("pg_url")
        name = f"xiaoneng_test_targets_{uuid.uuid4().hex[:10]}"
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        overrides["DATABASE_URL"] = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri, **overrides)
    tap = Tap(fresh_amqp_uri, "scoring")
    started = []

    def start():
        started.append(start_service(ScoringService, {**cfg, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}
                                     if started else cfg))
        return started[-1]

    start.started = started
    start()
    scoring = Scoring(cfg["base_url"], api_keys)
    for code, title in (("D1", "一号局"), ("D2", "二号局"), ("D3", "三号局")):
        scoring.ok("POST", "/api/v1/departments", body={"code": code, "name": title}, status=201)
    yield scoring, tap, start
    for container in started:
        container.kill()
    if db == "postgres":
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def city(request, service_config, start_service, api_keys, fresh_amqp_uri, frozen):
    yield from _city(request, request.param, service_config, start_service, api_keys, fresh_amqp_uri, frozen)


@pytest.fixture
def sqlite_city(request, service_config, start_service, api_keys, fresh_amqp_uri, frozen):
    yield from _city(request, "sqlite", service_config, start_service, api_keys, fresh_amqp_uri, frozen)


def events(tap, event_type, **match):
    return [m["payload"] for m in tap.drain() if m["event_type"] == event_type
            and all(m["payload"].get(k) == v for k, v in match.items())]


def fence(scoring, tap):
    """Every event committed so far has been relayed: a new task's `target.created` came after them."""
    t = scoring.ok("POST", "/api/v1/targets", body=task("D3", title="围栏任务"), status=201)
    wait_for(lambda: events(tap, "target.created", target_id=str(t["id"])), message="the fence event")


def tick(start, times=3):
    for _ in range(times):
        for container in start.started:
            with entrypoint_hook(container, "check_targets") as check:
                check()


def history(scoring, target_id, action):
    return [h for h in scoring.ok("GET", f"/api/v1/targets/{target_id}")["history"] if h["action"] == action]


def test_plans_are_due_by_28_february_a_missing_one_is_alerted_once_and_one_in_time_not(city, frozen):
    scoring, tap, start = city
    a = scoring.ok("POST", "/api/v1/targets", body=task("D1", co=["D2"]), status=201)
    b = scoring.ok("POST", "/api/v1/targets", body=task("D2", title="项目审批提速"), status=201)
    c = scoring.ok("POST", "/api/v1/targets", body=task("D3", title="12345 热线满意率提升"), status=201)
    assert (a["plan_due_on"], a["plan_due_at"], a["state"], a["plan_status"], a["lead_unit_name"]) == (
        "2026-02-28", "2026-03-01T00:00:00+08:00", "plan_pending", "pending", "一号局")
    created = wait_for(lambda: events(tap, "target.created", target_id=str(a["id"])), message="target.created")[0]
    assert (created["lead_unit"], created["co_units"], created["milestones"], created["year"]) == (
        "D1", ["D2"], 2, 2026)

    frozen(datetime(2026, 2, 27, 16, 0, tzinfo=TZ))
    sent = scoring.ok("POST", f"/api/v1/targets/{a['id']}/plan", "handler_d1", PLAN, status=201)
    assert (sent["plan_status"], sent["state"], sent["plans"][0]["late"]) == ("submitted", "in_progress", False)
    again = scoring.ok("POST", f"/api/v1/targets/{a['id']}/plan", "handler_d1", PLAN, status=200)  # a retry
    assert len(again["plans"]) == 1

    start()  # a second instance on the same database: the checks are claimed with SKIP LOCKED
    frozen(datetime(2026, 2, 28, 23, 59, 59, tzinfo=TZ))  # the whole due day is the unit's
    tick(start)
    assert all(history(scoring, t["id"], "plan_overdue") == [] for t in (a, b, c))

    frozen(datetime(2026, 3, 2, 9, 0, tzinfo=TZ))
    wait_for(lambda: all(history(scoring, t["id"], "plan_overdue") for t in (b, c)), message="b and c overdue")
    tick(start)
    assert [len(history(scoring, t["id"], "plan_overdue")) for t in (a, b, c)] == [0, 1, 1]
    fence(scoring, tap)
    overdue = events(tap, "target.plan_overdue")
    assert sorted(int(e["target_id"]) for e in overdue) == [b["id"], c["id"]]
    assert {e["at"] for e in overdue} == {"2026-03-01T00:00:00+08:00"}

    late = scoring.ok("POST", f"/api/v1/targets/{b['id']}/plan", "handler_d2", PLAN, status=201)
    assert (late["plan_status"], late["plans"][0]["late"]) == ("late", True)
    submitted = wait_for(lambda: events(tap, "target.plan_submitted", target_id=str(b["id"])), message="late plan")
    assert (submitted[0]["late"], submitted[0]["revision"]) == (True, 1)
    assert events(tap, "target.plan_submitted", target_id=str(a["id"]))[0]["late"] is False
    assert all("oa.example" not in str(m["payload"]) and "按季度考核" not in str(m["payload"]) for m in tap.messages)

    board = scoring.ok("GET", "/api/v1/targets/board", "monitor", year=2026)
    rows = {r["target_id"]: r for r in board["rows"]}
    assert [(rows[t["id"]]["plan_status"], rows[t["id"]]["light"]) for t in (a, b, c)] == [
        ("submitted", "green"), ("late", "yellow"), ("overdue", "red")]
    assert board["rows"][0]["target_id"] == c["id"]  # red first
    assert board["counts"]["red"] == 1 and board["plans"]["late"] == 1


def test_a_milestone_overdue_is_alerted_once_then_progress_completes_the_task(sqlite_city, frozen):
    scoring, tap, start = sqlite_city
    t = scoring.ok("POST", "/api/v1/targets", status=201, body=task(
        "D1", co=["D2"], milestones=(("2026-03-31", "一季度完成流程梳理"), ("2026-06-30", "半年完成系统上线"))))
    m1, m2 = (m["id"] for m in t["milestones"])
    path = f"/api/v1/targets/{t['id']}"
    scoring.ok("POST", f"{path}/plan", "handler_d1", PLAN, status=201)
    frozen(datetime(2026, 3, 20, 9, 0, tzinfo=TZ))
    body = {"milestone_id": m1, "done": False, "note": "流程梳理过半"}
    progress = scoring.ok("POST", f"{path}/progress", "handler_d1", body, status=201)
    assert progress["milestones"][0]["status"] == "upcoming"
    assert scoring.ok("POST", f"{path}/progress", "handler_d1", body, status=200)["reports"] == progress["reports"]
    board = scoring.ok("GET", "/api/v1/targets/board", year=2026)
    assert (board["rows"][0]["light"], board["rows"][0]["milestones"]["next_due_on"]) == ("green", "2026-03-31")

    frozen(datetime(2026, 4, 1, 9, 0, tzinfo=TZ))
    wait_for(lambda: history(scoring, t["id"], "milestone_overdue"), message="the milestone overdue")
    tick(start)
    assert len(history(scoring, t["id"], "milestone_overdue")) == 1
    fence(scoring, tap)
    [overdue] = events(tap, "target.milestone_overdue")
    assert (overdue["milestone_id"], overdue["due_at"], overdue["lead_unit"]) == (
        str(m1), "2026-04-01T00:00:00+08:00", "D1")
    row = next(r for r in scoring.ok("GET", "/api/v1/targets/board", year=2026)["rows"] if r["target_id"] == t["id"])
    assert (row["light"], row["milestones"]["overdue"], row["milestones"]["upcoming"]) == ("red", 1, 1)

    frozen(datetime(2026, 4, 3, 9, 0, tzinfo=TZ))
    done = scoring.ok("POST", f"{path}/progress", "handler_d1", {"milestone_id": m1, "done": True,
                                                                 "note": "已完成"}, status=201)
    assert done["milestones"][0]["status"] == "done_late"
    conflict = scoring.call("POST", f"{path}/progress", "handler_d1", {"milestone_id": m1, "done": False,
                                                                      "note": "撤回"})
    assert conflict.status_code == 409 and conflict.json()["error"]["message_zh"] == "该进度节点已报告完成"
    frozen(datetime(2026, 6, 20, 9, 0, tzinfo=TZ))
    final = scoring.ok("POST", f"{path}/progress", "handler_d1", {"milestone_id": m2, "done": True, "note": "上线"},
                       status=201)
    assert (final["state"], [m["status"] for m in final["milestones"]]) == ("completed", ["done_late", "done"])
    reported = wait_for(lambda: len(r := events(tap, "target.progress_reported")) == 3 and r, message="3 reports")
    assert [(r["done"], r["late"]) for r in reported] == [(False, False), (True, True), (True, False)]
    assert all("流程梳理过半" not in str(m["payload"]) for m in tap.messages)
    row = next(r for r in scoring.ok("GET", "/api/v1/targets/board", year=2026)["rows"] if r["target_id"] == t["id"])
    assert (row["light"], row["state"], row["milestones"]["done"], row["milestones"]["done_late"]) == (
        "yellow", "completed", 2, 1)

    # the printable page, in Chinese, with nothing from elsewhere
    page = scoring.call("GET", "/api/v1/targets/board", year=2026, format="html")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "2026 年度重点工作目标管理进度表" in page.text and "一号局" in page.text and "逾期完成" in page.text
    assert "http" not in page.text.replace("http-equiv", "")
    negotiated = requests.get(f"{scoring.base}/api/v1/targets/board", params={"year": 2026}, timeout=10,
                              headers={"Authorization": f"Bearer {scoring.keys['assessor']}", "Accept": "text/html"})
    assert negotiated.headers["Content-Type"].startswith("text/html")
    doc = requests.get(f"{scoring.base}/api/openapi.json", timeout=10).json()
    for p in ("/api/v1/targets", "/api/v1/targets/board", "/api/v1/targets/{target_id}",
              "/api/v1/targets/{target_id}/plan", "/api/v1/targets/{target_id}/progress"):
        assert p in doc["paths"], p
    assert "patch" in doc["paths"]["/api/v1/targets/{target_id}"]


def test_changes_are_kept_in_the_history_and_refused_when_they_would_rewrite_what_happened(sqlite_city, frozen):
    scoring, tap, start = sqlite_city
    t = scoring.ok("POST", "/api/v1/targets", body=task("D1"), status=201)
    path = f"/api/v1/targets/{t['id']}"
    m1, m2 = (m["id"] for m in t["milestones"])
    # while the plan is awaited the lead unit may change
    moved = scoring.ok("PATCH", path, body={"lead_unit": "D2", "co_units": ["D1"], "reason": "职能调整"})
    assert (moved["lead_unit"], moved["co_units"]) == ("D2", ["D1"])
    assert scoring.call("POST", f"{path}/plan", "handler_d1", PLAN).status_code == 409  # now a co-unit
    scoring.ok("POST", f"{path}/plan", "handler_d2", PLAN, status=201)
    r = scoring.call("PATCH", path, body={"lead_unit": "D3", "reason": "再调整"})
    assert r.status_code == 409 and "牵头单位" in r.json()["error"]["message_zh"]
    assert scoring.call("PATCH", path, body={"plan_due": "2026-03-31", "reason": "延期"}).status_code == 409
    frozen(datetime(2026, 7, 2, 9, 0, tzinfo=TZ))
    scoring.ok("POST", f"{path}/progress", "handler_d2", {"milestone_id": m1, "done": True, "note": "完成"},
               status=201)
    for change in ([{"id": m2, "due_on": "2026-12-20", "what": "全面完成"}],  # m1, done, removed
                   [{"id": m1, "due_on": "2026-07-31", "what": "完成半年目标"}, {"id": m2, "due_on": "2026-12-20",
                                                                               "what": "全面完成"}]):
        assert scoring.call("PATCH", path, body={"milestones": change, "reason": "调整"}).status_code == 409
    changed = scoring.ok("PATCH", path, body={
        "title": "优化营商环境攻坚行动", "reason": "按市委要求更名",
        "milestones": [{"id": m1, "due_on": "2026-06-30", "what": "完成半年目标"},
                       {"id": m2, "due_on": "2026-11-30", "what": "全面完成"},
                       {"due_on": "2026-12-25", "what": "总结验收"}]})
    entry = changed["history"][-1]
    assert (entry["action"], entry["reason"], entry["by"]) == ("changed", "按市委要求更名", "test-assessor")
    assert entry["changes"]["title"] == ["优化营商环境攻坚", "优化营商环境攻坚行动"]
    assert entry["changes"]["milestones"][1] == [
        "2026-06-30 完成半年目标", "2026-11-30 全面完成", "2026-12-25 总结验收"]
    assert [h["action"] for h in changed["history"]] == ["created", "changed", "plan_submitted", "changed"]
    # cancelled: nothing is reported on it, nothing changed but its resumption
    cancelled = scoring.ok("PATCH", path, body={"state": "cancelled", "reason": "任务取消"})
    assert (cancelled["state"], cancelled["light"]) == ("cancelled", "grey")
    assert scoring.call("POST", f"{path}/progress", "handler_d2", {"milestone_id": m2, "done": True,
                                                                  "note": "完成"}).status_code == 409
    assert scoring.call("PATCH", path, body={"title": "新名称", "reason": "改名"}).status_code == 409
    assert scoring.ok("GET", "/api/v1/targets", state="cancelled", year=2026)["total"] == 1
    # not watched while cancelled; resumed, what it missed is announced
    frozen(datetime(2026, 12, 1, 9, 0, tzinfo=TZ))
    tick(start)
    assert history(scoring, t["id"], "milestone_overdue") == []
    resumed = scoring.ok("PATCH", path, body={"state": "active", "reason": "恢复"})
    assert resumed["state"] == "in_progress"
    wait_for(lambda: history(scoring, t["id"], "milestone_overdue"), message="the missed milestone announced")
    overdue = wait_for(lambda: events(tap, "target.milestone_overdue"), message="target.milestone_overdue")
    assert [e["milestone_id"] for e in overdue] == [str(m2)]


def test_bad_input_is_400_roles_403_other_departments_404(sqlite_city):
    scoring, _, _ = sqlite_city
    t = scoring.ok("POST", "/api/v1/targets", body=task("D1", co=["D2"]), status=201)
    only_d1 = scoring.ok("POST", "/api/v1/targets", body=task("D1", title="仅一号局"), status=201)
    path = f"/api/v1/targets/{t['id']}"
    for body, field in ((task("D1", milestones=()), "milestones"),
                        (task("D1", milestones=(("2027-01-10", "跨年"),)), "milestones"),
                        (task("NOPE"), "lead_unit"), (task("D1", co=["D1"]), "co_units"),
                        (task("D1", co=["D2", "D2"]), "co_units"), ({**task("D1"), "year": "2026"}, "year"),
                        ({**task("D1"), "year": 1999}, "year"), ({**task("D1"), "steps": []}, "steps"),
                        ({**task("D1"), "weight": -1}, "weight"), ({**task("D1"), "title": ""}, "title"),
                        (task("D1", milestones=(("2026-02-30", "无此日"),)), "milestones"),
                        ({k: v for k, v in task("D1").items() if k != "standard"}, "standard"),
                        ({**task("D1"), "plan_due": "2030-01-01"}, "plan_due"),
                        (task("D1", milestones=(("2026-01-05", "已过"),)), "milestones")):
        r = scoring.call("POST", "/api/v1/targets", body=body)
        assert r.status_code == 400 and field in r.json()["errors"], (field, r.text)
    for path_, body, field in ((f"{path}/plan", {**PLAN, "attachments": ["javascript:alert(1)"]}, "attachments"),
                               (f"{path}/plan", {"plan": "x"}, "assessment_rules"),
                               (f"{path}/progress", {"milestone_id": 0, "done": True, "note": "好的"}, "milestone_id"),
                               (f"{path}/progress", {"milestone_id": only_d1["milestones"][0]["id"], "done": True,
                                                     "note": "好的"}, "milestone_id"),
                               (f"{path}/progress", {"milestone_id": 1, "done": "maybe", "note": "好的"}, "done")):
        r = scoring.call("POST", path_, "handler_d1", body)
        assert r.status_code == 400 and field in r.json()["errors"], (path_, r.text)
    assert scoring.call("PATCH", path, body={"title": "无理由"}).status_code == 400  # the reason is required
    r = scoring.call("PATCH", path, body={"milestones": [{"id": 999999, "due_on": "2026-05-01", "what": "x"}],
                                          "reason": "调整"})
    assert r.status_code == 400 and "milestones" in r.json()["errors"]
    r = scoring.call("PATCH", path, body={"milestones": [{"due_on": "2026-01-02", "what": "补一个已过的节点"}],
                                          "reason": "调整"})
    assert r.status_code == 400 and "milestones" in r.json()["errors"]
    for params in ({}, {"year": "x"}):
        assert scoring.call("GET", "/api/v1/targets/board", **params).status_code == 400
    assert scoring.call("GET", "/api/v1/targets", state="nope").status_code == 400

    # roles: the assessment office writes; monitors read; the lead unit's handler submits and reports
    for who in ("handler_d1", "monitor", "operator"):
        assert scoring.call("POST", "/api/v1/targets", who, task("D1")).status_code == 403
        assert scoring.call("PATCH", path, who, {"title": "改", "reason": "改名"}).status_code == 403
    for who in ("assessor", "monitor"):
        assert scoring.call("POST", f"{path}/plan", who, PLAN).status_code == 403
    assert scoring.call("GET", "/api/v1/targets/board", "handler_d1", year=2026).status_code == 403
    assert scoring.call("GET", path, "operator").status_code == 403

    # a unit reads the tasks it leads or co-leads; another's is answered as a missing one
    assert scoring.ok("GET", path, "handler_d2")["id"] == t["id"]
    assert [x["id"] for x in scoring.ok("GET", "/api/v1/targets", "handler_d2")["items"]] == [t["id"]]
    assert scoring.ok("GET", "/api/v1/targets", "handler_d2", department="D1")["total"] == 0
    assert scoring.ok("GET", "/api/v1/targets", "monitor", department="D2")["total"] == 1
    assert scoring.ok("GET", "/api/v1/targets", "monitor", year=2026, per_page=1)["total"] == 2
    hidden = f"/api/v1/targets/{only_d1['id']}"
    for method, suffix, body in (("GET", "", None), ("POST", "/plan", PLAN),
                                 ("POST", "/progress", {"milestone_id": 1, "done": True, "note": "好的"})):
        other = scoring.call(method, hidden + suffix, "handler_d2", body)
        missing = scoring.call(method, f"/api/v1/targets/99999999{suffix}", "handler_d2", body)
        assert other.status_code == missing.status_code == 404
        assert other.json()["error"]["message_zh"] == missing.json()["error"]["message_zh"]
    assert scoring.call("GET", "/api/v1/targets/99999999").status_code == 404
    r = scoring.call("PATCH", "/api/v1/targets/99999999", body={"title": "改名了", "reason": "改名"})
    assert r.status_code == 404
    r = scoring.call("POST", f"{path}/plan", "handler_d2", PLAN)  # a co-unit reads, does not submit
    assert r.status_code == 409 and r.json()["error"]["message_zh"] == "仅牵头单位可报送实施方案，配合单位只能查看"
