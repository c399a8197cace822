"""The HTTP API's schemas of supervision orders on appeals."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.kernel import fields as kfields
from services.kernel.fields import page_of

from ..schemas import CODE
from .domain import ORDER_STATES


class SupervisionOrderOut(Schema):
    id = fields.Integer()
    appeal_id = fields.Integer()
    case_no = fields.String()
    department = fields.String(allow_none=True, metadata={"description": "the department ordered to act"})
    act_by = kfields.Day()
    note = fields.String(allow_none=True)
    exposed = fields.Boolean()
    ordered_by = fields.String()
    ordered_at = kfields.Moment()
    state = fields.String(metadata={"description": "open; fulfilled (the department replied after the order, or "
                                                   "the case closed, before act_by passed); overdue (act_by "
                                                   "passed first)"})
    warn_at = kfields.Moment(allow_none=True, metadata={"description": "when the warning is (was) due"})
    warned_at = kfields.Moment(allow_none=True)
    overdue_at = kfields.Moment(allow_none=True, metadata={"description": "the moment it became overdue"})
    fulfilled_at = kfields.Moment(allow_none=True)


class SupervisionOrdersQuery(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATES))
    department = fields.String(load_default=None, validate=CODE)
    appeal_id = kfields.Id(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


SupervisionOrderPage = page_of(SupervisionOrderOut, "SupervisionOrderPage")
