"""The scoring service (考核): turns events into facts in an append-only ledger. Walking-skeleton scope:
the ledger and the first metric; rules, periods and rankings follow."""

from sqlalchemy import insert

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.http import api
from services.kernel.messaging import consume_event

from . import store
from .schemas import FactOut, FactsQuery


class ScoringService(base.ServiceBase):
    """考核 — explainable scoring of departments."""

    name = "scoring"
    platform = base.Platform(store.metadata)

    @consume_event("appeals", "appeal.received")
    def on_appeal_received(self, event):
        with self.platform.consuming(event) as uow:
            received_at = event.payload["received_at"].astimezone(clock.TZ)
            uow.session.execute(insert(store.facts).values(
                department=event.payload.get("department"), period=f"{received_at:%Y-%m}",
                metric="appeals_received", value=1.0, source_event_id=event.event_id,
                source_event_type=event.event_type, occurred_at=event.occurred_at, recorded_at=clock.now(),
            ))

    @api("GET", "/api/v1/facts", roles=("assessor", "monitor"), query=FactsQuery, response=FactOut, many=True,
         summary="facts of the ledger, each with its source event", tags=("ledger",))
    def list_facts(self, call):
        with self.platform.session() as session:
            return store.list_facts(session, **call.query)
