"""A key project's accountability alert on the monitor console in a real headless Chromium (Debian's, driven by
Playwright in a process of its own: this file run as a script, with console_driver.drive), against the real
approvals and notify services: the board card of the responsible unit counts it (重点项目 1), the subject filter
keeps only projects' alerts, and 办结 with a note resolves it in approvals and takes it off the board.

Without a browser the test is skipped on a workstation, and fails when CI=true."""

import os
import sys

CHROMIUM = os.environ.get("XIAONENG_CHROMIUM", "/usr/bin/chromium")  # Debian's; never a downloaded browser
NOTE = "已约谈住建局并限期完成施工许可"


def test_a_project_alert_in_a_real_browser(service_config, start_service, api_keys, keys_file, fresh_amqp_uri,
                                            frozen):
    from tests.e2e.test_console_browser import no_browser, run_driver
    from tests.e2e.test_console_projects import raise_project_and_joint_alerts, start

    if not os.access(CHROMIUM, os.X_OK):
        no_browser(f"{CHROMIUM} is not installed")
    api = start(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)
    raise_project_and_joint_alerts(api, frozen)
    [milestone] = [a for a in api.console_alerts(subject="project") if a["kind"] == "project.milestone_missed"]
    code, seen = run_driver({"console": api.console, "approvals": api.base, "chromium": CHROMIUM,
                             "monitor_key": api.keys["monitor"], "item": milestone["id"],
                             "alert_id": milestone["alert_id"]}, driver=__file__)
    if code == 3:
        no_browser(seen.get("error", "launch failed"))
    assert "error" not in seen, seen
    assert "问责" in seen["row_text"] and "重点项目" in seen["row_text"] and "市住房和城乡建设局" in seen["row_text"]
    assert "完成施工许可" in seen["row_text"]
    assert seen["light"] == "red" and "重点项目 1" in seen["card_subjects"]
    assert seen["rows_project_filter"] >= 3 and seen["subjects_shown"] == ["project"]
    assert seen["approvals_after_resolve"] == {"state": "resolved", "resolved_by": "test-monitor", "note": NOTE}
    assert seen["card_subjects_after"] == "", seen
    assert seen["page_errors"] == [], seen["page_errors"]


# -- the driver (run as a script by the test above, in a process of its own) --------------------------------------


def steps(page, cfg, out):
    from tests.e2e.console_driver import http

    page.fill("#key", cfg["monitor_key"])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#status.online", timeout=10_000)
    row = f'#alerts tr[data-id="{cfg["item"]}"]'
    page.wait_for_selector(row, timeout=5000)
    out["row_text"] = page.inner_text(row)
    card = '.dept[data-department="ZJJ"]'
    page.wait_for_selector(f"{card} .subjects", timeout=5000)
    out["light"] = page.get_attribute(card, "data-light")
    out["card_subjects"] = page.inner_text(f"{card} .subjects")

    # the subject filter (类别): only the project's alerts are left
    page.select_option("#filter-subject", "project")
    page.wait_for_selector('#alerts tr:not([data-subject="project"])', state="detached", timeout=5000)
    out["rows_project_filter"] = page.locator("#alerts tr").count()
    out["subjects_shown"] = sorted({page.get_attribute(f"#alerts tr >> nth={i}", "data-subject")
                                    for i in range(out["rows_project_filter"])})

    # 办结 with a note: approvals resolves it, its answer takes the row off the 未办结 list and the card's count
    page.click(f"{row} button.resolve")
    page.fill("#resolve-note", NOTE)
    page.click("#resolve-submit")
    page.wait_for_selector(row, state="detached", timeout=10_000)
    status, body = http("GET", f"{cfg['approvals']}/api/v1/project-alerts", cfg["monitor_key"])
    [alert] = [a for a in body["items"] if str(a["id"]) == cfg["alert_id"]]
    out["approvals_after_resolve"] = {k: alert.get(k) for k in ("state", "resolved_by", "note")}
    page.wait_for_selector(f"{card} .subjects", state="detached", timeout=5000)
    out["card_subjects_after"] = ""


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from tests.e2e.console_driver import drive

    drive(steps)
