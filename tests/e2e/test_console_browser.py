"""The monitor console in a real headless Chromium (Debian's, driven by Playwright in a process of its own, see
console_driver.py), against the real approvals and notify services: the page loads, a wrong key is refused, an
irregularity raised by approvals appears within 2 s, pressing 确认 acknowledges the alert in approvals, the level
filter keeps only its level, and 办结 with a note resolves it in approvals.

The review queue of rectification reports (待审核整改报告 N): a department's report appears, 退回 with a reason
and then 采纳 are carried out by approvals.

Without a browser the test is skipped on a workstation, and fails when CI=true."""

import json
import os
import subprocess
import sys
import time

import eventlet
import pytest

from services.kernel import clock
from services.kernel.contracts import make_event
from services.notify.service import NotifyService
from tests.conftest import ROOT
from tests.e2e.approvals_client import start_approvals
from tests.support import publish_raw

CHROMIUM = os.environ.get("XIAONENG_CHROMIUM", "/usr/bin/chromium")  # Debian's; never a downloaded browser
DRIVER = os.path.join(ROOT, "tests", "e2e", "console_driver.py")
RECTIFICATION_DRIVER = os.path.join(ROOT, "tests", "e2e", "console_rectification_driver.py")
# XIAONENG_CONSOLE_SCREENSHOT=docs/console.png: also write the picture the README shows
SCREENSHOT = os.environ.get("XIAONENG_CONSOLE_SCREENSHOT")


def no_browser(reason: str, what: str = "the console's"):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} browser test needs Chromium (scripts/ensure-chromium.sh): {reason}")
    pytest.skip(f"no usable Chromium: {reason}")


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    approvals, _ = start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)
    names = os.path.join(ROOT, "services", "scoring", "departments.demo.yaml")  # the department names shown
    cfg = service_config("notify", AMQP_URI=fresh_amqp_uri, NOTIFY={"DEPARTMENTS_FILE": names})
    start_service(NotifyService, cfg)
    return approvals, cfg["base_url"], fresh_amqp_uri


def populate(approvals, amqp_uri):
    """A few more alerts, so that the board and the feed are not empty around the one the browser waits for."""
    cards = [("monitor.yellow_card", "yellow", "SCJGJ", "SP202611020001"), ("monitor.red_card", "red", "ZJJ",
             "SP202610150007"), ("monitor.warning", "warning", "GTJ", "SP202611050003")]
    for n, (event_type, level, dept, no) in enumerate(cards, start=1):
        payload = {"application_id": str(900 + n), "application_no": no, "item_code": "SCJ-001", "department": dept,
                   "alert_id": str(9000 + n), "level": level, "rule": "overdue" if level != "warning" else
                   "warning_days_left", "raised_at": clock.now(), "remaining_days": 2.0}
        publish_raw(amqp_uri, "approvals.events", event_type, make_event(event_type, payload, service="approvals"))
    emergency = make_event("appeal.emergency", {"appeal_id": "31", "case_no": "RX20261126031", "department": "RQB",
                                                "summary": "小区燃气泄漏"}, service="appeals")
    publish_raw(amqp_uri, "appeals.events", "appeal.emergency", emergency)


def run_driver(cfg: dict, timeout: float = 90.0, driver: str = DRIVER) -> tuple[int, dict]:
    proc = subprocess.Popen([sys.executable, driver, json.dumps(cfg)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": ROOT})
    deadline = time.monotonic() + timeout
    # the services run in this process's green threads: wait without blocking them
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the browser driver did not finish within {timeout} s")
        eventlet.sleep(0.1)
    stdout, stderr = proc.communicate()
    lines = stdout.decode().strip().splitlines()
    try:
        return proc.returncode, json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise AssertionError(f"driver exited {proc.returncode} without a result: {stderr.decode()[-3000:]}") from None


def test_the_console_in_a_real_browser(env, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        no_browser(f"{CHROMIUM} is not installed")
    approvals, console_url, amqp_uri = env
    populate(approvals, amqp_uri)
    screenshot = os.path.abspath(SCREENSHOT) if SCREENSHOT else str(tmp_path / "console.png")
    code, seen = run_driver({"console": console_url, "approvals": approvals.base, "screenshot": screenshot,
                             "chromium": CHROMIUM,
                             "monitor_key": approvals.keys["monitor"], "window_key": approvals.keys["window_system"]})
    if code == 3:
        no_browser(seen.get("error", "launch failed"))
    assert "error" not in seen, seen
    assert seen["title"].startswith("电子监察室") and seen["status"].startswith("已连接")
    assert seen["bad_key_message"] == "API 密钥无效或已吊销"
    assert seen["seconds_to_show"] < 2.0, seen
    assert "纠错" in seen["row_text"] and seen["light"] in ("yellow", "red")
    assert "市市场监督管理局" in seen["row_text"]  # the department by its name (NOTIFY.DEPARTMENTS_FILE)
    assert seen["page_errors"] == [], seen["page_errors"]

    print(f"console: the irregularity was on the page {seen['seconds_to_show']} s after approvals raised it")
    assert "已确认" in seen["row_after_ack"] and "test-monitor" in seen["row_after_ack"]
    [acked] = seen["approvals_after_ack"]
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "test-monitor"
    assert seen["rows_irregularity_filter"] == 1
    assert "已办结" in seen["row_after_resolve"] and "已责令窗口补正受理程序" in seen["row_after_resolve"]
    [alert] = approvals.alerts(application_id=seen["application_id"])
    assert alert["state"] == "resolved" and alert["acknowledged_by"] == "test-monitor"
    assert alert["resolved_by"] == "test-monitor" and alert["note"] == "已责令窗口补正受理程序"
    assert os.path.getsize(screenshot) > 10_000


def test_the_rectification_review_queue_in_a_real_browser(env):
    if not os.access(CHROMIUM, os.X_OK):
        no_browser(f"{CHROMIUM} is not installed")
    approvals, console_url, amqp_uri = env
    code, seen = run_driver({"console": console_url, "approvals": approvals.base, "chromium": CHROMIUM,
                             "monitor_key": approvals.keys["monitor"], "window_key": approvals.keys["window_system"],
                             "handler_key": approvals.keys["SCJGJ"]}, driver=RECTIFICATION_DRIVER)
    if code == 3:
        no_browser(seen.get("error", "launch failed"))
    assert "error" not in seen, seen
    assert seen["empty_title"] == "待审核整改报告 0"
    assert seen["title"] == "待审核整改报告 1"
    assert "纠错" in seen["row_text"] and "市市场监督管理局" in seen["row_text"] and "第 1 次" in seen["row_text"]
    assert seen["after_return"] == {"state": "returned", "review_note": "缺少整改前后对比照片",
                                    "reviewed_by": "test-monitor"}
    assert "第 2 次" in seen["row_round_2"]
    assert seen["after_accept"] == {"state": "accepted", "alert_state": "resolved"}
    assert seen["final_title"] == "待审核整改报告 0"
    assert seen["page_errors"] == [], seen["page_errors"]
