"""What every service has: validated settings, its database with the outbox relay, `/health` and
`/api/openapi.json`. A service class subclasses `ServiceBase` and declares `platform = Platform(metadata)`.
A service with deadlines also gives the Platform its count of the records waiting for a calendar year
(`Platform(metadata, calendar_waiting=...)`), and runs `catch_up_with_calendar` on a `calendar_timer`.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta

import eventlet
from kombu import Connection
from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from werkzeug.wrappers import Response

from . import clock, logs, metrics, migrate
from .config import ConfigError, validate
from .db import Database
from .http import ApiEndpoint, api
from .messaging import AlreadyProcessed, ConfirmingPublisher, EventConsumer
from .openapi import build_spec
from .outbox import OutboxRelay, relay_settings
from .workcal import CalendarUnavailable, WorkCalendar

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

    def drain_due(self, any_due, check, batch: int) -> None:
        """A monitor timer's tick over rows whose moment has come: `any_due(session, now)` on a reader first (an
        idle tick takes no write lock), then `check(uow, now)` in units of work of their own while each handled a
        whole `batch` (it answers how many it claimed)."""
        with self.session() as s:
            if not any_due(s, clock.now()):
                return
        claimed = batch
        while claimed >= batch:
            with self.unit_of_work() as uow:
                claimed = check(uow, clock.now())

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

    def report_calendar_waiting(self) -> None:
        """Publish `calendar.waiting` if this service's count of records waiting for a calendar year changed
        since this instance last said (see `Platform.report_calendar_waiting`)."""
        self.provider.report_calendar_waiting()


# How often (seconds) the services look at the calendar override file and at what waits for a year, when
# CALENDAR_CHECK_SECONDS is not set.
CALENDAR_CHECK_SECONDS = 60.0


def calendar_check_seconds(cfg: dict) -> float:
    """`CALENDAR_CHECK_SECONDS` from the config, else the environment, else 60: a positive number."""
    value = cfg.get("CALENDAR_CHECK_SECONDS")
    if value is None or value == "":
        value = os.environ.get("CALENDAR_CHECK_SECONDS") or CALENDAR_CHECK_SECONDS
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"CALENDAR_CHECK_SECONDS must be a number of seconds, not {value!r}") from None
    if not seconds > 0:
        raise ConfigError(f"CALENDAR_CHECK_SECONDS must be more than 0, not {value!r}")
    return seconds


class CalendarTimer(Timer):
    """A timer every CALENDAR_CHECK_SECONDS (read from the config at start), firing once at start too. For the
    calendar's timer of a service: `@calendar_timer` above a method that calls `catch_up_with_calendar`."""

    def __init__(self, **kwargs):
        super().__init__(interval=CALENDAR_CHECK_SECONDS, eager=True, **kwargs)

    def setup(self):
        self.interval = calendar_check_seconds(self.container.config)


calendar_timer = CalendarTimer.decorator


def catch_up_with_calendar(settings, what: str, find_pending, recalculate, batch: int) -> None:
    """First `settings.calendar` is brought up to date with its override file (`WorkCalendar.refresh`: a year
    imported meanwhile is swapped in, no restart). Then once per calendar (the years it covers):
    `find_pending()` lists the ids of the records whose deadlines waited for a year without schedule, and
    `recalculate(ids)` gives them their moments, `batch` at a time, answering (done, skipped because another
    transaction held them). With any skipped, the next call tries again. `settings.recalculated_for`
    remembers the calendar done. Called by the service's `calendar_timer`."""
    refresh = getattr(settings.calendar, "refresh", None)
    if refresh is not None:
        refresh()
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


# /health counts the records waiting for a calendar year at most this often (seconds)
CALENDAR_WAITING_CACHE_SECONDS = 2.0
# `Platform._waiting_reported` after a first count of 0, not yet published
_NOT_YET_SAID = "not yet said"


def calendar_waiting_summary(groups, calendar: WorkCalendar) -> dict:
    """`{"waiting": n, "missing_years": [...]}` from a service's count of the open records waiting for a calendar
    year, grouped by their clock error: `[(clock_error or None, count), ...]`. The years come from the errors
    (`CalendarUnavailable` names its year); a record waiting without one (an approvals alert) waits for the
    year after the last one known."""
    waiting, years = 0, set()
    for error, count in groups:
        if not count:
            continue
        waiting += count
        year = CalendarUnavailable.year_in(error)
        if year is None:
            covered = calendar.years_covered()
            year = (covered[-1] + 1) if covered else None
        if year is not None:
            years.add(year)
    return {"waiting": waiting, "missing_years": sorted(years)}


class Platform(DependencyProvider):
    def __init__(self, metadata, *, required: dict[str, str] | None = None, calendar_waiting=None):
        """`calendar_waiting(session)`: the service's open records waiting for a calendar year, counted by clock
        error (`[(clock_error or None, count)]`); with it, `/health` and `calendar.waiting` say how many."""
        self.metadata = metadata
        self.required = {**REQUIRED_SETTINGS, **(required or {})}
        self.calendar_waiting = calendar_waiting

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
        # the same object the service's settings hold (`WorkCalendar.load` gives one per file and process)
        self.calendar = WorkCalendar.load(cfg.get("CALENDAR_FILE")) if self.calendar_waiting else None
        self._waiting_cache: tuple[float, dict] | None = None
        self._waiting_reported: dict | None = None  # what this instance last published
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

    def calendar_status(self, fresh: bool = False) -> dict | None:
        """The calendar as `/health` shows it: its years and source, a problem with its file, and how many open
        records wait for a missing year (counted at most every CALENDAR_WAITING_CACHE_SECONDS unless `fresh`).
        None for a service without deadlines."""
        if self.calendar_waiting is None:
            return None
        cached = self._waiting_cache
        if fresh or cached is None or time.monotonic() - cached[0] > CALENDAR_WAITING_CACHE_SECONDS:
            with self.db.reader() as s:
                groups = self.calendar_waiting(s)
            cached = self._waiting_cache = (time.monotonic(), calendar_waiting_summary(groups, self.calendar))
        return {**self.calendar.describe(), **cached[1]}

    def report_calendar_waiting(self) -> None:
        """Publish `calendar.waiting` (through the outbox) when this service's count of records waiting for a
        calendar year, or the years they wait for, differ from what this instance last published. After a start
        the state is published once whatever it is, so that a console still showing the count of an earlier run
        is put right: at once when records wait, at the second call when none does (a service that starts with
        nothing to say publishes nothing in its first moments)."""
        if self.calendar_waiting is None:
            return
        status = self.calendar_status(fresh=True)
        state = {"waiting": status["waiting"], "missing_years": status["missing_years"]}
        if self._waiting_reported is None and not state["waiting"]:
            self._waiting_reported = _NOT_YET_SAID
            return
        if state == self._waiting_reported:
            return
        with self.db.unit_of_work() as uow:
            uow.publish("calendar.waiting", {"service": self.service, "department": self.db.department, **state,
                                             "at": clock.now()})
        if state["waiting"] or isinstance(self._waiting_reported, dict) and self._waiting_reported["waiting"]:
            log.info("%s: %d open records wait for the calendar of %s", self.service, state["waiting"],
                     ", ".join(map(str, state["missing_years"])) or "no year")
        self._waiting_reported = state

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
        if self.calendar_waiting is not None:
            # records waiting for next year's calendar are not an outage: said here, never a 503
            try:
                body["calendar"] = self.calendar_status()
            except Exception as exc:
                reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
                body["calendar"] = {**self.calendar.describe(), "waiting": None, "missing_years": None,
                                    "detail": f"not counted: {reason[:200]}"}
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

    @api("GET", "/health", roles=None, summary="broker and database status (503 when either is down); with "
         "deadlines, the calendar: its years and how many open records wait for a missing year",
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


__all__ = ["CalendarTimer", "Platform", "ServiceBase", "WorkerStore", "calendar_timer", "catch_up_with_calendar"]
