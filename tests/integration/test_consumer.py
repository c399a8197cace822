"""The consuming side on the real broker: redeliveries have no second effect, failures are retried with
backoff and then parked with their error, contract breakers are parked at once, events published before
any consumer existed are kept, and parked messages can be listed and replayed."""

import json
import uuid
from collections import Counter

import eventlet
import pytest
from kombu import Connection
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from services.kernel import service as base
from services.kernel.cli import main as cli
from services.kernel.contracts import make_event
from services.kernel.db import Database, kernel_tables
from services.kernel.dlq import list_parked
from services.kernel.messaging import ConfirmingPublisher, consume_event, declare_topology
from services.kernel.outbox import OutboxRelay
from tests.conftest import wait_for
from tests.support import publish_raw

metadata = MetaData()
kernel_tables(metadata)
handled = Table("handled", metadata,
                Column("id", Integer, primary_key=True), Column("event_id", String(36), nullable=False))

CALLS: Counter = Counter()
FAILURES_LEFT: Counter = Counter()
GATE: dict = {}


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
