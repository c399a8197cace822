"""Parked messages: list them and replay them (the `xiaoneng dlq` commands).

Two queues hold them. `xiaoneng.parked` holds failures, each waiting for an operator: a handler that kept
failing (reason `failed`), an event that broke its contract (`invalid`), a message the broker itself
dead-lettered from a consumer's queue (policy `consumer-queues` of deploy/broker.py: `failed`, with the
broker's reason). `xiaoneng.unrouted.kept` holds the newest events no queue was bound for (`unrouted`, no
headers of ours), bounded: most of them nobody consumes by design. Parking queues of deployments from before
the split may still hold `unrouted` events; they are listed and replayed like the others. Failures are
listed first. Replay sends a failed or invalid message back to the queue of the consumer that parked it,
with its attempt count reset, and an unrouted one to its original exchange.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from amqp.exceptions import NotFound
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
    UNROUTED_QUEUE,
    ConfirmingPublisher,
    declare_topology,
)

log = logging.getLogger(__name__)

_OURS = (H_ATTEMPTS, H_ERROR, H_EXCHANGE, H_PARKED_AT, H_QUEUE, H_REASON, H_ROUTING_KEY)
FAILURES = ("failed", "invalid")
REASONS = (*FAILURES, "unrouted")

# Lines of an error text that say nothing of its cause: SQLAlchemy's statement, parameters and help link, a
# traceback's frames, the mark where a long error was shortened (messaging.clip_error).
_NOISE = re.compile(r"^(\[SQL: |\[parameters: |\(Background on this error at: |Traceback \(most recent call last\)|"
                    r"File \"|\.\.\.$|\^+$|~+$)")


def cause_of(error: str | None) -> str | None:
    """The line of an error that says what went wrong. An exception's text starts with it (SQLAlchemy's ends
    with a link to its help pages); a traceback ends with it."""
    if not error:
        return None
    lines = [line.strip() for line in error.splitlines()]
    useful = [line for line in lines if line and not _NOISE.match(line)]
    if not useful:
        return lines[0] if lines else None
    if error.lstrip().startswith("Traceback"):
        return useful[-1]
    return useful[0]


@dataclass
class Parked:
    position: int
    held_in: str
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

    @property
    def cause(self) -> str | None:
        return cause_of(self.error)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("body", "headers", "content_encoding")}
        d["cause"] = self.cause
        d["body"] = self.body.decode("utf-8", "replace")
        return d


def _describe(held_in: str, message) -> Parked:
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
    reason, queue, error = headers.get(H_REASON), headers.get(H_QUEUE), headers.get(H_ERROR)
    deaths = headers.get("x-death") or []
    if reason is None and deaths:
        # dead-lettered by the broker from a consumer's queue (newest death first): a failure of that consumer
        death = deaths[0]
        reason, queue = "failed", death.get("queue")
        error = f"dead-lettered by the broker from {queue}: {death.get('reason')} (count {death.get('count')})"
    return Parked(
        position=0, held_in=held_in, event_id=event_id, event_type=event_type,
        reason=reason or "unrouted", queue=queue,
        exchange=headers.get(H_EXCHANGE) or info.get("exchange", ""),
        routing_key=headers.get(H_ROUTING_KEY) or info.get("routing_key", ""),
        error=error, attempts=int(headers.get(H_ATTEMPTS, 0)), parked_at=headers.get(H_PARKED_AT),
        body=body, content_type=message.content_type or "application/json",
        content_encoding=message.content_encoding or "utf-8", headers=headers,
    )


def _each(conn: Connection):
    """Yield (Parked, message) for every message in the two queues when we started, the failures' first,
    unacknowledged; whatever the caller does not ack goes back to its queue when the channel closes. Bounded
    by the counts at the start: a replayed message that is parked again (still unroutable) is not met twice."""
    channel = conn.channel()
    # Not the unrouted queue: its bounds are the services' setting, and a tool does not know it.
    declare_topology(channel, unrouted=None)
    try:
        for name in (PARKED_QUEUE, UNROUTED_QUEUE):
            probe = conn.channel()  # a queue that does not exist closes the channel it was asked on
            try:
                present = Queue(name, channel=probe, no_declare=True).queue_declare(passive=True).message_count
            except NotFound:
                continue
            finally:
                try:
                    probe.close()
                except Exception:  # closed by the broker's refusal
                    log.debug("closing the probe channel failed", exc_info=True)
            queue = Queue(name, channel=channel, no_declare=True)
            for _ in range(present):
                message = queue.get(no_ack=False)
                if message is None:
                    break
                yield _describe(name, message), message
    finally:
        channel.close()


def list_parked(amqp_uri: str, *, reasons: Iterable[str] = REASONS) -> list[Parked]:
    """Every parked message of `reasons`, failures first (a failure is what needs an operator), numbered."""
    wanted = set(reasons)
    with Connection(amqp_uri) as conn:
        found = [parked for parked, _ in _each(conn) if parked.reason in wanted]
    found.sort(key=lambda p: p.reason not in FAILURES)  # stable: each kind in its queues' order
    for position, parked in enumerate(found, 1):
        parked.position = position
    return found


def replay(amqp_uri: str, *, event_ids: Iterable[str] | None = None, replay_all: bool = False,
           reasons: Iterable[str] = REASONS) -> list[Parked]:
    """Send parked messages back (those named, or all of `reasons`); returns those replayed. Each is
    acknowledged (removed from its queue) only after the broker confirmed its republication."""
    wanted = set(event_ids or ())
    kinds = set(reasons)
    if not replay_all and not wanted:
        raise ValueError("name the event ids to replay, or replay all")
    publisher = ConfirmingPublisher(amqp_uri)
    done: list[Parked] = []
    try:
        with Connection(amqp_uri) as conn:
            for parked, message in _each(conn):
                if parked.reason not in kinds or (not replay_all and parked.event_id not in wanted):
                    continue
                headers = {k: v for k, v in parked.headers.items() if k not in _OURS}
                if parked.reason in FAILURES and parked.queue:
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
