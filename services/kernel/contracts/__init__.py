"""Event contracts: the one envelope every event travels in, and the registry of payload schemas.

Producers build events with `make_event` (validated before they reach the outbox); consumers read
them with `parse_event` (unknown fields ignored, so producers can add fields without breaking them).
Payload schemas live beside this module, one file per producing service, each registered with
`@contract(event_type, version)`.
"""

from .envelope import (
    ContractError,
    Envelope,
    Event,
    contract,
    latest_version,
    make_event,
    parse_event,
    payload_schema,
    registered,
)

# Importing the payload modules registers their contracts.
from . import appeals  # noqa: E402,F401  isort: skip
from . import approvals  # noqa: E402,F401  isort: skip
from . import console  # noqa: E402,F401  isort: skip
from . import notify  # noqa: E402,F401  isort: skip
from . import scoring  # noqa: E402,F401  isort: skip

__all__ = [
    "ContractError",
    "Envelope",
    "Event",
    "contract",
    "latest_version",
    "make_event",
    "parse_event",
    "payload_schema",
    "registered",
]
