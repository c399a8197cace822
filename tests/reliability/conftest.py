"""Fixtures of the fault drills: a vhost of the drill's own (it reads the whole parking queue) and the
services as OS processes, always stopped afterwards (the ones still running get SIGTERM, then SIGKILL)."""

import pytest

from tests.reliability.drill import Cluster, WebhookReceiver


@pytest.fixture
def drill_vhost(fresh_vhost):
    return fresh_vhost


@pytest.fixture
def drill_amqp_uri(fresh_amqp_uri):
    return fresh_amqp_uri


@pytest.fixture
def cluster_factory(tmp_path):
    """cluster_factory(amqp_uri, services=..., **options) -> a Cluster (not yet started) in this test's tmp."""
    made = []

    def make(amqp_uri, *args, **kwargs):
        cluster = Cluster(tmp_path, amqp_uri, *args, **kwargs)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.shutdown()


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1 counting every notification by its Idempotency-Key."""
    hook = WebhookReceiver()
    yield hook
    hook.close()
