"""Prometheus metrics of one service, served at `GET /metrics`: outbox lag, depths of its own queues and of the
node's parking queues (with the bound of the unrouted one), events published and consumed, alarm latency, and
deliveries (a hook notify's channels call).

Counters are counted where things happen (the Platform counts consumed events and confirmed publications, the
kernel's alarms their latency); gauges that need a query (outbox, queues) are read when Prometheus scrapes,
the queue depths at most every few seconds, so a busy scraper costs the broker little."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from . import clock
from .messaging import PARKED_QUEUE, UNROUTED_QUEUE, UnroutedBound

log = logging.getLogger(__name__)

# The node's two parking queues, by the kind of message each holds (ADR 0003).
PARKING_QUEUES = {PARKED_QUEUE: "failures", UNROUTED_QUEUE: "unrouted"}

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class _Scraped:
    """Gauges computed at scrape time from callbacks (each returns rows of (labels..., value))."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self):
        m = self.metrics
        pending = GaugeMetricFamily("xiaoneng_outbox_pending", "events committed but not yet confirmed by the broker",
                                    labels=["service"])
        age = GaugeMetricFamily("xiaoneng_outbox_oldest_age_seconds",
                                "age of the oldest event not yet confirmed by the broker (0: none)", labels=["service"])
        if m.outbox_probe is not None:
            try:
                count, oldest = m.outbox_probe()
                pending.add_metric([m.service], count)
                age.add_metric([m.service], max(0.0, (clock.now() - oldest).total_seconds()) if oldest else 0.0)
            except Exception as exc:  # the database is down: /health says so; the scrape still answers
                log.debug("outbox probe failed: %s", exc)
        yield pending
        yield age
        depth = GaugeMetricFamily("xiaoneng_queue_messages", "messages ready in this service's queues",
                                  labels=["service", "queue"])
        parked = GaugeMetricFamily("xiaoneng_parked_messages", "messages parked on this node's broker: failures "
                                   "(failed, invalid) in xiaoneng.parked, the newest unrouted events in "
                                   "xiaoneng.unrouted.kept", labels=["service", "queue", "kind"])
        for queue, count in m.queue_depths():
            if queue in PARKING_QUEUES:
                parked.add_metric([m.service, queue, PARKING_QUEUES[queue]], count)
            else:
                depth.add_metric([m.service, queue], count)
        yield depth
        yield parked
        if m.unrouted_bound is not None:
            # At the bound, the oldest unrouted events are being dropped: alert on depth near this.
            most = GaugeMetricFamily("xiaoneng_unrouted_kept_max_messages", "how many unrouted events "
                                     "xiaoneng.unrouted.kept keeps at most (0: no bound)", labels=["service"])
            most.add_metric([m.service], m.unrouted_bound.max_length)
            oldest = GaugeMetricFamily("xiaoneng_unrouted_kept_max_age_seconds", "how long xiaoneng.unrouted.kept "
                                       "keeps an unrouted event at most (0: no bound)", labels=["service"])
            oldest.add_metric([m.service], m.unrouted_bound.max_age_days * 86_400)
            yield most
            yield oldest


class Metrics:
    """One registry per service instance (tests run several services in one process)."""

    def __init__(self, service: str):
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.published = Counter("xiaoneng_events_published", "events confirmed by the broker (outbox relay)",
                                 ["service"], registry=self.registry)
        self.consumed = Counter("xiaoneng_events_consumed", "events handled by this service, by outcome "
                                "(processed, duplicate, failed)", ["service", "event_type", "outcome"],
                                registry=self.registry)
        self.alarm_latency = Histogram("xiaoneng_alarm_latency_seconds", "from the moment an alarm (deadline, "
                                       "card, warning) was due to the monitor claiming it", ["service", "kind"],
                                       buckets=LATENCY_BUCKETS, registry=self.registry)
        self.deliveries = Counter("xiaoneng_deliveries", "notifications by channel and status", ["service", "channel",
                                  "status"], registry=self.registry)
        self.delivery_latency = Histogram("xiaoneng_delivery_latency_seconds", "from the event to its delivery",
                                          ["service", "channel"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.outbox_probe: Callable[[], tuple[int, datetime | None]] | None = None
        self.queue_probe: Callable[[], Iterable[tuple[str, int]]] | None = None
        self.unrouted_bound: UnroutedBound | None = None  # the service's UNROUTED setting, shown as gauges
        self.queue_cache_seconds = 5.0
        self._queues: list[tuple[str, int]] = []
        self._queues_at = 0.0
        self.registry.register(_Scraped(self))

    # -- hooks ------------------------------------------------------------------------------------------------

    def event_consumed(self, event_type: str, outcome: str) -> None:
        self.consumed.labels(self.service, event_type, outcome).inc()

    def events_published(self, count: int) -> None:
        if count:
            self.published.labels(self.service).inc(count)

    def alarms_claimed(self, rows: Iterable[dict], now: datetime) -> None:
        """Called by kernel Alarms.claim with the claimed rows (each has `kind` and `fire_at`)."""
        for row in rows:
            self.alarm_latency.labels(self.service, row["kind"]).observe(
                max(0.0, (now - row["fire_at"]).total_seconds()))

    def delivered(self, channel: str, status: str, event_at: datetime | None = None) -> None:
        """For notify's channels: one call per delivery attempt (`status`: sent, failed, ...)."""
        self.deliveries.labels(self.service, channel, status).inc()
        if event_at is not None and status == "sent":
            self.delivery_latency.labels(self.service, channel).observe(
                max(0.0, (clock.now() - event_at).total_seconds()))

    # -- scrape -----------------------------------------------------------------------------------------------

    def queue_depths(self) -> list[tuple[str, int]]:
        if self.queue_probe is None:
            return []
        if time.monotonic() - self._queues_at > self.queue_cache_seconds:
            try:
                self._queues = list(self.queue_probe())
            except Exception as exc:  # the broker is down: /health says so
                log.debug("queue probe failed: %s", exc)
                self._queues = []
            self._queues_at = time.monotonic()
        return self._queues

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def queue_probe(amqp_uri: str, queue_names: Callable[[], list[str]]) -> Callable[[], list[tuple[str, int]]]:
    """Depths by passive declares (no management API needed; one connection per scrape): the service's own
    queues and the node's parking queues."""

    def probe() -> list[tuple[str, int]]:
        from kombu import Connection

        out = []
        with Connection(amqp_uri, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            for name in [*queue_names(), *PARKING_QUEUES]:
                channel = conn.channel()
                try:
                    _, count, _ = channel.queue_declare(name, passive=True)
                    out.append((name, count))
                except Exception:  # not declared yet, or not ours to see: leave it out
                    pass
                finally:
                    try:
                        channel.close()
                    except Exception:  # a channel closed by the broker's refusal
                        log.debug("closing probe channel failed", exc_info=True)
        return out

    return probe
