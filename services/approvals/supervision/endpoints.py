"""The entrypoints of supervision orders: parse, authorise, call one use case, shape the answer. Mixed into the
service class (needs `platform` and `settings`)."""

from __future__ import annotations

from nameko.timer import timer

from services.kernel import clock
from services.kernel.http import api

from .. import handlers
from ..views import visible
from . import store, usecases
from .schemas import SupervisionIn, SupervisionOut, SupervisionPage, SupervisionQuery

ORDERERS = ("monitor",)
READERS = ("monitor", "department_handler", "operator")


class SupervisionEndpoints:
    """Supervision orders (督办) and the timer that checks them."""

    @api("POST", "/api/v1/applications/<int:application_id>/supervise", roles=ORDERERS, body=SupervisionIn,
         response=SupervisionOut, status=201, summary="a supervision order (督办): act on it by a date",
         tags=("monitor",), responses={409: "the application is no longer open (decided, delivered or refused)"})
    def supervise(self, call, application_id):
        with self.platform.unit_of_work() as uow:
            row = visible(call, uow.session, application_id, lock=True)
            return 201, usecases.order_supervision(uow, self.settings, row, call.body, call.principal.name,
                                                   clock.now())

    @api("POST", "/api/v1/supervision-orders/<int:order_id>/expose", roles=ORDERERS, response=SupervisionOut,
         status=201, summary="put an order on the public exposure board (曝光台); once there it stays",
         tags=("monitor",), responses={200: "the order was on the board already: nothing changed",
                                       404: "no such supervision order"})
    def expose_supervision_order(self, call, order_id):
        with self.platform.unit_of_work() as uow:
            created, order = usecases.expose_order(uow, order_id, call.department_scope, clock.now())
        return (201 if created else 200), order

    @api("GET", "/api/v1/supervision-orders", roles=READERS, query=SupervisionQuery, response=SupervisionPage,
         summary="supervision orders (督办), newest first (department handlers: their own only)", tags=("monitor",))
    def list_supervision_orders(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            return call.page(*store.list_orders(s, **query))

    @timer(interval=handlers.MONITOR_INTERVAL)
    def check_supervision_orders(self):
        self.platform.drain_due(store.any_due, lambda uow, now: usecases.check_due_orders(uow, self.settings, now),
                                usecases.ORDER_BATCH)

    @timer(interval=handlers.MONITOR_INTERVAL)
    def publish_supervision_exposures(self):
        self.platform.drain_due(store.any_unpublished, usecases.publish_exposures, usecases.EXPOSURE_BATCH)
