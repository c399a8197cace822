"""nameko starts every extension at once, so appeals' web server can take a request while the dispatch catalogue
is still being seeded: such a request waits for the seed instead of being refused as an unknown category."""

import eventlet
import pytest
from eventlet.event import Event

from services.appeals.dependencies import AppealSettings


def test_a_worker_waits_for_the_catalogue_seed_before_it_gets_the_settings():
    provider = AppealSettings()
    provider.settings = object()
    provider.ready = Event()
    got = []
    waiter = eventlet.spawn(lambda: got.append(provider.get_dependency(None)))
    eventlet.sleep(0)  # let the worker reach the wait (a yield, not a time-based synchronisation)
    assert got == []
    provider.ready.send(True)
    waiter.wait()
    assert got == [provider.settings]


def test_a_start_that_fails_still_releases_waiting_workers():
    provider = AppealSettings()
    provider.settings = object()
    provider.ready = Event()

    def failing_start():
        raise RuntimeError("seed file unreadable")

    provider._start = failing_start
    with pytest.raises(RuntimeError):
        provider.start()
    assert provider.ready.ready()
    assert provider.get_dependency(None) is provider.settings
