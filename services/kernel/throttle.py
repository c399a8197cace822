"""Slowing down guessing on the keyless public routes (a progress query's code, a review's code): failures are
counted per client address in a sliding window; past the limit the address is refused with 429 and `Retry-After`
until its oldest counted failure leaves the window. In-process: each instance counts its own (N instances let an
address try N times the limit, still far too few to guess a code), and a restart forgets; no personal data is
kept (the address only, for at most the window)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from .errors import ApiError

# addresses tracked at most: beyond it the ones seen longest ago are forgotten (a flood of addresses cannot grow
# the memory without bound)
MAX_ADDRESSES = 10_000


class TooManyRequests(ApiError):
    """429: this client failed too often lately; `retry_after` seconds until it may try again."""

    status = 429
    code = "too_many_requests"

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed attempts from this address; try again in {retry_after} s",
                         message_zh=f"查询失败次数过多，请 {retry_after} 秒后再试")
        self.retry_after = retry_after

    def headers(self) -> dict:
        return {"Retry-After": str(self.retry_after)}


@dataclass
class FailureThrottle:
    """At most `limit` failures per address in `window` seconds."""

    limit: int = 10
    window: float = 600.0

    @classmethod
    def from_config(cls, cfg: dict | None, *, limit: int, window: float) -> FailureThrottle:
        """A throttle from a config section's FAILURES_PER_WINDOW and WINDOW_SECONDS (absent: `limit`, `window`)."""
        cfg = cfg or {}
        return cls(limit=int(cfg.get("FAILURES_PER_WINDOW") or limit),
                   window=float(cfg.get("WINDOW_SECONDS") or window))

    def __post_init__(self):
        if self.limit < 1 or self.window <= 0:
            raise ValueError("a throttle needs a limit of at least 1 and a positive window")
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        seen = self._failures.get(address)
        if seen is None:
            return None
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if not seen:
            del self._failures[address]
            return None
        return seen

    def check(self, address: str | None) -> None:
        """Raise TooManyRequests when `address` has used up its failures; else nothing."""
        now = time.monotonic()
        with self._lock:
            seen = self._recent(address or "", now)
            if seen is not None and len(seen) >= self.limit:
                raise TooManyRequests(max(1, math.ceil(seen[0] + self.window - now)))

    def failed(self, address: str | None) -> None:
        """Count one failure of `address`."""
        now = time.monotonic()
        with self._lock:
            key = address or ""
            seen = self._recent(key, now)
            if seen is None:
                if len(self._failures) >= MAX_ADDRESSES:
                    del self._failures[next(iter(self._failures))]
                seen = self._failures[key] = deque()
            seen.append(now)
