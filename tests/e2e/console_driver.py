"""Drives the monitor console in Debian's headless Chromium (Playwright) for test_console_browser.py.

Run in a process of its own: Playwright's synchronous API and the eventlet-patched test process (where the
services run) do not mix. Input: one JSON argument (URLs and keys); output: one JSON line with what it saw.
Exit status 3: the browser could not be launched."""

import json
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-proxy-server",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an http_proxy


def http(method, url, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with _http.open(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def raise_irregularity(cfg):
    """Decide an application before accepting it: approvals refuses (409) and raises an irregularity."""
    status, app = http("POST", f"{cfg['approvals']}/api/v1/applications", cfg["window_key"], {
        "external_ref": f"BROWSER-{time.time_ns()}", "item_code": "SCJ-001", "materials": ["M1", "M2", "M3"],
        "applicant": {"name": "杭州某餐饮有限公司", "kind": "enterprise", "id_number": "330102199001011234"},
        "service_point": "city_center"})
    assert status == 201, (status, app)
    status, body = http("POST", f"{cfg['approvals']}/api/v1/applications/{app['id']}/decide", cfg["window_key"],
                        {"approved": True})
    assert status == 409, (status, body)
    return app


DESKTOP = {"viewport": {"width": 1400, "height": 900}, "locale": "zh-CN"}


def drive(steps, *, start=lambda cfg: f"{cfg['console']}/console", page_options=None):
    """Launch Chromium as the JSON argument says (exit status 3 when it cannot be), open the page `start(cfg)`
    (the console; None: the steps open their own) with `page_options` (a desktop screen by default) and run
    `steps(page, cfg, out)`; print `out` — what the steps saw, the page's script errors and console errors, or the
    step that failed — as one JSON line."""
    cfg = json.loads(sys.argv[1])
    out = {}
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=cfg["chromium"], args=ARGS, timeout=30_000)
        except Exception as exc:
            print(json.dumps({"launched": False, "error": str(exc)[:2000]}), flush=True)
            sys.exit(3)
        out["launched"] = True
        try:
            page = browser.new_page(**(page_options or DESKTOP))
            errors, console = [], []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
            if start is not None:
                page.goto(start(cfg))
            steps(page, cfg, out)
            out["page_errors"] = errors
            out["console_errors"] = console
        except Exception as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"[:3000]
        finally:
            browser.close()
    print(json.dumps(out, ensure_ascii=False), flush=True)


def steps(page, cfg, out):
    out["title"] = page.title()
    # a wrong key is refused on the page
    page.fill("#key", "xn_00000000_" + "a" * 40)
    page.click("#login-form button[type=submit]")
    # (selectors only: the page's Content-Security-Policy forbids the eval a wait_for_function needs)
    page.wait_for_selector("#login-error:not(:empty)", timeout=5000)
    out["bad_key_message"] = page.inner_text("#login-error")
    page.fill("#key", cfg["monitor_key"])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#status.online", timeout=10_000)
    out["status"] = page.inner_text("#status")

    app = raise_irregularity(cfg)
    raised = time.monotonic()
    row = f'#alerts tr[data-ref-no="{app["application_no"]}"]'
    page.wait_for_selector(row, timeout=2000)
    out["seconds_to_show"] = round(time.monotonic() - raised, 3)
    out["row_text"] = page.inner_text(row)
    out["application_id"] = app["id"]
    out["department"] = app["department"]
    page.wait_for_selector(f'.dept[data-department="{app["department"]}"]', timeout=2000)
    out["light"] = page.get_attribute(f'.dept[data-department="{app["department"]}"]', "data-light")
    out["feed_text"] = page.inner_text("#feed")

    page.click(f"{row} button.ack")
    page.wait_for_selector(f'{row}[data-state="acknowledged"]', timeout=10_000)
    out["row_after_ack"] = page.inner_text(row)
    # and in approvals itself
    status, alerts = http("GET", f"{cfg['approvals']}/api/v1/alerts?application_id={app['id']}",
                          cfg["monitor_key"])
    out["approvals_after_ack"] = alerts["items"] if status == 200 else (status, alerts)

    if cfg.get("screenshot"):
        page.wait_for_timeout(2500)  # let the fresh-row highlight fade before the picture
        page.screenshot(path=cfg["screenshot"], full_page=True)

    # the level filter: only irregularities are left, ours among them
    page.select_option("#filter-level", "irregularity")
    page.wait_for_selector("#alerts tr:not(:has(.level.irregularity))", state="detached", timeout=5000)
    out["rows_irregularity_filter"] = page.locator("#alerts tr").count()
    # resolve through the dialog: a note is required, then the row leaves the 未办结 list
    page.click(f"{row} button.resolve")
    page.fill("#resolve-note", "已责令窗口补正受理程序")
    page.click("#resolve-submit")
    page.wait_for_selector(row, state="detached", timeout=10_000)
    page.select_option("#filter-state", "resolved")
    page.wait_for_selector(f'{row}[data-state="resolved"]', timeout=5000)
    out["row_after_resolve"] = page.inner_text(row)


def main():
    drive(steps)

if __name__ == "__main__":
    main()
