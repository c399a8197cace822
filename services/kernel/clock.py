"""The one clock of the platform: aware datetimes in Asia/Shanghai, replaceable in tests."""

from datetime import datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")

_override: datetime | None = None


def now() -> datetime:
    return _override if _override is not None else datetime.now(TZ)


def freeze(at: datetime | None) -> None:
    """Pin `now()` to `at` (None releases it); for tests and replays only."""
    global _override
    if at is not None and at.tzinfo is None:
        raise ValueError("frozen time must be timezone-aware")
    _override = at
