"""notify's consumers are declared one line each (a search for `on_monitor_yellow_card` finds it): the intake
consumes exactly the event types of `domain.EVENTS`, from their producers, each with a registered contract, and
every consumer's method is named as its queue always was."""

import inspect

from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from services.kernel.contracts import registered
from services.kernel.messaging import EventConsumer
from services.notify import intake
from services.notify.console import ConsoleEndpoints
from services.notify.domain import EVENTS

CONTRACTS = {event_type for event_type, _version, _schema in registered()}


def consumers(cls) -> dict[str, EventConsumer]:
    found = {}
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        for ep in getattr(member, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(ep, EventConsumer):
                found[name] = ep
    return found


def test_the_intake_consumes_every_event_notify_delivers_and_nothing_else():
    found = consumers(intake.EventIntake)
    assert {ep.event_type: ep.source_service for ep in found.values()} == \
        {t: source for t, (source, _severity) in EVENTS.items()}
    assert all(name == "on_" + ep.event_type.replace(".", "_") for name, ep in found.items())
    assert {ep.event_type for ep in found.values()} <= CONTRACTS


def test_the_console_consumes_the_alerts_it_shows_each_with_its_contract():
    found = consumers(ConsoleEndpoints)
    assert len(found) == 32 and all(name.startswith("console_on_") for name in found)
    assert {ep.event_type for ep in found.values()} <= CONTRACTS
    assert {ep.source_service for ep in found.values()} == {"approvals", "appeals"}
