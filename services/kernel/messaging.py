"""AMQP topology and the two ends of the bus: a confirming publisher, and the event consumer entrypoint.

Why our own consumer: nameko acknowledges and drops a message whose handler raised. Ours retries it
through delay queues (TTL, then dead-lettered straight back to the consumer's queue) and finally parks
it in `xiaoneng.parked` with the error; a message that breaks its contract is parked at once.
Why an alternate exchange: RabbitMQ drops a message no queue is bound for; every `<service>.events`
exchange hands such messages to `xiaoneng.unrouted`, whose queue `xiaoneng.unrouted.kept` keeps the most
recent of them (bounded in number and age: most are events nobody consumes by design), so an event published
before its consumers ever ran can still be replayed (`xiaoneng dlq replay`). Failures have the parking queue
to themselves, unbounded: each one wants an operator (ADR 0003).
"""

from __future__ import annotations

import json
import logging
import time
import traceback
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

import eventlet
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import PreconditionFailed
from eventlet.event import Event as GreenEvent
from eventlet.semaphore import Semaphore
from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError
from nameko.extensions import ProviderCollector, SharedExtension
from nameko.messaging import Consumer, QueueConsumer, QueueConsumerStopped

from . import clock, logs
from .contracts import ContractError, parse_event

log = logging.getLogger(__name__)

UNROUTED_EXCHANGE = "xiaoneng.unrouted"
PARKED_QUEUE = "xiaoneng.parked"  # failures (failed, invalid): kept until an operator acts
# A queue of its own for unrouted events, bounded. A new name rather than new arguments on the parking queue:
# RabbitMQ refuses to change a queue's arguments in place, and the parking queue keeps what it holds.
UNROUTED_QUEUE = "xiaoneng.unrouted.kept"
DEFAULT_RETRY_DELAYS_MS = (5_000, 15_000, 40_000)

# Headers our consumer side adds; their names are part of the parking format `xiaoneng dlq` reads.
H_ATTEMPTS = "x-xiaoneng-attempts"
H_REASON = "x-xiaoneng-reason"
H_ERROR = "x-xiaoneng-error"
H_QUEUE = "x-xiaoneng-queue"
H_EXCHANGE = "x-xiaoneng-exchange"
H_ROUTING_KEY = "x-xiaoneng-routing-key"
H_PARKED_AT = "x-xiaoneng-parked-at"


def clip_error(error: str, limit: int = 2000) -> str:
    """An error text short enough for a header. Its head says what went wrong (SQLAlchemy puts the statement
    and a link after the cause, a traceback ends with it): keep both ends."""
    if len(error) <= limit:
        return error
    half = (limit - 5) // 2
    return f"{error[:half]}\n...\n{error[-half:]}"


class Undeliverable(Exception):
    """The broker returned or refused a message (no route, no confirm)."""


def events_exchange(service: str) -> Exchange:
    """The topic exchange a service publishes its events on; routing key = event type."""
    return Exchange(
        f"{service}.events",
        type="topic",
        durable=True,
        auto_delete=False,
        arguments={"alternate-exchange": UNROUTED_EXCHANGE},
    )


def unrouted_exchange() -> Exchange:
    return Exchange(UNROUTED_EXCHANGE, type="fanout", durable=True, auto_delete=False)


def parked_queue() -> Queue:
    """The failures' queue. Published to through the default exchange; bound to no exchange any more."""
    return Queue(PARKED_QUEUE, durable=True, auto_delete=False)


# RabbitMQ takes x-message-ttl in milliseconds as an unsigned 32-bit number: 49.7 days at most.
_MAX_TTL_DAYS = (2**32 - 1) / 86_400_000


@dataclass(frozen=True)
class UnroutedBound:
    """What `xiaoneng.unrouted.kept` keeps: the newest `max_length` events (older ones are dropped first), none
    older than `max_age_days`; 0 means no bound of that kind."""

    max_length: int = 10_000
    max_age_days: float = 14.0

    def arguments(self) -> dict:
        args = {}
        if self.max_length:
            args["x-max-length"] = int(self.max_length)
        if self.max_age_days:
            args["x-message-ttl"] = int(self.max_age_days * 86_400_000)
        return args


def unrouted_bound(cfg: dict) -> UnroutedBound:
    """From the config's `UNROUTED: {MAX_LENGTH: 10000, MAX_AGE_DAYS: 14}` (the defaults). Every service of a
    node should say the same: the first to declare the queue sets its bounds (ADR 0003)."""
    section = cfg.get("UNROUTED") or {}
    default = UnroutedBound()
    bound = UnroutedBound(int(section.get("MAX_LENGTH", default.max_length)),
                          float(section.get("MAX_AGE_DAYS", default.max_age_days)))
    if bound.max_length < 0 or not 0 <= bound.max_age_days <= _MAX_TTL_DAYS:
        raise ValueError(f"UNROUTED: MAX_LENGTH must be >= 0 and MAX_AGE_DAYS between 0 and {_MAX_TTL_DAYS:.1f} "
                         f"(0: no bound), not {section}")
    return bound


def unrouted_queue(bound: UnroutedBound = UnroutedBound()) -> Queue:
    return Queue(UNROUTED_QUEUE, exchange=unrouted_exchange(), durable=True, auto_delete=False,
                 queue_arguments=bound.arguments())


def declare_unrouted_queue(channel, bound: UnroutedBound = UnroutedBound()) -> None:
    """Declare the bounded queue of unrouted events, on a channel of its own: a queue that exists with other
    bounds (another service's setting, or the broker's definitions) makes the broker close the channel, and
    that queue is then used as it is."""
    side = channel.connection.channel()
    try:
        unrouted_queue(bound)(side).declare()
    except PreconditionFailed as exc:
        log.warning("%s exists with other bounds than UNROUTED %s asks for; keeping it as it is (%s)",
                    UNROUTED_QUEUE, bound.arguments(), exc)
        side = channel.connection.channel()
        side.queue_bind(UNROUTED_QUEUE, UNROUTED_EXCHANGE, "")
    finally:
        try:
            side.close()
        except Exception:  # closed by the broker already
            log.debug("closing the side channel failed", exc_info=True)


def retry_exchange(delay_ms: int) -> Exchange:
    return Exchange(f"xiaoneng.retry.{delay_ms}ms", type="fanout", durable=True, auto_delete=False)


def retry_queue(delay_ms: int) -> Queue:
    # Expired messages are dead-lettered to the default exchange under their original routing key,
    # which the consumer side sets to the consumer's own queue: they come straight back to it.
    return Queue(
        f"xiaoneng.retry.{delay_ms}ms",
        exchange=retry_exchange(delay_ms),
        durable=True,
        auto_delete=False,
        queue_arguments={"x-message-ttl": int(delay_ms), "x-dead-letter-exchange": ""},
    )


def declare_topology(channel, *, service: str | None = None, retry_delays_ms=(),
                     unrouted: UnroutedBound | None = UnroutedBound()) -> None:
    """Declare what every node needs (idempotent): the parking queue, the alternate exchange with its bounded
    queue (`unrouted=None`: leave that queue alone) and, if given, the events exchange of `service` and the
    retry queues."""
    unrouted_exchange()(channel).declare()
    parked_queue()(channel).declare()
    # Deployments from before the split had the parking queue bound to the alternate exchange: undo that, so
    # that unrouted events go to their bounded queue only (unbinding what is not bound is no error).
    channel.queue_unbind(PARKED_QUEUE, UNROUTED_EXCHANGE, "")
    if unrouted is not None:
        declare_unrouted_queue(channel, unrouted)
    if service:
        events_exchange(service)(channel).declare()
    for delay in retry_delays_ms:
        retry_queue(delay)(channel).declare()


def consumer_queue_name(source: str, event_type: str, service: str, method: str) -> str:
    # nameko's own naming, so that ops who know nameko recognise the queues
    return f"evt-{source}-{event_type}--{service}.{method}"


@dataclass
class Outgoing:
    """One message for `ConfirmingPublisher.publish_many`; `body` is a JSON-able value or encoded bytes."""

    body: Any
    exchange: str
    routing_key: str
    headers: dict | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    message_id: str | None = None


class ConfirmingPublisher:
    """Publishes with publisher confirms and `mandatory`, on one connection guarded for green threads.

    Confirms are pipelined: a batch is published in one go and then its acknowledgements are awaited, so
    a batch costs about one round trip rather than one per message. A message is confirmed only when
    the broker acked it and did not return it (no route).
    """

    def __init__(self, amqp_uri: str, *, connect_timeout: float = 5.0, confirm_timeout: float = 30.0):
        self.amqp_uri = amqp_uri
        self.connect_timeout = connect_timeout
        self.confirm_timeout = confirm_timeout
        self._conn: Connection | None = None
        self._channel = None
        self._lock = Semaphore()
        self._declared: set[str] = set()
        self._next_tag = 1
        self._acked: dict[int, bool] = {}
        self._returned: set[str] = set()
        self._pending_tags: set[int] = set()

    def _ensure(self):
        if self._channel is None:
            conn = Connection(self.amqp_uri, connect_timeout=self.connect_timeout, heartbeat=0)
            # no sleep between attempts: we hold the lock, and the relay has its own backoff
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
            channel = conn.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
            self._conn, self._channel = conn, channel
            self._next_tag = 1
            self._declared.clear()
        return self._channel

    def _settle_tags(self, delivery_tag: int, multiple: bool, ok: bool) -> None:
        tags = [t for t in self._pending_tags if t <= delivery_tag] if multiple else [delivery_tag]
        for tag in tags:
            self._acked[tag] = ok
            self._pending_tags.discard(tag)

    def _on_ack(self, delivery_tag, multiple):
        self._settle_tags(delivery_tag, multiple, True)

    def _on_nack(self, delivery_tag, multiple):
        self._settle_tags(delivery_tag, multiple, False)

    def _on_return(self, exc, exchange, routing_key, message):
        self._returned.add(message.properties.get("message_id") or "")

    def close(self) -> None:
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:  # closing a broken connection may raise anything; it is gone either way
                log.debug("closing publisher connection failed", exc_info=True)
        self._conn = None
        self._channel = None

    def declare(self, key: str, declare_fn) -> None:
        """Run `declare_fn(channel)` once per connection (re-run after a reconnect)."""
        with self._lock:
            channel = self._ensure()
            if key not in self._declared:
                declare_fn(channel)
                self._declared.add(key)

    def publish(self, body: Any, *, exchange: Exchange | str, routing_key: str, headers: dict | None = None,
                content_type: str | None = None, content_encoding: str | None = None,
                message_id: str | None = None) -> None:
        """Publish one message and wait for its confirm; raises Undeliverable when it was not routed."""
        name = exchange.name if isinstance(exchange, Exchange) else exchange
        result = self.publish_many([Outgoing(body, name, routing_key, headers, content_type, content_encoding,
                                             message_id)])[0]
        if result is not None:
            raise result

    def publish_many(self, batch: list[Outgoing]) -> list[Exception | None]:
        """Publish a batch and wait for all its confirms. Returns, per message, None when the broker
        confirmed it, or an Undeliverable (returned or nacked). Raises OperationalError when the broker
        is unreachable or the confirms do not come (then none of the batch counts as confirmed)."""
        with self._lock:
            try:
                return self._publish_many(batch)
            except Exception as exc:
                # After any failure the channel state is unknown: start over on the next publish.
                self._reset()
                if isinstance(exc, OperationalError):
                    raise
                raise OperationalError(f"publishing failed: {exc}") from exc

    def _publish_many(self, batch: list[Outgoing]) -> list[Exception | None]:
        channel = self._ensure()
        self._acked.clear()
        self._returned.clear()
        self._pending_tags = set()
        tags: list[tuple[int, str]] = []
        for item in batch:
            if item.content_type:
                body, ctype, cenc = item.body, item.content_type, item.content_encoding or "utf-8"
            else:
                body, ctype, cenc = json.dumps(item.body, ensure_ascii=False).encode(), "application/json", "utf-8"
            # a per-message id lets a return be matched to its message
            mid = item.message_id or uuid.uuid4().hex
            msg = channel.prepare_message(body, content_type=ctype, content_encoding=cenc,
                                          headers=item.headers or {},
                                          properties={"delivery_mode": 2, "message_id": mid})
            channel.basic_publish(msg, exchange=item.exchange, routing_key=item.routing_key, mandatory=True)
            tags.append((self._next_tag, mid))
            self._pending_tags.add(self._next_tag)
            self._next_tag += 1
        deadline = time.monotonic() + self.confirm_timeout
        while self._pending_tags:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OperationalError(f"no publisher confirm within {self.confirm_timeout} s")
            try:
                self._conn.drain_events(timeout=min(remaining, 1.0))
            except TimeoutError:
                continue
        results: list[Exception | None] = []
        for tag, mid in tags:
            if mid in self._returned:
                results.append(Undeliverable(f"message {mid} was returned by the broker: no route"))
            elif not self._acked.get(tag, False):
                results.append(Undeliverable(f"message {mid} was nacked by the broker"))
            else:
                results.append(None)
        return results


class Republisher(SharedExtension):
    """One confirming publisher per container for the consumer side's retries and parking."""

    def setup(self):
        cfg = self.container.config
        self.retry_delays_ms = tuple(int(d) for d in cfg.get("RETRY_DELAYS_MS") or DEFAULT_RETRY_DELAYS_MS)
        self.unrouted = unrouted_bound(cfg)
        self.publisher = ConfirmingPublisher(cfg["AMQP_URI"])
        self._topology = partial(declare_topology, retry_delays_ms=self.retry_delays_ms, unrouted=self.unrouted)

    def start(self):
        # A service started before its broker waits for it (nameko's consumers retry, /health says 503) rather
        # than failing: the topology is declared again before every retry or park anyway.
        try:
            self.publisher.declare("topology", self._topology)
        except (OperationalError, OSError) as exc:
            self.publisher.close()
            log.warning("broker unreachable at start (%s); retry and parking queues are declared on first use", exc)

    def stop(self):
        self.publisher.close()

    def _declared_publish(self, body, **kwargs):
        self.publisher.declare("topology", self._topology)
        self.publisher.publish(body, **kwargs)

    def retry_or_park(self, message, queue_name: str, error: str) -> str:
        """Send a failed message to its next delay queue, or park it when attempts are used up."""
        headers = dict(message.headers or {})
        attempts = int(headers.get(H_ATTEMPTS, 0)) + 1
        headers[H_ATTEMPTS] = attempts
        headers[H_ERROR] = clip_error(error)
        if attempts <= len(self.retry_delays_ms):
            delay = self.retry_delays_ms[attempts - 1]
            self._declared_publish(
                message.body,
                exchange=retry_exchange(delay),
                routing_key=queue_name,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
            )
            return f"retry in {delay} ms (attempt {attempts})"
        self.park(message, queue_name, "failed", error, headers=headers)
        return f"parked after {attempts} attempts"

    def park(self, message, queue_name: str, reason: str, error: str, headers: dict | None = None) -> None:
        headers = dict(headers if headers is not None else (message.headers or {}))
        info = message.delivery_info or {}
        headers.update({
            H_REASON: reason,
            H_ERROR: clip_error(error),
            H_QUEUE: queue_name,
            H_EXCHANGE: headers.get(H_EXCHANGE) or info.get("exchange", ""),
            H_ROUTING_KEY: headers.get(H_ROUTING_KEY) or info.get("routing_key", ""),
            H_PARKED_AT: clock.now().isoformat(),
        })
        self._declared_publish(
            message.body,
            exchange="",
            routing_key=PARKED_QUEUE,
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
        )


class AlreadyProcessed(Exception):
    """Raised inside a handler's unit of work when this consumer has handled the event before."""


class ParkingQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a body that cannot even be decoded (not JSON, a content
    type we do not accept) is handed to its entrypoint to be parked. Left to kombu, such a message
    raises inside the consumer loop, which drops the connection and gets the message redelivered
    forever."""

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(provider.handle_undecodable, self)
        return consumers

    #: seconds to wait at stop for the consumer loop to cancel a consumer
    stop_timeout = 10.0

    def ack_message(self, message):
        self._settle_on_the_wire(message, "ack")

    def requeue_message(self, message):
        self._settle_on_the_wire(message, "requeue")

    @staticmethod
    def _settle_on_the_wire(message, action: str) -> None:
        """nameko catches only amqp's ConnectionError here; a link cut while the message was in flight raises
        BrokenPipeError, ConnectionResetError or another OSError from the socket, which ends the worker's
        thread with an error and so kills the whole container. The broker returns every unacknowledged
        message of a dead connection to its queue, so the message is delivered again (to this instance once
        the consumer loop has reconnected, or another): consumers deduplicate (inbox), nothing is lost."""
        if not message.channel.connection:
            return  # the connection is gone already: the broker has taken the message back
        try:
            if action == "ack":
                message.ack()
            else:
                message.requeue()
        except (OSError, AmqpConnectionError, OperationalError) as exc:
            log.warning("could not %s message %s (%s): the broker will deliver it again", action,
                        (message.properties or {}).get("message_id") or message.delivery_tag, exc)

    def unregister_provider(self, provider):
        """nameko waits, without limit, for its consumer loop to cancel the consumer; with the broker out of
        reach the loop never turns, and the service cannot be stopped (SIGTERM hangs). Wait a while, then
        give up on a connection that is gone anyway: its unacknowledged messages go back to the queue."""
        if not self._consumers_ready.ready():
            # nameko's own branch here sends its one-shot "last provider unregistered" for every provider, and
            # the second send raises (a service with several consumers whose broker was never reached); the
            # collector's sends it once, when the last provider leaves
            return ProviderCollector.unregister_provider(self, provider)
        removed = GreenEvent()
        self._pending_remove_providers[provider] = removed
        with eventlet.Timeout(self.stop_timeout, False):
            removed.wait()
        if not removed.ready():
            log.warning("broker unreachable while stopping: dropping the consumer of %s", provider)
            self._pending_remove_providers.pop(provider, None)
            self._consumers.pop(provider, None)
            if self._gt is not None and not self._gt.dead:
                self._gt.kill(QueueConsumerStopped())  # what nameko's own stop() expects
        ProviderCollector.unregister_provider(self, provider)

    def kill(self):
        """nameko's kill asks the consumer loop to end and waits for it; a loop that never reached the broker
        is inside kombu's connection retries, which do not look, so the wait never ends. Kill that loop."""
        if self._gt is not None and not self._gt.dead and not self._consumers_ready.ready():
            self._gt.kill(QueueConsumerStopped())
        super().kill()


class EventConsumer(Consumer):
    """`@consume_event(source_service, event_type)`: the handler gets a validated `Event`.

    Success, or an event already processed: ack. Failure: retry with backoff, then park. An event that
    breaks its contract: park at once. If even parking fails (broker trouble), the message is requeued,
    never dropped.
    """

    queue_consumer = ParkingQueueConsumer()
    republisher = Republisher()

    def __init__(self, source_service: str, event_type: str, **kwargs):
        self.source_service = source_service
        self.event_type = event_type
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    def setup(self):
        self.queue = Queue(
            consumer_queue_name(self.source_service, self.event_type, self.container.service_name,
                                self.method_name),
            exchange=events_exchange(self.source_service),
            routing_key=self.event_type,
            durable=True,
            auto_delete=False,
        )
        super().setup()

    @property
    def consumer_name(self) -> str:
        return f"{self.container.service_name}.{self.method_name}"

    def handle_message(self, body, message):
        try:
            event = parse_event(body)
        except ContractError as exc:
            error = str(exc)
            log.warning("parking an event that breaks its contract on %s: %s", self.queue.name, error)
            self._settle(message, lambda: self.republisher.park(message, self.queue.name, "invalid", error))
            return
        if event.event_type != self.event_type:
            self._settle(message, lambda: self.republisher.park(
                message, self.queue.name, "invalid", f"expected {self.event_type}, got {event.event_type}"))
            return
        context_data = self.unpack_message_headers(message)
        context_data["correlation_id"] = event.correlation_id
        try:
            self.container.spawn_worker(
                self, (event,), {}, context_data=context_data,
                handle_result=partial(self.handle_result, message),
            )
        except Exception:  # ContainerBeingKilled and friends: let another instance have it
            self.queue_consumer.requeue_message(message)

    def handle_undecodable(self, queue_consumer, message, exc):
        error = f"undecodable message body: {exc}"
        log.warning("parking a message on %s: %s", self.queue.name, error)
        self._settle(message, lambda: self.republisher.park(message, self.queue.name, "invalid", error))

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if exc_info is None or isinstance(exc_info[1], AlreadyProcessed):
            self.queue_consumer.ack_message(message)
            return result, None
        error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
        with logs.bind(correlation_id=worker_ctx.data.get("correlation_id")):
            log.error("handler %s failed: %s", self.consumer_name, error, exc_info=exc_info)
        self._settle(message, lambda: log.info(
            "%s: %s", self.consumer_name, self.republisher.retry_or_park(message, self.queue.name, error)))
        return result, exc_info

    def _settle(self, message, action) -> None:
        try:
            action()
        except Exception:
            log.exception("could not retry or park a message on %s; requeueing it", self.queue.name)
            eventlet.sleep(1)  # the broker is in trouble: do not spin
            self.queue_consumer.requeue_message(message)
        else:
            self.queue_consumer.ack_message(message)


consume_event = EventConsumer.decorator
