"""The notify service: delivers alerts and notable events to people, once. Walking-skeleton scope: the
`log` channel to the monitors' group; subscriptions, real channels and the console follow."""

import logging

from sqlalchemy import insert

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.http import api
from services.kernel.messaging import consume_event

from . import console, store
from .schemas import DeliveriesQuery, DeliveryOut

log = logging.getLogger("services.notify.deliveries")

URGENCY_ZH = {"normal": "一般", "emergency": "紧急"}


class NotifyService(base.ServiceBase, console.ConsoleEndpoints):
    """通知 — the right person, once, on the right channel."""

    name = "notify"
    platform = base.Platform(store.metadata)

    @consume_event("appeals", "appeal.received")
    def on_appeal_received(self, event):
        p = event.payload
        subject = f"新诉求 {p['case_no']}（{URGENCY_ZH.get(p['urgency'], p['urgency'])}）"
        body = f"诉求 {p['case_no']} 已受理，类别 {p['category']}，渠道 {p['channel']}。"
        now = clock.now()
        with self.platform.consuming(event) as uow:
            uow.session.execute(insert(store.deliveries).values(
                event_id=event.event_id, event_type=event.event_type, recipient="monitors", channel="log",
                department=p.get("department"), subject=subject, body=body, status="sent", attempts=1,
                created_at=now, sent_at=now,
            ))
        # The log channel delivers by writing the message to the service log.
        log.info("delivery to monitors: %s — %s", subject, body,
                 extra={"event_id": event.event_id, "channel": "log"})

    @api("GET", "/api/v1/deliveries", roles=("monitor",), query=DeliveriesQuery, response=DeliveryOut, many=True,
         summary="the delivery log", tags=("deliveries",))
    def list_deliveries(self, call):
        with self.platform.session() as session:
            return store.list_deliveries(session, **call.query)
