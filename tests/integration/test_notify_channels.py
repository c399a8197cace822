"""notify's HTTP channels against a real local receiver: a name that resolves into the deployment's own network
at send time (DNS re-binding after registration) is refused after resolution, as a permanent failure with a
clear reason and no secret in it, and nothing reaches the receiver; a listed destination gets the message with
the delivery's Idempotency-Key in its header and body."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.notify.channels import Channels
from services.notify.destinations import Destinations


@pytest.fixture
def receiver():
    got: list[tuple[dict, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append((dict(self.headers), json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], got
    server.shutdown()
    server.server_close()


@pytest.fixture
def rebinding(monkeypatch):
    """`hooks.example.test` resolves to 127.0.0.1, as a hostile name re-bound after registration would."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if str(host).lower() == "hooks.example.test":
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_that_resolves_to_loopback_at_send_time_is_refused(receiver, rebinding):
    port, got = receiver
    address = f"http://hooks.example.test:{port}/hook?token=S3CRET-T0KEN"
    assert Destinations().refused_address("webhook", address) is None  # registration cannot know
    outcome = Channels({"TIMEOUT": 3}, Destinations()).send("webhook", address, "标题", "正文", delivery_id=1, key="k")
    assert not outcome.ok and not outcome.transient, outcome
    assert outcome.error.startswith("destination refused: hooks.example.test resolves to 127.0.0.1 is a loopback")
    assert "S3CRET" not in outcome.error
    assert got == []


def test_a_robot_channel_is_guarded_too(rebinding, receiver):
    port, got = receiver
    # an Apprise URL whose plugin posts to a host of the recipient's choosing
    outcome = Channels({"TIMEOUT": 3}, Destinations()).send("dingtalk", f"json://hooks.example.test:{port}/x",
                                                            "标题", "正文")
    assert not outcome.ok and not outcome.transient and "destination refused" in outcome.error
    assert got == []


def test_a_listed_destination_gets_the_message_with_its_idempotency_key(receiver, rebinding):
    port, got = receiver
    channels = Channels({"TIMEOUT": 3}, Destinations.parse("127.0.0.0/8"))
    for _ in range(2):  # the same delivery twice (a re-send after a crash): the same key
        outcome = channels.send("webhook", f"http://hooks.example.test:{port}/hook", "标题", "正文", delivery_id=7,
                                key="4b9d3f0e-0000-5000-8000-000000000007")
        assert outcome.ok, outcome
    other = channels.send("webhook", f"http://127.0.0.1:{port}/hook", "标题", "正文", delivery_id=8, key="other-key")
    assert other.ok
    assert [h["Idempotency-Key"] for h, _ in got] == ["4b9d3f0e-0000-5000-8000-000000000007"] * 2 + ["other-key"]
    assert [(b["delivery_id"], b["idempotency_key"]) for _, b in got] == [
        (7, "4b9d3f0e-0000-5000-8000-000000000007")] * 2 + [(8, "other-key")]
    assert got[0][1]["title"] == "标题" and got[0][1]["message"] == "正文"
