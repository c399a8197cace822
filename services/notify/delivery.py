"""The sending of deliveries: the sender claims due rows (planned by the consumers, `handlers.take_in`), sends
them through the channels outside any transaction, and has the outcome recorded (`handlers.record_deliveries`:
sent, retried with backoff, or parked with an alert to ops) and, when quiet hours end, the held items gathered
into digests (`handlers.collect_digests`). Also the settings of NOTIFY and the seed of recipients.

The sender is a loop in one green thread per instance (woken at once after a consumer's commit, otherwise
polling): a nameko @timer fires back to back after an overrun and would pile claims up. Several instances
are safe: a claim marks rows `sending` with a lease in one transaction (FOR UPDATE SKIP LOCKED on PostgreSQL;
on SQLite the transaction holds the write lock), and a row whose sender died is claimed again when its lease
lapses."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import eventlet
import yaml
from eventlet.event import Event as GreenEvent
from eventlet.greenpool import GreenPool
from nameko.extensions import DependencyProvider
from sqlalchemy.exc import DBAPIError

from services.kernel import clock
from services.kernel.service import Platform

from . import handlers, store
from .channels import Channels, Outcome, idempotency_key
from .destinations import Destinations
from .domain import QuietHours
from .messages import load_department_names

log = logging.getLogger("services.notify.delivery")

DEFAULT_RETRY_DELAYS = (5.0, 15.0, 60.0, 180.0, 600.0)


@dataclass
class Settings:
    console_url: str
    quiet: QuietHours | None
    quiet_spec: str
    retry_delays: tuple[float, ...]
    poll_interval: float
    batch_size: int
    concurrency: int
    lease: float
    gather: float
    # department code → its name, for the messages and the console (NOTIFY.DEPARTMENTS_FILE, else the register
    # DEPARTMENTS_FILE; else the codes)
    department_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: dict | None, register_file: str | None = None) -> Settings:
        """`register_file`: the deployment's register of organisations (top-level DEPARTMENTS_FILE), the names'
        source when NOTIFY.DEPARTMENTS_FILE does not name another file."""
        cfg = cfg or {}
        send = cfg.get("SEND") or {}
        spec = cfg.get("QUIET_HOURS")
        delays = tuple(float(d) for d in (send.get("RETRY_DELAYS") or DEFAULT_RETRY_DELAYS))
        if any(d < 0 for d in delays):
            raise ValueError("NOTIFY.SEND.RETRY_DELAYS must not be negative")
        return cls(
            console_url=str(cfg.get("CONSOLE_URL") or "http://127.0.0.1:8004"),
            quiet=QuietHours.parse(spec, str(cfg.get("HOLD_BELOW") or "high")),
            quiet_spec=str(spec or ""),
            retry_delays=delays,
            poll_interval=float(send.get("POLL_INTERVAL") or 0.5),
            batch_size=int(send.get("BATCH_SIZE") or 100),
            concurrency=int(send.get("CONCURRENCY") or 50),
            lease=float(send.get("LEASE_SECONDS") or 120),
            gather=float(send.get("GATHER_SECONDS", 0.05) or 0.0),
            department_names=load_department_names(cfg.get("DEPARTMENTS_FILE") or register_file),
        )


class Sender(DependencyProvider):
    """The notify service's delivery machinery: settings, channels, the seed, and the sending loop."""

    def setup(self):
        cfg = self.container.config
        self.settings = Settings.from_config(cfg.get("NOTIFY"), cfg.get("DEPARTMENTS_FILE"))
        notify_cfg = cfg.get("NOTIFY") or {}
        self.destinations = Destinations.parse(notify_cfg.get("WEBHOOK_ALLOW"))
        self.channels = Channels({**(notify_cfg.get("SEND") or {}), "SMTP": notify_cfg.get("SMTP")},
                                 self.destinations)
        self._running = False
        self._wakeup = GreenEvent()
        self._results: list[tuple[dict, Outcome]] = []
        self._gt = None
        self._next_digest_check = 0.0
        self._failing: set[tuple[str, str | None]] = set()  # (channel, address) whose last send failed

    def start(self):
        platform = Platform.of(self.container)
        self.db, self.metrics = platform.db, platform.metrics
        path = self.container.config.get("SEED_NOTIFY")
        if path:
            seed(self.db, path, self.destinations)
        self._running = True
        self._gt = self.container.spawn_managed_thread(self.run)

    def stop(self):
        self._running = False
        self.notify()
        if self._gt is not None:
            with eventlet.Timeout(15, False):
                self._gt.wait()

    def kill(self):
        self._running = False
        if self._gt is not None:
            self._gt.kill()

    def get_dependency(self, worker_ctx):
        return self

    def notify(self) -> None:
        """Wake the sender now (after a commit that added deliveries)."""
        if not self._wakeup.ready():
            self._wakeup.send(True)

    # -- the loop ----------------------------------------------------------------------------------------

    def run(self) -> None:
        pool = GreenPool(self.settings.concurrency)
        backoff = 0.0
        while self._running:
            self._wakeup = GreenEvent()
            try:
                busy = self.step(pool)
                backoff = 0.0
            except Exception as exc:
                busy = False
                backoff = min(10.0, max(0.5, backoff * 2))
                # a database error's text lists the statement's parameters (addresses, message bodies): its
                # driver's message says what went wrong without them
                db_error = isinstance(exc, DBAPIError)
                log.warning("notify sender step failed (%s); again in %.1f s", exc.orig if db_error else exc,
                            backoff, exc_info=not db_error)
            if not self._running:
                break
            if not busy:
                with eventlet.Timeout(backoff or self.settings.poll_interval, False):
                    self._wakeup.wait()
            # Let a moment's commits and finished sends gather: one claim and one record for many rows costs
            # far less than one each (a wake-up per delivery made the sender the bottleneck).
            eventlet.sleep(self.settings.gather)
        # Stopping: let the sends in flight finish and record them, so nothing is sent twice after a restart.
        with eventlet.Timeout(10, False):
            pool.waitall()
        try:
            self._record(self._take_results())
        except Exception as exc:
            db_error = isinstance(exc, DBAPIError)
            log.error("could not record the last sends (%s); their rows are claimed again when the lease lapses",
                      exc.orig if db_error else exc, exc_info=not db_error)

    def step(self, pool: GreenPool) -> bool:
        now = clock.now()
        self._collect_digests(now)
        claimed: list[dict] = []
        free = pool.free()
        if free > 0:
            with self.db.unit_of_work() as uow:
                claimed = store.claim_due(uow.session, now, min(free, self.settings.batch_size),
                                          self.settings.lease)
            for row in claimed:
                pool.spawn_n(self._send_one, row)
        results = self._take_results()
        if results:
            self._record(results)
            for row, outcome in results:
                status = "sent" if outcome.ok else "retried" if outcome.transient else "failed"
                self.metrics.delivered(row["channel"], status, row.get("created_at"))
        return bool(claimed or results)

    def _send_one(self, row: dict) -> None:
        try:
            outcome = self.channels.send(row["channel"], row["address"], row["subject"], row["body"],
                                         delivery_id=row["id"],
                                         key=idempotency_key(row["event_id"], row["recipient"], row["channel"]))
        except Exception as exc:
            outcome = Outcome(False, True, f"{type(exc).__name__}: {exc}"[:1000])
        self._results.append((row, outcome))
        self.notify()

    def _take_results(self) -> list[tuple[dict, Outcome]]:
        results, self._results = self._results, []
        return results

    def _record(self, results: list[tuple[dict, Outcome]]) -> None:
        if not results:
            return
        with self.db.unit_of_work() as uow:
            handlers.record_deliveries(uow, self.settings, results, self._failing, clock.now())

    # -- digests -----------------------------------------------------------------------------------------

    def _collect_digests(self, now) -> None:
        """Held items whose quiet hours ended become one digest delivery per recipient and channel. Looked
        for at most once a second, and without the write lock when there are none."""
        if time.monotonic() < self._next_digest_check:
            return
        self._next_digest_check = time.monotonic() + 1.0
        with self.db.reader() as reader:
            if not store.any_held_due(reader, now):
                return
        with self.db.unit_of_work() as uow:
            handlers.collect_digests(uow, self.settings, now)


def seed(db, path: str, destinations: Destinations | None = None) -> int:
    """Load recipients and subscriptions from a YAML file into an empty notify database; an edited one is
    never touched. Returns how many recipients were loaded. An address notify may not send to (see
    `NOTIFY.WEBHOOK_ALLOW`) stops the start, as it would be refused through the API."""
    from .channels import accept_addresses
    from .schemas import RecipientIn, SubscriptionIn

    with db.unit_of_work() as uow:
        if not store.is_empty(uow.session):
            return 0
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the notify seed is a mapping with `recipients` and `subscriptions`")
        people = RecipientIn(many=True).load(data.get("recipients") or [])
        subs = SubscriptionIn(many=True).load(data.get("subscriptions") or [])
        now = clock.now()
        for person in people:
            person["addresses"], errors = accept_addresses(destinations or Destinations(), person["addresses"])
            if errors:
                raise ValueError(f"{path}: recipient {person['code']!r}: " + "; ".join(
                    f"{channel}: {' '.join(problems)}" for channel, problems in errors.items()))
            store.insert_recipient(uow.session, person, now)
        known = {p["code"] for p in people}
        for sub in subs:
            if sub["recipient"] not in known and sub["recipient"] != "@duty":
                raise ValueError(f"{path}: subscription for unknown recipient {sub['recipient']!r}")
            store.insert_subscription(uow.session, sub, now)
    log.info("notify seeded with %d recipients and %d subscriptions from %s", len(people), len(subs), path)
    return len(people)
