"""The outbox relay as a process of its own (`python -m services.kernel.relay`), and the relay's marks on
SQLite written together: on the real broker."""

import os
import signal
import subprocess
import sys

import pytest
import yaml
from sqlalchemy import MetaData, func, select

from services.kernel.db import Database
from services.kernel.messaging import ConfirmingPublisher
from services.kernel.outbox import OutboxRelay
from tests.conftest import wait_for
from tests.support import Tap

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _fill(db, start, n):
    for i in range(start, start + n):
        with db.unit_of_work() as uow:
            uow.publish("appeal.received", {
                "appeal_id": str(i), "case_no": f"R{i:06d}", "channel": "web", "type": "help",
                "urgency": "normal", "category": "c", "received_at": "2026-11-25T10:00:00+08:00"})


def _unmarked(db):
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.outbox)
                            .where(db.outbox.c.published_at.is_(None))).scalar_one()


def test_a_relay_process_publishes_what_the_service_commits_and_stops_on_sigterm(tmp_path, amqp_uri):
    url = f"sqlite:///{tmp_path}/svc.db"
    config = tmp_path / "appeals.yaml"
    config.write_text(yaml.safe_dump({"AMQP_URI": amqp_uri, "DATABASE_URL": url}))
    tap = Tap(amqp_uri, "appeals", "appeal.received")
    # the relay may start before the service has created its tables: it waits for them
    proc = subprocess.Popen([sys.executable, "-m", "services.kernel.relay", "--config", str(config),
                             "--service", "appeals"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    db = Database(url, MetaData(), service="appeals")
    try:
        db.create_all()
        _fill(db, 0, 3)
        wait_for(lambda: len(tap.event_ids()) == 3, timeout=20, message="the three events from the relay process")
        _fill(db, 3, 2)  # committed while it runs: found by the commit watch
        wait_for(lambda: len(tap.event_ids()) == 5, message="two more events")
        wait_for(lambda: _unmarked(db) == 0, message="the rows marked published")
        assert len(set(tap.event_ids())) == 5
        assert [m["payload"]["case_no"] for m in tap.messages] == [f"R{i:06d}" for i in range(5)]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out.decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        db.dispose()


def test_the_relay_process_refuses_a_config_without_a_database(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/"}))
    result = subprocess.run([sys.executable, "-m", "services.kernel.relay", "--config", str(config),
                             "--service", "appeals"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "DATABASE_URL" in result.stderr


def test_marks_are_written_together_and_a_dead_relays_unmarked_rows_go_out_again(tmp_path, amqp_uri):
    url = f"sqlite:///{tmp_path}/marks.db"
    tap = Tap(amqp_uri, "appeals", "appeal.received")
    first = OutboxRelay(Database(url, MetaData(), service="appeals"), ConfirmingPublisher(amqp_uri),
                        mark_interval=3600)
    first.db.create_all()
    _fill(first.db, 0, 3)
    assert first.relay_once() == 3
    # confirmed but not yet marked: not outbox lag, and not read again by this relay
    assert _unmarked(first.db) == 3 and first.lag() == (0, None) and first.pending() == 0
    _fill(first.db, 3, 2)
    assert first.relay_once() == 2
    assert first.relay_once() == 0  # drained: the marks are written now
    assert _unmarked(first.db) == 0
    ids = wait_for(lambda: (ids := tap.event_ids()) and len(ids) >= 5 and ids, message="five events")
    assert len(ids) == 5 and len(set(ids)) == 5

    # a relay that dies before writing its marks: the next one sends those rows again (consumers deduplicate
    # on event_id), and nothing is lost
    _fill(first.db, 5, 2)
    assert first.relay_once() == 2
    first._lock.release()  # as the OS does when the process dies
    second = OutboxRelay(Database(url, MetaData(), service="appeals"), ConfirmingPublisher(amqp_uri))
    assert second.relay_once() == 2
    assert second.relay_once() == 0
    assert _unmarked(second.db) == 0
    ids = wait_for(lambda: (ids := tap.event_ids()) and len(ids) >= 9 and ids, message="the resent events")
    assert len(ids) == 9 and len(set(ids)) == 7 and ids[5:7] == ids[7:9]
    for relay in (first, second):
        relay.publisher.close()
        relay.db.dispose()
    second.stop()


def test_the_relay_prunes_what_retention_lets_go(tmp_path, amqp_uri):
    from datetime import timedelta

    from sqlalchemy import insert, update

    from services.kernel import clock

    url = f"sqlite:///{tmp_path}/prune.db"
    relay = OutboxRelay(Database(url, MetaData(), service="appeals"), ConfirmingPublisher(amqp_uri),
                        outbox_retention_days=7, inbox_retention_days=90)
    db = relay.db
    db.create_all()
    _fill(db, 0, 5)
    assert relay.relay_once() == 5 and relay.relay_once() == 0  # published and marked
    _fill(db, 5, 1)  # not published yet: never pruned, however old
    now = clock.now()
    with db.engine.begin() as conn:
        conn.execute(update(db.outbox).where(db.outbox.c.id <= 3).values(published_at=now - timedelta(days=8)))
        conn.execute(update(db.outbox).where(db.outbox.c.id == 6).values(created_at=now - timedelta(days=30)))
        conn.execute(insert(db.inbox), [
            {"consumer": "scoring.on_event", "event_id": f"e{i}", "event_type": "appeal.received",
             "processed_at": now - timedelta(days=days)} for i, days in enumerate((100, 91, 89, 1))])
    assert relay.prune() == (3, 2)
    with db.engine.connect() as conn:
        assert sorted(conn.execute(select(db.outbox.c.id)).scalars()) == [4, 5, 6]
        assert sorted(conn.execute(select(db.inbox.c.event_id)).scalars()) == ["e2", "e3"]
    assert relay.prune() == (0, 0)
    keeper = OutboxRelay(db, relay.publisher, outbox_retention_days=0, inbox_retention_days=0)
    relay.stop()  # the file lock passes to the keeper
    assert keeper.prune() == (0, 0)
    keeper.stop()
    relay.publisher.close()
    db.dispose()
