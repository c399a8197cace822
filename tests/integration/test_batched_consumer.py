"""The kernel's batched idempotent consumer (`platform.consuming_batched`, `Database.batched_consumer`), as
scoring's ledger uses it: one per consumer, and on PostgreSQL two instances taking the same events at once each
count every event once between them (the batch that loses the race is written again one by one)."""

import uuid
from datetime import datetime

import eventlet
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from services.kernel.clock import TZ
from services.kernel.contracts import make_event, parse_event
from services.kernel.db import Database
from services.scoring import handlers, store


def event(i):
    return parse_event(make_event("appeal.received", {
        "appeal_id": str(i), "case_no": f"MY{i}", "department": "ZJJ", "type": "help", "urgency": "normal",
        "category": "road", "channel": "hotline", "received_at": datetime(2026, 9, 1, tzinfo=TZ)},
        service="appeals"))


def counts(db):
    with db.session() as s:
        return (s.execute(select(func.count()).select_from(store.facts)).scalar(),
                s.execute(select(func.count()).select_from(db.inbox)).scalar())


def test_one_batched_consumer_per_consumer_with_one_apply(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/scoring.db", store.metadata, service="scoring")
    db.create_all()
    try:
        first = db.batched_consumer("scoring.on_event", handlers.record_facts)
        assert db.batched_consumer("scoring.on_event", handlers.record_facts) is first
        assert db.batched_consumer("scoring.other", handlers.record_facts) is not first
        with pytest.raises(ValueError):
            db.batched_consumer("scoring.on_event", lambda uow, items: None)
        e = event(1)
        assert first.consume(e, handlers.ledger_rows(e)) is True
        assert first.consume(e, handlers.ledger_rows(e)) is False
        assert counts(db) == (1, 1)
    finally:
        db.dispose()


@pytest.mark.postgres
def test_two_instances_on_postgres_count_each_event_once(pg_admin, pg_url):
    name = f"xiaoneng_test_batched_{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    one = Database(url, store.metadata, service="scoring")
    two = Database(url, store.metadata, service="scoring")
    try:
        one.create_all()
        one.ping(), two.ping()  # both pools warm: the two batches' statements interleave
        events = [event(i) for i in range(40)]
        pool = eventlet.GreenPool()
        answers = {}
        for db in (one, two):
            consumer = db.batched_consumer("scoring.on_event", handlers.record_facts)
            for e in events:
                answers.setdefault(e.event_id, []).append(
                    pool.spawn(consumer.consume, e, handlers.ledger_rows(e)))
        pool.waitall()
        assert all(sorted(t.wait() for t in threads) == [False, True] for threads in answers.values())
        assert counts(one) == (40, 40)
    finally:
        one.dispose()
        two.dispose()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
