"""Drill: PostgreSQL stopped for 20 s under steady load. appeals runs on a PostgreSQL server the drill starts
itself (initdb and pg_ctl into a temp dir, a free port), scoring on SQLite consumes its events. The server is
stopped as a crash would stop it (`pg_ctl -m immediate`) and started again. Meanwhile every intake is answered
503 with Retry-After (never 500), /health says the database is down; afterwards appeals serves again by
itself, and every acknowledged intake is stored once with its one effect in scoring."""

import time

import eventlet
import pytest

from tests.conftest import wait_for
from tests.reliability.drill import (
    Load,
    PrivatePostgres,
    appeal_sender,
    assert_exactly_once,
    is_500,
    parked_failures,
    print_tally,
    say,
    wait_settled,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.timeout(420)]

OUTAGE_SECONDS = 20.0


@pytest.fixture
def private_postgres():
    server = PrivatePostgres()  # skips when the server binaries are missing
    try:
        server.start()
        yield server
    finally:
        server.close()


def test_postgres_stopped_under_load_answers_503_resumes_by_itself_and_keeps_every_acknowledged_write(
        private_postgres, drill_amqp_uri, cluster_factory):
    began = time.monotonic()
    url = private_postgres.create_database("appeals")
    cluster = cluster_factory(drill_amqp_uri, services=("scoring", "appeals"), relay_process=False,
                              database_urls={"appeals": url})
    cluster.start()
    load = Load("appeals", appeal_sender(cluster.urls["appeals"], cluster.keys["operator"]), rate=8, clients=4,
                limit=2000).start()
    loads = {"appeals": load}
    load.wait_acks(20)

    load.phase = "postgres down"
    private_postgres.stop("immediate")
    down_at = time.monotonic()
    wait_for(lambda: (h := cluster.health("appeals"))[0] == 503 and not h[1]["database"]["ok"], timeout=15,
             interval=0.2, message="appeals' /health to report the database down")
    noticed = time.monotonic() - down_at
    health_seen = set()
    while time.monotonic() - down_at < OUTAGE_SECONDS:
        assert not cluster.died(), f"exited while PostgreSQL was down: {cluster.died()}\n{cluster.tails()}"
        status, body = cluster.health("appeals")
        health_seen.add((status, body.get("database", {}).get("ok")))
        eventlet.sleep(1.0)  # sampling the health during the outage, not waiting for anything
    acked_during = load.acked_in["postgres down"]

    load.phase = "postgres back"
    private_postgres.start()
    back_at = time.monotonic()
    wait_for(lambda: cluster.health("appeals")[0] == 200, timeout=60, interval=0.2,
             message="appeals' /health to answer 200 again by itself")
    healthy_after = time.monotonic() - back_at
    load.wait_acks(1, timeout=60)
    first_ack_after = time.monotonic() - back_at
    load.wait_acks(20, timeout=60)
    load.phase = "drain"
    load.stop()
    t, took = wait_settled(cluster, loads, timeout=120)
    failures = parked_failures(drill_amqp_uri)
    print_tally(f"PostgreSQL drill (server down {OUTAGE_SECONDS:.0f} s; settled {took:.1f} s after the load "
                f"stopped; whole drill {time.monotonic() - began:.0f} s)", t, loads)
    during = {str(s): n for (p, s), n in load.answers.items() if p == "postgres down"}
    say(f"  /health said the database was down after {noticed:.1f} s, during the outage "
        f"{sorted(map(str, health_seen))}; "
        f"answers during the outage {during} (503 with Retry-After: "
        f"{load.retry_after[('postgres down', True)]}, without: {load.retry_after[('postgres down', False)]}); "
        f"acknowledged during it {acked_during}")
    say(f"  after the restart: /health 200 in {healthy_after:.1f} s, first intake acknowledged in "
        f"{first_ack_after:.1f} s; parked failures: {len(failures)}")

    assert not cluster.died(), cluster.tails()
    assert health_seen == {(503, False)}, health_seen
    assert load.count(status=is_500) == 0, f"500s, not 503s: {load.report()}\nlast: {load.last_answer}"
    assert load.count("postgres down", 503) > 0, load.report()
    assert not sum(n for (_, given), n in load.retry_after.items() if not given), \
        f"503 without Retry-After: {dict(load.retry_after)}"
    assert_exactly_once(t)
    assert not failures, [(p.reason, p.queue, p.error) for p in failures[:5]]
    assert not [r for r in load.requests if r.rejected or not r.acknowledged], load.report()
