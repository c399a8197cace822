"""Marshmallow schemas of the console's HTTP API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.kernel.fields import Id

from .domain import LEVELS, RECTIFICATION_FILTERS, STATES, SUBJECTS


class ConsoleAlertsQuery(Schema):
    department = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    level = fields.String(load_default=None, validate=validate.OneOf(LEVELS))
    subject = fields.String(load_default=None, validate=validate.OneOf(SUBJECTS),
                            metadata={"description": "application (approvals' applications and refused submissions), "
                                                     "project (key projects' accountability alerts), joint_approval "
                                                     "(joint cases' clock alerts) or appeal"})
    state = fields.String(load_default="active", validate=validate.OneOf(("active", "all", *STATES)))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class ConsoleAlertOut(Schema):
    id = fields.Integer(metadata={"description": "the console's id (for acknowledge / resolve)"})
    owner = fields.String(metadata={"description": "the service that owns the alert: approvals or appeals"})
    alert_id = fields.String(metadata={"description": "the owner's id of the alert"})
    kind = fields.String(metadata={"description": "the event type that raised it"})
    level = fields.String()
    level_zh = fields.String()
    department = fields.String(allow_none=True)
    department_name = fields.String(allow_none=True, metadata={"description": "its name (NOTIFY.DEPARTMENTS_FILE), "
                                                                              "else the code"})
    ref_no = fields.String(allow_none=True, metadata={"description": "application no., case no., project code, or "
                                                                 "project code and joint case (P-1 联审#3)"})
    ref_id = fields.String(allow_none=True, metadata={"description": "application id, appeal id, `project:<code>` or "
                                                                     "`joint_approval:<id>`"})
    rule = fields.String(allow_none=True)
    title_zh = fields.String()
    state = fields.String()
    state_zh = fields.String()
    raised_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    acknowledged_by = fields.String(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    pending_action = fields.String(allow_none=True, metadata={"description": "sent to the owner, not yet answered"})
    actionable = fields.Boolean(metadata={"description": "the owner takes acknowledge / resolve from the console"})
    subject = fields.String(metadata={"description": "what the alert is about: application, project, joint_approval, "
                                                     "inspection, penalty or appeal"})
    subject_zh = fields.String()


class BoardOut(Schema):
    department = fields.String()
    department_name = fields.String(metadata={"description": "its name (NOTIFY.DEPARTMENTS_FILE), else the code"})
    light = fields.String(metadata={"description": "green, yellow or red"})
    total = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    subjects = fields.Dict(keys=fields.String(), values=fields.Integer(),
                           metadata={"description": "alerts not yet resolved by subject: application, project, "
                                                    "joint_approval, inspection, penalty, appeal"})


class CalendarWaitingOut(Schema):
    department = fields.String(allow_none=True, metadata={"description": "the reporting node's DEPARTMENT (null: "
                                                                         "a single deployment)"})
    department_name = fields.String(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "per service (appeals, approvals): records waiting"})
    waiting = fields.Integer(metadata={"description": "all records waiting"})
    missing_years = fields.List(fields.Integer(), metadata={"description": "the years they wait for"})
    text_zh = fields.String(metadata={"description": "the console's sentence, e.g. 2 件诉求、1 件审批等待 2027 年"
                                                     "工作日历，请导入国务院放假通知"})
    updated_at = fields.AwareDateTime(metadata={"description": "when the console last took a count in"})


class FeedQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class FeedOut(Schema):
    id = fields.Integer()
    event_type = fields.String()
    text_zh = fields.String()
    occurred_at = fields.AwareDateTime()
    alert = fields.Nested(ConsoleAlertOut)


FEED_OUT = FeedOut()


class StreamTokenOut(Schema):
    token = fields.String()
    expires_at = fields.AwareDateTime()


class StreamQuery(Schema):
    # not required by the schema: a stream asked for without a token is refused as 401, like a request without a key
    token = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    after = Id(min=0, load_default=None)  # an id over 64 bits cannot be compared in the database


class AcknowledgeIn(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ResolveIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                         metadata={"description": "what was corrected"})


class ConsoleRectificationsQuery(Schema):
    state = fields.String(load_default="submitted", validate=validate.OneOf(RECTIFICATION_FILTERS),
                          metadata={"description": "submitted (default: waiting for review), returned, accepted, "
                                                   "pending, closed, overdue (announced overdue, still open) or all"})
    department = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class ConsoleRectificationOut(Schema):
    id = fields.Integer(metadata={"description": "the console's id (for accept / return)"})
    owner = fields.String()
    alert_id = fields.String(metadata={"description": "the owner's id of the alert"})
    rectification_id = fields.String(metadata={"description": "the owner's id of the rectification"})
    department = fields.String()
    department_name = fields.String(allow_none=True)
    level = fields.String()
    level_zh = fields.String()
    ref_no = fields.String(allow_none=True, metadata={"description": "application no. (or the alert's subject)"})
    rule = fields.String(allow_none=True)
    state = fields.String()
    state_zh = fields.String()
    round = fields.Integer(metadata={"description": "the report's round (1: the first)"})
    overdue = fields.Boolean()
    due_at = fields.AwareDateTime(allow_none=True)
    submitted_by = fields.String(allow_none=True)
    submitted_at = fields.AwareDateTime(allow_none=True)
    attachments_count = fields.Integer(allow_none=True)
    reviewed_by = fields.String(allow_none=True)
    review_note = fields.String(allow_none=True)
    pending_decision = fields.String(allow_none=True, metadata={"description": "accept or return: sent to the owner, "
                                                                              "not yet answered"})
    updated_at = fields.AwareDateTime()


class ReviewAcceptIn(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000),
                         metadata={"description": "a remark, added to the alert's resolution"})


class ReviewReturnIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                           metadata={"description": "why the report is sent back (退回理由)"})
