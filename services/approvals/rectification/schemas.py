"""The HTTP API's schemas of rectifications (整改)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.kernel.contracts.approvals import ALERT_LEVELS
from services.kernel.fields import Id, Moment, evidence_links, page_of

from ..schemas import CODE
from .domain import FILTER_STATES, STATES

MAX_ATTACHMENTS = 20


class RectificationIn(Schema):
    corrected = fields.String(required=True, validate=validate.Length(min=2, max=4000),
                              metadata={"description": "what was corrected (整改情况)"})
    corrected_by = fields.String(required=True, validate=validate.Length(min=1, max=100),
                                 metadata={"description": "who corrected it (整改责任人); shown to monitors and the "
                                                          "department, never in events or logs"})
    attachments = evidence_links(MAX_ATTACHMENTS)


class AcceptIn(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000),
                         metadata={"description": "the reviewer's remark, added to the alert's resolution note"})


class ReturnIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                           metadata={"description": "why the report is sent back (退回理由)"})


class RoundOut(Schema):
    round = fields.Integer()
    corrected = fields.String()
    corrected_by = fields.String()
    attachments = fields.List(fields.String())
    submitted_by = fields.String()
    submitted_at = fields.String(metadata={"description": "ISO 8601, Asia/Shanghai"})
    decision = fields.String(allow_none=True, metadata={"description": "accepted, returned, or None (waiting)"})
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = fields.String(allow_none=True, metadata={"description": "ISO 8601, Asia/Shanghai"})
    note = fields.String(allow_none=True, metadata={"description": "the return's reason or the acceptance's remark"})


class RectificationOut(Schema):
    id = fields.Integer()
    alert_id = fields.Integer()
    department = fields.String()
    level = fields.String()
    rule = fields.String()
    subject = fields.String()
    subject_ref = fields.String()
    application_id = fields.Integer(allow_none=True)
    alert_state = fields.String()
    raised_at = Moment()
    due_at = Moment(allow_none=True, metadata={"description": "the end of the last working day for it; None: not "
                                                              "monitored (or computed within a moment)"})
    state = fields.String(metadata={"description": ", ".join(STATES)})
    state_zh = fields.String()
    overdue = fields.Boolean(metadata={"description": "announced overdue (monitor.rectification_overdue)"})
    overdue_at = Moment(allow_none=True)
    round = fields.Integer(metadata={"description": "how many reports were submitted"})
    corrected = fields.String(allow_none=True)
    corrected_by = fields.String(allow_none=True)
    attachments = fields.List(fields.String())
    submitted_by = fields.String(allow_none=True)
    submitted_at = Moment(allow_none=True)
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = Moment(allow_none=True)
    review_note = fields.String(allow_none=True)
    history = fields.List(fields.Nested(RoundOut))


class RectificationsQuery(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf(FILTER_STATES),
                          metadata={"description": "a state, or overdue (announced overdue and still open)"})
    department = fields.String(load_default=None, validate=CODE)
    level = fields.String(load_default=None, validate=validate.OneOf(ALERT_LEVELS))
    alert_id = Id(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


RectificationPage = page_of(RectificationOut, "RectificationPage")
