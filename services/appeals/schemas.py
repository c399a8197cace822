"""marshmallow schemas of the appeals HTTP API."""

from marshmallow import Schema, fields, validate

from services.kernel.contracts.appeals import APPEAL_TYPES, CHANNELS, URGENCIES


class AppellantSchema(Schema):
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    phone = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(r"^\+?[0-9][0-9\- ]{4,30}$", error="not a phone number"))
    anonymous = fields.Boolean(load_default=False)


class LocationSchema(Schema):
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))
    town_street = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class AppealIn(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    external_ref = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=128))
    appellant = fields.Nested(AppellantSchema, load_default=dict)
    type = fields.String(required=True, validate=validate.OneOf(APPEAL_TYPES))
    urgency = fields.String(load_default="normal", validate=validate.OneOf(URGENCIES))
    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    content = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    location = fields.Nested(LocationSchema, load_default=dict)
    received_at = fields.AwareDateTime(load_default=None, allow_none=True)


class AppealOut(Schema):
    id = fields.Integer()
    case_no = fields.String()
    channel = fields.String()
    external_ref = fields.String(allow_none=True)
    type = fields.String()
    urgency = fields.String()
    category = fields.String()
    content = fields.String()
    department = fields.String(allow_none=True)
    town_street = fields.String(allow_none=True)
    status = fields.String()
    received_at = fields.AwareDateTime()
    due_at = fields.AwareDateTime(allow_none=True)
