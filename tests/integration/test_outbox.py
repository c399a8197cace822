"""The transactional outbox on the real broker: nothing lost between commit and publish (even when the
process is killed or the broker is unreachable), nothing published twice by concurrent relays."""

import json
import logging
import os
import signal
import subprocess
import sys
from urllib.parse import urlparse

import eventlet
import pytest
import requests
import yaml
from sqlalchemy import MetaData, func, select

from services.appeals.service import AppealsService
from services.kernel.db import Database
from services.kernel.messaging import ConfirmingPublisher
from services.kernel.outbox import OutboxRelay
from tests.conftest import wait_for
from tests.support import Tap, TcpProxy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APPEAL = {"channel": "hotline", "type": "help", "category": "water", "content": "停水三天"}


def _outbox_counts(db_url):
    db = Database(db_url, MetaData(), service="appeals")
    try:
        with db.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(db.outbox)).scalar_one()
            pending = conn.execute(select(func.count()).select_from(db.outbox)
                                   .where(db.outbox.c.published_at.is_(None))).scalar_one()
        return total, pending
    finally:
        db.dispose()


def _proxy_for(amqp_uri):
    u = urlparse(amqp_uri)
    proxy = TcpProxy(u.hostname, u.port or 5672)
    return proxy, amqp_uri.replace(f"{u.hostname}:{u.port or 5672}", f"127.0.0.1:{proxy.port}")


def test_event_committed_by_a_killed_process_goes_out_after_restart(
        tmp_path, service_config, start_service, api_keys, amqp_uri):
    """appeals commits an appeal while the broker is out of reach, is killed -9 before its relay could
    publish, and the restarted service publishes the event."""
    tap = Tap(amqp_uri, "appeals", "appeal.received")
    proxy, cut_uri = _proxy_for(amqp_uri)
    proxy.cut()
    cfg = service_config("appeals", AMQP_URI=cut_uri)
    config_file = tmp_path / "appeals.yaml"
    config_file.write_text(yaml.safe_dump({k: v for k, v in cfg.items() if k != "base_url"}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "nameko", "run", "--config", str(config_file), "services.appeals.service"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _get_ok(f"{cfg['base_url']}/api/openapi.json"), timeout=30, message="appeals to start")
        r = requests.post(f"{cfg['base_url']}/api/v1/appeals", json=APPEAL,
                          headers={"Authorization": f"Bearer {api_keys['operator']}"})
        assert r.status_code == 201, r.text
        assert _outbox_counts(cfg["DATABASE_URL"]) == (2, 2)  # appeal.received + appeal.dispatched
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proxy.close()
    assert tap.event_ids() == []

    start_service(AppealsService, {**cfg, "AMQP_URI": amqp_uri})
    ids = wait_for(tap.event_ids, message="the event after restart")
    assert len(ids) == 1
    assert tap.messages[0]["payload"]["case_no"] == r.json()["case_no"]
    wait_for(lambda: _outbox_counts(cfg["DATABASE_URL"]) == (2, 0), message="the row marked published")


def _get_ok(url):
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def test_relay_rides_out_a_broker_outage(service_config, start_service, api_keys, amqp_uri):
    tap = Tap(amqp_uri, "appeals", "appeal.received")
    proxy, via_proxy = _proxy_for(amqp_uri)
    try:
        cfg = service_config("appeals", AMQP_URI=via_proxy)
        start_service(AppealsService, cfg)
        post = lambda ref: requests.post(  # noqa: E731
            f"{cfg['base_url']}/api/v1/appeals", json={**APPEAL, "external_ref": ref},
            headers={"Authorization": f"Bearer {api_keys['operator']}"})
        assert post("before").status_code == 201
        wait_for(lambda: len(tap.event_ids()) == 1, message="first event")

        proxy.cut()
        assert post("during-1").status_code == 201
        assert post("during-2").status_code == 201
        health = requests.get(f"{cfg['base_url']}/health").json()
        assert health["outbox"]["pending"] >= 1
        assert len(tap.event_ids()) == 1

        proxy.restore()
        wait_for(lambda: len(tap.event_ids()) == 3, timeout=30, message="events held during the outage")
        refs = sorted(m["payload"]["case_no"] for m in tap.messages)
        assert len(set(refs)) == 3
        wait_for(lambda: requests.get(f"{cfg['base_url']}/health").json()["outbox"]["pending"] == 0,
                 message="outbox drained")
    finally:
        proxy.close()


def _fill_outbox(db, n):
    for i in range(n):
        with db.unit_of_work() as uow:
            uow.publish("appeal.received", {
                "appeal_id": str(i), "case_no": f"T{i:06d}", "channel": "web", "type": "help",
                "urgency": "normal", "category": "c", "received_at": "2026-11-25T10:00:00+08:00"})


@pytest.mark.postgres
def test_concurrent_relays_on_postgres_publish_each_event_exactly_once(pg_url, amqp_uri):
    tap = Tap(amqp_uri, "appeals", "appeal.received")
    db = Database(pg_url, MetaData(), service="appeals")
    db.create_all()
    with db.engine.begin() as conn:
        conn.execute(db.outbox.delete())
    _fill_outbox(db, 300)
    relays = [OutboxRelay(Database(pg_url, MetaData(), service="appeals"), ConfirmingPublisher(amqp_uri),
                          batch_size=20) for _ in range(3)]
    counts = [0, 0, 0]

    def drain(i):
        while (n := relays[i].relay_once()) > 0:
            counts[i] += n
            eventlet.sleep(0)

    threads = [eventlet.spawn(drain, i) for i in range(3)]
    for t in threads:
        t.wait()
    assert sum(counts) == 300
    assert sum(1 for c in counts if c > 0) >= 2, f"relays did not share the work: {counts}"
    ids = wait_for(lambda: (ids := tap.event_ids()) and len(ids) >= 300 and ids, message="300 events")
    assert len(ids) == 300 and len(set(ids)) == 300
    assert relays[0].pending() == 0
    for r in relays:
        r.publisher.close()
        r.db.dispose()
    db.dispose()


def test_only_one_relay_per_sqlite_file(tmp_path, amqp_uri):
    url = f"sqlite:///{tmp_path}/one.db"
    tap = Tap(amqp_uri, "appeals", "appeal.received")
    first = OutboxRelay(Database(url, MetaData(), service="appeals"), ConfirmingPublisher(amqp_uri))
    second = OutboxRelay(Database(url, MetaData(), service="appeals"), ConfirmingPublisher(amqp_uri))
    first.db.create_all()
    _fill_outbox(first.db, 5)
    assert first.relay_once() == 5
    _fill_outbox(first.db, 2)
    assert second.relay_once() == 0, "a second relay on the same SQLite file must stand by"
    first.stop()  # releases the file lock: the standby takes over
    assert second.relay_once() == 2
    second.stop()
    ids = wait_for(lambda: (ids := tap.event_ids()) and len(ids) >= 7 and ids, message="7 events")
    assert len(ids) == 7 and len(set(ids)) == 7
    bodies = [json.dumps(m) for m in tap.messages]
    assert all('"schema_version": 1' in b for b in bodies)


def test_a_pipelined_batch_reports_each_unroutable_message(fresh_amqp_uri):
    from kombu import Connection, Exchange, Queue

    from services.kernel.messaging import Outgoing

    bare = Exchange("test.no-alternate", type="topic", durable=False)
    with Connection(fresh_amqp_uri) as conn:
        Queue("test.bound", exchange=bare, routing_key="ok", durable=False)(conn.channel()).declare()
    pub = ConfirmingPublisher(fresh_amqp_uri)
    try:
        results = pub.publish_many([Outgoing({"n": 1}, bare.name, "ok"), Outgoing({"n": 2}, bare.name, "nowhere"),
                                    Outgoing({"n": 3}, bare.name, "ok")])
        assert results[0] is None and results[2] is None
        assert "no route" in str(results[1])
        with pytest.raises(Exception, match="no route"):
            pub.publish({"n": 4}, exchange=bare.name, routing_key="nowhere")
        pub.publish({"n": 5}, exchange=bare.name, routing_key="ok")  # the channel is still good
    finally:
        pub.close()
    with Connection(fresh_amqp_uri) as conn:
        q = Queue("test.bound", channel=conn.channel(), no_declare=True)
        got = []
        while (m := q.get(no_ack=True)) is not None:
            got.append(json.loads(m.body)["n"])
    assert got == [1, 3, 5]


def test_a_row_the_broker_returns_stays_in_the_outbox_with_its_reason(tmp_path, fresh_amqp_uri):
    from kombu import Connection, Exchange
    from sqlalchemy import update

    db = Database(f"sqlite:///{tmp_path}/r.db", MetaData(), service="appeals")
    db.create_all()
    _fill_outbox(db, 2)
    with db.engine.begin() as conn:  # one row aimed at an exchange without an alternate exchange
        conn.execute(update(db.outbox).where(db.outbox.c.id == 1).values(exchange="test.no-alternate"))
    with Connection(fresh_amqp_uri) as conn:
        Exchange("test.no-alternate", type="topic", durable=False)(conn.channel()).declare()
    relay = OutboxRelay(db, ConfirmingPublisher(fresh_amqp_uri))
    assert relay.relay_once() == 1
    with db.engine.connect() as conn:
        rows = conn.execute(select(db.outbox.c.id, db.outbox.c.published_at, db.outbox.c.last_error)
                            .order_by(db.outbox.c.id)).all()
    assert rows[0].published_at is None and "no route" in rows[0].last_error
    assert rows[1].published_at is not None and rows[1].last_error is None
    relay.stop()


class _CountingPublisher(ConfirmingPublisher):
    """Counts connection attempts (every `_ensure` without a channel opens a connection)."""

    attempts = 0

    def _ensure(self):
        if self._channel is None:
            self.attempts += 1
        return super()._ensure()


def test_commits_do_not_cut_the_relays_backoff_short(tmp_path, amqp_uri, caplog):
    """Every commit wakes the relay; after a failure that wake-up must not bring the next attempt forward, or a
    busy service hammers a broker that is coming back with a reconnect per commit. The outage is one WARNING
    and its end one INFO, not a line per attempt."""
    caplog.set_level(logging.DEBUG, logger="services.kernel.outbox")
    tap = Tap(amqp_uri, "appeals", "appeal.received")
    proxy, via_proxy = _proxy_for(amqp_uri)
    db = Database(f"sqlite:///{tmp_path}/busy.db", MetaData(), service="appeals")
    db.create_all()
    publisher = _CountingPublisher(via_proxy, connect_timeout=1)
    relay = OutboxRelay(db, publisher, poll_interval=0.05, max_backoff=10)
    db.on_commit_with_events(relay.notify)
    runner = eventlet.spawn(relay.run)
    try:
        _fill_outbox(db, 1)
        wait_for(lambda: len(tap.event_ids()) == 1, message="the first event")
        proxy.cut()
        before = publisher.attempts
        for _ in range(40):  # two seconds of a service committing twenty times a second
            _fill_outbox(db, 1)
            eventlet.sleep(0.05)
        attempts = publisher.attempts - before
        # backoff 0.5 s, 1 s, 2 s: at most four attempts in two seconds (one per commit without the fix)
        assert 1 <= attempts <= 4, f"{attempts} connection attempts in two seconds of commits"
        proxy.restore()
        wait_for(lambda: len(tap.event_ids()) == 41, timeout=30, message="every event once the broker is back")
        assert len(set(tap.event_ids())) == 41
        wait_for(lambda: any(r.levelno == logging.INFO and "resumed" in r.getMessage() for r in caplog.records),
                 message="the relay's line that the outage ended")
        relay_lines = [r for r in caplog.records if r.name == "services.kernel.outbox"]
        assert [r.levelno for r in relay_lines if r.levelno >= logging.WARNING] == [logging.WARNING]
    finally:
        relay.stop()
        runner.wait()
        publisher.close()
        proxy.close()
        db.dispose()
