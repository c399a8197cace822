"""One real event path through the services on the real broker: appeals commits `appeal.received`
through its outbox → scoring records a fact → notify records a delivery on the log channel."""

import requests
from sqlalchemy import MetaData, select

from services.appeals.service import AppealsService
from services.kernel.db import Database
from services.notify.service import NotifyService
from services.scoring.service import ScoringService
from tests.conftest import wait_for


def test_appeal_received_reaches_scoring_and_notify(service_config, start_service, api_keys, fresh_amqp_uri):
    # a broker of its own: durable queues of the run's vhost hold other tests' events
    appeals_cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri)
    scoring_cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri)
    notify_cfg = service_config("notify", AMQP_URI=fresh_amqp_uri)
    start_service(ScoringService, scoring_cfg)
    start_service(NotifyService, notify_cfg)
    start_service(AppealsService, appeals_cfg)

    r = requests.post(f"{appeals_cfg['base_url']}/api/v1/appeals",
                      headers={"Authorization": f"Bearer {api_keys['operator']}"},
                      json={"channel": "hotline", "external_ref": "CALL-1", "type": "complaint",
                            "category": "road", "content": "路灯不亮", "appellant": {"phone": "13800000000"}})
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert appeal["case_no"].startswith("MY") and appeal["status"] == "dispatched"
    assert appeal["department"] == "ZJJ" and appeal["due_at"]  # by the demo catalogue

    facts = wait_for(lambda: len(f := requests.get(
        f"{scoring_cfg['base_url']}/api/v1/facts", headers={"Authorization": f"Bearer {api_keys['assessor']}"}
    ).json()) >= 2 and f, message="the facts in scoring")
    # received by the city, dispatched to the department (the sample of its handling metric)
    assert sorted((f["metric"], f["department"], f["value"]) for f in facts) == [
        ("appeals_dispatched", "ZJJ", 1.0), ("appeals_received", "ZJJ", 1.0)]
    facts = [f for f in facts if f["metric"] == "appeals_received"]

    deliveries = wait_for(lambda: requests.get(
        f"{notify_cfg['base_url']}/api/v1/deliveries?status=sent",
        headers={"Authorization": f"Bearer {api_keys['monitor']}"}).json()["items"], message="the delivery in notify")
    # the monitors hear of the new case; the department's duty contact of its dispatch (#14)
    deliveries = [d for d in deliveries if d["event_type"] == "appeal.received"]
    assert len(deliveries) == 1
    d = deliveries[0]
    assert d["channel"] == "log" and d["recipient"] == "monitors" and d["status"] == "sent"
    assert appeal["case_no"] in d["subject"]
    assert d["event_id"] == facts[0]["source_event_id"]

    # the same call again is the same appeal, and causes no second event
    again = requests.post(f"{appeals_cfg['base_url']}/api/v1/appeals",
                          headers={"Authorization": f"Bearer {api_keys['operator']}"},
                          json={"channel": "hotline", "external_ref": "CALL-1", "type": "complaint",
                                "category": "road", "content": "路灯不亮"})
    assert again.status_code == 200 and again.json()["id"] == appeal["id"]
    db = Database(appeals_cfg["DATABASE_URL"], MetaData(), service="appeals")
    with db.engine.connect() as conn:
        types = [t for (t,) in conn.execute(select(db.outbox.c.event_type).order_by(db.outbox.c.id))]
    assert types == ["appeal.received", "appeal.dispatched"]
    db.dispose()
