"""Event contracts: producers cannot publish what breaks a contract; consumers ignore unknown fields."""

import uuid
from pathlib import Path

import pytest

from services.kernel.contracts import ContractError, make_event, parse_event, registered
from services.kernel.contracts.docs import render_markdown

PAYLOAD = {"appeal_id": "7", "case_no": "MY20261125000007", "channel": "web", "type": "suggestion",
           "urgency": "normal", "category": "parks", "received_at": "2026-11-25T09:30:00+08:00"}


def test_make_event_builds_a_complete_envelope():
    body = make_event("appeal.received", PAYLOAD, service="appeals", department="D1", correlation_id="c-1")
    assert uuid.UUID(body["event_id"])
    assert body["event_type"] == "appeal.received" and body["schema_version"] == 1
    assert body["occurred_at"].endswith("+08:00")
    assert body["source"] == {"service": "appeals", "department": "D1"}
    assert body["correlation_id"] == "c-1"
    assert body["payload"]["received_at"] == "2026-11-25T09:30:00+08:00"


def test_correlation_id_defaults_to_the_event_id():
    body = make_event("appeal.received", PAYLOAD, service="appeals")
    assert body["correlation_id"] == body["event_id"]


@pytest.mark.parametrize("change, field", [
    ({"channel": "fax"}, "channel"),
    ({"received_at": "2026-11-25T09:30:00"}, "received_at"),  # no offset
    ({"case_no": None}, "case_no"),
])
def test_a_producer_cannot_publish_a_payload_that_breaks_the_contract(change, field):
    with pytest.raises(ContractError) as err:
        make_event("appeal.received", {**PAYLOAD, **change}, service="appeals")
    assert field in err.value.errors


def test_an_unknown_event_type_is_refused():
    with pytest.raises(ContractError):
        make_event("appeal.vanished", PAYLOAD, service="appeals")


def test_consumers_ignore_unknown_fields_in_envelope_and_payload():
    body = make_event("appeal.received", PAYLOAD, service="appeals")
    body["added_later"] = 1
    body["payload"]["new_field"] = "x"
    event = parse_event(body)
    assert "new_field" not in event.payload
    assert event.payload["case_no"] == PAYLOAD["case_no"]
    assert event.occurred_at.tzinfo is not None


@pytest.mark.parametrize("mutate", [
    lambda b: b.pop("event_id"),
    lambda b: b.update(event_id="not-a-uuid"),
    lambda b: b.update(schema_version=99),
    lambda b: b.update(occurred_at="yesterday"),
    lambda b: b["payload"].pop("channel"),
    lambda b: b.update(source={}),
])
def test_parse_event_rejects_broken_envelopes(mutate):
    body = make_event("appeal.received", PAYLOAD, service="appeals")
    mutate(body)
    with pytest.raises(ContractError):
        parse_event(body)


def test_parse_event_rejects_non_objects():
    for junk in (None, [], "x", 3):
        with pytest.raises(ContractError):
            parse_event(junk)


def test_every_contract_is_documented_and_the_docs_are_current():
    docs = Path(__file__).resolve().parents[2] / "docs" / "events.md"
    assert docs.read_text(encoding="utf-8") == render_markdown(), \
        "docs/events.md is stale: run `.venv/bin/xiaoneng events > docs/events.md`"
    for event_type, version, _ in registered():
        assert f"`{event_type}` v{version}" in docs.read_text(encoding="utf-8")
