"""The notify service (通知): consumes the alerts and notable events of appeals, approvals and scoring, and
delivers them to the subscribed recipients on their channels, once each; keeps recipients, subscriptions
and the delivery log behind its HTTP API. Sending is `delivery.Sender`'s job, never the consumer's."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.http import api

# the intake and the console are mixin modules, so that `nameko run` finds only our class
from . import console, intake, store
from .channels import accept_addresses
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

NOT_FOUND_RECIPIENT = "no such recipient"


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
        exists = Conflict(f"recipient {call.body['code']} exists", message_zh="该接收人编码已存在")
        data = {**call.body, "addresses": self._addresses(call.body["addresses"])}
        try:
            with self.platform.unit_of_work() as uow:
                if store.get_recipient(uow.session, data["code"]) is not None:
                    raise exists
                store.routing_changed(uow.session)
                return 201, store.insert_recipient(uow.session, data, clock.now())
        except IntegrityError:  # the same code added at the same moment: the other one won
            raise exists from None

    def _addresses(self, given: dict, stored: dict | None = None) -> dict:
        """The addresses to store: none pointing into the deployment's network unless allowed, and a redacted
        one only as the stand-in for the stored address it was read from."""
        addresses, errors = accept_addresses(self.sender.destinations, given, stored)
        if errors:
            raise BadRequest({"addresses": errors})
        return addresses

    def _recipient(self, session, code: str) -> dict:
        row = store.get_recipient(session, code)
        if row is None:
            raise NotFound(f"{NOT_FOUND_RECIPIENT}: {code}", message_zh="接收人不存在")
        return row

    @api("GET", "/api/v1/recipients/<code>", roles=EDITORS, response=RecipientOut, summary="one recipient",
         tags=("recipients",))
    def get_recipient(self, call, code):
        with self.platform.session() as s:
            return self._recipient(s, code)

    @api("PATCH", "/api/v1/recipients/<code>", roles=EDITORS, body=RecipientUpdate, response=RecipientOut,
         summary="change a recipient (addresses, department, active...)", tags=("recipients",),
         responses={409: "a duty contact without department"})
    def change_recipient(self, call, code):
        with self.platform.unit_of_work() as uow:
            row = self._recipient(uow.session, code)
            changes = dict(call.body)
            if "addresses" in changes:
                changes["addresses"] = self._addresses(changes["addresses"], row["addresses"] or {})
            merged = {**row, **changes}
            if merged["kind"] == "duty" and not merged.get("department"):
                raise Conflict("a duty contact belongs to a department", message_zh="值班联系人必须属于某个部门")
            if changes:
                store.routing_changed(uow.session)
                store.update_recipient(uow.session, code, changes, clock.now())
            return self._recipient(uow.session, code)

    @api("DELETE", "/api/v1/recipients/<code>", roles=EDITORS, status=204,
         summary="remove a recipient that has no subscriptions", tags=("recipients",),
         responses={409: "the recipient still has subscriptions"})
    def remove_recipient(self, call, code):
        with self.platform.unit_of_work() as uow:
            self._recipient(uow.session, code)
            if store.subscriptions_of(uow.session, code):
                raise Conflict(f"recipient {code} still has subscriptions; remove them first",
                               message_zh="该接收人仍有订阅，请先删除订阅")
            store.routing_changed(uow.session)
            store.delete_recipient(uow.session, code)
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
        data = call.body
        with self.platform.unit_of_work() as uow:
            if data["recipient"] != DUTY:
                person = store.get_recipient(uow.session, data["recipient"])
                if person is None:
                    raise BadRequest({"recipient": [f"unknown recipient {data['recipient']!r}; add it first"]})
                if data["channel"] != "log" and not (person["addresses"] or {}).get(data["channel"]):
                    raise BadRequest({"channel": [f"recipient {data['recipient']!r} has no {data['channel']} "
                                                  "address"]})
            existing = store.find_subscription(uow.session, data)
            if existing is not None:
                raise Conflict(f"the same subscription exists (id {existing['id']})", message_zh="相同的订阅已存在",
                               details={"id": existing["id"]})
            store.routing_changed(uow.session)
            return 201, store.insert_subscription(uow.session, data, clock.now())

    @api("DELETE", "/api/v1/subscriptions/<int:subscription_id>", roles=EDITORS, status=204,
         summary="remove a subscription", tags=("subscriptions",))
    def remove_subscription(self, call, subscription_id):
        with self.platform.unit_of_work() as uow:
            if store.get_subscription(uow.session, subscription_id) is None:
                raise NotFound(f"no subscription {subscription_id}", message_zh="订阅不存在")
            store.routing_changed(uow.session)
            store.delete_subscription(uow.session, subscription_id)
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
            row = store.get_delivery(s, delivery_id)
        if row is None:
            raise NotFound(f"no delivery {delivery_id}", message_zh="通知记录不存在")
        return row

    @api("POST", "/api/v1/deliveries/<int:delivery_id>/retry", roles=EDITORS, response=DeliveryOut,
         summary="send a parked delivery again (after its address was fixed)", tags=("deliveries",),
         responses={409: "only a parked delivery can be retried"})
    def retry_delivery(self, call, delivery_id):
        with self.platform.unit_of_work() as uow:
            row = store.get_delivery(uow.session, delivery_id, lock=True)
            if row is None:
                raise NotFound(f"no delivery {delivery_id}", message_zh="通知记录不存在")
            if row["status"] != "parked":
                raise Conflict(f"delivery {delivery_id} is {row['status']}, not parked",
                               message_zh="只有已停止重试的通知可以重新发送")
            person = store.get_recipient(uow.session, row["recipient"])
            if person is not None and row["channel"] != "log":
                # the address may have been corrected since
                row["address"] = (person["addresses"] or {}).get(row["channel"]) or row["address"]
                uow.session.execute(store.deliveries.update().where(store.deliveries.c.id == delivery_id)
                                    .values(address=row["address"]))
            store.requeue(uow.session, delivery_id, clock.now())
            out = store.get_delivery(uow.session, delivery_id)
        self.sender.notify()
        return out
