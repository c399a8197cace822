"""notify's event intake: one consumer per event type it delivers, each planning the deliveries of an event in
the transaction that records it as consumed. A module of its own, so that `nameko run` finds only NotifyService."""

from __future__ import annotations

from services.kernel import clock
from services.kernel.contracts import registered
from services.kernel.messaging import consume_event

from . import store
from .delivery import plan
from .domain import EVENTS

_CONTRACTS = {event_type for event_type, _version, _schema in registered()}
# Event types whose contract is registered (scoring.results_published arrives with scoring's rules, #5).
CONSUMED = {t: source for t, (source, _severity) in EVENTS.items() if t in _CONTRACTS}


class EventIntake:
    """One consumer per event type (nameko binds one queue per entrypoint), all doing `deliver`."""

    def deliver(self, event) -> None:
        with self.platform.consuming(event) as uow:
            rows = plan(uow.session, self.sender.settings, event_id=event.event_id, event_type=event.event_type,
                        payload=event.payload, source_department=event.source_department, now=clock.now())
            store.add_deliveries(uow.session, rows)
        if rows:
            self.sender.notify()


def _consumer(source: str, event_type: str):
    def handler(self, event):
        self.deliver(event)

    handler.__name__ = "on_" + event_type.replace(".", "_")
    handler.__doc__ = f"{event_type} from {source} → deliveries"
    return consume_event(source, event_type)(handler)


for _event_type, _source in sorted(CONSUMED.items()):
    setattr(EventIntake, "on_" + _event_type.replace(".", "_"), _consumer(_source, _event_type))
