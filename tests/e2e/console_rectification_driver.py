"""Drives the console's review queue of rectification reports (待审核整改报告) in Debian's headless Chromium for
test_console_browser.py, in a process of its own like console_driver.py: a department's report appears in the
section, 退回 with a reason and 采纳 are carried out by approvals. Input: one JSON argument (URLs and keys);
output: one JSON line with what it saw. Exit status 3: the browser could not be launched."""

from tests.e2e.console_driver import drive, http, raise_irregularity

REPORT = {"corrected": "已补办受理手续", "corrected_by": "王科长", "attachments": ["https://files.example.gov.cn/1.pdf"]}


def steps(page, cfg, out):
    page.fill("#key", cfg["monitor_key"])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#status.online", timeout=10_000)
    out["empty_title"] = page.inner_text("#rectifications h2")

    app = raise_irregularity(cfg)
    # the alert on the page first: its feed lines then wake the review queue
    page.wait_for_selector(f'#alerts tr[data-ref-no="{app["application_no"]}"]', timeout=5000)
    status, alerts = http("GET", f"{cfg['approvals']}/api/v1/alerts?application_id={app['id']}",
                          cfg["monitor_key"])
    alert_id = alerts["items"][0]["id"]
    rect = f"{cfg['approvals']}/api/v1/alerts/{alert_id}/rectification"
    status, body = http("POST", rect, cfg["handler_key"], REPORT)
    assert status == 201, (status, body)
    one = f"{cfg['approvals']}/api/v1/rectifications/{body['id']}"
    row = f'#rectification-rows tr[data-alert-id="{alert_id}"]'
    page.wait_for_selector(row, timeout=5000)
    out["title"] = page.inner_text("#rectifications h2")
    out["row_text"] = page.inner_text(row)

    page.click(f"{row} button.send-back")
    page.fill("#return-reason", "缺少整改前后对比照片")
    page.click("#return-submit")
    page.wait_for_selector(row, state="detached", timeout=10_000)
    status, body = http("GET", one, cfg["monitor_key"])
    out["after_return"] = {"state": body["state"], "review_note": body["review_note"],
                           "reviewed_by": body["reviewed_by"]}

    status, body = http("POST", rect, cfg["handler_key"], {**REPORT, "corrected": "已补办并拍照留存"})
    assert status == 201, (status, body)
    page.wait_for_selector(row, timeout=5000)
    out["row_round_2"] = page.inner_text(row)
    page.click(f"{row} button.accept")
    page.wait_for_selector(row, state="detached", timeout=10_000)
    status, body = http("GET", one, cfg["monitor_key"])
    out["after_accept"] = {"state": body["state"], "alert_state": body["alert_state"]}
    out["final_title"] = page.inner_text("#rectifications h2")


def main():
    drive(steps)

if __name__ == "__main__":
    main()
