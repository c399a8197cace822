"""Real endpoints for the notify tests: a local webhook HTTP server whose answers can be scripted (503 twice,
then 200; down), and a local SMTP server (aiosmtpd) that refuses `bad*` addresses with 550 and `busy*` with
451. Also helpers to publish contract events as their producer would."""

from __future__ import annotations

import json
import threading
from collections import deque
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from services.kernel.contracts import make_event
from services.kernel.messaging import events_exchange
from tests.conftest import free_port
from tests.support import publish_raw


class WebhookSink:
    """`script`: statuses to answer in order before falling back to `default` (200)."""

    def __init__(self, default: int = 200):
        self.default = default
        self.script: deque[int] = deque()
        self.received: list[dict] = []
        self.statuses: list[int] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink._lock:
                    status = sink.script.popleft() if sink.script else sink.default
                    sink.statuses.append(status)
                    sink.paths.append(self.path)
                    if status < 300:
                        sink.received.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def titles(self) -> list[str]:
        return [m["title"] for m in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _MailHandler:
    def __init__(self, box: list):
        self.box = box

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bad"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.box.append({"to": list(envelope.rcpt_tos), "subject": str(msg["subject"]),
                         "body": msg.get_body(("plain", "html")).get_content()})
        return "250 OK"


class SmtpSink:
    def __init__(self):
        self.messages: list[dict] = []
        self.port = free_port()
        self.controller = Controller(_MailHandler(self.messages), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self):
        self.controller.stop()


def publish(amqp_uri: str, source: str, event_type: str, payload: dict, *, event_id: str | None = None,
            department: str | None = None) -> dict:
    """Publish a contract event on its producer's exchange, as the producer's relay would."""
    body = make_event(event_type, payload, service=source, department=department, event_id=event_id)
    publish_raw(amqp_uri, events_exchange(source).name, event_type, body)
    return body


def card(application_no: str, department: str = "ZJJ", level: str = "yellow", **extra) -> dict:
    """A payload of monitor.warning / yellow_card / red_card."""
    return {"application_id": application_no.removeprefix("SP"), "application_no": application_no,
            "item_code": "ZJ-001", "department": department, "alert_id": f"A-{application_no}", "level": level,
            "rule": {"warning": "warning_days_left", "yellow": "yellow_card", "red": "red_card"}[level],
            "raised_at": "2026-11-26T09:00:00+08:00", "due_at": "2026-11-27T23:59:59+08:00", "limit_days": 20,
            "elapsed_days": 21.0, "remaining_days": -1.0, **extra}


def emergency(case_no: str, department: str = "ZJJ") -> dict:
    return {"appeal_id": case_no.removeprefix("MY"), "case_no": case_no, "department": department,
            "type": "help", "urgency": "emergency", "category": "water", "summary": "小区停水，老人无法做饭",
            "due_at": "2026-11-26T23:59:59+08:00"}
