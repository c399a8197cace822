"""notify on the real broker, hardened: a recipient's webhook cannot point into the deployment's own network
(refused with 400 when registered, and after DNS at send time: a parked delivery with a clear reason, the ops
alert, nothing posted); robot tokens and webhook URLs are shown redacted and may be written back as read; and a
delivery sent again after its lease lapsed (the sender crashed or stalled mid-send) carries the same
Idempotency-Key, so its receiver can drop the second copy."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import yaml

from services.notify.service import NotifyService
from tests.conftest import wait_for
from tests.e2e.test_notify_support import card, publish


class Receiver:
    """A webhook receiver that records headers and bodies; `hold_first` keeps the first request unanswered
    until `release()` (a receiver as slow as a send that outlives its lease)."""

    def __init__(self, hold_first: bool = False):
        self.got: list[tuple[dict, dict]] = []
        self.released = threading.Event()
        if not hold_first:
            self.released.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                first = not receiver.got
                receiver.got.append((dict(self.headers), body))
                if first:
                    receiver.released.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self):
        self.released.set()

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def notify(service_config, start_service, api_keys, fresh_amqp_uri, tmp_path):
    """start(recipients, subscriptions, **NOTIFY settings) -> (base_url, call); ops is on the log channel and
    subscribed to parked deliveries."""

    def start(recipients=(), subscriptions=(), **settings):
        seed = {"recipients": [{"code": "ops", "name": "运维", "kind": "group"}, *recipients],
                "subscriptions": [{"recipient": "ops", "event_types": ["notify.delivery_parked"], "channel": "log"},
                                  *subscriptions]}
        path = tmp_path / f"seed-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
        cfg = service_config("notify", AMQP_URI=fresh_amqp_uri, SEED_NOTIFY=str(path), NOTIFY={
            "QUIET_HOURS": "off", "SEND": {"POLL_INTERVAL": 0.1, "RETRY_DELAYS": [0.2], "TIMEOUT": 10,
                                           **settings.pop("SEND", {})}, **settings})
        start_service(NotifyService, cfg)

        def call(method, path, body=None, **params):
            return requests.request(method, cfg["base_url"] + path, json=body, params=params, timeout=15,
                                    headers={"Authorization": f"Bearer {api_keys['monitor']}"})

        return call

    return start


def deliveries(call, **params):
    r = call("GET", "/api/v1/deliveries", per_page=500, **params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def person(code, **addresses):
    return {"code": code, "name": "李明", "kind": "person", "department": "ZJJ", "addresses": addresses}


INTERNAL = ["http://127.0.0.1:9/x", "http://[::1]/x", "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/x",
            "http://localhost:8004/api", "http://0.0.0.0/", "http://2130706433/"]


def test_a_webhook_into_the_deployments_own_network_is_refused_when_registered(notify):
    call = notify(WEBHOOK_ALLOW="192.168.50.0/24")
    for url in INTERNAL:
        for method, path, body in (("POST", "/api/v1/recipients", person("x", webhook=url)),):
            r = call(method, path, body)
            assert r.status_code == 400, (url, r.text)
            assert "NOTIFY.WEBHOOK_ALLOW" in r.json()["errors"]["addresses"]["webhook"][0], r.text
    assert [p["code"] for p in call("GET", "/api/v1/recipients").json()] == ["ops"]
    # listed by the deployment: allowed; a change is checked as well
    r = call("POST", "/api/v1/recipients", person("li", webhook="http://192.168.50.7/hook"))
    assert r.status_code == 201, r.text
    r = call("PATCH", "/api/v1/recipients/li", {"addresses": {"webhook": "http://127.0.0.1:8004/"}})
    assert r.status_code == 400 and "loopback" in r.json()["errors"]["addresses"]["webhook"][0]
    assert call("GET", "/api/v1/recipients/li").json()["addresses"] == {"webhook": "http://192.168.50.7/…"}


def test_a_name_that_resolves_into_the_network_at_send_time_is_parked_not_posted(notify, receiver, monkeypatch,
                                                                                  fresh_amqp_uri):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):  # registered as a public name, re-bound to loopback since
        return real("127.0.0.1" if host == "hooks.example.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    hook = f"http://hooks.example.test:{receiver.port}/hook?token=S3CRET"
    call = notify(recipients=[person("li", webhook=hook)],
                  subscriptions=[{"recipient": "li", "event_types": ["monitor.*"], "channel": "webhook"}])
    event = publish(fresh_amqp_uri, "approvals", "monitor.yellow_card", card("SP2026-0900"))
    [d] = wait_for(lambda: [d for d in deliveries(call, event_id=event["event_id"]) if d["status"] == "parked"],
                   message="the delivery parked")
    assert d["attempts"] == 1  # permanent: not retried
    assert d["last_error"].startswith("destination refused: hooks.example.test resolves to 127.0.0.1 is a loopback")
    assert "S3CRET" not in d["last_error"]
    alerts = wait_for(lambda: [a for a in deliveries(call, event_type="notify.delivery_parked")
                               if a["status"] == "sent"], message="the ops alert")
    assert alerts[0]["recipient"] == "ops" and "S3CRET" not in alerts[0]["body"]
    assert receiver.got == []
    # and the address is shown redacted
    shown = call("GET", "/api/v1/recipients/li").json()["addresses"]["webhook"]
    assert shown == f"http://hooks.example.test:{receiver.port}/…"  # too short a secret for a tail


def test_addresses_are_redacted_on_read_and_can_be_written_back_as_read(notify, receiver, fresh_amqp_uri):
    token = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    call = notify(recipients=[person("li", webhook=f"{receiver.url}?access_token={token}", dingtalk=token,
                                     email="li@zjj.example.cn")],
                  subscriptions=[{"recipient": "li", "event_types": ["monitor.*"], "channel": "webhook"}],
                  WEBHOOK_ALLOW="127.0.0.1")
    shown = call("GET", "/api/v1/recipients/li").json()["addresses"]
    assert shown == {"webhook": f"http://127.0.0.1:{receiver.port}/…b1a0", "dingtalk": "…b1a0",
                     "email": "li@zjj.example.cn"}
    listed = call("GET", "/api/v1/recipients").json()
    assert token not in json.dumps(listed) and token not in call("GET", "/api/v1/recipients/li").text
    # a client changes the e-mail and sends back the rest as it read it: the webhook and the token stay
    r = call("PATCH", "/api/v1/recipients/li", {"addresses": {**shown, "email": "li.ming@zjj.example.cn"}})
    assert r.status_code == 200 and token not in r.text, r.text
    event = publish(fresh_amqp_uri, "approvals", "monitor.yellow_card", card("SP2026-0901"))
    wait_for(lambda: receiver.got, message="the card at the webhook, by its full address")
    assert receiver.got[0][1]["title"].endswith("SP2026-0901 已超期")
    assert deliveries(call, event_id=event["event_id"])[0]["status"] in ("sending", "sent")
    # a redacted value that is not the stored one's is refused, not stored
    r = call("PATCH", "/api/v1/recipients/li", {"addresses": {"dingtalk": "…zzzz"}})
    assert r.status_code == 400 and "redacted" in r.json()["errors"]["addresses"]["dingtalk"][0]


def test_a_delivery_sent_again_after_its_lease_lapsed_carries_the_same_idempotency_key(notify, fresh_amqp_uri):
    slow = Receiver(hold_first=True)  # the first send hangs past its lease: as if its sender had died mid-send
    try:
        call = notify(recipients=[person("li", webhook=slow.url)],
                      subscriptions=[{"recipient": "li", "event_types": ["monitor.*"], "channel": "webhook"}],
                      WEBHOOK_ALLOW="127.0.0.1", SEND={"LEASE_SECONDS": 0.5})
        event = publish(fresh_amqp_uri, "approvals", "monitor.yellow_card", card("SP2026-0902"))
        wait_for(lambda: len(slow.got) >= 2, timeout=15, message="the delivery sent again after its lease lapsed")
        slow.release()
        [d] = wait_for(lambda: [d for d in deliveries(call, event_id=event["event_id"]) if d["status"] == "sent"],
                       message="the delivery sent")
        (h1, b1), (h2, b2) = slow.got[:2]
        assert h1["Idempotency-Key"] == h2["Idempotency-Key"] == b1["idempotency_key"] == b2["idempotency_key"]
        assert str(uuid.UUID(h1["Idempotency-Key"])) == h1["Idempotency-Key"]
        assert b1["delivery_id"] == b2["delivery_id"] == d["id"]
        assert b1["title"] == b2["title"]
        # another delivery: another key
        later = publish(fresh_amqp_uri, "approvals", "monitor.yellow_card", card("SP2026-0903"))
        wait_for(lambda: [d for d in deliveries(call, event_id=later["event_id"]) if d["status"] == "sent"],
                 message="the later card sent")
        keys = {h["Idempotency-Key"] for h, b in slow.got if b["title"].endswith("SP2026-0903 已超期")}
        assert len(keys) == 1 and h1["Idempotency-Key"] not in keys
    finally:
        slow.close()
