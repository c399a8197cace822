"""The intake's write path on a real database: concurrent units of work sharing one commit (GroupCommit),
statements run straight on the DB-API cursor (Direct) writing exactly what SQLAlchemy writes, and the
background WAL checkpoints."""

import sqlite3
from contextlib import closing
from datetime import date

import eventlet
import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.db import BACKGROUND_CHECKPOINT_FALLBACK_PAGES, Batched, Database, Moment
from services.kernel.direct import Direct
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def _metadata():
    md = MetaData()
    Table("things", md,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("name", String(40), nullable=False, unique=True),
          Column("at", Moment(), nullable=False),
          Column("until", Moment()),
          Column("day", Date),
          Column("tags", JSON, nullable=False, default=list),
          Column("flag", Boolean, nullable=False, default=False),
          Column("count", Integer, nullable=False, default=7))
    return md


def _event(uow, n):
    uow.publish("appeal.received", {
        "appeal_id": str(n), "case_no": f"G{n:06d}", "channel": "web", "type": "help", "urgency": "normal",
        "category": "c", "received_at": "2026-11-25T10:00:00+08:00"})


@pytest.fixture
def sqlite_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/g.db", _metadata(), service="appeals")
    db.create_all()
    yield db
    db.dispose()


def _commits(db):
    counted = []
    event.listen(db.engine, "commit", lambda conn: counted.append(1))
    return counted


def _names(db):
    things = db.metadata.tables["things"]
    with db.engine.connect() as conn:
        return sorted(conn.execute(select(things.c.name)).scalars())


def _unit(db, name, fail=False):
    things = db.metadata.tables["things"]

    def work(uow):
        uow.session.execute(insert(things).values(name=name, at=clock.now()))
        _event(uow, len(name))
        if fail:
            raise ValueError(f"{name} is refused after its write")
        return f"done {name}"
    return work


def test_units_running_at_the_same_moment_share_one_commit(sqlite_db):
    commits = _commits(sqlite_db)
    threads = [eventlet.spawn(sqlite_db.group.run, _unit(sqlite_db, f"n{i}")) for i in range(5)]
    assert [t.wait() for t in threads] == [f"done n{i}" for i in range(5)]
    assert len(commits) == 1
    assert sqlite_db.group.batches == 1 and sqlite_db.group.units == 5
    assert _names(sqlite_db) == [f"n{i}" for i in range(5)]
    with sqlite_db.engine.connect() as conn:  # each unit's event in the outbox, in order
        bodies = conn.execute(select(sqlite_db.outbox.c.body).order_by(sqlite_db.outbox.c.id)).scalars().all()
    assert len(bodies) == 5


def test_a_failing_unit_fails_alone_and_its_neighbours_commit(sqlite_db):
    threads = [eventlet.spawn(sqlite_db.group.run, _unit(sqlite_db, f"m{i}", fail=(i == 2))) for i in range(4)]
    results = []
    for t in threads:
        try:
            results.append(t.wait())
        except ValueError as exc:
            results.append(str(exc))
    assert results == ["done m0", "done m1", "m2 is refused after its write", "done m3"]
    assert _names(sqlite_db) == ["m0", "m1", "m3"]  # nothing of m2, not even the row written before it failed
    with sqlite_db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sqlite_db.outbox)).scalar_one() == 3


def test_a_unit_alone_is_a_plain_unit_of_work(sqlite_db):
    commits = _commits(sqlite_db)
    assert sqlite_db.group.run(_unit(sqlite_db, "alone")) == "done alone"
    with pytest.raises(ValueError):
        sqlite_db.group.run(_unit(sqlite_db, "alone-bad", fail=True))
    assert len(commits) == 1 and _names(sqlite_db) == ["alone"]


class _YieldingCommits(Batched):
    """A group commit whose commits yield to other green threads, as PostgreSQL's do (psycogreen)."""

    def __init__(self):
        super().__init__()
        self.rounds = 0

    def commit(self, batch):
        self.rounds += 1
        eventlet.sleep(0.001)
        for item, done in batch:
            done.send(item)


def _rounds_waited(rounds, call, calls=200, gap=0.0008, burst=4):
    """Callers arriving `burst` at a time every `gap` seconds (several during each commit), each running
    `call(i)`; answers the most commit rounds (`rounds()` counts them) any one call waited through. The gap paces
    the load and synchronises nothing; the bursts make sure callers queue together even where a loaded machine
    stretches every gap past a commit."""
    waited = []

    def caller(i):
        before = rounds()
        call(i)
        waited.append(rounds() - before)

    pool = eventlet.GreenPool(calls)
    for i in range(calls):
        pool.spawn(caller, i)
        if i % burst == burst - 1:
            eventlet.sleep(gap)
    pool.waitall()
    assert len(waited) == calls
    return max(waited)


def test_a_group_commit_leader_returns_after_its_own_batch_under_continuous_load():
    """A leader that committed until the queue was empty held its caller for as long as the load lasted."""
    batched = _YieldingCommits()

    def call(i):
        assert batched.submit(i) == i

    assert _rounds_waited(lambda: batched.rounds, call) <= 2  # the batch in progress when it came, then its own
    assert batched.rounds < 200  # and still batched
    assert batched.pending == [] and not batched.flushing


@pytest.mark.postgres
def test_group_commit_on_postgres_keeps_every_callers_wait_bounded(pg_url):
    db = Database(pg_url, _metadata(), service="appeals")
    db.create_all()
    things = db.metadata.tables["things"]
    try:
        with db.engine.begin() as conn:
            conn.execute(things.delete())
        group = db.group

        def call(i):
            assert group.run(_unit(db, f"p{i}")) == f"done p{i}"

        assert _rounds_waited(lambda: group.batches, call) <= 2
        assert len(_names(db)) == 200 and group.units == 200 and group.batches < 200
    finally:
        db.dispose()


def test_the_scoring_writers_leader_is_bounded_too(tmp_path, monkeypatch):
    from services.kernel.contracts import make_event, parse_event
    from services.scoring import handlers, store

    db = Database(f"sqlite:///{tmp_path}/scoring.db", store.metadata, service="scoring")
    db.create_all()
    writer = db.batched_consumer("scoring.on_event", handlers.record_facts)
    rounds = []
    original = writer._transaction

    def yielding(batch):  # as on PostgreSQL: while one commits, the other handlers run and queue
        rounds.append(len(batch))
        eventlet.sleep(0.001)
        return original(batch)

    monkeypatch.setattr(writer, "_transaction", yielding)

    def call(i):
        event = parse_event(make_event("appeal.received", {
            "appeal_id": str(i), "case_no": f"MY{i}", "department": "ZJJ", "type": "help",
            "urgency": "normal", "category": "road", "channel": "hotline",
            "received_at": "2026-09-01T09:00:00+08:00"}, service="appeals"))
        assert writer.consume(event, []) is True

    try:
        assert _rounds_waited(lambda: len(rounds), call) <= 2
        assert sum(rounds) == 200 and len(rounds) < 200
    finally:
        db.dispose()


def _direct_vs_sqlalchemy(db):
    things = db.metadata.tables["things"]
    at = clock.now()
    row = {"name": "direct", "at": at, "until": None, "day": date(2026, 12, 2), "tags": ["a", "乙"], "flag": True}
    ins = Direct(insert(things))
    with db.engine.begin() as conn:
        new_id = ins.run(conn, row)
        conn.execute(insert(things), {**row, "name": "sqlalchemy"})
        ins.run_many(conn, [{"name": "defaults", "at": at}, {"name": "defaults-2", "at": at, "count": 1}])
    with db.engine.connect() as conn:
        got = {r["name"]: dict(r) for r in conn.execute(select(things)).mappings()}
    assert got["direct"]["id"] == new_id
    assert {k: v for k, v in got["direct"].items() if k not in ("id", "name")} == \
        {k: v for k, v in got["sqlalchemy"].items() if k not in ("id", "name")}
    assert got["direct"]["at"] == at and got["direct"]["tags"] == ["a", "乙"] and got["direct"]["flag"] is True
    assert (got["defaults"]["tags"], got["defaults"]["flag"], got["defaults"]["count"]) == ([], False, 7)
    assert got["defaults-2"]["count"] == 1
    # a select with the statement's own LIMIT, a Moment parameter and a plain tuple back
    since = Direct(select(things.c.id, things.c.name).where(things.c.at >= bindparam("since"))
                   .order_by(things.c.id).limit(1))
    with db.engine.connect() as conn:
        assert since.first(conn, {"since": at}) == (new_id, "direct")
        assert since.first(conn, {"since": clock.now().replace(year=2099)}) is None
    # an update answers the rows it touched; a broken constraint is SQLAlchemy's IntegrityError
    rename = Direct(update(things).where(things.c.id == bindparam("tid")).values(name=bindparam("new")))
    with db.engine.begin() as conn:
        assert rename.run(conn, {"tid": new_id, "new": "renamed"}) == 1
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        ins.run(conn, {"name": "renamed", "at": at})
    assert "renamed" in _names(db)


def test_direct_statements_write_what_sqlalchemy_writes_on_sqlite(sqlite_db):
    _direct_vs_sqlalchemy(sqlite_db)


@pytest.mark.postgres
def test_direct_statements_are_plain_sqlalchemy_on_postgres(pg_url):
    db = Database(pg_url, _metadata(), service="appeals")
    db.create_all()
    try:
        _direct_vs_sqlalchemy(db)
    finally:
        db.dispose()


def test_the_wal_is_checkpointed_in_the_background(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/wal.db", _metadata(), service="appeals", background_checkpoint=True)
    db.create_all()
    try:
        with db.engine.connect() as conn:  # the requests' own checkpoints only as a fallback
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == \
                BACKGROUND_CHECKPOINT_FALLBACK_PAGES
        things = db.metadata.tables["things"]
        with db.engine.begin() as conn:
            conn.execute(insert(things), [{"name": f"w{i}", "at": clock.now()} for i in range(2000)])
        db.checkpointer.interval = 0.05
        runner = eventlet.spawn(db.checkpointer.run)
        wait_for(lambda: db.checkpointer.checkpoints >= 1, message="a background checkpoint")
        db.checkpointer.stop()
        runner.wait()
        # every frame of the WAL is in the database file now (asked outside any transaction)
        with closing(sqlite3.connect(str(tmp_path / "wal.db"), isolation_level=None)) as raw:
            busy, log_frames, checkpointed = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and log_frames == checkpointed
    finally:
        db.dispose()
