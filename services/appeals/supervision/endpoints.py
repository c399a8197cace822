"""The entrypoints of supervision orders on appeals: the list, and the timer that checks them. Mixed into the
service class (needs `platform` and `settings`). The order itself is given with POST /api/v1/appeals/{id}/supervise
(service.py), a command of the appeal."""

from __future__ import annotations

from nameko.timer import timer

from services.kernel.http import api

from . import store, usecases
from .schemas import SupervisionOrderPage, SupervisionOrdersQuery

READERS = ("monitor", "operator", "assessor", "department_handler")
CHECK_INTERVAL = 0.2


class SupervisionEndpoints:
    """Supervision orders (督办) on appeals and the timer that checks them."""

    @api("GET", "/api/v1/supervision-orders", roles=READERS, query=SupervisionOrdersQuery,
         response=SupervisionOrderPage, tags=("supervision",),
         summary="supervision orders on appeals (督办), newest first (department handlers: their department's only)")
    def list_supervision_orders(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            return call.page(*usecases.find_orders(s, query))

    @timer(interval=CHECK_INTERVAL)
    def check_supervision_orders(self):
        """Each order's warning and overdue check, once, when its moment has come."""
        self.platform.drain_due(store.any_due, lambda uow, now: usecases.check_due_orders(uow, self.settings, now),
                                usecases.ORDER_BATCH)
