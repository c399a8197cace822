"""The outbox relay: publishes committed outbox rows with publisher confirms, then marks them sent.

A row is marked only after the broker confirmed it, so a crash between commit and publish delays an
event, never loses it (it may go out twice after such a crash; consumers deduplicate on event_id).
On PostgreSQL any number of relays may run: each claims rows with FOR UPDATE SKIP LOCKED. On SQLite
exactly one relay per database file runs: the others wait on an OS file lock as warm standbys.

On SQLite the marks are written together, at most every `mark_interval` seconds (and at once when the
outbox is drained or a row failed): each mark is a write transaction, which holds up the service's own
writers, and a busy service writes its outbox many times a second. Meanwhile the relay remembers what it
has sent and reads only rows after it. A relay that dies loses only the unwritten marks: those events go
out a second time (deduplicated by consumers), and the outbox lag of /health counts them until then.

Retention: every `prune_interval` seconds the relay deletes published outbox rows older than
`outbox_retention_days` and inbox records older than `inbox_retention_days` (0: keep), a thousand at a time.
An inbox record is what makes a redelivered event a no-op, so keep it longer than any redelivery can take
(a federation link down for days brings its buffered events late, once).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta

import eventlet
from eventlet.event import Event as GreenEvent
from sqlalchemy import bindparam, delete, select, tuple_, update
from sqlalchemy.engine import make_url

from . import clock
from .db import Database, Moment, is_sqlite
from .messaging import ConfirmingPublisher, Outgoing, UnroutedBound, declare_topology, unrouted_bound

log = logging.getLogger(__name__)

PRUNE_BATCH = 1000


# The department an event concerns, as a header: the broker cannot read bodies, and the city's federation
# sends a department only its own events by this header (deploy/broker.py). Not `x-…`: a headers exchange
# ignores those when matching.
DEPARTMENT_HEADER = "xiaoneng-department"


def department_of(body: str) -> str:
    """The payload's `department`, else the producing node's; "" for none."""
    try:
        event = json.loads(body)
        return str((event.get("payload") or {}).get("department") or (event.get("source") or {}).get("department")
                   or "")
    except (ValueError, AttributeError):
        return ""


def relay_settings(cfg: dict) -> dict:
    """The relay's settings from a service config, wherever the relay runs: `OUTBOX.BATCH_SIZE` (200),
    `OUTBOX.RETENTION_DAYS` (published rows, 7) and `INBOX.RETENTION_DAYS` (consumed-event records, 90; 0
    keeps them), and `UNROUTED` (the bounds of the queue its unrouted events go to, messaging.unrouted_bound)."""
    outbox = cfg.get("OUTBOX") or {}
    return {"batch_size": int(outbox.get("BATCH_SIZE", 200)),
            "outbox_retention_days": float(outbox.get("RETENTION_DAYS", 7)),
            "inbox_retention_days": float((cfg.get("INBOX") or {}).get("RETENTION_DAYS", 90)),
            "unrouted": unrouted_bound(cfg)}


class SqliteRelayLock:
    """An exclusive, non-blocking OS lock beside the SQLite file; released by the OS if we die."""

    def __init__(self, db_url: str):
        path = make_url(db_url).database
        self.path = f"{os.path.abspath(path)}.relay.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class OutboxRelay:
    """Moves outbox rows to the broker. `relay_once` is the whole algorithm; `run` loops it."""

    def __init__(self, db: Database, publisher: ConfirmingPublisher, *, batch_size: int = 200,
                 poll_interval: float = 0.5, max_backoff: float = 10.0, mark_interval: float = 0.2,
                 outbox_retention_days: float = 7, inbox_retention_days: float = 90, prune_interval: float = 600,
                 unrouted: UnroutedBound = UnroutedBound()):
        self.db = db
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.unrouted = unrouted
        self._wakeup = GreenEvent()
        self._stopping = GreenEvent()
        self._running = False
        self._lock = SqliteRelayLock(db.url) if is_sqlite(db.engine) else None
        self.mark_interval = mark_interval
        self._unmarked: list[int] = []  # SQLite: confirmed, mark not yet written; all ids below the next rows
        self._marked_at = time.monotonic()
        self.outbox_retention_days = outbox_retention_days
        self.inbox_retention_days = inbox_retention_days
        self.prune_interval = prune_interval
        self._pruned_at = 0.0
        outbox, inbox = db.outbox, db.inbox
        self._stopped = False
        self._old_outbox = delete(outbox).where(outbox.c.id.in_(
            select(outbox.c.id).where(outbox.c.published_at < bindparam("before", type_=Moment()))
            .order_by(outbox.c.id).limit(PRUNE_BATCH).scalar_subquery()))
        self._old_inbox = delete(inbox).where(tuple_(inbox.c.consumer, inbox.c.event_id).in_(
            select(inbox.c.consumer, inbox.c.event_id).where(
                inbox.c.processed_at < bindparam("before", type_=Moment())).limit(PRUNE_BATCH)))
        # Built once: constructing a statement costs more than running it, once per batch.
        self._claim = select(outbox.c.id, outbox.c.event_id, outbox.c.exchange, outbox.c.routing_key, outbox.c.body) \
            .where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(batch_size)
        self._sent = update(outbox).where(outbox.c.id.in_(bindparam("ids", expanding=True))).values(
            published_at=bindparam("at", type_=Moment()), attempts=outbox.c.attempts + 1, last_error=None)
        self._failed = update(outbox).where(outbox.c.id == bindparam("row_id")).values(
            attempts=outbox.c.attempts + 1, last_error=bindparam("error"))
        self._claim_after = self._claim.where(outbox.c.id > bindparam("after"))

    def notify(self) -> None:
        """Wake the relay now (called after a commit that wrote outbox rows in this process)."""
        if not self._wakeup.ready():
            self._wakeup.send(True)

    def _declare(self) -> None:
        self.publisher.declare("topology:" + self.db.service,
                               lambda channel: declare_topology(channel, service=self.db.service,
                                                                unrouted=self.unrouted))

    def relay_once(self) -> int:
        """Publish one batch of unpublished rows; returns how many were confirmed."""
        if self._lock is not None and not self._lock.acquire():
            return 0
        self._declare()
        # Core connections: the ORM Session would only add overhead to these few statements.
        if self._lock is None:
            # PostgreSQL: rows stay locked (and skipped by other relays) until their marks commit.
            with self.db.engine.connect() as conn, conn.begin():
                rows = conn.execute(self._claim.with_for_update(skip_locked=True)).all()
                return self._mark(conn, *self._publish(rows))
        # SQLite: the file lock already makes us the only relay, so publish outside any transaction and
        # keep the write lock only for the marks; requests are not held up while we wait for confirms.
        with self.db.read_engine.connect() as reader, reader.begin():
            if self._unmarked:
                rows = reader.execute(self._claim_after, {"after": self._unmarked[-1]}).all()
            else:
                rows = reader.execute(self._claim).all()
        if not rows:
            self.write_marks()
            return 0
        sent_ids, failed = self._publish(rows)
        self._unmarked += sent_ids
        if failed or time.monotonic() - self._marked_at >= self.mark_interval:
            self.write_marks(failed)
        return len(sent_ids)

    def write_marks(self, failed: list[tuple[int, str]] = ()) -> None:
        """SQLite: write the marks of the rows confirmed so far (and the errors of failed ones); the next
        pass then reads every row not marked again, failed ones included."""
        if self._unmarked or failed:
            with self.db.engine.connect() as conn, conn.begin():
                self._mark(conn, self._unmarked, list(failed))
            self._unmarked = []
        self._marked_at = time.monotonic()

    def _publish(self, rows) -> tuple[list[int], list[tuple[int, str]]]:
        """Publish a batch with pipelined confirms. Rows the broker returned (unroutable even with the
        alternate exchange: a misconfigured exchange) keep their place with the reason and are retried on
        the next pass; if the broker is unreachable this raises and nothing is marked."""
        results = self.publisher.publish_many([
            Outgoing(row.body.encode("utf-8"), row.exchange, row.routing_key, content_type="application/json",
                     content_encoding="utf-8", message_id=row.event_id,
                     headers={DEPARTMENT_HEADER: department_of(row.body)})
            for row in rows])
        sent_ids = [row.id for row, error in zip(rows, results, strict=True) if error is None]
        failed = [(row.id, str(error)[:1000]) for row, error in zip(rows, results, strict=True) if error is not None]
        for row_id, error in failed:
            log.error("outbox row %s was not confirmed: %s", row_id, error)
        return sent_ids, failed

    def _mark(self, conn, sent_ids: list[int], failed: list[tuple[int, str]]) -> int:
        if sent_ids:
            conn.execute(self._sent, {"ids": sent_ids, "at": clock.now()})
        for row_id, error in failed:
            conn.execute(self._failed, {"row_id": row_id, "error": error})
        return len(sent_ids)

    def prune(self) -> tuple[int, int]:
        """Delete what retention lets go: (outbox rows, inbox records) deleted. On SQLite only the relay
        holding the file lock prunes."""
        if self._lock is not None and not self._lock.acquire():
            return 0, 0
        now = clock.now()
        counts = []
        for statement, days in ((self._old_outbox, self.outbox_retention_days),
                                (self._old_inbox, self.inbox_retention_days)):
            deleted = 0
            while days and not self._stopped:
                with self.db.engine.connect() as conn, conn.begin():
                    n = conn.execute(statement, {"before": now - timedelta(days=days)}).rowcount
                deleted += n
                if n < PRUNE_BATCH:
                    break
                eventlet.sleep(0)  # short transactions: the service's writers go in between
            counts.append(deleted)
        if any(counts):
            log.info("%s: pruned %d published outbox rows older than %s days, %d inbox records older than %s "
                     "days", self.db.service, counts[0], self.outbox_retention_days, counts[1],
                     self.inbox_retention_days)
        return counts[0], counts[1]

    def run(self) -> None:
        self._running = True
        backoff = 0.0
        failures = 0
        while self._running:
            # A fresh wake-up before each pass: a commit during the pass wakes the next one at once.
            self._wakeup = GreenEvent()
            try:
                while self._running and self.relay_once() >= self.batch_size:
                    pass
                if time.monotonic() - self._pruned_at >= self.prune_interval:
                    self._pruned_at = time.monotonic()
                    self.prune()
                if failures:
                    log.info("outbox relay of %s resumed after %d failed attempts", self.db.service, failures)
                backoff = 0.0
                failures = 0
            except Exception as exc:
                backoff = min(self.max_backoff, max(0.5, backoff * 2))
                failures += 1
                # once per outage at WARNING (the broker or database away), the retries at DEBUG
                log.log(logging.WARNING if failures == 1 else logging.DEBUG,
                        "outbox relay of %s failed (%s); retrying in %.1f s", self.db.service, exc, backoff)
            if not self._running:
                break
            if backoff:
                # The broker or the database is in trouble: a commit's wake-up must not bring the next attempt
                # forward, or a busy service reconnects once per commit (86 a second were seen against a broker
                # coming back). Only stop() ends the wait early; rows committed meanwhile go in the next pass.
                with eventlet.Timeout(backoff, False):
                    self._stopping.wait()
                continue
            # rows sent but not yet marked: back within mark_interval to write the marks, even if idle
            with eventlet.Timeout(self.mark_interval if self._unmarked else self.poll_interval, False):
                self._wakeup.wait()

    def stop(self) -> None:
        self._running = False
        self._stopped = True
        self.notify()
        if not self._stopping.ready():
            self._stopping.send(True)
        if self._lock is not None:
            try:
                self.write_marks()
            except Exception as exc:  # the database is going away too: these events go out again, once more
                log.warning("outbox relay of %s could not write its last marks: %s", self.db.service, exc)
                self._unmarked = []
            self._lock.release()

    def pending(self) -> int:
        """Rows not yet confirmed by the broker (the outbox lag, for /health and metrics)."""
        return self.lag()[0]

    def lag(self):
        """(rows not yet confirmed by the broker, the creation time of the oldest of them or None). Rows
        this relay has sent and not yet marked (SQLite) are not lag."""
        from sqlalchemy import func

        outbox = self.db.outbox
        after = self._unmarked[-1] if self._unmarked else 0
        with self.db.read_engine.connect() as conn:
            count, oldest = conn.execute(select(func.count(), func.min(outbox.c.created_at))
                                         .where(outbox.c.published_at.is_(None), outbox.c.id > after)).one()
        if isinstance(oldest, str):  # SQLite hands an aggregate back untyped
            oldest = Moment().process_result_value(datetime.fromisoformat(oldest), self.db.engine.dialect)
        elif oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return count, oldest
