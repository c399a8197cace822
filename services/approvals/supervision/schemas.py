"""The HTTP API's schemas of supervision orders."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from services.kernel import clock
from services.kernel import fields as kfields
from services.kernel.fields import page_of

from ..schemas import CODE
from .domain import ORDER_STATES


class SupervisionIn(Schema):
    act_by = kfields.Day(required=True, metadata={"description": "the department acts by the end of this day"})
    note = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                         metadata={"description": "what is to be done"})
    exposed = fields.Boolean(load_default=False, metadata={
        "description": "put the order on the public exposure board (曝光台, served by appeals): the note and, once "
                       "the department acted, what it did, desensitised (docs/exposure.md)"})

    @validates("act_by")
    def not_past(self, value, **kwargs):
        if value < clock.now().astimezone(clock.TZ).date():
            raise ValidationError("act_by cannot be in the past")


class SupervisionOut(Schema):
    id = fields.Integer()
    application_id = fields.Integer()
    application_no = fields.String()
    department = fields.String()
    act_by = kfields.Day()
    note = fields.String()
    ordered_by = fields.String()
    ordered_at = kfields.Moment()
    state = fields.String(metadata={"description": "open, overdue, fulfilled (decided), closed (refused)"})
    fulfilled_at = kfields.Moment(allow_none=True)
    overdue_alert_id = fields.Integer(allow_none=True)
    exposed = fields.Boolean(metadata={"description": "on the exposure board (曝光台)"})
    public_id = fields.String(allow_none=True, metadata={"description": "its id on the exposure board"})
    exposed_at = kfields.Moment(allow_none=True)


class SupervisionQuery(Schema):
    application_id = kfields.Id(load_default=None)
    department = fields.String(load_default=None, validate=CODE)
    state = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


SupervisionPage = page_of(SupervisionOut, "SupervisionPage")
