"""The public page of approvals (#15) in a real headless Chromium (Debian's, driven by Playwright in a process of
its own: this file run as a script is the driver) on a phone-sized screen, against the real approvals service: the
service guide lists the items, a search finds 食品经营许可 and its detail shows the materials; the progress query with
a wrong code says so, with the right one shows the state and the steps; the results list a disclosed decision; the
page fits the phone's width and runs without script errors under its Content-Security-Policy.

Without a browser the test is skipped on a workstation, and fails when CI=true."""

import json
import os
import re

CHROMIUM = os.environ.get("XIAONENG_CHROMIUM", "/usr/bin/chromium")  # Debian's; never a downloaded browser
PHONE = {"width": 390, "height": 844}
COMPANY = "杭州西湖明月餐饮有限公司"


# -- the driver (a process of its own: Playwright's synchronous API and eventlet do not mix) -------------------


def steps(page, cfg, out):
    base = cfg["base"]
    page.goto(f"{base}/public/")
    out["title"] = page.title()
    # the guide is the landing tab (selectors only: the page's CSP forbids the eval a wait_for_function needs)
    page.wait_for_selector("#guide-list li", timeout=10_000)
    out["guide_count"] = page.locator("#guide-list li").count()
    out["guide_count_text"] = page.inner_text("#guide-count")
    page.fill("#guide-q", "食品")
    page.click("#guide-form button[type=submit]")
    page.wait_for_selector('#guide-count:has-text("共 1 个事项")', timeout=5000)
    out["search_codes"] = [li.get_attribute("data-code") for li in page.locator("#guide-list li").all()]
    page.click('#guide-list li[data-code="SCJ-001"]')
    page.wait_for_selector("#guide-detail:not([hidden])", timeout=5000)
    out["detail_name"] = page.inner_text("#detail-name")
    out["detail_facts"] = page.inner_text("#detail-facts")
    out["detail_materials"] = page.inner_text("#detail-materials")
    out["scroll_width"] = page.evaluate("document.documentElement.scrollWidth")
    out["list_hidden_on_detail"] = page.locator("#guide-list").is_hidden()

    page.click('#tabs a[data-tab="progress"]')
    page.wait_for_selector("#progress-form:visible", timeout=5000)
    page.fill("#application-no", cfg["application_no"])
    page.fill("#query-code", cfg["wrong_code"])
    page.click("#progress-form button[type=submit]")
    page.wait_for_selector("#progress-error:not(:empty)", timeout=5000)
    out["wrong_code_message"] = page.inner_text("#progress-error")
    out["wrong_code_result_hidden"] = page.locator("#progress-result").is_hidden()
    page.fill("#query-code", cfg["query_code"].lower())  # as a citizen may type it
    page.click("#progress-form button[type=submit]")
    page.wait_for_selector("#progress-result:not([hidden])", timeout=5000)
    out["progress_error_after"] = page.inner_text("#progress-error")
    out["progress_state"] = page.inner_text("#progress-state")
    out["progress_item"] = page.inner_text("#progress-item")
    out["progress_facts"] = page.inner_text("#progress-facts")
    out["progress_steps"] = [s.inner_text() for s in page.locator("#progress-steps .step").all()]
    out["progress_step_times"] = [t.inner_text() for t in page.locator("#progress-steps time").all()]
    out["review_hidden_while_open"] = page.locator("#review").is_hidden()
    if cfg.get("screenshot"):
        page.screenshot(path=cfg["screenshot"], full_page=True)

    # a decided application can be reviewed (好差评) right there, with the same number and code
    page.fill("#application-no", cfg["decided_no"])
    page.fill("#query-code", cfg["decided_code"])
    page.click("#progress-form button[type=submit]")
    page.wait_for_selector("#review:not([hidden])", timeout=5000)
    out["decided_state"] = page.inner_text("#progress-state")
    out["aspects_hidden_before"] = page.locator("#review-aspects").is_hidden()
    page.check('#review-form input[name=level][value="unsatisfied"]')
    page.wait_for_selector("#review-aspects:not([hidden])", timeout=5000)
    page.check('#review-form input[name=aspect][value="efficiency"]')
    page.fill("#review-text", "等候时间较长")
    page.click("#review-form button[type=submit]")
    page.wait_for_selector("#review-message:not(:empty)", timeout=5000)
    out["review_message"] = page.inner_text("#review-message")
    out["review_error"] = page.inner_text("#review-error")

    page.click('#tabs a[data-tab="results"]')
    page.wait_for_selector('#results-list li:has-text("准予许可")', timeout=5000)
    out["results_text"] = page.inner_text("#results-list")
    out["results_count"] = page.inner_text("#results-count")
    out["scroll_width_results"] = page.evaluate("document.documentElement.scrollWidth")

    page.click('#tabs a[data-tab="windows"]')
    page.wait_for_selector('#windows-list li:has-text("群众满意窗口")', timeout=5000)
    out["windows_text"] = page.inner_text("#windows-list")


if __name__ == "__main__":
    from tests.e2e.console_driver import drive

    drive(steps, start=None, page_options={"viewport": PHONE, "locale": "zh-CN", "is_mobile": True, "has_touch": True})
else:
    import pytest

    from services.approvals.service import ApprovalsService
    from tests.conftest import ROOT
    from tests.e2e import test_console_browser as console_browser
    from tests.e2e.approvals_client import ApprovalsApi

    REGISTER = os.path.join(ROOT, "services", "scoring", "departments.demo.yaml")
    # XIAONENG_PUBLIC_SCREENSHOT=docs/public.png: also write a picture of the progress query
    SCREENSHOT = os.environ.get("XIAONENG_PUBLIC_SCREENSHOT")

    def no_browser(reason: str):
        console_browser.no_browser(reason, "the public page's")

    def run_driver(cfg: dict) -> tuple[int, dict]:
        return console_browser.run_driver(cfg, driver=os.path.abspath(__file__))

    @pytest.fixture
    def api(service_config, start_service, api_keys):
        cfg = service_config("approvals", DEPARTMENTS_FILE=REGISTER)
        start_service(ApprovalsService, cfg)
        return ApprovalsApi(cfg["base_url"], api_keys)

    def test_the_public_page_in_a_real_browser(api, tmp_path):
        if not os.access(CHROMIUM, os.X_OK):
            no_browser(f"{CHROMIUM} is not installed")
        item = next(i for i in api.ok("GET", "/api/v1/items", "operator") if i["code"] == "SCJ-001")
        api.ok("PUT", "/api/v1/items", "operator", {
            **{k: v for k, v in item.items() if k not in ("department_name", "updated_at")},
            "public_results": True, "handling_place": "市民中心二楼 B 区"})
        disclosed = api.submit(applicant={"name": COMPANY, "kind": "enterprise", "id_number": "91330106MA2XXXXX1Y"})
        api.act(disclosed["id"], "accept")
        api.act(disclosed["id"], "decide", {"approved": True})
        reviewed = api.submit(applicant={"name": "司马青衫", "kind": "person", "id_number": "330106198512121234"})
        api.act(reviewed["id"], "refuse", {"reason": "不属于本部门职权范围"})
        # a window named a satisfied window (群众满意窗口) for the first half-year, on a recorded override
        api.ok("PUT", "/api/v1/windows", "operator", {"code": "SMZX-B01", "name": "市民中心二楼 B 区 市场监管 1 号窗口",
                                                      "department": "SCJGJ", "service_point": "city_center"})
        api.ok("POST", "/api/v1/naming/decisions", "assessor", {
            "period": "2026-H1", "windows": ["SMZX-B01"], "decided_by": "市机关效能建设领导小组",
            "decided_at": "2026-07-15T10:00:00+08:00", "override_reason": "测试：样本不足，研究决定命名"}, status=201)
        app = api.submit(applicant={"name": "欧阳明月", "kind": "person", "id_number": "33010619900101123X"})
        api.act(app["id"], "accept")
        code = app["query_code"]
        screenshot = os.path.abspath(SCREENSHOT) if SCREENSHOT else str(tmp_path / "public.png")

        status, seen = run_driver({"base": api.base, "chromium": CHROMIUM, "application_no": app["application_no"],
                                   "query_code": code, "wrong_code": "22222222" if code != "22222222" else "33333333",
                                   "decided_no": reviewed["application_no"], "decided_code": reviewed["query_code"],
                                   "screenshot": screenshot})
        if status == 3:
            no_browser(seen.get("error", "launch failed"))
        assert "error" not in seen, seen
        # the browser reports the wrong code's 404 as a failed load; nothing else (no CSP refusal, no script error)
        assert seen["page_errors"] == [], seen["page_errors"]
        assert seen["console_errors"] == ["Failed to load resource: the server responded with a status of 404 "
                                          "(NOT FOUND)"], seen["console_errors"]
        assert seen["title"].startswith("政务服务公开")
        items = api.ok("GET", "/api/v1/items", "operator")
        assert seen["guide_count"] == len(items) and seen["guide_count_text"] == f"共 {len(items)} 个事项"
        assert seen["search_codes"] == ["SCJ-001"]
        assert seen["detail_name"] == "食品经营许可"
        for fact in ("市市场监督管理局", "承诺件", "20 个工作日", "5 个工作日", "市民中心二楼 B 区", "窗口现场决定"):
            assert fact in seen["detail_facts"], (fact, seen["detail_facts"])
        assert seen["detail_materials"].split("\n") == ["食品经营许可申请书", "营业执照复印件", "经营场所平面图"]
        # phone-sized: nothing wider than the screen
        assert seen["scroll_width"] <= PHONE["width"] and seen["scroll_width_results"] <= PHONE["width"]

        assert seen["list_hidden_on_detail"] is True
        assert seen["wrong_code_message"] == "未找到该办件，请核对办件编号和查询码"
        assert seen["wrong_code_result_hidden"] is True
        assert seen["progress_error_after"] == ""
        assert seen["progress_state"] == "已受理" and seen["progress_item"] == "食品经营许可"
        for fact in (app["application_no"], "市市场监督管理局", "正常办理", "剩余"):
            assert fact in seen["progress_facts"], (fact, seen["progress_facts"])
        assert seen["progress_steps"] == ["提交申请", "受理"]
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", t) for t in seen["progress_step_times"])
        assert "欧阳明月" not in json.dumps(seen, ensure_ascii=False)
        assert seen["review_hidden_while_open"] is True  # reviewed once it has an outcome

        assert seen["decided_state"] == "不予受理" and seen["aspects_hidden_before"] is True
        assert seen["review_error"] == "" and seen["review_message"].startswith("感谢您的评价"), seen
        [review] = api.ok("GET", "/api/v1/reviews", "admin")["items"]
        assert review["application_no"] == reviewed["application_no"] and review["channel"] == "public"
        assert review["level"] == "unsatisfied" and review["aspects"] == ["efficiency"]

        assert COMPANY in seen["results_text"] and disclosed["application_no"] in seen["results_text"]
        named = seen["windows_text"]
        assert "市民中心二楼 B 区 市场监管 1 号窗口" in named and "市市场监督管理局" in named
        assert "群众满意窗口（2026-H1）" in seen["windows_text"] and "命名于 2026-07-15" in seen["windows_text"]
        assert "共 1 件" in seen["results_count"]
        assert os.path.getsize(screenshot) > 5_000
