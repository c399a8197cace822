"""Contracts of the events the appeals service (民意直通) publishes."""

from marshmallow import Schema, fields, validate

from .envelope import contract

CHANNELS = ("hotline", "mayor_line", "sunshine_dialogue", "online_opinion", "window", "web")
APPEAL_TYPES = (
    "consultation", "help", "complaint", "suggestion", "report", "praise", "efficiency_complaint",
)
URGENCIES = ("normal", "emergency")


@contract("appeal.received", version=1)
class AppealReceived(Schema):
    """A new appeal was taken in on some channel (not a repeat of an open case)."""

    appeal_id = fields.String(required=True)
    case_no = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    type = fields.String(required=True, validate=validate.OneOf(APPEAL_TYPES))
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    category = fields.String(required=True)
    department = fields.String(load_default=None, allow_none=True)
    town_street = fields.String(load_default=None, allow_none=True)
    received_at = fields.AwareDateTime(required=True, format="iso")
    due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")
