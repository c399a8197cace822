"""The consuming side on the real broker: redeliveries have no second effect, failures are retried with
backoff and then parked with their error, contract breakers are parked at once, events published before
any consumer existed are kept, and parked messages can be listed and replayed."""

import json
import uuid
from collections import Counter

import eventlet
import pytest
import requests
from kombu import Connection
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text

from services.kernel import service as base
from services.kernel.cli import main as cli
from services.kernel.contracts import make_event
from services.kernel.db import Database, kernel_tables
from services.kernel.dlq import cause_of, list_parked
from services.kernel.messaging import (
    PARKED_QUEUE,
    UNROUTED_QUEUE,
    ConfirmingPublisher,
    clip_error,
    consume_event,
    declare_topology,
)
from services.kernel.outbox import OutboxRelay
from tests.conftest import wait_for
from tests.support import TcpProxy, publish_raw

metadata = MetaData()
kernel_tables(metadata)
handled = Table("handled", metadata,
                Column("id", Integer, primary_key=True), Column("event_id", String(36), nullable=False))

CALLS: Counter = Counter()
FAILURES_LEFT: Counter = Counter()
GATE: dict = {}
AFTER_COMMIT: dict = {}
BROKEN_SQL: set = set()


class Downstream(base.ServiceBase):
    name = "downstream"
    platform = base.Platform(metadata)

    @consume_event("appeals", "appeal.received")
    def on_received(self, event):
        CALLS[event.event_id] += 1
        if event.event_id in GATE:
            GATE[event.event_id].wait()
        if FAILURES_LEFT[event.event_id] > 0:
            FAILURES_LEFT[event.event_id] -= 1
            raise RuntimeError("downstream system unavailable")
        with self.platform.consuming(event) as uow:
            uow.session.execute(insert(handled).values(event_id=event.event_id))
            if event.event_id in BROKEN_SQL:
                uow.session.execute(text("SELECT * FROM no_such_table"))
        if event.event_id in AFTER_COMMIT:
            AFTER_COMMIT[event.event_id]()


def _event(**payload):
    body = {"appeal_id": "1", "case_no": "MY20261125000001", "channel": "hotline", "type": "help",
            "urgency": "normal", "category": "water", "received_at": "2026-11-25T09:00:00+08:00"}
    body.update(payload)
    return make_event("appeal.received", body, service="appeals")


def _handled(cfg, event_id):
    db = Database(cfg["DATABASE_URL"], metadata, service="downstream")
    try:
        with db.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(handled)
                                .where(handled.c.event_id == event_id)).scalar_one()
    finally:
        db.dispose()


@pytest.fixture
def downstream(service_config, start_service, fresh_amqp_uri):
    cfg = service_config("downstream", AMQP_URI=fresh_amqp_uri)
    container = start_service(Downstream, cfg)
    return cfg, container


def _publish(cfg, body):
    publish_raw(cfg["AMQP_URI"], "appeals.events", "appeal.received", body)


def test_a_redelivered_event_has_no_second_effect(downstream):
    cfg, _ = downstream
    event = _event()
    _publish(cfg, event)
    _publish(cfg, event)
    wait_for(lambda: CALLS[event["event_id"]] == 2, message="both deliveries")
    wait_for(lambda: _handled(cfg, event["event_id"]) == 1, message="the effect")
    assert list_parked(cfg["AMQP_URI"]) == []


def test_a_failing_handler_is_retried_with_backoff_then_succeeds(downstream):
    cfg, _ = downstream
    event = _event()
    FAILURES_LEFT[event["event_id"]] = 2  # config retries after 200 ms and 400 ms
    _publish(cfg, event)
    wait_for(lambda: _handled(cfg, event["event_id"]) == 1, message="success on the third attempt")
    assert CALLS[event["event_id"]] == 3
    assert list_parked(cfg["AMQP_URI"]) == []


def test_a_handler_that_keeps_failing_is_parked_and_can_be_replayed(downstream, capsys):
    cfg, _ = downstream
    event = _event()
    FAILURES_LEFT[event["event_id"]] = 99
    _publish(cfg, event)
    parked = wait_for(lambda: list_parked(cfg["AMQP_URI"]), message="the parked message")
    assert len(parked) == 1
    p = parked[0]
    assert (p.event_id, p.reason, p.attempts) == (event["event_id"], "failed", 3)
    assert "downstream system unavailable" in p.error
    assert p.queue == "evt-appeals-appeal.received--downstream.on_received"
    assert CALLS[event["event_id"]] == 3
    assert _handled(cfg, event["event_id"]) == 0

    assert cli(["dlq", "--amqp-uri", cfg["AMQP_URI"], "list"]) == 0
    assert event["event_id"] in capsys.readouterr().out

    FAILURES_LEFT[event["event_id"]] = 0  # the downstream system is back
    assert cli(["dlq", "--amqp-uri", cfg["AMQP_URI"], "replay", event["event_id"]]) == 0
    wait_for(lambda: _handled(cfg, event["event_id"]) == 1, message="the replayed event handled")
    assert list_parked(cfg["AMQP_URI"]) == []
    assert cli(["dlq", "--amqp-uri", cfg["AMQP_URI"], "replay", str(uuid.uuid4())]) == 1


def test_an_event_that_breaks_its_contract_is_parked_at_once(downstream):
    cfg, _ = downstream
    bad = _event()
    del bad["payload"]["case_no"]
    _publish(cfg, bad)
    _publish(cfg, b"this is not json")
    parked = wait_for(lambda: (p := list_parked(cfg["AMQP_URI"])) and len(p) == 2 and p,
                      message="two parked messages")
    assert {p.reason for p in parked} == {"invalid"}
    assert all(p.attempts == 0 for p in parked)
    by_id = {p.event_id: p for p in parked}
    assert "case_no" in by_id[bad["event_id"]].error
    assert CALLS[bad["event_id"]] == 0


def test_an_event_published_before_any_consumer_existed_is_kept(
        tmp_path, service_config, start_service, fresh_amqp_uri):
    db = Database(f"sqlite:///{tmp_path}/appeals.db", MetaData(), service="appeals")
    db.create_all()
    with db.unit_of_work() as uow:
        event = uow.publish("appeal.received", _event()["payload"])
    relay = OutboxRelay(db, ConfirmingPublisher(fresh_amqp_uri))
    assert relay.relay_once() == 1  # confirmed by the broker although no queue is bound
    relay.stop()
    parked = list_parked(fresh_amqp_uri)
    assert [(p.event_id, p.reason, p.exchange, p.routing_key) for p in parked] == [
        (event["event_id"], "unrouted", "appeals.events", "appeal.received")]

    cfg = service_config("downstream", AMQP_URI=fresh_amqp_uri)
    start_service(Downstream, cfg)
    assert cli(["dlq", "--amqp-uri", fresh_amqp_uri, "replay", "--all"]) == 0
    wait_for(lambda: _handled(cfg, event["event_id"]) == 1, message="the kept event handled")
    assert list_parked(fresh_amqp_uri) == []


def test_a_consumer_killed_mid_handler_gets_the_event_again(service_config, start_service, fresh_amqp_uri):
    cfg = service_config("downstream", AMQP_URI=fresh_amqp_uri)
    first = start_service(Downstream, cfg)
    event = _event()
    GATE[event["event_id"]] = eventlet.event.Event()
    _publish(cfg, event)
    wait_for(lambda: CALLS[event["event_id"]] == 1, message="the handler to start")
    first.kill()  # dies before commit and ack
    assert _handled(cfg, event["event_id"]) == 0
    del GATE[event["event_id"]]
    start_service(Downstream, cfg)
    wait_for(lambda: _handled(cfg, event["event_id"]) == 1, message="redelivery to the new instance")
    assert CALLS[event["event_id"]] == 2
    assert json.loads(json.dumps(list_parked(fresh_amqp_uri), default=str)) == []


def test_replaying_an_event_nobody_consumes_yet_parks_it_again_and_ends(fresh_amqp_uri):
    event = _event()
    with Connection(fresh_amqp_uri) as conn:
        declare_topology(conn.channel(), service="appeals")
    publish_raw(fresh_amqp_uri, "appeals.events", "appeal.received", event)
    wait_for(lambda: list_parked(fresh_amqp_uri), message="the unrouted event parked")
    assert cli(["dlq", "--amqp-uri", fresh_amqp_uri, "replay", "--all"]) == 0
    parked = wait_for(lambda: list_parked(fresh_amqp_uri), message="the event parked again")
    assert [(p.event_id, p.reason) for p in parked] == [(event["event_id"], "unrouted")]


def test_a_service_stops_even_when_its_broker_is_gone(service_config, container_factory, rabbit_admin, fresh_vhost):
    """nameko alone would wait forever for its consumer loop to cancel consumers on a dead connection."""
    cfg = service_config("downstream", AMQP_URI=rabbit_admin.amqp_uri(fresh_vhost))
    container = container_factory(Downstream, cfg)
    container.start()
    rabbit_admin.delete_vhost(fresh_vhost)
    stopping = eventlet.spawn(container.stop)
    with eventlet.Timeout(40):
        stopping.wait()
    assert stopping.dead


def _proxied(amqp_uri):
    from urllib.parse import urlparse

    u = urlparse(amqp_uri)
    proxy = TcpProxy(u.hostname, u.port or 5672)
    return proxy, amqp_uri.replace(f"{u.hostname}:{u.port or 5672}", f"127.0.0.1:{proxy.port}")


def test_a_consumer_survives_a_broker_cut_with_messages_in_flight(service_config, start_service, fresh_amqp_uri):
    """Handlers that finish just after the link was cut cannot ack: the socket raises BrokenPipeError (or
    ConnectionResetError), which nameko lets through and which kills the container. The service must stay
    up, reconnect by itself, and the redelivered events must have no second effect."""
    proxy, via_proxy = _proxied(fresh_amqp_uri)
    try:
        cfg = service_config("downstream", AMQP_URI=via_proxy)
        container = start_service(Downstream, cfg)
        events = [_event() for _ in range(6)]
        gate = eventlet.event.Event()
        for event in events:
            GATE[event["event_id"]] = gate
            # the first handler to commit cuts the link; the others commit and ack right after it, before the
            # consumer loop has had a turn to notice: the acks meet the dead socket
            AFTER_COMMIT[event["event_id"]] = proxy.cut
            publish_raw(fresh_amqp_uri, "appeals.events", "appeal.received", event)
        wait_for(lambda: all(CALLS[e["event_id"]] == 1 for e in events), message="every handler in flight")
        gate.send(True)
        wait_for(lambda: all(_handled(cfg, e["event_id"]) == 1 for e in events), message="the effects")
        for event in events:
            del GATE[event["event_id"]], AFTER_COMMIT[event["event_id"]]
        proxy.restore()
        wait_for(lambda: all(CALLS[e["event_id"]] == 2 for e in events), timeout=30,
                 message="every event delivered again once the link is back")
        late = _event()
        publish_raw(fresh_amqp_uri, "appeals.events", "appeal.received", late)
        wait_for(lambda: _handled(cfg, late["event_id"]) == 1, timeout=30, message="a new event after the cut")
        assert not container._died.ready()
        assert all(_handled(cfg, e["event_id"]) == 1 for e in events)  # each effect once
        assert list_parked(fresh_amqp_uri) == []
    finally:
        proxy.close()


def _unrouted(n):
    """An event no queue is bound for (nobody consumes appeal.dispatched here); the body is never decoded."""
    return {"event_id": f"00000000-0000-0000-0000-00000000000{n}", "event_type": "appeal.dispatched", "payload": {}}


def _depth(amqp_uri, queue):
    with Connection(amqp_uri) as conn:
        return conn.channel().queue_declare(queue, passive=True).message_count


def test_failures_and_unrouted_events_are_kept_apart_and_failures_come_first(
        service_config, start_service, fresh_amqp_uri, capsys):
    cfg = service_config("downstream", AMQP_URI=fresh_amqp_uri, UNROUTED={"MAX_LENGTH": 3, "MAX_AGE_DAYS": 1})
    start_service(Downstream, cfg)
    unrouted = [_unrouted(n) for n in range(5)]
    for event in unrouted:
        publish_raw(fresh_amqp_uri, "appeals.events", "appeal.dispatched", event)
    failing = _event()
    BROKEN_SQL.add(failing["event_id"])
    _publish(cfg, failing)
    parked = wait_for(lambda: (p := list_parked(fresh_amqp_uri)) and p[0].reason == "failed" and p,
                      message="the failure parked")
    # the failure first although it came last; of the unrouted events only the three newest are kept
    assert [(p.reason, p.held_in) for p in parked] == [("failed", PARKED_QUEUE)] + [("unrouted", UNROUTED_QUEUE)] * 3
    assert [p.event_id for p in parked[1:]] == [e["event_id"] for e in unrouted[2:]]
    assert (_depth(fresh_amqp_uri, PARKED_QUEUE), _depth(fresh_amqp_uri, UNROUTED_QUEUE)) == (1, 3)

    # the cause, not SQLAlchemy's link to its help pages
    assert parked[0].cause == "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such table: " \
                              "no_such_table"
    assert cli(["dlq", "--amqp-uri", fresh_amqp_uri, "list"]) == 0
    out = capsys.readouterr().out
    assert "no such table: no_such_table" in out and "sqlalche.me" not in out
    assert out.index(failing["event_id"]) < out.index(unrouted[2]["event_id"])
    assert cli(["dlq", "--amqp-uri", fresh_amqp_uri, "list", "--reason", "unrouted"]) == 0
    assert failing["event_id"] not in capsys.readouterr().out

    # another node's setting (here the defaults) cannot change the bound in place, and does not fail
    with Connection(fresh_amqp_uri) as conn:
        declare_topology(conn.channel(), service="appeals")
    publish_raw(fresh_amqp_uri, "appeals.events", "appeal.dispatched", _unrouted(9))
    wait_for(lambda: list_parked(fresh_amqp_uri, reasons=["unrouted"])[-1].event_id
             == _unrouted(9)["event_id"] or None, message="the newest unrouted event kept")
    assert _depth(fresh_amqp_uri, UNROUTED_QUEUE) == 3

    metrics = wait_for(lambda: (r := requests.get(f"{cfg['base_url']}/metrics").text)
                       and 'kind="failures"' in r and r, timeout=15, message="the parking queues in the metrics")
    assert 'xiaoneng_parked_messages{kind="failures",queue="xiaoneng.parked",service="downstream"} 1.0' in metrics
    assert 'xiaoneng_parked_messages{kind="unrouted",queue="xiaoneng.unrouted.kept",service="downstream"} 3.0' \
        in metrics
    assert 'xiaoneng_unrouted_kept_max_messages{service="downstream"} 3.0' in metrics
    assert 'xiaoneng_unrouted_kept_max_age_seconds{service="downstream"} 86400.0' in metrics
    BROKEN_SQL.discard(failing["event_id"])


def test_a_parking_queue_from_before_the_split_keeps_its_messages_and_takes_no_more(
        service_config, start_service, fresh_amqp_uri):
    from kombu import Queue

    from services.kernel.messaging import events_exchange, unrouted_exchange

    # the topology of an existing deployment: the parking queue is the alternate exchange's queue
    with Connection(fresh_amqp_uri) as conn:
        channel = conn.channel()
        events_exchange("appeals")(channel).declare()
        Queue(PARKED_QUEUE, exchange=unrouted_exchange(), durable=True, auto_delete=False)(channel).declare()
    old = _event()
    publish_raw(fresh_amqp_uri, "appeals.events", "appeal.received", old)
    wait_for(lambda: _depth(fresh_amqp_uri, PARKED_QUEUE) == 1, message="the old event in the parking queue")

    cfg = service_config("downstream", AMQP_URI=fresh_amqp_uri)
    start_service(Downstream, cfg)
    new = _unrouted(1)
    publish_raw(fresh_amqp_uri, "appeals.events", "appeal.dispatched", new)
    parked = wait_for(lambda: (p := list_parked(fresh_amqp_uri)) and len(p) == 2 and p, message="both listed")
    assert [(p.event_id, p.reason, p.held_in) for p in parked] == [
        (old["event_id"], "unrouted", PARKED_QUEUE), (new["event_id"], "unrouted", UNROUTED_QUEUE)]
    assert cli(["dlq", "--amqp-uri", fresh_amqp_uri, "replay", old["event_id"]]) == 0
    wait_for(lambda: _handled(cfg, old["event_id"]) == 1, message="the old event handled once replayed")
    assert _depth(fresh_amqp_uri, PARKED_QUEUE) == 0 and _depth(fresh_amqp_uri, UNROUTED_QUEUE) == 1


def test_the_cause_of_an_error_is_the_line_that_says_what_went_wrong():
    sqlalchemy_error = ("sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "
                        "\"127.0.0.1\", port 5432 failed: Connection refused\n\tIs the server running on that host?"
                        "\n\n(Background on this error at: https://sqlalche.me/e/20/e3q8)")
    assert cause_of(sqlalchemy_error).endswith("port 5432 failed: Connection refused")
    long_sql = "sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed: facts.id\n" \
               f"[SQL: INSERT INTO facts VALUES {'(?, ?), ' * 2000}]\n(Background on this error at: https://x)"
    clipped = clip_error(long_sql)
    assert len(clipped) <= 2000 and cause_of(clipped).endswith("UNIQUE constraint failed: facts.id")
    traceback_text = 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n    f()\n' \
                     "RuntimeError: downstream system unavailable\n"
    assert cause_of(traceback_text) == "RuntimeError: downstream system unavailable"
    assert cause_of("RuntimeError: downstream system unavailable") == "RuntimeError: downstream system unavailable"
    assert cause_of(None) is None and cause_of("") is None
