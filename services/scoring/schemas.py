"""marshmallow schemas of the scoring HTTP API."""

from marshmallow import Schema, fields, validate


class FactsQuery(Schema):
    department = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    period = fields.String(load_default=None, validate=validate.Regexp(
        r"^\d{4}(-\d{2})?$", error="a year (2026) or a month (2026-09)"))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class FactOut(Schema):
    id = fields.Integer()
    department = fields.String(allow_none=True)
    period = fields.String()
    metric = fields.String()
    value = fields.Float()
    source_event_id = fields.String()
    source_event_type = fields.String()
    occurred_at = fields.AwareDateTime()
    recorded_at = fields.AwareDateTime()
