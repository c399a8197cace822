"""notify on the real broker, with a real local SMTP server and a real local webhook server: delivery on each
channel, exactly once when an event is redelivered, retry after 5xx, parking after the limit (with the ops
alert) and at once for a permanent failure, quiet hours holding a low-severity item but not an emergency or a
red card, the digest, and the API's answers to bad input."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
import requests
import yaml

from services.kernel import clock
from services.notify.service import NotifyService
from tests.conftest import wait_for
from tests.e2e.test_notify_support import SmtpSink, WebhookSink, card, emergency, publish
from tests.support import Tap, publish_raw

TZ = clock.TZ


@pytest.fixture
def sinks():
    hook, ops_hook, mail = WebhookSink(), WebhookSink(), SmtpSink()
    yield hook, ops_hook, mail
    hook.close()
    ops_hook.close()
    mail.close()


@pytest.fixture
def notify(service_config, start_service, api_keys, fresh_amqp_uri, sinks, tmp_path):
    """start(**NOTIFY overrides) -> Api of a notify service seeded with: the monitors (log), a ZJJ official on
    webhook and e-mail, ZJJ's duty contact on webhook (via @duty), ops on a second webhook."""
    hook, ops_hook, mail = sinks

    def start(extra_recipients=(), extra_subscriptions=(), **notify_overrides):
        seed = {
            "recipients": [
                {"code": "monitors", "name": "电子监察室", "kind": "group"},
                {"code": "li.ming", "name": "李明", "kind": "person", "department": "ZJJ", "role": "科长",
                 "addresses": {"webhook": hook.url, "email": "li.ming@zjj.example.cn"}},
                {"code": "duty-ZJJ", "name": "住建局值班室", "kind": "duty", "department": "ZJJ",
                 "addresses": {"webhook": hook.url + "?duty=1"}},
                {"code": "ops", "name": "运维", "kind": "group", "addresses": {"webhook": ops_hook.url}},
                *extra_recipients,
            ],
            "subscriptions": [
                {"recipient": "monitors", "event_types": ["*"], "channel": "log"},
                {"recipient": "li.ming", "event_types": ["monitor.*", "appeal.*"], "min_severity": "medium",
                 "departments": ["ZJJ"], "channel": "webhook"},
                {"recipient": "li.ming", "event_types": ["monitor.yellow_card"], "departments": ["ZJJ"],
                 "channel": "email"},
                {"recipient": "@duty", "event_types": ["appeal.emergency"], "channel": "webhook"},
                {"recipient": "ops", "event_types": ["notify.delivery_parked"], "channel": "webhook"},
                *extra_subscriptions,
            ],
        }
        path = tmp_path / f"seed-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
        # the sinks listen on 127.0.0.1: the deployment lists it, as a real one lists its internal receivers
        settings = {"CONSOLE_URL": "http://console.test", "QUIET_HOURS": "off", "WEBHOOK_ALLOW": "127.0.0.1",
                    "SEND": {"POLL_INTERVAL": 0.1, "RETRY_DELAYS": [0.2, 0.4, 0.8], "TIMEOUT": 5},
                    "SMTP": {"HOST": "127.0.0.1", "PORT": mail.port, "FROM": "notify@xiaoneng.test"}}
        for key, value in notify_overrides.items():
            settings[key] = {**settings.get(key, {}), **value} if isinstance(value, dict) else value
        cfg = service_config("notify", AMQP_URI=fresh_amqp_uri, SEED_NOTIFY=str(path), NOTIFY=settings)
        start_service(NotifyService, cfg)
        return Api(cfg["base_url"], api_keys, fresh_amqp_uri)

    return start


class Api:
    def __init__(self, base_url, keys, amqp_uri):
        self.base_url, self.keys, self.amqp_uri = base_url, keys, amqp_uri

    def call(self, method, path, who="monitor", body=None, **params):
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return requests.request(method, self.base_url + path, headers=headers, json=body, params=params, timeout=10)

    def ok(self, method, path, who="monitor", body=None, status=200, **params):
        r = self.call(method, path, who, body, **params)
        assert r.status_code == status, (r.status_code, r.text)
        return r.json() if r.content else None

    def deliveries(self, **params):
        r = self.call("GET", "/api/v1/deliveries", per_page=500, **params)  # `status` is a filter here
        assert r.status_code == 200, r.text
        return r.json()["items"]

    def wait_deliveries(self, predicate, message, timeout=15, **params):
        return wait_for(lambda: (lambda ds: ds if predicate(ds) else None)(self.deliveries(**params)),
                        timeout=timeout, message=message)


def by(deliveries, **match):
    return [d for d in deliveries if all(d[k] == v for k, v in match.items())]


def test_a_card_reaches_each_subscribed_channel_once_even_when_redelivered(notify, sinks, tmp_path):
    hook, _ops, mail = sinks
    names = tmp_path / "departments.yaml"  # a plain mapping: the register's list works as well
    names.write_text("ZJJ: 市住房和城乡建设局\n", encoding="utf-8")
    api = notify(DEPARTMENTS_FILE=str(names))
    event = publish(api.amqp_uri, "approvals", "monitor.yellow_card", card("SP2026-0001"))
    done = api.wait_deliveries(lambda ds: len(by(ds, status="sent")) == 3, "three deliveries sent",
                               event_id=event["event_id"])
    assert sorted((d["recipient"], d["channel"]) for d in done) == [
        ("li.ming", "email"), ("li.ming", "webhook"), ("monitors", "log")]
    d = done[0]
    assert d["severity"] == "high" and d["department"] == "ZJJ" and d["attempts"] == 1
    assert d["link"] == "http://console.test/console?department=ZJJ&application=SP2026-0001&alert=A-SP2026-0001"
    wait_for(lambda: mail.messages and hook.received, message="the mail and the webhook")
    assert hook.titles() == ["【重要】黄牌：申请 SP2026-0001 已超期"]
    # the department by its name in the text; its code stays in the delivery and the link
    assert "承办单位：市住房和城乡建设局" in hook.received[0]["message"] and d["link"] in hook.received[0]["message"]
    assert mail.messages[0]["to"] == ["li.ming@zjj.example.cn"]
    assert mail.messages[0]["subject"] == "【重要】黄牌：申请 SP2026-0001 已超期"
    assert "办结期限：2026-11-27 23:59" in mail.messages[0]["body"]

    # the broker delivers the same event again (twice); then a new card on the same queue, to know the
    # duplicates went through before it
    for _ in range(2):
        publish_raw(api.amqp_uri, "approvals.events", "monitor.yellow_card", event)
    later = publish(api.amqp_uri, "approvals", "monitor.yellow_card", card("SP2026-0002"))
    api.wait_deliveries(lambda ds: len(by(ds, status="sent")) == 3, "the later card", event_id=later["event_id"])
    wait_for(lambda: len(mail.messages) == 2 and len(hook.received) == 2, message="the later card's mail and hook")
    assert len(api.deliveries(event_id=event["event_id"])) == 3
    assert hook.titles().count("【重要】黄牌：申请 SP2026-0001 已超期") == 1
    assert [m["subject"] for m in mail.messages].count("【重要】黄牌：申请 SP2026-0001 已超期") == 1


def test_department_and_severity_filters_and_duty_contacts(notify, sinks):
    hook, _ops, _mail = sinks
    api = notify()
    other = publish(api.amqp_uri, "approvals", "monitor.yellow_card", card("SP2026-0100", department="HBJ"))
    low = publish(api.amqp_uri, "approvals", "monitor.irregularity", card(
        "SP2026-0101", level="yellow", code="x", description_zh="补正通知超过一次", severity="low",
        at="2026-11-26T09:00:00+08:00", refused=False) | {"level": "irregularity"})
    urgent = publish(api.amqp_uri, "appeals", "appeal.emergency", emergency("MY2026-0009"))
    got = api.wait_deliveries(lambda ds: len(by(ds, status="sent", event_id=urgent["event_id"])) == 3,
                              "the emergency to the monitors, li.ming and ZJJ's duty contact")
    assert sorted(d["recipient"] for d in by(got, event_id=urgent["event_id"])) == ["duty-ZJJ", "li.ming",
                                                                                   "monitors"]
    assert by(got, event_id=urgent["event_id"])[0]["severity"] == "critical"
    wait_for(lambda: len(api.deliveries(event_id=other["event_id"])) == 1 and
             len(api.deliveries(event_id=low["event_id"])) == 1, message="the other two events")
    # HBJ's card and a low irregularity reach only the monitors' log
    assert [d["recipient"] for d in api.deliveries(event_id=other["event_id"])] == ["monitors"]
    assert api.deliveries(event_id=low["event_id"])[0]["severity"] == "low"
    wait_for(lambda: sum("MY2026-0009" in t for t in hook.titles()) == 2, message="li.ming and the duty contact")
    assert sorted(hook.paths) == ["/hook", "/hook?duty=1"]  # the webhook's own query reaches it


def test_retry_after_5xx_then_success(notify, sinks):
    hook, _ops, _mail = sinks
    hook.script.extend([503, 502])
    api = notify()
    event = publish(api.amqp_uri, "approvals", "monitor.warning", card("SP2026-0200", level="warning"))
    [d] = api.wait_deliveries(lambda ds: ds and ds[0]["status"] == "sent", "the webhook delivery sent",
                              event_id=event["event_id"], channel="webhook")
    assert d["attempts"] == 3 and d["last_error"] is None
    assert hook.statuses == [503, 502, 200] and len(hook.received) == 1
    # the attempts in the service's Prometheus metrics (ops watch them for a channel that is down)
    expected = ['xiaoneng_deliveries_total{channel="webhook",service="notify",status="retried"} 2.0',
                'xiaoneng_deliveries_total{channel="webhook",service="notify",status="sent"} 1.0']
    wait_for(lambda: all(line in api.call("GET", "/metrics").text for line in expected),
             message="the webhook attempts in /metrics")


def test_an_address_that_answers_again_gets_its_waiting_deliveries_at_once(notify, sinks):
    hook, _ops, _mail = sinks
    hook.script.append(503)
    api = notify(SEND={"RETRY_DELAYS": [60, 60]})
    first = publish(api.amqp_uri, "approvals", "monitor.warning", card("SP2026-0250", level="warning"))
    [d] = api.wait_deliveries(lambda ds: ds and ds[0]["attempts"] == 1, "the first attempt failed",
                              event_id=first["event_id"], channel="webhook")
    assert d["status"] == "pending" and "HTTP 503" in d["last_error"]
    # the next event's delivery to the same webhook succeeds: the first one goes now, not in a minute
    publish(api.amqp_uri, "approvals", "monitor.warning", card("SP2026-0251", level="warning"))
    [d] = api.wait_deliveries(lambda ds: ds and ds[0]["status"] == "sent", "the waiting delivery sent", timeout=10,
                              event_id=first["event_id"], channel="webhook")
    assert d["attempts"] == 2
    assert sorted(hook.titles()) == sorted(f"【预警】预警：申请 SP2026-025{n} 即将超过办理时限" for n in (0, 1))


def test_parked_after_the_retry_limit_with_an_ops_alert(notify, sinks, fresh_amqp_uri):
    hook, ops_hook, _mail = sinks
    hook.default = 500
    tap = Tap(fresh_amqp_uri, "notify", "notify.delivery_parked")
    api = notify()
    event = publish(api.amqp_uri, "approvals", "monitor.warning", card("SP2026-0300", level="warning"))
    [d] = api.wait_deliveries(lambda ds: ds and ds[0]["status"] == "parked", "parked after the limit",
                              event_id=event["event_id"], channel="webhook")
    assert d["attempts"] == 4 and "HTTP 500" in d["last_error"]  # the first try and three retries
    assert hook.statuses == [500] * 4
    alerts = wait_for(lambda: tap.drain(), message="notify.delivery_parked")
    assert alerts[0]["payload"]["delivery_id"] == str(d["id"]) and alerts[0]["payload"]["permanent"] is False
    wait_for(lambda: ops_hook.received, message="the ops webhook")
    # as urgent as the warning that could not be delivered
    assert ops_hook.titles() == ["【预警】通知发送失败：【预警】预警：申请 SP2026-0300 即将超过办理时限"]
    assert "共尝试 4 次" in ops_hook.received[0]["message"]

    # fixed: the retry endpoint sends it again
    hook.default = 200
    api.ok("POST", f"/api/v1/deliveries/{d['id']}/retry")
    wait_for(lambda: api.ok("GET", f"/api/v1/deliveries/{d['id']}")["status"] == "sent", message="resent")
    api.ok("POST", f"/api/v1/deliveries/{d['id']}/retry", status=409)


def test_permanent_failures_are_parked_at_once_and_smtp_4xx_is_retried(notify, sinks):
    hook, ops_hook, mail = sinks
    hook.default = 404
    api = notify(
        extra_recipients=[
            {"code": "bad", "name": "错误地址", "kind": "person", "addresses": {"email": "bad@zjj.example.cn"}},
            {"code": "busy", "name": "忙", "kind": "person", "addresses": {"email": "busy@zjj.example.cn"}}],
        extra_subscriptions=[{"recipient": "bad", "event_types": ["monitor.red_card"], "channel": "email"},
                             {"recipient": "busy", "event_types": ["monitor.red_card"], "channel": "email"}])
    event = publish(api.amqp_uri, "approvals", "monitor.red_card", card("SP2026-0400", level="red"))
    got = api.wait_deliveries(lambda ds: len(by(ds, status="parked")) == 3, "three parked", timeout=20,
                              event_id=event["event_id"])
    webhook, bad, busy = (by(got, recipient=r, channel=c)[0]
                          for r, c in (("li.ming", "webhook"), ("bad", "email"), ("busy", "email")))
    assert webhook["attempts"] == 1 and "HTTP 404" in webhook["last_error"]
    assert bad["attempts"] == 1 and "SMTP 550" in bad["last_error"]
    assert busy["attempts"] == 4 and "SMTP 451" in busy["last_error"]
    assert by(got, recipient="monitors")[0]["status"] == "sent"
    assert mail.messages == []
    wait_for(lambda: len(ops_hook.received) == 3, message="three ops alerts")


def test_quiet_hours_hold_a_warning_for_the_digest_but_never_an_emergency_or_a_red_card(notify, sinks, frozen):
    hook, _ops, _mail = sinks
    frozen(datetime(2026, 11, 26, 23, 10, tzinfo=TZ))
    api = notify(QUIET_HOURS="22:00-07:00")
    warning = publish(api.amqp_uri, "approvals", "monitor.warning", card("SP2026-0500", level="warning"))
    warning2 = publish(api.amqp_uri, "appeals", "appeal.deadline_warning", {
        "appeal_id": "7", "case_no": "MY2026-0007", "department": "ZJJ", "kind": "last_day",
        "due_at": "2026-11-27T17:00:00+08:00"})
    red = publish(api.amqp_uri, "approvals", "monitor.red_card", card("SP2026-0501", level="red"))
    urgent = publish(api.amqp_uri, "appeals", "appeal.emergency", emergency("MY2026-0008"))
    api.wait_deliveries(lambda ds: len(by(ds, status="sent")) == 3,
                        "the red card and the emergency to li.ming, the emergency to ZJJ's duty contact",
                        channel="webhook")
    held = api.wait_deliveries(lambda ds: len(ds) == 2, "two warnings held", status="held")
    assert {d["event_id"] for d in held} == {warning["event_id"], warning2["event_id"]}
    assert all(d["next_attempt_at"] == "2026-11-27T07:00:00+08:00" for d in held)
    assert sorted(t[:8] for t in hook.titles()) == ["【紧急】紧急诉求", "【紧急】紧急诉求", "【紧急】红牌：申"]
    # the log channel wakes nobody: the monitors' log has all four at once
    wait_for(lambda: len(api.deliveries(recipient="monitors", status="sent")) == 4, message="the monitors' log")
    assert {red["event_id"], urgent["event_id"]} <= {d["event_id"] for d in api.deliveries(status="sent")}

    frozen(datetime(2026, 11, 27, 7, 0, 5, tzinfo=TZ))
    [digest] = api.wait_deliveries(lambda ds: ds and ds[0]["status"] == "sent", "the digest sent",
                                   event_type="notify.digest")
    assert digest["recipient"] == "li.ming" and digest["channel"] == "webhook"
    assert digest["subject"] == "【汇总】免打扰时段内的 2 条通知"
    assert "预警：申请 SP2026-0500 即将超过办理时限" in digest["body"]
    assert "诉求 MY2026-0007 即将到期" in digest["body"] and "22:00-07:00" in digest["body"]
    assert {d["digest_id"] for d in api.deliveries(status="digested")} == {digest["id"]}
    wait_for(lambda: len(hook.received) == 4, message="the digest at the webhook")
    assert hook.received[3]["title"] == digest["subject"]


def test_api_answers_bad_input_without_changing_anything(notify):
    api = notify()
    count = len(api.ok("GET", "/api/v1/recipients"))
    subs = len(api.ok("GET", "/api/v1/subscriptions"))
    bad_bodies = [
        ("/api/v1/recipients", {"code": "x y", "name": "甲", "kind": "person"}, "code"),
        ("/api/v1/recipients", {"code": "x", "name": "甲", "kind": "robot"}, "kind"),
        ("/api/v1/recipients", {"code": "x", "name": "甲", "kind": "duty"}, "department"),
        ("/api/v1/recipients", {"code": "x", "name": "甲", "kind": "person", "addresses": {"email": "nope"}},
         "addresses"),
        ("/api/v1/recipients", {"code": "x", "name": "甲", "kind": "person",
                                "addresses": {"webhook": "ftp://h/x"}}, "addresses"),
        ("/api/v1/subscriptions", {"recipient": "li.ming", "event_types": ["nothing.*"], "channel": "log"},
         "event_types"),
        ("/api/v1/subscriptions", {"recipient": "li.ming", "event_types": ["monitor.*"], "channel": "fax"},
         "channel"),
        ("/api/v1/subscriptions", {"recipient": "li.ming", "event_types": [], "channel": "log"}, "event_types"),
        ("/api/v1/subscriptions", {"recipient": "nobody", "event_types": ["monitor.*"], "channel": "log"},
         "recipient"),
        ("/api/v1/subscriptions", {"recipient": "monitors", "event_types": ["monitor.*"], "channel": "email"},
         "channel"),
        ("/api/v1/subscriptions", {"recipient": "li.ming", "event_types": ["monitor.*"], "channel": "log",
                                   "min_severity": "urgent"}, "min_severity"),
    ]
    for path, body, field in bad_bodies:
        r = api.call("POST", path, body=body)
        assert r.status_code == 400, (body, r.text)
        assert field in r.json()["errors"], (body, r.json())
    for params in ({"status": "lost"}, {"per_page": 0}, {"page": "x"}, {"channel": "fax"}):
        assert api.call("GET", "/api/v1/deliveries", **params).status_code == 400
    assert api.call("POST", "/api/v1/recipients", body=None).status_code == 400
    r = requests.post(api.base_url + "/api/v1/recipients", data="{not json",
                      headers={"Authorization": f"Bearer {api.keys['monitor']}", "Content-Type": "application/json"})
    assert r.status_code == 400

    for method, path in (("GET", "/api/v1/recipients/nobody"), ("PATCH", "/api/v1/recipients/nobody"),
                         ("DELETE", "/api/v1/recipients/nobody"), ("DELETE", "/api/v1/subscriptions/99999"),
                         ("GET", "/api/v1/deliveries/99999"), ("POST", "/api/v1/deliveries/99999/retry"),
                         ("GET", "/api/v1/deliveries/99999999999999999999999")):
        r = api.call(method, path, body={} if method == "PATCH" else None)
        assert r.status_code == 404, (method, path, r.text)

    assert api.call("POST", "/api/v1/recipients",
                    body={"code": "li.ming", "name": "重复", "kind": "person"}).status_code == 409
    existing = {"recipient": "monitors", "event_types": ["*"], "channel": "log"}
    r = api.call("POST", "/api/v1/subscriptions", body=existing)
    assert r.status_code == 409 and r.json()["error"]["details"]["id"]
    assert api.call("DELETE", "/api/v1/recipients/li.ming").status_code == 409
    assert api.call("PATCH", "/api/v1/recipients/duty-ZJJ", body={"department": None}).status_code == 409

    assert api.call("GET", "/api/v1/deliveries", who=None).status_code == 401
    assert api.call("GET", "/api/v1/deliveries", who="operator").status_code == 403
    assert api.call("POST", "/api/v1/recipients", who="handler_d1",
                    body={"code": "y", "name": "乙", "kind": "person"}).status_code == 403
    assert len(api.ok("GET", "/api/v1/recipients")) == count
    assert len(api.ok("GET", "/api/v1/subscriptions")) == subs

    # and the good path: add, subscribe, list, unsubscribe, remove
    api.ok("POST", "/api/v1/recipients", body={"code": "wang.fang", "name": "王芳", "kind": "person",
                                               "department": "HBJ", "addresses": {"dingtalk": "abcdef123456"}},
           status=201)
    sub = api.ok("POST", "/api/v1/subscriptions", who="admin", status=201, body={
        "recipient": "wang.fang", "event_types": ["monitor.red_card"], "departments": ["HBJ"], "channel": "dingtalk"})
    assert sub["min_severity"] == "info"
    assert [s["id"] for s in api.ok("GET", "/api/v1/subscriptions", recipient="wang.fang")] == [sub["id"]]
    changed = api.ok("PATCH", "/api/v1/recipients/wang.fang", body={"active": False})
    assert changed["active"] is False and changed["addresses"] == {"dingtalk": "…"}  # a token is never shown
    api.ok("DELETE", f"/api/v1/subscriptions/{sub['id']}", status=204)
    api.ok("DELETE", "/api/v1/recipients/wang.fang", status=204)
    page = api.ok("GET", "/api/v1/deliveries", page=1, per_page=1)
    assert page == {"items": [], "page": 1, "per_page": 1, "total": 0}
