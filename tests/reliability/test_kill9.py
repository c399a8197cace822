"""Drill: kill -9 of each process under steady load (scoring, notify, approvals, appeals and appeals' outbox
relay process, one after the other), each started again at once. Afterwards every acknowledged intake and
submission is stored once, every event has had its one effect in scoring and in notify, every card that
fell due was raised once, and nothing a consumer failed on is parked."""

import time

import pytest

from tests.conftest import wait_for
from tests.reliability.drill import (
    NOTIFY_DRILL_SETTINGS,
    RELAY,
    Load,
    WebhookReceiver,
    appeal_sender,
    application_sender,
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

VICTIMS = ("scoring", "notify", "approvals", "appeals", RELAY)


@pytest.fixture
def receiver():
    hook = WebhookReceiver(delay=0.3)  # slow enough that sends are in flight when notify is killed
    yield hook
    hook.close()


def test_kill9_of_each_process_under_load_loses_nothing_and_does_nothing_twice(drill_amqp_uri, cluster_factory,
                                                                              receiver):
    began = time.monotonic()
    cluster = cluster_factory(drill_amqp_uri, notify_seed=notify_seed_with_webhook(receiver.url),
                              overrides={"notify": NOTIFY_DRILL_SETTINGS})
    cluster.start()
    say(f"kill -9 drill: five processes up in {time.monotonic() - began:.1f} s")
    loads = {
        "appeals": Load("appeals", appeal_sender(cluster.urls["appeals"], cluster.keys["operator"]),
                        rate=8, clients=4, limit=2000),
        "approvals": Load("approvals", application_sender(cluster.urls["approvals"], cluster.keys["window_system"]),
                          rate=2, clients=2, limit=500),
    }
    for load in loads.values():
        load.start()
    for load in loads.values():
        load.wait_acks(10)

    downtime = {}
    for victim in VICTIMS:
        for load in loads.values():
            load.phase = f"kill -9 {victim}"
        pid = cluster.procs[victim].pid
        cluster.procs[victim].kill9()
        killed_at = time.monotonic()
        # the rest of the system goes on while the victim is down (its own load retries meanwhile)
        others = [load for name, load in loads.items() if name != victim]
        for load in others:
            load.wait_acks(3, message=f"{load.name} acknowledging while {victim} is down")
        serving = cluster.restart(victim)
        downtime[victim] = time.monotonic() - killed_at
        say(f"  killed {victim} (pid {pid}); serving again {serving:.1f} s after its restart, "
            f"{downtime[victim]:.1f} s after the kill")
        for load in loads.values():
            load.phase = f"after {victim}"
        for load in loads.values():
            load.wait_acks(5, message=f"{load.name} acknowledging after {victim} came back")
        assert not cluster.died(), cluster.tails()

    for load in loads.values():
        load.phase = "drain"
        load.stop()
    t, took = wait_settled(cluster, loads, timeout=120)
    w = wait_for(lambda: (w := webhook_tally(cluster, receiver))["not arrived"] == 0 and w, timeout=60,
                 message="every webhook delivery at the receiver")
    failures = parked_failures(drill_amqp_uri)
    print_tally(f"kill -9 drill (settled {took:.1f} s after the load stopped; whole drill "
                f"{time.monotonic() - began:.0f} s)", t, loads)
    say(f"  down: {', '.join(f'{k} {v:.1f} s' for k, v in downtime.items())}; parked failures: {len(failures)}")
    say(f"  webhook: {w}")

    assert_exactly_once(t)
    assert_webhooks_once(w)
    assert not failures, [(p.reason, p.queue, p.error) for p in failures[:5]]
    for load in loads.values():
        assert load.count(status=is_500) == 0, load.report()
        assert not [r for r in load.requests if r.rejected], load.report()
        assert not [r for r in load.requests if not r.acknowledged], f"given up: {load.report()}"
    assert all(cluster.procs[v].starts == 2 for v in VICTIMS)
    assert not cluster.died(), cluster.tails()
