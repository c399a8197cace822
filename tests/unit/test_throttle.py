"""The public routes' guessing brake (services/kernel/throttle.py): failures per address in a sliding window;
past the limit 429 with the seconds until the oldest counted failure leaves the window; other addresses and
successes are untouched; the memory is bounded."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kernel import throttle
from services.kernel.throttle import FailureThrottle, TooManyRequests


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(throttle.time, "monotonic", lambda: now[0])
    return now


def test_an_address_is_refused_after_its_failures_until_the_oldest_leaves_the_window(clock):
    t = FailureThrottle(limit=3, window=60)
    for _ in range(3):
        t.check("10.0.0.1")
        t.failed("10.0.0.1")
        clock[0] += 10
    with pytest.raises(TooManyRequests) as refused:
        t.check("10.0.0.1")
    assert refused.value.status == 429 and refused.value.headers() == {"Retry-After": "30"}
    assert refused.value.retry_after == 30 and "秒后再试" in refused.value.message_zh
    t.check("10.0.0.2")  # another address is not concerned
    clock[0] += 30  # the first failure leaves the window
    t.check("10.0.0.1")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.floats(0, 50)), max_size=40),
       st.integers(1, 5), st.floats(1, 100))
def test_refused_exactly_when_the_window_holds_the_limit(events, limit, window):
    now = [0.0]
    throttle.time.monotonic, original = (lambda: now[0]), throttle.time.monotonic
    try:
        t = FailureThrottle(limit=limit, window=window)
        seen: dict = {}
        for address, step in events:
            now[0] += step
            recent = [x for x in seen.get(address, []) if x > now[0] - window]
            if len(recent) >= limit:
                with pytest.raises(TooManyRequests):
                    t.check(address)
            else:
                t.check(address)
                t.failed(address)
                seen[address] = recent + [now[0]]
    finally:
        throttle.time.monotonic = original


def test_the_addresses_kept_are_bounded(clock, monkeypatch):
    monkeypatch.setattr(throttle, "MAX_ADDRESSES", 5)
    t = FailureThrottle(limit=1, window=60)
    for i in range(20):
        t.failed(f"10.0.0.{i}")
    assert len(t._failures) == 5
    with pytest.raises(TooManyRequests):
        t.check("10.0.0.19")


@pytest.mark.parametrize("limit, window", [(0, 60), (3, 0), (3, -1)])
def test_a_throttle_needs_a_limit_and_a_window(limit, window):
    with pytest.raises(ValueError):
        FailureThrottle(limit=limit, window=window)


def test_a_throttle_from_a_config_section_or_its_defaults():
    t = FailureThrottle.from_config({"FAILURES_PER_WINDOW": "3", "WINDOW_SECONDS": "30"}, limit=10, window=600)
    assert (t.limit, t.window) == (3, 30.0)
    d = FailureThrottle.from_config(None, limit=10, window=600)
    assert (d.limit, d.window) == (10, 600.0)
