"""Rewarded reports (有奖投诉举报, #16) on the real broker with the appeals service alone: the reward of an upheld
efficiency complaint recorded by the discipline office, then paid, listed by year and state, published without
personal data; and every refusal — 400 with the field, 403 for other roles and departments, 404, 409 for a case
that is not an upheld complaint, a second reward, a payment before the approval or twice."""

import json
import logging
from datetime import datetime

import pytest
import requests

from services.appeals.service import AppealsService
from services.kernel import clock
from services.kernel.keys import KeyStore
from tests.conftest import wait_for
from tests.support import Tap

TZ = clock.TZ
NAME, PHONE = "张三丰", "13812345678"


class Api:
    def __init__(self, base_url, keys):
        self.base = base_url
        self.keys = keys

    def call(self, method, path, who, body=None, **params):
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        return requests.request(method, f"{self.base}{path}", json=body, headers=headers, params=params, timeout=10)

    def ok(self, method, path, who, body=None, status=200, **params):
        r = self.call(method, path, who, body, **params)
        assert r.status_code == status, (method, path, who, r.status_code, r.text)
        return r.json()

    def complaint(self, finding="upheld", **fields):
        """An efficiency complaint about ZJJ, accepted by the discipline office (JW) and given `finding` (None:
        none yet)."""
        c = self.ok("POST", "/api/v1/appeals", "operator", {
            "channel": "hotline", "type": "efficiency_complaint", "category": "efficiency", "subject_department": "ZJJ",
            "content": "窗口人员推诿，三次未办结", "appellant": {"name": NAME, "phone": PHONE}, **fields}, status=201)
        self.ok("POST", f"/api/v1/appeals/{c['id']}/accept", "JW", {})
        if finding:
            self.ok("POST", f"/api/v1/appeals/{c['id']}/finding", "JW", {
                "finding": finding, "reasons": "经查属实" if finding == "upheld" else "经查不属实",
                "reward": finding == "upheld"})
        return c

    def reward(self, appeal_id, who="JW", status=201, **body):
        body = {"amount": 500, "approved_by": "市纪委监委", "approved_on": "2026-11-05", **body}
        return self.ok("POST", f"/api/v1/appeals/{appeal_id}/reward", who, body, status=status)


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri, frozen):
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("ZJJ", "JW"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri)
    tap = Tap(fresh_amqp_uri, "appeals")
    start_service(AppealsService, cfg)
    return Api(cfg["base_url"], keys), tap


def test_an_upheld_report_is_rewarded_then_paid_without_personal_data(env, frozen, caplog):
    api, tap = env
    caplog.set_level(logging.DEBUG)
    c = api.complaint()
    frozen(datetime(2026, 11, 6, 9, 0, tzinfo=TZ))
    reward = api.reward(c["id"], amount=500)
    assert (reward["appeal_id"], reward["case_no"], reward["department"], reward["subject_department"]) == (
        c["id"], c["case_no"], "JW", "ZJJ")
    assert (reward["amount"], reward["state"], reward["state_zh"], reward["approved_by"], reward["approved_on"]) == (
        "500.00", "approved", "已批准", "市纪委监委", "2026-11-05")
    assert (reward["recorded_by"], reward["recorded_at"], reward["paid_on"]) == (
        "handler-JW", "2026-11-06T09:00:00+08:00", None)
    # once per case
    r = api.call("POST", f"/api/v1/appeals/{c['id']}/reward", "JW",
                 {"amount": 800, "approved_by": "市纪委监委", "approved_on": "2026-11-05"})
    assert r.status_code == 409 and r.json()["error"]["message_zh"] == "该投诉举报已登记奖励，不能重复登记", r.text

    # paid: not before the approval, not in the future, then once
    paid = f"/api/v1/appeals/{c['id']}/reward/paid"
    r = api.call("POST", paid, "JW", {"paid_on": "2026-11-04"})
    assert r.status_code == 400 and "不能早于批准日期" in r.json()["errors"]["paid_on"][0], r.text
    r = api.call("POST", paid, "JW", {"paid_on": "2026-11-07"})
    assert r.status_code == 400 and "paid_on" in r.json()["errors"], r.text
    frozen(datetime(2026, 11, 10, 15, 0, tzinfo=TZ))
    done = api.ok("POST", paid, "monitor", {"paid_on": "2026-11-09"})
    assert (done["state"], done["state_zh"], done["paid_on"], done["paid_recorded_by"], done["amount"]) == (
        "paid", "已发放", "2026-11-09", "test-monitor", "500.00")
    r = api.call("POST", paid, "JW", {"paid_on": "2026-11-10"})
    assert r.status_code == 409 and r.json()["error"]["message_zh"] == "奖励已登记发放，不能重复登记", r.text
    assert api.ok("GET", f"/api/v1/appeals/{c['id']}/reward", "JW") == done

    # the list: by year and state, the discipline office's and the monitors'
    assert api.ok("GET", "/api/v1/rewards", "monitor", year=2026, state="paid")["items"] == [done]
    assert api.ok("GET", "/api/v1/rewards", "JW")["total"] == 1
    assert api.ok("GET", "/api/v1/rewards", "monitor", state="approved")["total"] == 0
    assert api.ok("GET", "/api/v1/rewards", "monitor", year=2025)["total"] == 0

    # the events: the case, the units, the amount and the days; nobody's name or phone
    events: list[dict] = []

    def both():
        events.extend(m for m in tap.drain() if m["event_type"].startswith("complaint.reward_"))
        return len(events) >= 2

    wait_for(both, message="the reward's two events")
    assert len(events) == 2
    by_type = {m["event_type"]: m["payload"] for m in events}
    recorded = by_type["complaint.reward_recorded"]
    assert (recorded["case_no"], recorded["amount"], recorded["subject_department"], recorded["approved_on"]) == (
        c["case_no"], "500.00", "ZJJ", "2026-11-05")
    paid_event = by_type["complaint.reward_paid"]
    assert (paid_event["paid_on"], paid_event["amount"], paid_event["reward_id"]) == ("2026-11-09", "500.00",
                                                                                      str(reward["id"]))
    published = json.dumps(events, ensure_ascii=False)
    answered = json.dumps([reward, done], ensure_ascii=False)
    for secret in (NAME, PHONE, "appellant"):
        assert secret not in published and secret not in answered, secret
    assert "市纪委监委" not in published  # who approved it: in the answers, not in the events
    assert NAME not in caplog.text and PHONE not in caplog.text


def test_refusals(env):
    api, _ = env
    upheld = api.complaint()
    # 400: the fields
    bad = [({"amount": 0}, "amount"), ({"amount": -5}, "amount"), ({"amount": 1.234}, "amount"),
           ({"amount": "500.00"}, "amount"), ({"amount": True}, "amount"), ({"amount": 2_000_000}, "amount"),
           ({"approved_by": "王"}, "approved_by"), ({"approved_on": "2026-13-01"}, "approved_on"),
           ({"approved_on": "2026-11-05", "amount": None}, "amount"), ({"approved_on": "2026-11-05T10:00"},
                                                                      "approved_on")]
    for body, field in bad:
        r = api.call("POST", f"/api/v1/appeals/{upheld['id']}/reward", "JW",
                     {"amount": 500, "approved_by": "市纪委监委", "approved_on": "2026-11-04", **body})
        assert r.status_code == 400 and field in r.json()["errors"], (body, r.text)
    r = api.call("POST", f"/api/v1/appeals/{upheld['id']}/reward", "JW", {})
    assert r.status_code == 400 and set(r.json()["errors"]) == {"amount", "approved_by", "approved_on"}, r.text
    r = api.call("POST", f"/api/v1/appeals/{upheld['id']}/reward", "JW",
                 {"amount": 500, "approved_by": "市纪委监委", "approved_on": "2026-11-05"})  # tomorrow
    assert r.status_code == 400 and "approved_on" in r.json()["errors"], r.text
    r = api.call("POST", f"/api/v1/appeals/{upheld['id']}/reward/paid", "JW", {"paid_on": "yesterday"})
    assert r.status_code == 400 and "paid_on" in r.json()["errors"], r.text
    for params in ({"year": "abc"}, {"state": "pending"}, {"page": 0}, {"per_page": 501}):
        r = api.call("GET", "/api/v1/rewards", "monitor", **params)
        assert r.status_code == 400 and set(params) <= set(r.json()["errors"]), (params, r.text)

    # 403: another department's handler, other roles; 404: no such case
    for who in ("ZJJ",):
        r = api.call("POST", f"/api/v1/appeals/{upheld['id']}/reward", who,
                     {"amount": 500, "approved_by": "市纪委监委", "approved_on": "2026-11-04"})
        assert r.status_code == 403 and r.json()["error"]["message_zh"] == "只有纪检监察机关可以登记举报奖励", r.text
        assert api.call("GET", "/api/v1/rewards", who).status_code == 403
        assert api.call("GET", "/api/v1/rewards", who, department="JW").status_code == 403
    for who in ("operator", "assessor", "window_system"):
        r = api.call("POST", f"/api/v1/appeals/{upheld['id']}/reward", who,
                     {"amount": 500, "approved_by": "市纪委监委", "approved_on": "2026-11-04"})
        assert r.status_code == 403, (who, r.text)
        assert api.call("GET", "/api/v1/rewards", who).status_code == 403
    r = api.reward(999999, status=404, approved_on="2026-11-04")
    assert r["error"]["code"] == "not_found"
    assert api.call("GET", f"/api/v1/appeals/{upheld['id']}/reward", "JW").status_code == 404  # none recorded

    # 409: paid before approved; not an upheld efficiency complaint
    r = api.call("POST", f"/api/v1/appeals/{upheld['id']}/reward/paid", "JW", {"paid_on": "2026-11-04"})
    assert r.status_code == 409 and r.json()["error"]["message_zh"] == "该投诉举报尚未批准奖励，不能登记发放", r.text
    not_upheld = api.complaint(finding="not_upheld")
    no_finding = api.complaint(finding=None, external_ref="C-2")
    help_case = api.ok("POST", "/api/v1/appeals", "operator", {
        "channel": "hotline", "type": "help", "category": "water", "content": "停水三天",
        "appellant": {"name": NAME, "phone": PHONE}}, status=201)
    not_upheld_zh = "只有经调查属实的投诉举报才能给予举报奖励"
    not_complaint_zh = "只有效能投诉举报才能给予举报奖励"
    for case, zh in ((not_upheld, not_upheld_zh), (no_finding, not_upheld_zh), (help_case, not_complaint_zh)):
        r = api.reward(case["id"], who="monitor", status=409, approved_on="2026-11-04")
        assert r["error"]["message_zh"] == zh, r
    assert api.ok("GET", "/api/v1/rewards", "monitor")["total"] == 0
    # nothing was recorded by any refusal; the upheld one still takes its reward
    assert api.reward(upheld["id"], approved_on="2026-11-04", amount=0.01)["amount"] == "0.01"


@pytest.mark.postgres
def test_rewards_on_postgresql(start_on_postgres, api_keys, keys_file, frozen):
    """The same queries on PostgreSQL: the row locked with its case (FOR UPDATE OF), the year's range, the pages."""
    frozen(datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    keys["JW"] = store.add("handler-JW", "department_handler", "JW")
    cfg = start_on_postgres(AppealsService)
    api = Api(cfg["base_url"], keys)
    cases = [api.complaint(external_ref=f"PG-{n}") for n in range(3)]
    for n, c in enumerate(cases):
        api.reward(c["id"], amount=100 + n, approved_on=f"2026-11-0{n + 2}")
    api.ok("POST", f"/api/v1/appeals/{cases[0]['id']}/reward/paid", "JW", {"paid_on": "2026-11-04"})
    r = api.call("POST", f"/api/v1/appeals/{cases[0]['id']}/reward/paid", "JW", {"paid_on": "2026-11-04"})
    assert r.status_code == 409, r.text
    page = api.ok("GET", "/api/v1/rewards", "monitor", year=2026, per_page=2)
    assert page["total"] == 3 and [i["amount"] for i in page["items"]] == ["102.00", "101.00"]
    assert api.ok("GET", "/api/v1/rewards", "JW", state="paid")["items"][0]["case_no"] == cases[0]["case_no"]
    assert api.ok("GET", "/api/v1/rewards", "monitor", year=2027)["total"] == 0
