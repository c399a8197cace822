"""Contracts of the events the notify service (通知) publishes."""

from marshmallow import Schema, fields

from .envelope import contract


@contract("notify.delivery_parked", version=1)
class DeliveryParked(Schema):
    """A notification could not be delivered and is no longer retried (a permanent failure such as a bad
    address, or transient failures up to the retry limit): ops should look. `delivery_id` is notify's id
    (`POST /api/v1/deliveries/<id>/retry` sends it again)."""

    delivery_id = fields.String(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    recipient = fields.String(required=True)
    channel = fields.String(required=True)
    department = fields.String(load_default=None, allow_none=True)
    attempts = fields.Integer(required=True)
    error = fields.String(required=True)
    permanent = fields.Boolean(required=True)
    parked_at = fields.AwareDateTime(required=True, format="iso")
