"""The approvals monitor's guarantees at the database, on both backends: an alert is stored once per
(application, rule) whoever raises it, and two monitors never claim the same due alarm."""

import uuid
from datetime import UTC, datetime

import pytest

from services.approvals import store
from services.kernel.clock import TZ
from services.kernel.db import Database

NOW = datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, database_url):
    url = database_url(request.param, "approvals")
    database = Database(url, store.metadata, service="approvals")
    database.create_all()
    yield database
    database.dispose()


def _application(db) -> int:
    with db.unit_of_work() as uow:
        row = store.insert_application(uow.session, {
            "external_ref": f"R-{uuid.uuid4().hex[:6]}", "item_code": "SCJ-001", "department": "SCJ",
            "state": "accepted", "applicant_name": "x", "applicant_kind": "person", "applicant_id_masked": "1**4",
            "materials": [], "missing": [], "service_point": "city_center", "green_channel": False,
            "received_at": NOW, "special_procedures": [{"kind": "testing", "started_at": NOW, "ended_at": None}],
            "created_at": NOW, "updated_at": NOW})
    assert row["special_procedures"][0]["started_at"] == NOW  # moments in JSON come back as moments
    return row["id"]


def test_a_new_application_is_returned_as_it_reads_back(db):
    # insert_application answers without reading the row back: what it answers must be what a read gives
    utc = datetime(2026, 11, 9, 16, 0, 1, tzinfo=UTC)
    with db.unit_of_work() as uow:
        row = store.insert_application(uow.session, {
            "external_ref": "R-read-back", "item_code": "SCJ-001", "department": "SCJ", "state": "submitted",
            "applicant_name": "x", "applicant_kind": "person", "received_at": utc, "last_action_at": NOW,
            "materials": ["M1"], "service_point": "village_agent", "created_at": utc, "updated_at": NOW})
    with db.session() as s:
        stored = store.get(s, row["id"])
    assert row == stored
    assert row["application_no"] == f"SP20261110{row['id']:06d}" and row["received_at"].tzinfo == TZ
    assert (row["missing"], row["supplement_count"], row["green_channel"], row["accepted_at"]) == ([], 0, False, None)


def test_an_alert_is_stored_once_per_application_and_rule(db):
    app_id = _application(db)
    with db.unit_of_work() as uow:
        first = store.raise_alert(uow.session, app_id, "SCJ", "yellow", "yellow_card", NOW, {})
    with db.unit_of_work() as uow:
        again = store.raise_alert(uow.session, app_id, "SCJ", "yellow", "yellow_card", NOW, {})
        other = store.raise_alert(uow.session, app_id, "SCJ", "red", "red_card", NOW, {})
    assert first is not None and again is None and other not in (None, first)
    with db.session() as s:
        rows, total = store.list_alerts(s, application_id=app_id)
    assert total == 2 and {r["rule"] for r in rows} == {"yellow_card", "red_card"}


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite serialises writers: no second claimer
def test_due_alarms_are_claimed_by_one_monitor_only(db):
    assert db.engine.dialect.name == "postgresql"
    app_id = _application(db)
    with db.unit_of_work() as uow:
        store.schedule(uow.session, app_id, [("yellow_card", NOW), ("red_card", NOW)])
    with db.unit_of_work() as first:
        claimed = store.claim_due_alarms(first.session, NOW, 10)
        assert store.get(first.session, app_id, lock=True) is not None
        with db.unit_of_work() as second:
            assert store.claim_due_alarms(second.session, NOW, 10) == []
            # the application held by one transaction is skipped, not waited for, by another
            assert store.get(second.session, app_id, lock=True, skip_locked=True) is None
    assert {a["kind"] for a in claimed} == {"yellow_card", "red_card"}
    with db.unit_of_work() as uow:
        assert store.claim_due_alarms(uow.session, NOW, 10) == []  # fired: never again
