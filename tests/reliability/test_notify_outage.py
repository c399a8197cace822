"""Drill: notify stopped for 20 s under steady load, then started again. Its durable queues keep what appeals
publishes meanwhile; afterwards every due notification has reached a webhook receiver on 127.0.0.1 once (when
notify sends an `Idempotency-Key`, a re-send under the same key counts as the same delivery, which is what a
receiver that deduplicates sees), and every event has its one delivery in notify's log."""

import time

import eventlet
import pytest

from services.kernel.messaging import consumer_queue_name
from tests.conftest import wait_for
from tests.reliability.drill import (
    NOTIFY_DRILL_SETTINGS,
    Load,
    appeal_sender,
    assert_exactly_once,
    assert_webhooks_once,
    is_500,
    notify_seed_with_webhook,
    parked_failures,
    print_tally,
    say,
    wait_settled,
    webhook_tally,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

STOPPED_SECONDS = 20.0



def test_notify_stopped_under_load_delivers_every_due_notification_once_after_it_is_back(
        receiver, rabbit_admin, drill_vhost, cluster_factory):
    began = time.monotonic()
    uri = rabbit_admin.amqp_uri(drill_vhost)
    cluster = cluster_factory(uri, services=("notify", "appeals"), notify_seed=notify_seed_with_webhook(receiver.url),
                              overrides={"notify": NOTIFY_DRILL_SETTINGS})
    cluster.start()
    load = Load("appeals", appeal_sender(cluster.urls["appeals"], cluster.keys["operator"]), rate=8, clients=4,
                limit=2000).start()
    loads = {"appeals": load}
    load.wait_acks(20)
    wait_for(lambda: receiver.posts > 0, timeout=30, message="a first notification at the webhook receiver")

    load.phase = "notify stopped"
    stopping = time.monotonic()
    code = cluster.procs["notify"].stop(timeout=30)
    stop_took = time.monotonic() - stopping
    stopped_at = time.monotonic()
    posts_at_stop = receiver.posts
    while time.monotonic() - stopped_at < STOPPED_SECONDS:
        assert not cluster.died(), cluster.tails()
        eventlet.sleep(0.5)  # the load goes on meanwhile; nothing to wait for
    # the management API's figures lag by a few seconds: a lower bound of what waits
    queue = rabbit_admin.queue(drill_vhost, consumer_queue_name("appeals", "appeal.received", "notify",
                                                                "on_appeal_received")) or {}
    waiting = queue.get("messages")
    acked_while_down = load.acked_in["notify stopped"]

    load.phase = "notify back"
    serving = cluster.restart("notify")
    load.wait_acks(20)
    load.phase = "drain"
    load.stop()
    t, took = wait_settled(cluster, loads, timeout=120)
    w = wait_for(lambda: (w := webhook_tally(cluster, receiver))["not arrived"] == 0 and w, timeout=60,
                 message="every webhook delivery at the receiver")
    failures = parked_failures(uri)
    print_tally(f"notify outage drill (notify stopped {STOPPED_SECONDS:.0f} s; settled {took:.1f} s after the load "
                f"stopped; whole drill {time.monotonic() - began:.0f} s)", t, loads)
    say(f"  notify stopped in {stop_took:.1f} s (exit code {code}); {acked_while_down} intakes acknowledged and "
        f"at least {waiting} events waiting in its appeal.received queue meanwhile; serving {serving:.1f} s after "
        f"its start; {posts_at_stop} webhook POSTs before the stop")
    say(f"  webhook: {w}; parked failures: {len(failures)}")

    assert not cluster.died(), cluster.tails()
    assert waiting and waiting > 0, "the drill should leave events waiting for notify"
    assert_exactly_once(t)
    assert_webhooks_once(w)
    assert not failures, [(p.reason, p.queue, p.error) for p in failures[:5]]
    assert load.count(status=is_500) == 0 and not [r for r in load.requests if not r.acknowledged], load.report()
