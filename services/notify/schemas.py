"""marshmallow schemas of the notify HTTP API."""

from marshmallow import Schema, fields, validate


class DeliveriesQuery(Schema):
    event_type = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    status = fields.String(load_default=None, validate=validate.OneOf(("pending", "sent", "failed", "parked")))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class DeliveryOut(Schema):
    id = fields.Integer()
    event_id = fields.String()
    event_type = fields.String()
    recipient = fields.String()
    channel = fields.String()
    department = fields.String(allow_none=True)
    subject = fields.String()
    body = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
