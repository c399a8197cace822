"""The HTTP API's schemas of rewarded reports. No field of the appellant: the reward's answers name the case by its
number only."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate

from services.kernel import fields as kfields
from services.kernel.fields import page_of

from ..schemas import CODE
from .domain import MAX_AMOUNT, STATES


def _yuan(value: Decimal) -> None:
    if not value.is_finite() or value <= 0:
        raise ValidationError("must be more than 0 yuan / 奖励金额须大于 0 元")
    if value.as_tuple().exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValidationError("at most two decimals (fen) / 奖励金额最多保留两位小数（精确到分）")
    if value > MAX_AMOUNT:
        raise ValidationError(f"at most {MAX_AMOUNT} yuan / 奖励金额不能超过 {MAX_AMOUNT} 元")


class RewardIn(Schema):
    amount = fields.Decimal(required=True, allow_nan=False, validate=_yuan,
                            metadata={"description": "in yuan, a JSON number more than 0 with at most two decimals "
                                                     "(500, 1250.5, 0.01); answers write it as a string, \"500.00\""})
    approved_by = fields.String(required=True, validate=validate.Length(min=2, max=100),
                                metadata={"description": "who approved the reward (a body or an official)"})
    approved_on = kfields.Day(required=True, metadata={"description": "the day it was approved (not in the future)"})


class RewardPaidIn(Schema):
    paid_on = kfields.Day(required=True, metadata={"description": "the day it was paid (not before approved_on, not "
                                                                  "in the future)"})


class RewardOut(Schema):
    id = fields.Integer()
    appeal_id = fields.Integer()
    case_no = fields.String()
    department = fields.String(allow_none=True, metadata={"description": "the case's department (the discipline "
                                                                        "office)"})
    subject_department = fields.String(allow_none=True, metadata={"description": "the unit the report was about"})
    amount = fields.String(metadata={"description": "in yuan, two decimals: \"500.00\""})
    state = fields.String(metadata={"description": "approved or paid"})
    state_zh = fields.String()
    approved_by = fields.String()
    approved_on = kfields.Day()
    recorded_by = fields.String()
    recorded_at = kfields.Moment()
    paid_on = kfields.Day(allow_none=True)
    paid_recorded_by = fields.String(allow_none=True)
    paid_recorded_at = kfields.Moment(allow_none=True)


class RewardsQuery(Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "approved in this year"})
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    department = fields.String(load_default=None, validate=CODE)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


RewardPage = page_of(RewardOut, "RewardPage")
