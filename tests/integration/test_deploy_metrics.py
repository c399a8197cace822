"""`GET /metrics` on a real service: Prometheus text with the outbox lag, confirmed publications and the depths
of the service's own queues."""

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals

pytestmark = pytest.mark.integration


def scrape(base_url) -> dict:
    r = requests.get(f"{base_url}/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain"), r.text
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_publications_and_show_the_outbox_and_queues(service_config, start_service, api_keys, keys_file,
                                                                   fresh_amqp_uri):
    api, tap = start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)
    before = scrape(api.base)
    assert before[("xiaoneng_outbox_pending", (("service", "approvals"),))] == 0
    api.submit("SCJ-001")
    wait_for(lambda: tap.drain(), message="the submission published")

    def published():
        return scrape(api.base).get(("xiaoneng_events_published_total", (("service", "approvals"),)), 0) >= 1

    wait_for(published, message="the publication counted")
    after = scrape(api.base)
    assert after[("xiaoneng_outbox_pending", (("service", "approvals"),))] == 0
    assert after[("xiaoneng_outbox_oldest_age_seconds", (("service", "approvals"),))] == 0
    queues = {dict(labels)["queue"] for name, labels in after if name == "xiaoneng_queue_messages"}
    assert all(q.startswith("evt-") and "--approvals." in q for q in queues), queues
