"""The one clock of the platform: aware datetimes in Asia/Shanghai, replaceable in tests."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
# Beijing time as a fixed offset: what every written time carries (RFC 3339 offsets are whole minutes).
UTC8 = timezone(timedelta(hours=8))

_override: datetime | None = None


def now() -> datetime:
    return _override if _override is not None else datetime.now(TZ)


def freeze(at: datetime | None) -> None:
    """Pin `now()` to `at` (None releases it); for tests and replays only."""
    global _override
    if at is not None and at.tzinfo is None:
        raise ValueError("frozen time must be timezone-aware")
    _override = at


def local(moment: datetime) -> datetime:
    """`moment` in Beijing time. The zone database gives Shanghai before 1901 its local mean time (+08:05:43),
    which RFC 3339 cannot express and no reader expects, so such moments get the fixed +08:00."""
    here = moment.astimezone(TZ)
    offset = here.utcoffset()
    if offset is not None and offset % timedelta(minutes=1):
        return moment.astimezone(UTC8)
    return here


def isoformat(moment: datetime) -> str:
    """`moment` as RFC 3339 in Beijing time (`local`)."""
    try:
        return local(moment).isoformat()
    except OverflowError:  # a moment at the edge of the datetime range: written as given
        return moment.isoformat()
