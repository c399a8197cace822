"""The HTTP API's schemas of the sanctions register (效能问责): a measure entered, the list's filters and page, one
measure with its history, the review asked for and decided."""

from marshmallow import Schema, fields, validate

from services.kernel.contracts.scoring import SANCTION_KINDS
from services.kernel.fields import Day, Moment, page_of

from .domain import DECISIONS, SOURCES, STATES, TARGETS

CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$", error="letters, digits, _ and -, at most 64 / 部门代码格式不正确")


def _text(size: int, **kwargs):
    return fields.String(validate=validate.Length(min=1, max=size), **kwargs)


class SanctionIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(SANCTION_KINDS), metadata={
        "description": "efficiency_warning 效能告诫, criticism 通报批评, organisational 组织处理, "
                       "disciplinary 纪律处分, judicial 移送司法机关"})
    target = fields.String(load_default="unit", validate=validate.OneOf(TARGETS),
                           metadata={"description": "unit (default) or person (then person_name and post)"})
    department = fields.String(required=True, validate=CODE,
                               metadata={"description": "the sanctioned unit, or the person's unit (register code)"})
    person_name = _text(100, load_default=None, allow_none=True,
                        metadata={"description": "internal: never in events, logs or another unit's answers"})
    post = _text(100, load_default=None, allow_none=True, metadata={"description": "the person's post (职务)"})
    source = fields.String(required=True, validate=validate.OneOf(SOURCES), metadata={
        "description": "complaint, visit (source_ref: the visit's id), monitor_alert (the alert id), "
                       "project_accountability (the procedure id), inspection, direct"})
    source_ref = _text(100, load_default=None, allow_none=True)
    deciding_body = _text(200, required=True, metadata={"description": "the deciding body (决定机关)"})
    document_no = _text(100, required=True, metadata={
        "description": "the document number, e.g. 效能告诫〔2026〕3号: one measure per kind and number"})
    decided_on = Day(required=True, metadata={"description": "the day it was decided (YYYY-MM-DD)"})
    reason = _text(2000, required=True)


class SanctionsQuery(Schema):
    department = fields.String(load_default=None, validate=CODE)
    kind = fields.String(load_default=None, validate=validate.OneOf(SANCTION_KINDS))
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "the year it was decided"})
    source = fields.String(load_default=None, validate=validate.OneOf(SOURCES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class HistoryOut(Schema):
    action = fields.String(metadata={"description": "recorded, review_requested, upheld or withdrawn"})
    by = fields.String()
    on_behalf = fields.Boolean(allow_none=True)
    note = fields.String(allow_none=True, metadata={"description": "the reason asked with, or the decision's note"})
    at = Moment()


class SanctionOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    kind_zh = fields.String()
    target = fields.String()
    target_zh = fields.String()
    department = fields.String()
    person_name = fields.String(allow_none=True)
    post = fields.String(allow_none=True)
    source = fields.String()
    source_zh = fields.String()
    source_ref = fields.String(allow_none=True)
    deciding_body = fields.String(allow_none=True)
    document_no = fields.String(allow_none=True)
    decided_on = fields.Date()
    reason = fields.String()
    state = fields.String()
    state_zh = fields.String()
    review_due_on = fields.Date(allow_none=True, metadata={"description": "the last day a review may be asked for"})
    review_clock_error = fields.String(allow_none=True)
    costs_points = fields.Boolean(metadata={"description": "counts as an efficiency warning (−0.5)"})
    disqualifies = fields.Boolean(metadata={"description": "out of the advanced-unit selection (通报批评)"})
    ledger = fields.String(metadata={"description": "own (its own fact), core (the fact of appeals' warning), none"})
    ledger_ref = fields.String(allow_none=True)
    criticism_id = fields.Integer(allow_none=True)
    recorded_by = fields.String()
    recorded_at = Moment()
    history = fields.List(fields.Nested(HistoryOut))


SanctionPage = page_of(SanctionOut, "SanctionPage")


class ReviewRequestIn(Schema):
    reason = _text(4000, required=True, metadata={"description": "the unit's statement (申辩理由)"})


class ReviewDecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    note = _text(4000, required=True)
