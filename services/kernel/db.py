"""Each service's own database: engine set-up for SQLite and PostgreSQL, and the unit of work.

A unit of work is one transaction holding a service's state change, the events it causes (outbox rows)
and, for an event handler, the record that this consumer handled that event (inbox row). Either all of
it commits or none of it does; that is what makes "nothing lost, nothing doubled" hold.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import eventlet
from eventlet.event import Event as GreenEvent
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from . import clock
from .contracts import Event, make_event
from .direct import Direct
from .messaging import AlreadyProcessed, events_exchange

log = logging.getLogger(__name__)

_green_postgres = False


class Moment(TypeDecorator):
    """A timezone-aware moment on every backend: stored in UTC, read back in Asia/Shanghai.
    (SQLite has no time zones; plain DateTime would silently hand back naive datetimes.)"""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every moment must carry its time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return clock.local(value)  # whole-minute offsets even for a moment stored before 1901


def kernel_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Add the outbox and inbox tables to a service's metadata (each service has its own copies)."""
    outbox = Table(
        "outbox", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("exchange", String(100), nullable=False),
        Column("routing_key", String(100), nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", Moment(), nullable=False),
        Column("published_at", Moment()),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text),
    )
    Index("ix_outbox_unpublished", outbox.c.published_at, outbox.c.id)
    inbox = Table(
        "inbox", metadata,
        Column("consumer", String(150), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("processed_at", Moment(), nullable=False),
    )
    # retention: the relay prunes what is older than INBOX.RETENTION_DAYS (outbox.py)
    Index("ix_inbox_processed", inbox.c.processed_at)
    return outbox, inbox


# Pages of WAL after which a committing request checkpoints it itself (SQLite's default is 1000): a service
# that checkpoints in the background (WalCheckpointer) leaves this to its requests only as a fallback.
BACKGROUND_CHECKPOINT_FALLBACK_PAGES = 20000


# A service's database holds citizens' names, phones and addresses: owner only. SQLite creates the -wal and -shm
# files with the mode of the database file, so making that one private makes all three so.
DATABASE_FILE_MODE = 0o600


def private_sqlite_files(path: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would follow the umask, usually 0644), and take group
    and world bits off an existing one and its -wal/-shm, left by an older version."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, DATABASE_FILE_MODE)
    os.close(fd)
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        try:
            mode = os.stat(name).st_mode & 0o777
            if mode & 0o077:
                os.chmod(name, mode & 0o700)
        except FileNotFoundError:
            pass
        except PermissionError:  # another user's file: SQLite will say what it thinks of it
            log.warning("cannot make %s private", name)


def create_db_engine(url: str, *, read_only: bool = False, autocheckpoint: int | None = None) -> Engine:
    """An engine that behaves under eventlet: SQLite in WAL mode with a busy timeout; PostgreSQL made
    cooperative with psycogreen (psycopg2 would otherwise block every green thread of the process).
    `read_only` (SQLite): transactions begin DEFERRED, so that readers never take the write lock; in WAL
    mode they then neither wait for writers nor hold them up."""
    global _green_postgres
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), mode=0o750, exist_ok=True)
            if not parsed.database.startswith("file:"):  # a URI filename is opened as given
                private_sqlite_files(parsed.database)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Let SQLAlchemy's BEGIN take the write lock late, and make writers wait rather than fail.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if autocheckpoint is not None:
                cur.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
            cur.close()

        def _sqlite_begin(dbapi_conn):
            # IMMEDIATE: take the write lock at BEGIN, so two writers queue instead of deadlocking.
            dbapi_conn.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")

        # The dialect's own BEGIN (a no-op for pysqlite) of this engine alone, rather than a "begin" event
        # listener: an engine with connection events takes the slower path on every statement it executes,
        # and a failing BEGIN is still wrapped as SQLAlchemy's OperationalError.
        engine.dialect.do_begin = _sqlite_begin

        return engine
    if parsed.get_backend_name() == "postgresql" and not _green_postgres:
        import eventlet.patcher

        if eventlet.patcher.is_monkey_patched("socket"):
            from psycogreen.eventlet import patch_psycopg

            patch_psycopg()
            _green_postgres = True
    # A host that silently drops packets must not hang requests and /health until the OS gives up.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                         connect_args={"connect_timeout": 5})


class WalCheckpointer:
    """Checkpoints a SQLite WAL every `interval` seconds in an OS thread, off the requests' way.

    SQLite checkpoints the WAL in whichever connection's commit takes it past 1000 pages: that commit then
    copies the pages into the database file and syncs it, tens of milliseconds during which, under
    eventlet, the whole process waits. Here a PASSIVE checkpoint (it never waits for, or blocks, readers
    and writers) runs in eventlet's thread pool, where sqlite3 releases the GIL, so the process goes on
    serving meanwhile. The service's own connections then checkpoint only past
    BACKGROUND_CHECKPOINT_FALLBACK_PAGES, should this thread not keep up."""

    def __init__(self, url: str, interval: float = 0.5):
        self.path = make_url(url).database
        self.interval = interval
        self.running = False
        self.checkpoints = 0
        self._conn = None

    def _checkpoint(self) -> None:
        import sqlite3

        if self._conn is None:
            self._conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1

    def run(self) -> None:
        from eventlet import tpool

        self.running = True
        while self.running:
            eventlet.sleep(self.interval)
            if not self.running:
                break
            try:
                tpool.execute(self._checkpoint)
            except Exception as exc:  # a locked or missing file: the requests' fallback checkpoints meanwhile
                log.debug("background checkpoint of %s failed: %s", self.path, exc)

    def stop(self) -> None:
        self.running = False


class DueRows:
    """The rows of `table` whose moment (`column`, a Moment; None: nothing to do) has come, for a monitor's timer:
    `any` asks in one indexed query whether there is one (an idle tick asks it in a reader), `claim` takes up to
    `limit` of them, earliest first, for the caller's transaction — other instances skip the rows it holds
    (FOR UPDATE SKIP LOCKED), so each is handled once."""

    def __init__(self, table: Table, column):
        self.table, self.column = table, column
        self._any = select(column).where(column <= bindparam("now", type_=Moment())).limit(1)

    def any(self, session: Session, now: datetime) -> bool:
        return session.execute(self._any, {"now": now}).first() is not None

    def claim(self, session: Session, now: datetime, limit: int) -> list[dict]:
        rows = session.execute(select(self.table).where(self.column <= now).order_by(self.column).limit(limit)
                               .with_for_update(skip_locked=True)).mappings().all()
        return [dict(r) for r in rows]


def paged(session: Session, columns, source, conditions, page: int, per_page: int, *order_by
          ) -> tuple[list[dict], int]:
    """One page of a list: the rows of `columns` from `source` (a table or a join) meeting every one of
    `conditions`, in the order of the `order_by` clauses, as dicts, and the total count of such rows."""
    where = and_(*conditions) if conditions else None
    q, count = select(*columns).select_from(source), select(func.count()).select_from(source)
    if where is not None:
        q, count = q.where(where), count.where(where)
    total = session.execute(count).scalar_one()
    rows = session.execute(q.order_by(*order_by).limit(per_page).offset((page - 1) * per_page))
    return [dict(r) for r in rows.mappings()], total


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# A text statement, the same on SQLite and PostgreSQL: SQLAlchemy compiles its dialect ON CONFLICT insert
# anew on every execution (about 0.2 ms each, twice per consumed event where two consumers take it).
_MARK_CONSUMED = text(
    "INSERT INTO inbox (consumer, event_id, event_type, processed_at) "
    "VALUES (:consumer, :event_id, :event_type, :processed_at) ON CONFLICT DO NOTHING"
).bindparams(bindparam("processed_at", type_=Moment()))


@functools.cache
def _outbox_insert(outbox: Table) -> Direct:
    # every unit of work that publishes runs it
    return Direct(insert(outbox))


@functools.cache
def _exchange_name(service: str) -> str:
    # building a kombu Exchange for its name on every event costs more than the rest of the outbox row
    return events_exchange(service).name


class UnitOfWork:
    """One transaction: the caller's changes, `publish`ed events and the inbox record commit together."""

    def __init__(self, session: Session, outbox: Table, inbox: Table, *, service: str,
                 department: str | None, correlation_id: str | None):
        self.session = session
        self._outbox = outbox
        self._inbox = inbox
        self.service = service
        self.department = department
        self.correlation_id = correlation_id
        self.published: list[dict[str, Any]] = []
        self._rows: list[dict[str, Any]] = []

    def publish(self, event_type: str, payload: dict[str, Any], *, department: str | None = None,
                correlation_id: str | None = None, occurred_at: datetime | None = None) -> dict[str, Any]:
        """Validate an event against its contract and add it to the outbox of this transaction.
        `occurred_at`: when it happened, if not now (an action reported late with its own time)."""
        body = make_event(
            event_type, payload, service=self.service, department=department or self.department,
            correlation_id=correlation_id or self.correlation_id, occurred_at=occurred_at,
        )
        # written at the end of the unit of work, all in one statement
        self._rows.append(dict(
            event_id=body["event_id"], event_type=event_type, exchange=_exchange_name(self.service),
            routing_key=event_type, body=json.dumps(body, ensure_ascii=False), created_at=clock.now(),
            attempts=0,
        ))
        self.published.append(body)
        return body

    def flush_events(self) -> None:
        if self._rows:
            _outbox_insert(self._outbox).run_many(self.session, self._rows)
            self._rows = []

    def mark_consumed(self, consumer: str, event: Event) -> None:
        """Record that `consumer` handled `event`; raises AlreadyProcessed if it had."""
        values = dict(consumer=consumer, event_id=event.event_id, event_type=event.event_type,
                      processed_at=clock.now())
        if self.session.execute(_MARK_CONSUMED, values).rowcount == 0:
            raise AlreadyProcessed(f"{consumer} already handled event {event.event_id}")


class Batched:
    """Group commit's leader: the first caller to arrive commits its own item together with everyone queued
    behind it, and each caller gets its own result (or exception) once the commit holding its item is done.
    A subclass's `commit(batch)` sends each item's outcome to the item's last element, a GreenEvent.

    A leader commits one batch, the one holding its own item, and then returns: what queued meanwhile is
    committed by a new leader. A leader that went on until the queue was empty would, where commits yield (on
    PostgreSQL), commit other callers' batches for as long as the load lasts (one request waited 40 s while
    p99 was 0.2 s). So a caller waits for at most the batch in progress and its own."""

    def __init__(self):
        self.pending: list[tuple] = []
        self.flushing = False

    def submit(self, *item) -> Any:
        done = GreenEvent()
        self.pending.append((*item, done))
        if not self.flushing:
            self.flushing = True
            try:
                eventlet.sleep(0)  # the callers already running add theirs to this batch
            except BaseException:
                self._hand_on()
                raise
            self._lead()
        return done.wait()

    def _lead(self) -> None:
        batch, self.pending = self.pending, []
        try:
            self.commit(batch)
        except BaseException as exc:
            # commit() settles every item itself; should it fail anyway (or the leader be killed), no caller of
            # this batch waits forever. Not the GreenletExit itself: it would end the callers' threads silently.
            error = exc if isinstance(exc, Exception) else RuntimeError(f"group commit interrupted: {exc!r}")
            for entry in batch:
                if not entry[-1].ready():
                    entry[-1].send_exception(error)
            if error is not exc:
                raise
            log.exception("group commit of %d items failed", len(batch))
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        # A green thread of its own rather than one of the waiting callers: a caller may be killed while it
        # waits, and leadership handed to it would be lost with it.
        if self.pending:
            eventlet.spawn_n(self._lead)
        else:
            self.flushing = False

    def commit(self, batch: list[tuple]) -> None:
        raise NotImplementedError


class GroupCommit(Batched):
    """Units of work of requests that run at the same moment, committed as one transaction.

    On SQLite a commit (the WAL write) and the transaction around it cost more than the few statements of a
    busy request; under load the requests queued behind one another share it. The first request to arrive
    runs its own work and that of every request that queued meanwhile, in order, in one unit of work, and
    each gets its own result (or exception) only after that transaction committed. If any of them fails,
    the whole transaction rolls back and each runs again alone, so that one request's bad input or
    conflict is never its neighbours'. The work must therefore have no effect outside the unit of work (it
    may run twice). A request alone does exactly what `Database.unit_of_work` does."""

    def __init__(self, db: Database):
        super().__init__()
        self.db = db
        self.batches = 0
        self.units = 0

    def run(self, work: Callable[[UnitOfWork], Any], *, correlation_id: str | None = None) -> Any:
        return self.submit(work, correlation_id)

    def commit(self, batch) -> None:
        self.batches += 1
        self.units += len(batch)
        if len(batch) > 1:
            try:
                with self.db.unit_of_work(core=True) as uow:
                    results = []
                    for work, correlation_id, _ in batch:
                        uow.correlation_id = correlation_id
                        results.append(work(uow))
            except Exception:
                pass  # each again on its own, below
            else:
                for (_, _, done), result in zip(batch, results, strict=True):
                    done.send(result)
                return
        for work, correlation_id, done in batch:
            try:
                with self.db.unit_of_work(core=True, correlation_id=correlation_id) as uow:
                    result = work(uow)
            except Exception as exc:
                done.send_exception(exc)
            else:
                done.send(result)


class BatchedConsumer(Batched):
    """Idempotent consumption with group commit: the handlers of one consumer running at the same moment record
    their events as consumed (inbox rows) and apply what each brings, in one transaction instead of one each;
    for a busy consumer on SQLite, where the commit costs more than the work.

    `consume(event, item)` returns once the transaction holding the event committed: True, or False for an
    event this consumer had consumed before (the same event twice in one batch, a redelivery, counts once).
    `apply(uow, items)` gets the items of the batch's new events, in order, inside that transaction (a Core
    unit of work, correlation id None); it must have no effect outside it, for it may run twice. A batch that
    fails (a bad item; on PostgreSQL a concurrent instance that recorded one of its events first) is written
    again one event at a time, so that only the event at fault fails: its handler raises, and the kernel
    retries, then parks, its message."""

    def __init__(self, db: Database, consumer: str, apply: Callable[[UnitOfWork, list], None]):
        super().__init__()
        self.db = db
        self.consumer = consumer
        self.apply = apply
        self._seen = select(db.inbox.c.event_id).where(
            db.inbox.c.consumer == bindparam("consumer"), db.inbox.c.event_id.in_(bindparam("ids", expanding=True)))

    def consume(self, event: Event, item: Any = None) -> bool:
        return self.submit(event, item)

    def commit(self, batch: list[tuple]) -> None:
        try:
            results = self._transaction(batch)
        except Exception:
            log.warning("a batch of %d events failed; writing them one by one", len(batch), exc_info=True)
            for one in batch:
                try:
                    one[2].send(self._transaction([one])[0])
                except Exception as exc:  # this event's handler fails: retried, then parked, by the kernel
                    one[2].send_exception(exc)
            return
        for (_, _, done), result in zip(batch, results, strict=True):
            done.send(result)

    def _transaction(self, batch: list[tuple]) -> list[bool]:
        with self.db.unit_of_work(core=True) as uow:
            conn = uow.session
            # SQLite: BEGIN IMMEDIATE holds the write lock, so nothing comes in between the look-up and the
            # insert; PostgreSQL: a concurrent instance's insert makes this batch fail, and one by one it passes
            seen = set(conn.execute(self._seen, {"consumer": self.consumer,
                                                 "ids": [event.event_id for event, _, _ in batch]}).scalars())
            now = clock.now()
            results, records, items = [], [], []
            for event, item, _ in batch:
                new = event.event_id not in seen
                seen.add(event.event_id)
                results.append(new)
                if new:
                    records.append({"consumer": self.consumer, "event_id": event.event_id,
                                    "event_type": event.event_type, "processed_at": now})
                    items.append(item)
            if records:
                conn.execute(insert(self.db.inbox), records)
            if items:
                self.apply(uow, items)
        return results


class Database:
    """A service's database: engine, its metadata (with outbox and inbox) and units of work."""

    def __init__(self, url: str, metadata: MetaData, *, service: str, department: str | None = None,
                 background_checkpoint: bool = False):
        self.url = url
        self.metadata = metadata
        if "outbox" not in metadata.tables:
            kernel_tables(metadata)
        self.outbox = metadata.tables["outbox"]
        self.inbox = metadata.tables["inbox"]
        self.service = service
        self.department = department
        parsed = make_url(url)
        background_checkpoint = background_checkpoint and parsed.get_backend_name() == "sqlite" and \
            parsed.database not in (None, "", ":memory:")
        self.engine = create_db_engine(
            url, autocheckpoint=BACKGROUND_CHECKPOINT_FALLBACK_PAGES if background_checkpoint else None)
        self.read_engine = create_db_engine(url, read_only=True) if is_sqlite(self.engine) else self.engine
        # started by the service (Platform.start): a green thread handing the work to an OS thread
        self.checkpointer = WalCheckpointer(url) if background_checkpoint else None
        self._after_commit: list[Callable[[], None]] = []
        self.group = GroupCommit(self)
        self._batched: dict[str, BatchedConsumer] = {}

    def create_all(self) -> None:
        self.metadata.create_all(self.engine)

    def on_commit_with_events(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every commit that wrote outbox rows (the relay's wake-up)."""
        self._after_commit.append(callback)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def reader(self) -> Session:
        """A session for reading only (lists, reports): on SQLite it never takes the write lock."""
        return Session(self.read_engine, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self, *, correlation_id: str | None = None, consumed: Event | None = None,
                     consumer: str | None = None, core: bool = False) -> Iterator[UnitOfWork]:
        """`core=True`: `uow.session` is a Core Connection, not an ORM Session. It executes the same Core
        statements at about half the overhead, for hot paths that need nothing of the ORM (no Session
        events, no `get_bind`)."""
        with (self.engine.connect() if core else self.session()) as session, session.begin():
            uow = UnitOfWork(session, self.outbox, self.inbox, service=self.service,
                             department=self.department,
                             correlation_id=correlation_id or (consumed.correlation_id if consumed else None))
            if consumed is not None:
                if not consumer:
                    raise ValueError("a unit of work that consumes an event needs the consumer's name")
                uow.mark_consumed(consumer, consumed)
            yield uow
            uow.flush_events()
        if uow.published:
            for callback in self._after_commit:
                callback()

    def batched_consumer(self, consumer: str, apply: Callable[[UnitOfWork, list], None]) -> BatchedConsumer:
        """The one BatchedConsumer of `consumer` (made at its first use), applying `apply`."""
        found = self._batched.get(consumer)
        if found is None:
            found = self._batched[consumer] = BatchedConsumer(self, consumer, apply)
        elif found.apply is not apply:
            raise ValueError(f"{consumer} consumes in batches with {found.apply!r} already, not {apply!r}")
        return found

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
