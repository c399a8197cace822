"""What every service has: validated settings, its database with the outbox relay, `/health` and
`/api/openapi.json`. A service class subclasses `ServiceBase` and declares `platform = Platform(metadata)`.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import eventlet
from kombu import Connection
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from . import logs, metrics, migrate
from .config import ConfigError, validate
from .db import Database
from .http import ApiEndpoint, api
from .messaging import AlreadyProcessed, ConfirmingPublisher, EventConsumer
from .openapi import build_spec
from .outbox import OutboxRelay, relay_settings

log = logging.getLogger(__name__)

REQUIRED_SETTINGS = {
    "AMQP_URI": "the RabbitMQ URI of this node, e.g. amqp://user:pass@host:5672/vhost",
    "DATABASE_URL": "SQLAlchemy URL of this service's own database (sqlite:///var/x.db or postgresql://...)",
    "WEB_SERVER_ADDRESS": "host:port the HTTP API listens on",
    "KEYS_FILE": "path of the deployment's API keys file",
}


class WorkerStore:
    """The database as one worker sees it: units of work bound to its correlation id and name."""

    def __init__(self, provider: Platform, worker_ctx):
        self.provider = provider
        self.db = provider.db
        self._ctx = worker_ctx

    def unit_of_work(self, *, core: bool = False):
        """`core=True`: the unit of work runs on a Core Connection (see `Database.unit_of_work`)."""
        return self.db.unit_of_work(correlation_id=self._ctx.data.get("correlation_id"), core=core)

    def grouped(self, work):
        """Run `work(uow)` in a unit of work shared with the requests running at the same moment (one
        commit for all; see `GroupCommit`) and return its result. For a busy write path whose work has no
        effect outside the unit of work: it may run twice."""
        return self.db.group.run(work, correlation_id=self._ctx.data.get("correlation_id"))

    def consuming(self, event):
        """A unit of work that also records this handler as having processed `event` (idempotency);
        raises AlreadyProcessed on a redelivery, which the consumer acknowledges without effect."""
        consumer = f"{self._ctx.service_name}.{self._ctx.entrypoint.method_name}"
        return self.db.unit_of_work(consumed=event, consumer=consumer)

    def consuming_batched(self, event, item, apply) -> bool:
        """`consuming` for a busy consumer: this handler's event is recorded as consumed and `apply(uow, items)`
        applied to its `item`, in one transaction shared with the handlers of this consumer running at the same
        moment (see `BatchedConsumer`). Returns once that committed: True, or False for an event handled before.
        `apply` is the same function on every call of a consumer."""
        consumer = f"{self._ctx.service_name}.{self._ctx.entrypoint.method_name}"
        return self.db.batched_consumer(consumer, apply).consume(event, item)

    def session(self):
        """For reading: lists, look-ups, reports (changes go through `unit_of_work`)."""
        return self.db.reader()

    @property
    def metrics(self) -> metrics.Metrics:
        """The service's Prometheus metrics, e.g. `self.platform.metrics.delivered(channel, status)`."""
        return self.provider.metrics


def catch_up_with_calendar(settings, what: str, find_pending, recalculate, batch: int) -> None:
    """Once per calendar (the years `settings.calendar` covers; the service reads it at start, so a new year
    comes with a restart): `find_pending()` lists the ids of the records whose deadlines waited for a year
    without schedule, and `recalculate(ids)` gives them their moments, `batch` at a time, answering (done,
    skipped because another transaction held them). With any skipped, the next call tries again.
    `settings.recalculated_for` remembers the calendar done."""
    years = tuple(settings.calendar.years_covered())
    if settings.recalculated_for == years:
        return
    pending = find_pending()
    done = skipped = 0
    for start in range(0, len(pending), batch):
        batch_done, batch_skipped = recalculate(pending[start:start + batch])
        done, skipped = done + batch_done, skipped + batch_skipped
        eventlet.sleep(0)
    if not skipped:
        settings.recalculated_for = years
    if pending:
        log.info("calendar covers %s: %d of %d %s waiting for it recalculated",
                 f"{years[0]}-{years[-1]}" if years else "no year", done, len(pending), what)


class _CountingRelay(OutboxRelay):
    on_published = None

    def relay_once(self) -> int:
        sent = super().relay_once()
        if sent and self.on_published is not None:
            self.on_published(sent)
        return sent


class Platform(DependencyProvider):
    def __init__(self, metadata, *, required: dict[str, str] | None = None):
        self.metadata = metadata
        self.required = {**REQUIRED_SETTINGS, **(required or {})}

    @staticmethod
    def of(container) -> Platform:
        """The container's Platform, for a service's other dependency providers (seeds, senders)."""
        return next(d for d in container.dependencies if isinstance(d, Platform))

    def setup(self):
        cfg = self.container.config
        try:
            validate(cfg, self.required)
        except ConfigError as exc:
            log.critical("%s cannot start: %s", self.container.service_name, exc)
            raise
        self.service = self.container.service_name
        self.db = Database(cfg["DATABASE_URL"], self.metadata, service=self.service,
                           department=cfg.get("DEPARTMENT"), background_checkpoint=True)
        # A fresh database gets its tables (stamped at the head revision); one behind the head is refused:
        # `make migrate` first (services/kernel/migrate.py says why).
        try:
            log.info("%s database: %s", self.service, migrate.ensure_schema(self.db.engine, self.metadata,
                                                                             self.service))
        except migrate.SchemaError as exc:
            log.critical("%s cannot start: %s", self.container.service_name, exc)
            raise
        outbox_cfg = cfg.get("OUTBOX") or {}
        self.relay = _CountingRelay(
            self.db, ConfirmingPublisher(cfg["AMQP_URI"]),
            poll_interval=float(outbox_cfg.get("POLL_INTERVAL", 0.5)),
            **relay_settings(cfg),
        )
        self.db.on_commit_with_events(self.relay.notify)
        grace = timedelta(seconds=float(cfg.get("LATE_REPORT_GRACE_SECONDS") or 0))
        self.metrics = metrics.Metrics(self.service)
        self.relay.on_published = self.metrics.events_published
        self.metrics.outbox_probe = self._outbox_probe
        self.metrics.queue_probe = metrics.queue_probe(cfg["AMQP_URI"], self._queue_names)
        self.metrics.unrouted_bound = self.relay.unrouted
        for alarms in self.metadata.info.get("alarms", []):
            alarms.late_grace = grace
            alarms.on_claim = self.metrics.alarms_claimed
        self._relay_enabled = bool(outbox_cfg.get("RELAY", True))
        self._broker_checked_at = 0.0
        self._broker_ok: tuple[bool, str] = (False, "not checked")
        self._spec: dict | None = None
        self._bound: dict = {}

    def start(self):
        if self._relay_enabled:
            self._relay_gt = self.container.spawn_managed_thread(self.relay.run)
        if self.db.checkpointer is not None:
            self.container.spawn_managed_thread(self.db.checkpointer.run)

    def stop(self):
        if self.db.checkpointer is not None:
            self.db.checkpointer.stop()
        self.relay.stop()
        self.relay.publisher.close()
        self.db.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return WorkerStore(self, worker_ctx)

    def worker_setup(self, worker_ctx):
        # Runs in the worker's own green thread: bind its ids for every log line it writes.
        bound = logs.bind(correlation_id=worker_ctx.data.get("correlation_id"),
                          request_id=worker_ctx.data.get("request_id"))
        bound.__enter__()
        self._bound[worker_ctx] = bound

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        entrypoint = worker_ctx.entrypoint
        if isinstance(entrypoint, EventConsumer):
            outcome = "processed" if exc_info is None else (
                "duplicate" if isinstance(exc_info[1], AlreadyProcessed) else "failed")
            self.metrics.event_consumed(entrypoint.event_type, outcome)

    def worker_teardown(self, worker_ctx):
        bound = self._bound.pop(worker_ctx, None)
        if bound is not None:
            bound.__exit__(None, None, None)

    # -- health, metrics and API description -----------------------------------------------------

    def _outbox_probe(self):
        return self.relay.lag()

    def _queue_names(self) -> list[str]:
        return sorted({e.queue.name for e in self.container.entrypoints
                       if isinstance(e, EventConsumer) and e.queue is not None})

    def _broker_status(self) -> tuple[bool, str]:
        # Cached for a second so that a busy health checker cannot hammer the broker.
        if time.monotonic() - self._broker_checked_at > 1.0:
            try:
                with Connection(self.container.config["AMQP_URI"], connect_timeout=2) as conn:
                    # One immediate retry, no back-off sleep: a health check answers at once.
                    conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
                self._broker_ok = (True, "ok")
            except Exception as exc:
                self._broker_ok = (False, f"unreachable: {exc}")
            self._broker_checked_at = time.monotonic()
        return self._broker_ok

    def health(self) -> tuple[int, dict]:
        broker_ok, broker_detail = self._broker_status()
        try:
            self.db.ping()
            db_ok, db_detail = True, "ok"
            pending = self.relay.pending()
        except Exception as exc:
            # The driver's own first line says why; SQLAlchemy's SQL echo and help link say nothing more.
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
            db_ok, db_detail, pending = False, f"unavailable: {reason[0][:200]}", None
        healthy = broker_ok and db_ok
        body = {
            "service": self.service,
            "status": "ok" if healthy else "unavailable",
            "broker": {"ok": broker_ok, "detail": broker_detail},
            "database": {"ok": db_ok, "detail": db_detail, "backend": self.db.engine.dialect.name},
            "outbox": {"pending": pending},
        }
        return (200 if healthy else 503), body

    def openapi(self) -> dict:
        if self._spec is None:
            endpoints = [e for e in self.container.entrypoints if isinstance(e, ApiEndpoint)]
            self._spec = build_spec(self.service, endpoints,
                                    description=(self.container.service_cls.__doc__ or "").strip())
        return self._spec


class ServiceBase:
    """Endpoints every service serves. Subclasses set `name` and `platform = Platform(metadata)`."""

    name: str
    platform: WorkerStore

    @api("GET", "/health", roles=None, summary="broker and database status (503 when either is down)",
         tags=("operations",), responses={503: "the broker or the database is down (same body as 200)"})
    def health(self, call):
        return self.platform.provider.health()

    @api("GET", "/metrics", roles=None, summary="Prometheus metrics (text exposition format)",
         tags=("operations",))
    def metrics(self, call):
        body, content_type = self.platform.provider.metrics.exposition()
        return Response(body, status=200, content_type=content_type)

    @api("GET", "/api/openapi.json", roles=None, summary="this document", tags=("operations",))
    def openapi(self, call):
        return self.platform.provider.openapi()


__all__ = ["Platform", "ServiceBase", "WorkerStore"]
