"""The scoring service's group commit (the kernel's BatchedConsumer applying `handlers.record_facts`, as
`platform.consuming_batched` runs it) on a real SQLite file: handlers running together share one transaction,
an event delivered twice (even inside one batch) is counted once, and a batch that fails is written one by
one so that only the event at fault fails."""

from datetime import datetime

import eventlet
import pytest
from sqlalchemy import func, select

from services.kernel.clock import TZ
from services.kernel.contracts import make_event, parse_event
from services.kernel.db import Database
from services.scoring import handlers, store


@pytest.fixture
def writer(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/scoring.db", store.metadata, service="scoring")
    db.create_all()
    yield db.batched_consumer("scoring.on_event", handlers.record_facts)
    db.dispose()


def event(i):
    return parse_event(make_event("appeal.received", {
        "appeal_id": str(i), "case_no": f"MY{i}", "department": "ZJJ", "type": "help", "urgency": "normal",
        "category": "road", "channel": "hotline", "received_at": datetime(2026, 9, 1, tzinfo=TZ)},
        service="appeals"))


def fact(e, metric="appeals_received"):
    return {"department": "ZJJ", "period": "2026-09", "metric": metric, "value": 1.0, "ref": None, "detail": None,
            "at": datetime(2026, 9, 1, tzinfo=TZ), "source_event_id": e.event_id, "source_event_type": e.event_type,
            "occurred_at": e.occurred_at}


def counts(writer):
    with writer.db.session() as s:
        return (s.execute(select(func.count()).select_from(store.facts)).scalar(),
                s.execute(select(func.count()).select_from(writer.db.inbox)).scalar())


def test_handlers_running_together_commit_once_and_a_duplicate_counts_once(writer, monkeypatch):
    events = [event(i) for i in range(20)]
    transactions = []
    original = writer._transaction
    monkeypatch.setattr(writer, "_transaction", lambda batch: transactions.append(len(batch)) or original(batch))
    pool = eventlet.GreenPool()
    results = list(pool.imap(lambda e: writer.consume(e, [fact(e)]), events + events[:5]))
    assert results == [True] * 20 + [False] * 5
    assert counts(writer) == (20, 20)
    assert sum(transactions) == 25 and len(transactions) < 25  # batched: fewer transactions than events


def test_a_failing_batch_is_written_one_by_one_and_only_the_bad_event_fails(writer, caplog):
    good, bad = event(1), event(2)
    broken = {**fact(bad), "metric": None}  # NOT NULL: this one cannot be stored
    pool = eventlet.GreenPool()
    ok = pool.spawn(writer.consume, good, [fact(good)])
    failing = pool.spawn(writer.consume, bad, [broken])
    assert ok.wait() is True
    with pytest.raises(Exception, match="NOT NULL"):
        failing.wait()
    assert counts(writer) == (1, 1)  # the bad event is not marked as consumed: it will be retried
    assert "a batch of 2 events failed" in caplog.text
