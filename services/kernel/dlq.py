"""Parked messages: list them and replay them (the `xiaoneng dlq` commands).

Messages land in `xiaoneng.parked` three ways: a handler that kept failing (reason `failed`), an event
that broke its contract (`invalid`), or an event no queue was bound for, via the alternate exchange
(`unrouted`, no headers of ours). Replay sends a failed or invalid message back to the queue of the
consumer that parked it, with its attempt count reset, and an unrouted one to its original exchange.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from kombu import Connection, Queue

from .messaging import (
    H_ATTEMPTS,
    H_ERROR,
    H_EXCHANGE,
    H_PARKED_AT,
    H_QUEUE,
    H_REASON,
    H_ROUTING_KEY,
    PARKED_QUEUE,
    ConfirmingPublisher,
    declare_topology,
)

_OURS = (H_ATTEMPTS, H_ERROR, H_EXCHANGE, H_PARKED_AT, H_QUEUE, H_REASON, H_ROUTING_KEY)


@dataclass
class Parked:
    position: int
    event_id: str | None
    event_type: str | None
    reason: str
    queue: str | None
    exchange: str
    routing_key: str
    error: str | None
    attempts: int
    parked_at: str | None
    body: bytes
    content_type: str
    content_encoding: str
    headers: dict

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("body", "headers", "content_encoding")}
        d["body"] = self.body.decode("utf-8", "replace")
        return d


def _describe(position: int, message) -> Parked:
    headers = dict(message.headers or {})
    info = message.delivery_info or {}
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    event_id = event_type = None
    try:
        decoded = json.loads(body)
        if isinstance(decoded, dict):
            event_id, event_type = decoded.get("event_id"), decoded.get("event_type")
    except ValueError:
        pass
    return Parked(
        position=position, event_id=event_id, event_type=event_type,
        reason=headers.get(H_REASON, "unrouted"), queue=headers.get(H_QUEUE),
        exchange=headers.get(H_EXCHANGE) or info.get("exchange", ""),
        routing_key=headers.get(H_ROUTING_KEY) or info.get("routing_key", ""),
        error=headers.get(H_ERROR), attempts=int(headers.get(H_ATTEMPTS, 0)), parked_at=headers.get(H_PARKED_AT),
        body=body, content_type=message.content_type or "application/json",
        content_encoding=message.content_encoding or "utf-8", headers=headers,
    )


def _each(conn: Connection):
    """Yield (Parked, message) for every message in the parking queue when we started, unacknowledged;
    whatever the caller does not ack goes back to the queue when the channel closes. Bounded by the
    count at the start: a replayed message that is parked again (still unroutable) is not met twice."""
    channel = conn.channel()
    declare_topology(channel)
    try:
        queue = Queue(PARKED_QUEUE, channel=channel, no_declare=True)
        present = queue.queue_declare(passive=True).message_count
        for position in range(1, present + 1):
            message = queue.get(no_ack=False)
            if message is None:
                return
            yield _describe(position, message), message
    finally:
        channel.close()


def list_parked(amqp_uri: str) -> list[Parked]:
    with Connection(amqp_uri) as conn:
        return [parked for parked, _ in _each(conn)]


def replay(amqp_uri: str, *, event_ids: Iterable[str] | None = None, replay_all: bool = False) -> list[Parked]:
    """Send parked messages back; returns those replayed. Each is acknowledged (removed from the parking
    queue) only after the broker confirmed its republication."""
    wanted = set(event_ids or ())
    if not replay_all and not wanted:
        raise ValueError("name the event ids to replay, or replay all")
    publisher = ConfirmingPublisher(amqp_uri)
    done: list[Parked] = []
    try:
        with Connection(amqp_uri) as conn:
            for parked, message in _each(conn):
                if not replay_all and parked.event_id not in wanted:
                    continue
                headers = {k: v for k, v in parked.headers.items() if k not in _OURS}
                if parked.reason in ("failed", "invalid") and parked.queue:
                    exchange, routing_key = "", parked.queue
                else:
                    exchange, routing_key = parked.exchange, parked.routing_key
                publisher.publish(parked.body, exchange=exchange, routing_key=routing_key, headers=headers,
                                  content_type=parked.content_type, content_encoding=parked.content_encoding,
                                  message_id=parked.event_id)
                message.ack()
                done.append(parked)
    finally:
        publisher.close()
    return done
