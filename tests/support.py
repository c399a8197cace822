"""Test tools that talk to the real broker: a tap on an events exchange, a raw publisher, and a TCP
proxy that can cut the link to RabbitMQ (to break things for real, not with mocks)."""

import contextlib
import json
import socket
import uuid

import eventlet
from kombu import Connection, Exchange, Queue

from services.kernel.messaging import events_exchange


class Tap:
    """A queue bound to `<service>.events` that collects what is published there."""

    def __init__(self, amqp_uri: str, service: str, routing_key: str = "#"):
        self.amqp_uri = amqp_uri
        self.queue = Queue(f"test-tap-{uuid.uuid4().hex[:8]}", exchange=events_exchange(service),
                           routing_key=routing_key, durable=False, auto_delete=False)
        with Connection(amqp_uri) as conn:
            self.queue(conn.channel()).declare()
        self.messages: list[dict] = []

    def drain(self) -> list[dict]:
        with Connection(self.amqp_uri) as conn:
            q = self.queue(conn.channel())
            while (m := q.get(no_ack=True)) is not None:
                self.messages.append(json.loads(m.body))
        return self.messages

    def event_ids(self) -> list[str]:
        return [m["event_id"] for m in self.drain()]


def publish_raw(amqp_uri: str, exchange: str, routing_key: str, body, headers=None) -> None:
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        if isinstance(body, bytes | str):
            producer.publish(body, exchange=Exchange(exchange, passive=True), routing_key=routing_key,
                             content_type="application/json", content_encoding="utf-8", headers=headers or {})
        else:
            producer.publish(body, exchange=Exchange(exchange, passive=True), routing_key=routing_key,
                             serializer="json", headers=headers or {})


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` drops every connection and refuses new ones
    until `restore()` (counting them in `refused`)."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = eventlet.listen(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.sockets: list[socket.socket] = []
        self.pipes: list = []
        self.refused = 0
        self._gt = eventlet.spawn(self._accept)

    def _accept(self):
        while True:
            client, _ = self.listener.accept()
            if not self.open:
                self.refused += 1  # a reconnection attempt while cut (the drills bound their rate)
                client.close()
                continue
            try:
                upstream = eventlet.connect(self.target)
            except OSError:
                client.close()
                continue
            self.sockets += [client, upstream]
            self.pipes.append(eventlet.spawn(self._link, client, upstream))

    def _link(self, client, upstream):
        # A link's sockets are closed only once both directions have ended: closing a socket that the other
        # direction's green thread still waits on leaves eventlet's hub a stale reader, and the next file opened
        # with that number (a subprocess's pipe) then fails with "Second simultaneous read".
        ways = [eventlet.spawn(self._pump, client, upstream), eventlet.spawn(self._pump, upstream, client)]
        try:
            for way in ways:
                way.wait()
        finally:
            for way in ways:
                way.kill()
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.close()
            with contextlib.suppress(ValueError):
                self.sockets.remove(client)
                self.sockets.remove(upstream)

    @staticmethod
    def _pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except (OSError, EOFError):  # eventlet raises EOFError for a socket closed under us
            pass
        finally:
            # shutdown, not close: the other direction sees the end and finishes; _link closes both
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self):
        self.open = False
        for s in list(self.sockets):
            # shutdown only: the pipe threads see EOF and close their own sockets (closing a socket that
            # another green thread waits on confuses eventlet's hub when the fd number is reused)
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.sockets.clear()

    def restore(self):
        self.open = True

    def close(self):
        self.cut()
        for gt in self.pipes:
            gt.kill()
        self._gt.kill()
        self.listener.close()
