"""Two notify instances on one PostgreSQL database and one broker: they share the consumers' queues and claim
deliveries with FOR UPDATE SKIP LOCKED, and every card still reaches the webhook exactly once."""

import uuid
from collections import Counter

import pytest
import requests
import yaml
from sqlalchemy.engine import make_url

from services.notify.service import NotifyService
from tests.conftest import wait_for
from tests.e2e.test_notify_support import WebhookSink, card, publish

pytestmark = pytest.mark.postgres


def test_two_instances_deliver_each_card_once(pg_admin, pg_url, service_config, start_service, fresh_amqp_uri,
                                              api_keys, tmp_path):
    hook = WebhookSink()
    name = f"xiaoneng_test_notify_{uuid.uuid4().hex[:8]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    containers = []
    try:
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        seed = tmp_path / "seed.yaml"
        seed.write_text(yaml.safe_dump({
            "recipients": [{"code": "li.ming", "name": "李明", "kind": "person", "addresses": {"webhook": hook.url}}],
            "subscriptions": [{"recipient": "li.ming", "event_types": ["monitor.*"], "channel": "webhook"}]},
            allow_unicode=True), encoding="utf-8")
        # the webhook sink is local: this deployment lists it
        settings = {"QUIET_HOURS": "off", "WEBHOOK_ALLOW": ["127.0.0.1"],
                    "SEND": {"POLL_INTERVAL": 0.1, "RETRY_DELAYS": [0.2, 0.4], "BATCH_SIZE": 5, "CONCURRENCY": 5}}
        configs = []
        for _ in range(2):
            cfg = service_config("notify", AMQP_URI=fresh_amqp_uri, DATABASE_URL=url, SEED_NOTIFY=str(seed),
                                 NOTIFY=settings)
            containers.append(start_service(NotifyService, cfg))
            wait_for(lambda cfg=cfg: requests.get(cfg["base_url"] + "/health", timeout=5).status_code == 200,
                     message="notify healthy")
            configs.append(cfg)

        numbers = [f"SP2026-{n:04d}" for n in range(80)]
        for no in numbers:
            publish(fresh_amqp_uri, "approvals", "monitor.yellow_card", card(no))
        wait_for(lambda: len(hook.received) >= len(numbers), timeout=30, message="every card at the webhook")
        headers = {"Authorization": f"Bearer {api_keys['monitor']}"}
        page = wait_for(lambda: (lambda p: p if p["total"] == len(numbers) else None)(requests.get(
            configs[1]["base_url"] + "/api/v1/deliveries", params={"status": "sent", "per_page": 500},
            headers=headers, timeout=10).json()), message="all recorded as sent")
        titles = Counter(hook.titles())
        assert len(titles) == len(numbers) and set(titles.values()) == {1}
        assert {d["attempts"] for d in page["items"]} == {1}
        # the seed was loaded once, by whichever instance started first
        assert len(requests.get(configs[0]["base_url"] + "/api/v1/recipients", headers=headers, timeout=10).json()) == 1
    finally:
        for container in containers:
            container.kill()
        hook.close()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
