"""The event envelope and the payload-schema registry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ..clock import now as clock_now

_EVENT_TYPE = validate.Regexp(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", error="must look like 'appeal.received'")


class ContractError(ValueError):
    """An event that does not satisfy its contract; `errors` holds marshmallow's field messages."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message if not errors else f"{message}: {errors}")
        self.errors = errors or {}


class SourceSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    service = fields.String(required=True, validate=validate.Length(min=1, max=64))
    department = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class Envelope(Schema):
    """Every event on the bus, whatever its type."""

    class Meta:
        unknown = EXCLUDE

    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True, validate=_EVENT_TYPE)
    schema_version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, format="iso")
    source = fields.Nested(SourceSchema, required=True)
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    payload = fields.Dict(required=True)


@dataclass(frozen=True)
class Event:
    """A validated event as consumers see it."""

    event_id: str
    event_type: str
    schema_version: int
    occurred_at: datetime
    source_service: str
    source_department: str | None
    correlation_id: str
    payload: dict[str, Any]


_REGISTRY: dict[tuple[str, int], type[Schema]] = {}
_LATEST: dict[str, int] = {}


def contract(event_type: str, version: int = 1):
    """Register a payload schema class as the contract of `event_type` at `version`."""
    _EVENT_TYPE(event_type)

    def register(schema_cls: type[Schema]) -> type[Schema]:
        key = (event_type, version)
        if key in _REGISTRY:
            raise RuntimeError(f"contract {event_type} v{version} registered twice")
        _REGISTRY[key] = schema_cls
        _LATEST.pop(event_type, None)
        return schema_cls

    return register


def registered() -> list[tuple[str, int, type[Schema]]]:
    return [(t, v, s) for (t, v), s in sorted(_REGISTRY.items())]


def latest_version(event_type: str) -> int:
    # asked for every event published: remembered per type (a registration forgets its type's entry)
    version = _LATEST.get(event_type)
    if version is None:
        versions = [v for (t, v) in _REGISTRY if t == event_type]
        if not versions:
            raise ContractError(f"no contract for event type {event_type!r}")
        version = _LATEST[event_type] = max(versions)
    return version


_ENVELOPE = Envelope()


_INSTANCES: dict[tuple[str, int], Schema] = {}


def payload_schema(event_type: str, version: int) -> Schema:
    # Schema instances are costly to build and safe to share (load and dump keep no state): one each.
    key = (event_type, version)
    schema = _INSTANCES.get(key)
    if schema is None:
        try:
            # Consumers ignore fields they do not know (nested schemas of a contract set Meta.unknown too).
            schema = _INSTANCES[key] = _REGISTRY[key](unknown=EXCLUDE)
        except KeyError:
            raise ContractError(f"no contract for {event_type!r} version {version}") from None
    return schema


def make_event(
    event_type: str,
    payload: dict[str, Any],
    *,
    service: str,
    department: str | None = None,
    correlation_id: str | None = None,
    occurred_at: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """Build the JSON-ready envelope of a new event, validating the payload against its latest contract."""
    version = latest_version(event_type)
    schema = payload_schema(event_type, version)
    try:
        loaded = schema.load(payload)
    except ValidationError as exc:
        raise ContractError(f"payload of {event_type} v{version} breaks its contract", exc.messages) from None
    event_id = event_id or str(uuid.uuid4())
    # The envelope is built here from checked parts; only the caller's strings need a look.
    if not service or len(service) > 64 or (correlation_id is not None and not 0 < len(correlation_id) <= 128):
        raise ContractError("event envelope is invalid", {"source": ["service or correlation_id out of bounds"]})
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": version,
        "occurred_at": (occurred_at or clock_now()).isoformat(),
        "source": {"service": service, "department": department},
        "correlation_id": correlation_id or event_id,
        # dump(load()) normalises dates and drops what the contract does not name
        "payload": schema.dump(loaded),
    }


def parse_event(body: Any) -> Event:
    """Validate an incoming message body (envelope and payload); raises ContractError."""
    if not isinstance(body, dict):
        raise ContractError(f"event body must be a JSON object, got {type(body).__name__}")
    try:
        env = _ENVELOPE.load(body)
    except ValidationError as exc:
        raise ContractError("event envelope is invalid", exc.messages) from None
    schema = payload_schema(env["event_type"], env["schema_version"])
    try:
        payload = schema.load(env["payload"])
    except ValidationError as exc:
        raise ContractError(
            f"payload of {env['event_type']} v{env['schema_version']} breaks its contract", exc.messages
        ) from None
    return Event(
        event_id=str(env["event_id"]),
        event_type=env["event_type"],
        schema_version=env["schema_version"],
        occurred_at=env["occurred_at"],
        source_service=env["source"]["service"],
        source_department=env["source"].get("department"),
        correlation_id=env["correlation_id"],
        payload=payload,
    )
