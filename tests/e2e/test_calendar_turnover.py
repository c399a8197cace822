"""The calendar year turns over without a restart (issue 13). On the real broker with the clock frozen in mid-December
2026 and an override file without 2027: a complaint and an application get no due time, `/health` of each service
says one waits and the monitors' console says how many; then the State Council's notice is imported into that
file with `xiaoneng calendar import`, and within CALENDAR_CHECK_SECONDS, without a restart, both get their due
times and alarms, `/health` says none waits and the console's notice clears."""

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from services.appeals.service import AppealsService
from services.approvals.service import ApprovalsService
from services.kernel import clock
from services.notify.service import NotifyService
from tests.conftest import ROOT, wait_for
from tests.e2e.approvals_client import ApprovalsApi
from tests.e2e.test_appeal_lifecycle import Api

TZ = clock.TZ
END_OF_DAY = "T23:59:59.999999+08:00"
NOTICE = Path(ROOT) / "tests" / "unit" / "data" / "notice_2027_synthetic.txt"
ITEM = {"code": "GTJ-001", "name": "建设用地规划许可", "department": "GTJ", "statutory_limit": 20,
        "materials": [{"code": "M1", "name": "申请表"}]}
CHECK_SECONDS = 0.3


def at(*parts):
    return datetime(*parts, tzinfo=TZ)


@pytest.fixture
def deployment(service_config, start_service, api_keys, fresh_amqp_uri, tmp_path):
    """notify (the console), appeals and approvals on a vhost of their own, with one override file that has no
    2027 yet (a placeholder, as a deployment ships it)."""
    calendar_file = tmp_path / "calendar.yaml"
    calendar_file.write_text("# next year's schedule: xiaoneng calendar import NOTICE.txt\n", encoding="utf-8")
    common = {"AMQP_URI": fresh_amqp_uri, "CALENDAR_FILE": str(calendar_file), "CALENDAR_CHECK_SECONDS": CHECK_SECONDS}
    configs = {name: service_config(name, **common) for name in ("notify", "appeals", "approvals")}
    start_service(NotifyService, configs["notify"])  # first: its console queues are bound before anything is said
    for name, cls in (("appeals", AppealsService), ("approvals", ApprovalsService)):
        start_service(cls, configs[name])
    return configs, calendar_file


def health(cfg):
    r = requests.get(f"{cfg['base_url']}/health", timeout=10)
    assert r.status_code == 200, r.text  # waiting cases are no outage
    return r.json()


def console_calendar(cfg, keys):
    r = requests.get(f"{cfg['base_url']}/api/v1/console/calendar", timeout=10,
                     headers={"Authorization": f"Bearer {keys['monitor']}"})
    assert r.status_code == 200, r.text
    return r.json()


def alarms(cfg, owner_key, owner_id):
    engine = sa.create_engine(cfg["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT kind FROM alarms WHERE {owner_key} = :id AND cancelled = 0 "
                                        "ORDER BY fire_at"), {"id": owner_id}).scalars().all()
    finally:
        engine.dispose()
    return rows


def test_next_years_calendar_is_picked_up_without_a_restart(deployment, api_keys, frozen):
    configs, calendar_file = deployment
    appeals = Api(configs["appeals"]["base_url"], api_keys)
    approvals = ApprovalsApi(configs["approvals"]["base_url"], api_keys)
    requests.post(f"{configs['notify']['base_url']}/api/v1/console/stream-tokens", timeout=10,
                  headers={"Authorization": f"Bearer {api_keys['monitor']}"}).raise_for_status()
    # nothing waits yet: each service said so at start
    for name in ("appeals", "approvals"):
        assert health(configs[name])["calendar"] == {"years": list(range(2004, 2027)), "source": str(calendar_file),
                                                     "problem": None, "waiting": 0, "missing_years": []}
    assert "calendar" not in health(configs["notify"])
    assert console_calendar(configs["notify"], api_keys) == []

    # Wednesday 16 December 2026: 11 working days left in the year, a complaint has 13 and an approval 20
    frozen(at(2026, 12, 16, 10, 0))
    case = appeals.intake(category="road", type="complaint")
    assert case["clock"]["due_at"] is None and "2027" in case["clock"]["error"]
    approvals.ok("PUT", "/api/v1/items", "operator", ITEM)
    application = approvals.submit(item_code="GTJ-001", materials=["M1"])
    assert approvals.act(application["id"], "accept")["clock"]["due_at"] is None

    for name in ("appeals", "approvals"):
        status = wait_for(lambda n=name: (c := health(configs[n])["calendar"])["waiting"] == 1 and c,
                          message=f"{name}'s /health counting the record that waits")
        assert status["missing_years"] == [2027] and status["years"][-1] == 2026
    shown = wait_for(lambda: (w := console_calendar(configs["notify"], api_keys)) and w[0]["waiting"] == 2 and w,
                     message="the console's notice of both")
    assert [(w["department"], w["counts"], w["missing_years"], w["text_zh"]) for w in shown] == [
        (None, {"appeals": 1, "approvals": 1}, [2027], "1 件诉求、1 件审批等待 2027 年工作日历，请导入国务院放假通知")]
    assert "13812345678" not in str(shown) and "张三" not in str(shown)

    # the notice is published and imported into the file the services use; nobody restarts anything
    frozen(at(2026, 12, 16, 10, 5))
    cli = Path(sys.executable).with_name("xiaoneng")
    done = subprocess.run([str(cli), "calendar", "import", str(NOTICE), "--calendar-file", str(calendar_file),
                           "--yes"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CALENDAR_FILE": ""}, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr

    # Dec 17–31 are 11 working days, Jan 1–3 are off: the complaint is due Jan 5, the approval Jan 14
    view = wait_for(lambda: (v := appeals.ok("GET", f"/api/v1/appeals/{case['id']}", "operator"))["clock"]["due_at"]
                    and v, timeout=10, message="the complaint's due time from the imported 2027")
    assert view["clock"]["due_at"] == "2027-01-05" + END_OF_DAY and view["clock"]["error"] is None
    assert [(h["action"], h["actor"]) for h in view["history"]][-1] == ("recalculate", "system")
    app_clock = wait_for(lambda: (c := approvals.get(application["id"])["clock"])["due_at"] and c,
                         message="the application's due time from the imported 2027")
    assert app_clock["due_at"] == "2027-01-14" + END_OF_DAY and app_clock["error"] is None
    assert "overdue" in alarms(configs["appeals"], "appeal_id", case["id"])
    assert alarms(configs["approvals"], "application_id", application["id"])
    resolved = wait_for(lambda: [a for a in approvals.alerts(application_id=application["id"])
                                 if a["rule"] == "calendar_unavailable" and a["state"] == "resolved"],
                        message="the calendar alert resolved by the system")
    assert resolved[0]["resolved_by"] == "system"

    for name in ("appeals", "approvals"):
        status = wait_for(lambda n=name: (c := health(configs[n])["calendar"])["waiting"] == 0 and c,
                          message=f"{name}'s /health at 0")
        assert status["years"][-1] == 2027 and status["missing_years"] == [] and status["problem"] is None
    wait_for(lambda: console_calendar(configs["notify"], api_keys) == [], message="the console's notice cleared")


def test_the_console_keeps_the_newest_count_of_each_service_node(service_config, start_service, api_keys,
                                                                 fresh_amqp_uri):
    from services.kernel.contracts import make_event
    from tests.support import publish_raw

    cfg = service_config("notify", AMQP_URI=fresh_amqp_uri)
    start_service(NotifyService, cfg)

    def say(service, waiting, moment, department=None, years=(2027,)):
        event = make_event("calendar.waiting", {"service": service, "department": department, "waiting": waiting,
                                                "missing_years": list(years), "at": moment},
                           service=service, department=department)
        publish_raw(fresh_amqp_uri, f"{service}.events", "calendar.waiting", event)
        return event

    def shown():
        return {(w["department"], tuple(sorted(w["counts"].items())), w["text_zh"])
                for w in console_calendar(cfg, api_keys)}

    newest = say("appeals", 3, at(2026, 12, 16, 10, 0))
    say("approvals", 2, at(2026, 12, 16, 10, 0), department="ZJJ", years=(2027, 2028))
    expected = {(None, (("appeals", 3),), "3 件诉求等待 2027 年工作日历，请导入国务院放假通知"),
                ("ZJJ", (("approvals", 2),), "2 件审批等待 2027、2028 年工作日历，请导入国务院放假通知")}
    wait_for(lambda: shown() == expected, message="both nodes' counts")
    # a late count (an earlier `at`, delivered after) never goes back; the same event delivered again changes
    # nothing; a marker event behind them on the same queue shows they were taken
    say("appeals", 1, at(2026, 12, 16, 9, 0))
    publish_raw(fresh_amqp_uri, "appeals.events", "calendar.waiting", newest)
    say("appeals", 4, at(2026, 12, 16, 10, 1), department="SWJ")
    wait_for(lambda: len(shown()) == 3, message="the marker")
    assert expected < shown()
    say("appeals", 0, at(2026, 12, 16, 10, 5), years=())
    wait_for(lambda: {d for d, _, _ in shown()} == {"ZJJ", "SWJ"}, message="appeals' count cleared")
    assert expected - shown() == {(None, (("appeals", 3),), "3 件诉求等待 2027 年工作日历，请导入国务院放假通知")}


# The page in Debian's headless Chromium (as test_console_browser.py, in a process of its own): the notice shows
# while records wait and is gone once none does.
PAGE_DRIVER = r'''
import json, sys
from playwright.sync_api import sync_playwright
cfg = json.loads(sys.argv[1])
out = {}
with sync_playwright() as p:
    try:
        browser = p.chromium.launch(executable_path=cfg["chromium"], args=["--headless", "--no-sandbox",
                                    "--disable-gpu", "--no-first-run", "--disable-background-networking"])
    except Exception as exc:
        print(json.dumps({"launched": False, "error": str(exc)[:2000]}), flush=True)
        sys.exit(3)
    try:
        page = browser.new_page(locale="zh-CN")
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(cfg["console"] + "/console")
        page.fill("#key", cfg["monitor_key"])
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#calendar-waiting p", state="visible", timeout=10_000)
        out["notice"] = page.inner_text("#calendar-waiting")
        print(json.dumps({"step": "shown"}), flush=True)
        sys.stdin.readline()  # the test clears the counts meanwhile
        page.reload()
        page.wait_for_selector("#calendar-waiting", state="attached", timeout=10_000)
        page.wait_for_selector("#calendar-waiting", state="hidden", timeout=10_000)
        out["hidden_after"] = True
        out["page_errors"] = errors
    except Exception as exc:
        out["error"] = str(exc)[:2000]
    finally:
        browser.close()
print(json.dumps(out), flush=True)
'''


def test_the_console_page_shows_the_notice_while_records_wait(service_config, start_service, api_keys,
                                                              fresh_amqp_uri, tmp_path):
    import json

    import eventlet

    from services.kernel.contracts import make_event
    from tests.e2e.test_console_browser import CHROMIUM, no_browser
    from tests.support import publish_raw

    if not os.access(CHROMIUM, os.X_OK):
        no_browser(f"{CHROMIUM} is not installed")
    cfg = service_config("notify", AMQP_URI=fresh_amqp_uri)
    start_service(NotifyService, cfg)

    def say(service, waiting, moment):
        publish_raw(fresh_amqp_uri, f"{service}.events", "calendar.waiting", make_event(
            "calendar.waiting", {"service": service, "waiting": waiting, "missing_years": [2027] if waiting else [],
                                 "at": moment}, service=service))

    say("appeals", 2, at(2026, 12, 16, 10, 0))
    say("approvals", 1, at(2026, 12, 16, 10, 0))
    wait_for(lambda: console_calendar(cfg, api_keys), message="the counts taken in")
    script = tmp_path / "page_driver.py"
    script.write_text(PAGE_DRIVER, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), json.dumps({
        "console": cfg["base_url"], "chromium": CHROMIUM, "monitor_key": api_keys["monitor"]})],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the services run in this process's green threads: read the driver without blocking them
        lines = []

        def read_lines():
            for line in proc.stdout:
                lines.append(json.loads(line))

        reader = eventlet.spawn(read_lines)
        first = wait_for(lambda: lines, timeout=60, message="the browser to show the page")[0]
        if first.get("launched") is False:
            no_browser(first.get("error", "launch failed"))
        assert first == {"step": "shown"}, first
        say("appeals", 0, at(2026, 12, 16, 10, 5))
        say("approvals", 0, at(2026, 12, 16, 10, 5))
        wait_for(lambda: console_calendar(cfg, api_keys) == [], message="the counts cleared")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        seen = wait_for(lambda: len(lines) > 1 and lines[-1], timeout=60, message="the browser's last look")
        reader.kill()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "error" not in seen, seen
    assert seen["notice"].strip() == "2 件诉求、1 件审批等待 2027 年工作日历，请导入国务院放假通知", seen
    assert seen["hidden_after"] is True and seen["page_errors"] == [], seen
