"""The HTTP API's schemas of target management: a key task with its 六定, its change, the plan, a progress report,
the list and the board."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from services.kernel.fields import Day, Id, Moment, evidence_links, page_of

from ..schemas import CODE
from .domain import LIGHTS, STATES

YEAR = validate.Range(min=2004, max=2100, error="a year from 2004 / 年份须为 2004 年及以后")
_TEXT = validate.Length(min=1, max=4000)


class TargetMilestoneIn(Schema):
    id = Id(load_default=None, metadata={"description": "PATCH: an existing milestone kept (changed); none: a new one"})
    due_on = Day(required=True, metadata={"description": "the day it is due (YYYY-MM-DD, within the task's year)"})
    what = fields.String(required=True, validate=validate.Length(min=1, max=1000),
                         metadata={"description": "what is due by then (节点任务)"})


def _distinct_units(value):
    if len(set(value)) != len(value):
        raise ValidationError("each unit once / 配合单位不能重复")


class _TargetFields(Schema):
    title = fields.String(validate=validate.Length(min=2, max=200),
                          metadata={"description": "定任务: the key task (重点工作目标)"})
    standard = fields.String(validate=_TEXT, metadata={"description": "定标准: what counts as done"})
    lead_unit = fields.String(validate=CODE, metadata={"description": "定责任: the lead unit's department code"})
    co_units = fields.List(fields.String(validate=CODE), validate=[validate.Length(max=30), _distinct_units],
                           metadata={"description": "定责任: co-units' department codes (配合单位)"})
    steps = fields.List(fields.String(validate=validate.Length(min=1, max=1000)), validate=validate.Length(max=50),
                        metadata={"description": "定措施: the steps taken"})
    assessment = fields.String(validate=_TEXT, metadata={"description": "定考核: how the task is assessed"})
    weight = fields.Float(allow_none=True, validate=validate.Range(min=0, max=100),
                          metadata={"description": "定考核: its weight (0–100), or"})
    points = fields.Float(allow_none=True, validate=validate.Range(min=0, max=100),
                          metadata={"description": "定考核: the points it carries"})
    plan_due = Day(allow_none=True, metadata={
        "description": "the day the lead unit's plan is due (default: TARGETS.PLAN_DUE of the year, or for a task "
                       "set after it TARGETS.LATE_PLAN_DAYS working days after the day it is set)"})
    milestones = fields.List(fields.Nested(TargetMilestoneIn), validate=validate.Length(min=1, max=60),
                             metadata={"description": "定进度: the dated milestones"})


class TargetIn(_TargetFields):
    year = fields.Integer(required=True, strict=True, validate=YEAR)
    title = fields.String(required=True, validate=validate.Length(min=2, max=200),
                          metadata={"description": "定任务: the key task (重点工作目标)"})
    standard = fields.String(required=True, validate=_TEXT, metadata={"description": "定标准: what counts as done"})
    lead_unit = fields.String(required=True, validate=CODE,
                              metadata={"description": "定责任: the lead unit's department code (牵头单位)"})
    co_units = fields.List(fields.String(validate=CODE), load_default=list,
                           validate=[validate.Length(max=30), _distinct_units],
                           metadata={"description": "定责任: co-units' department codes (配合单位)"})
    steps = fields.List(fields.String(validate=validate.Length(min=1, max=1000)), required=True,
                        validate=validate.Length(min=1, max=50), metadata={"description": "定措施: the steps taken"})
    assessment = fields.String(required=True, validate=_TEXT,
                               metadata={"description": "定考核: how the task is assessed"})
    weight = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=100))
    points = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=100))
    plan_due = Day(load_default=None, allow_none=True)
    milestones = fields.List(fields.Nested(TargetMilestoneIn), required=True, validate=validate.Length(min=1, max=60),
                             metadata={"description": "定进度: the dated milestones, at least one"})

    @validates("milestones")
    def _new_only(self, value, **_):
        if any(m.get("id") is not None for m in value):
            raise ValidationError("a new task's milestones have no id / 新任务的进度节点不带 id")


class TargetPatch(_TargetFields):
    state = fields.String(validate=validate.OneOf(("cancelled", "active")), metadata={
        "description": "cancelled: cancel the task (撤销); active: resume a cancelled one"})
    reason = fields.String(required=True, validate=validate.Length(min=2, max=1000),
                           metadata={"description": "why it changes (kept in its history)"})


class TargetPlanIn(Schema):
    plan = fields.String(required=True, validate=validate.Length(min=2, max=20000),
                         metadata={"description": "the implementation plan (实施方案)"})
    assessment_rules = fields.String(required=True, validate=validate.Length(min=2, max=20000),
                                     metadata={"description": "the assessment rules (考核细则)"})
    attachments = evidence_links()


class TargetProgressIn(Schema):
    milestone_id = Id(required=True)
    done = fields.Boolean(required=True, metadata={"description": "the milestone is done (or, false: not yet)"})
    note = fields.String(required=True, validate=validate.Length(min=2, max=4000),
                         metadata={"description": "what was done (进展情况)"})


class TargetsQuery(Schema):
    year = fields.Integer(load_default=None, validate=YEAR)
    department = fields.String(load_default=None, validate=CODE,
                               metadata={"description": "the tasks it leads or co-leads"})
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class TargetBoardQuery(Schema):
    year = fields.Integer(required=True, validate=YEAR)
    format = fields.String(load_default=None, validate=validate.OneOf(("json", "html")),
                           metadata={"description": "json or html (the printable page); default by Accept"})


class TargetMilestoneOut(Schema):
    id = fields.Integer()
    due_on = fields.Date()
    what = fields.String()
    due_at = Moment(metadata={"description": "the first instant after due_on"})
    status = fields.String(metadata={"description": "done, done_late, overdue, due_soon, upcoming"})
    status_zh = fields.String()
    done_at = Moment(allow_none=True)
    overdue_at = Moment(allow_none=True, metadata={"description": "when announced overdue"})


class TargetPlanOut(Schema):
    revision = fields.Integer()
    plan = fields.String()
    assessment_rules = fields.String()
    attachments = fields.List(fields.String())
    submitted_by = fields.String()
    submitted_at = Moment()
    late = fields.Boolean()


class TargetReportOut(Schema):
    id = fields.Integer()
    milestone_id = fields.Integer()
    done = fields.Boolean()
    late = fields.Boolean()
    note = fields.String()
    reported_by = fields.String()
    reported_at = Moment()


class TargetHistoryOut(Schema):
    action = fields.String()
    changes = fields.Dict(metadata={"description": "field → [before, after]"})
    reason = fields.String(allow_none=True)
    by = fields.String()
    at = Moment()


class TargetOut(Schema):
    id = fields.Integer()
    year = fields.Integer()
    title = fields.String()
    standard = fields.String()
    lead_unit = fields.String()
    lead_unit_name = fields.String()
    co_units = fields.List(fields.String())
    steps = fields.List(fields.String())
    assessment = fields.String()
    weight = fields.Float(allow_none=True)
    points = fields.Float(allow_none=True)
    state = fields.String(metadata={"description": ", ".join(STATES)})
    state_zh = fields.String()
    plan_due_on = fields.Date()
    plan_due_at = Moment(metadata={"description": "the first instant after the plan's due day"})
    plan_status = fields.String(metadata={"description": "pending, submitted, late, overdue"})
    plan_status_zh = fields.String()
    plan_submitted_at = Moment(allow_none=True)
    plan_overdue_at = Moment(allow_none=True)
    light = fields.String(metadata={"description": ", ".join(LIGHTS)})
    milestones = fields.List(fields.Nested(TargetMilestoneOut))
    plans = fields.List(fields.Nested(TargetPlanOut), metadata={"description": "one task's view only"})
    reports = fields.List(fields.Nested(TargetReportOut), metadata={"description": "one task's view only"})
    history = fields.List(fields.Nested(TargetHistoryOut), metadata={"description": "one task's view only"})
    created_by = fields.String()
    created_at = Moment()
    updated_at = Moment()


TargetPage = page_of(TargetOut, "TargetPage")


class TargetBoardMilestones(Schema):
    total = fields.Integer()
    done = fields.Integer(metadata={"description": "done, in time or late"})
    done_late = fields.Integer()
    overdue = fields.Integer()
    due_soon = fields.Integer()
    upcoming = fields.Integer(metadata={"description": "not due yet (due_soon included)"})
    next_due_on = fields.Date(allow_none=True)
    next_what = fields.String(allow_none=True)


class TargetBoardRow(Schema):
    target_id = fields.Integer()
    title = fields.String()
    lead_unit = fields.String()
    lead_unit_name = fields.String()
    co_units = fields.List(fields.String())
    co_unit_names = fields.List(fields.String())
    state = fields.String()
    state_zh = fields.String()
    plan_status = fields.String(metadata={"description": "pending, submitted, late, overdue"})
    plan_status_zh = fields.String()
    plan_due_on = fields.Date()
    plan_submitted_at = Moment(allow_none=True)
    milestones = fields.Nested(TargetBoardMilestones)
    light = fields.String(metadata={"description": ", ".join(LIGHTS)})
    light_zh = fields.String()
    reasons_zh = fields.List(fields.String())


class TargetBoardOut(Schema):
    year = fields.Integer()
    as_of = Moment()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "tasks per light"})
    plans = fields.Dict(keys=fields.String(), values=fields.Integer(),
                        metadata={"description": "tasks per plan status"})
    rows = fields.List(fields.Nested(TargetBoardRow))
