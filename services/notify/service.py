"""The notify service (通知): consumes the alerts and notable events of appeals, approvals and scoring, and
delivers them to the subscribed recipients on their channels, once each; keeps recipients, subscriptions
and the delivery log behind its HTTP API. Sending is `delivery.Sender`'s job, never the consumer's."""

from __future__ import annotations

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.http import api

# the intake and the console are mixin modules, so that `nameko run` finds only our class
from . import console, handlers, intake, store
from .delivery import Sender
from .domain import DUTY
from .schemas import (
    DeliveriesQuery,
    DeliveryOut,
    DeliveryPage,
    RecipientIn,
    RecipientOut,
    RecipientsQuery,
    RecipientUpdate,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionsQuery,
)

EDITORS = ("monitor",)  # admin keys pass everywhere


class NotifyService(base.ServiceBase, intake.EventIntake, console.ConsoleEndpoints):
    """通知 — the right person, once, on the right channel."""

    name = "notify"
    platform = base.Platform(store.metadata)
    sender = Sender()

    # -- recipients -------------------------------------------------------------------------------------

    @api("GET", "/api/v1/recipients", roles=EDITORS, query=RecipientsQuery, response=RecipientOut, many=True,
         summary="recipients: people, duty contacts of departments, groups", tags=("recipients",))
    def list_recipients(self, call):
        with self.platform.session() as s:
            return store.list_recipients(s, **call.query)

    @api("POST", "/api/v1/recipients", roles=EDITORS, body=RecipientIn, response=RecipientOut, status=201,
         summary="add a recipient", tags=("recipients",), responses={409: "a recipient with this code exists"})
    def add_recipient(self, call):
        with self.platform.unit_of_work() as uow:
            return 201, handlers.add_recipient(uow, self.sender.destinations, call.body, clock.now())

    @api("GET", "/api/v1/recipients/<code>", roles=EDITORS, response=RecipientOut, summary="one recipient",
         tags=("recipients",))
    def get_recipient(self, call, code):
        with self.platform.session() as s:
            return handlers.find_recipient(s, code)

    @api("PATCH", "/api/v1/recipients/<code>", roles=EDITORS, body=RecipientUpdate, response=RecipientOut,
         summary="change a recipient (addresses, department, active...)", tags=("recipients",),
         responses={409: "a duty contact without department"})
    def change_recipient(self, call, code):
        with self.platform.unit_of_work() as uow:
            return handlers.change_recipient(uow, self.sender.destinations, code, call.body, clock.now())

    @api("DELETE", "/api/v1/recipients/<code>", roles=EDITORS, status=204,
         summary="remove a recipient that has no subscriptions", tags=("recipients",),
         responses={409: "the recipient still has subscriptions"})
    def remove_recipient(self, call, code):
        with self.platform.unit_of_work() as uow:
            handlers.remove_recipient(uow, code)
        return 204, None

    # -- subscriptions ----------------------------------------------------------------------------------

    @api("GET", "/api/v1/subscriptions", roles=EDITORS, query=SubscriptionsQuery, response=SubscriptionOut,
         many=True, summary="subscriptions", tags=("subscriptions",))
    def list_subscriptions(self, call):
        with self.platform.session() as s:
            return store.list_subscriptions(s, **call.query)

    @api("POST", "/api/v1/subscriptions", roles=EDITORS, body=SubscriptionIn, response=SubscriptionOut, status=201,
         summary=f"subscribe a recipient (or {DUTY}: each department's duty contacts) to event types",
         tags=("subscriptions",), responses={409: "the same subscription exists"})
    def add_subscription(self, call):
        with self.platform.unit_of_work() as uow:
            return 201, handlers.add_subscription(uow, call.body, clock.now())

    @api("DELETE", "/api/v1/subscriptions/<int:subscription_id>", roles=EDITORS, status=204,
         summary="remove a subscription", tags=("subscriptions",))
    def remove_subscription(self, call, subscription_id):
        with self.platform.unit_of_work() as uow:
            handlers.remove_subscription(uow, subscription_id)
        return 204, None

    # -- the delivery log -------------------------------------------------------------------------------

    @api("GET", "/api/v1/deliveries", roles=EDITORS, query=DeliveriesQuery, response=DeliveryPage,
         summary="the delivery log, newest first: status, attempts, last error", tags=("deliveries",))
    def list_deliveries(self, call):
        with self.platform.session() as s:
            return call.page(*store.list_deliveries(s, **call.query))

    @api("GET", "/api/v1/deliveries/<int:delivery_id>", roles=EDITORS, response=DeliveryOut,
         summary="one delivery", tags=("deliveries",))
    def get_delivery(self, call, delivery_id):
        with self.platform.session() as s:
            return handlers.find_delivery(s, delivery_id)

    @api("POST", "/api/v1/deliveries/<int:delivery_id>/retry", roles=EDITORS, response=DeliveryOut,
         summary="send a parked delivery again (after its address was fixed)", tags=("deliveries",),
         responses={409: "only a parked delivery can be retried"})
    def retry_delivery(self, call, delivery_id):
        with self.platform.unit_of_work() as uow:
            out = handlers.retry_delivery(uow, delivery_id, clock.now())
        self.sender.notify()
        return out
