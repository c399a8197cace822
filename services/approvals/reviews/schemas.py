"""The HTTP API's schemas of reviews (好差评): the window's and the public page's review, the department's follow-up
report, the list and the monthly summary."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from services.kernel.fields import Day, Id, Moment, page_of

from ..schemas import CODE
from .domain import ASPECTS, CHANNELS, FOLLOW_UP_FILTERS, FOLLOW_UP_STATES, LEVELS, MAX_TEXT

MONTH = validate.Regexp(r"^20\d\d-(0[1-9]|1[0-2])$", error="a month: YYYY-MM / 月份格式：YYYY-MM")


class ReviewIn(Schema):
    level = fields.String(required=True, validate=validate.OneOf(LEVELS),
                          metadata={"description": "非常满意 very_satisfied, 满意 satisfied, 基本满意 "
                                                   "basically_satisfied, 不满意 unsatisfied, 非常不满意 "
                                                   "very_unsatisfied"})
    text = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_TEXT),
                         metadata={"description": f"the applicant's words (at most {MAX_TEXT} characters); stored "
                                                  "scrubbed of phone and id numbers and the applicant's name"})
    aspects = fields.List(fields.String(validate=validate.OneOf(ASPECTS)), load_default=list,
                          validate=validate.Length(max=len(ASPECTS)),
                          metadata={"description": "what is criticised: attitude 服务态度, efficiency 办事效率, "
                                                   "materials 材料要求, guidance 一次告知, integrity 廉洁, other 其他"})

    @validates("aspects")
    def _distinct(self, value, **_):
        if len(set(value)) != len(value):
            raise ValidationError("each aspect once / 每项只能选一次")


class WindowReviewIn(ReviewIn):
    at = Moment(load_default=None, metadata={
        "description": "when the applicant gave it at the window's device (default now); a device that sends later "
                       "says when: not in the future, not before the application's outcome"})


class PublicReviewIn(ReviewIn):
    application_no = fields.String(required=True, validate=validate.Length(min=1, max=32),
                                   metadata={"description": "the application number on the receipt (办件编号)"})
    query_code = fields.String(required=True, validate=validate.Length(min=1, max=32),
                               metadata={"description": "the query code printed on the receipt (查询码)"})


class FollowUpIn(Schema):
    report = fields.String(required=True, validate=validate.Length(min=2, max=4000),
                           metadata={"description": "what the department verified and rectified (核实整改情况); shown "
                                                    "to the department, monitors and assessors, never in events"})


class ReviewOut(Schema):
    id = fields.Integer()
    application_id = fields.Integer()
    application_no = fields.String(allow_none=True)
    item_code = fields.String()
    department = fields.String()
    department_name = fields.String()
    round = fields.Integer(metadata={"description": "1: the review; 2: the re-review after a follow-up (final)"})
    final = fields.Boolean(metadata={"description": "no further review of the application can follow"})
    channel = fields.String(metadata={"description": ", ".join(CHANNELS)})
    level = fields.String()
    level_zh = fields.String()
    bad = fields.Boolean()
    final_level = fields.String(allow_none=True, metadata={"description": "the first review's row: the level the "
                                                                          "application counts with"})
    aspects = fields.List(fields.String())
    aspects_zh = fields.List(fields.String())
    text = fields.String(allow_none=True)
    reviewed_at = Moment()
    by = fields.String()
    replaces = fields.Integer(allow_none=True)
    rereview_id = fields.Integer(allow_none=True)
    follow_up_state = fields.String(allow_none=True, metadata={"description": ", ".join(FOLLOW_UP_STATES) +
                                                                              "; None: no follow-up"})
    follow_up_state_zh = fields.String(allow_none=True)
    follow_up_due_at = Moment(allow_none=True)
    overdue = fields.Boolean()
    overdue_at = Moment(allow_none=True)
    report = fields.String(allow_none=True)
    reported_by = fields.String(allow_none=True)
    reported_at = Moment(allow_none=True)


class PublicReviewOut(Schema):
    """What the public page is answered: the rating, never the text or anything of the applicant."""

    application_no = fields.String()
    round = fields.Integer()
    final = fields.Boolean()
    level = fields.String()
    level_zh = fields.String()
    aspects = fields.List(fields.String())
    reviewed_at = Moment()
    follow_up_due_at = Moment(allow_none=True, metadata={"description": "a bad review: the department verifies "
                                                                        "and rectifies by then"})
    message_zh = fields.String()


class ReviewsQuery(Schema):
    department = fields.String(load_default=None, validate=CODE)
    level = fields.String(load_default=None, validate=validate.OneOf(LEVELS))
    from_ = Day(load_default=None, data_key="from", metadata={"description": "reviewed on or after (YYYY-MM-DD)"})
    to = Day(load_default=None, metadata={"description": "reviewed on or before (YYYY-MM-DD)"})
    follow_up = fields.String(load_default=None, validate=validate.OneOf(FOLLOW_UP_FILTERS),
                              metadata={"description": "a follow-up state, overdue (announced overdue, still "
                                                       "pending) or none (no follow-up)"})
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    application_id = Id(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))

    @validates_schema
    def _span(self, data, **_):
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError("must not be before from / 结束日期不能早于开始日期", "to")


ReviewPage = page_of(ReviewOut, "ReviewPage")


class SummaryQuery(Schema):
    month = fields.String(required=True, validate=MONTH, metadata={"description": "YYYY-MM (Asia/Shanghai)"})
    by = fields.String(load_default="department", validate=validate.OneOf(("department", "window")), metadata={
        "description": "lines per department (default) or per window: the application's responsible window (首问负责)"})


class DepartmentSummary(Schema):
    department = fields.String(allow_none=True, metadata={"description": "None on the line of every department"})
    department_name = fields.String()
    total = fields.Integer()
    levels = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "applications per level (every level, 0 included)"})
    satisfied = fields.Integer(metadata={"description": "非常满意 + 满意 + 基本满意"})
    satisfaction_rate = fields.Float(allow_none=True, metadata={"description": "satisfied / total, percent"})


class WindowSummary(DepartmentSummary):
    window = fields.String(allow_none=True, metadata={"description": "None: applications whose steps named no window"})
    window_name = fields.String(metadata={"description": "its name in the register of windows (未登记窗口: none)"})
    department = fields.String(allow_none=True, metadata={"description": "the window's department (None: 综合窗口)"})
    department_name = fields.String(allow_none=True)


class SummaryOut(Schema):
    month = fields.String()
    by = fields.String(metadata={"description": "department or window"})
    departments = fields.List(fields.Nested(DepartmentSummary), metadata={"description": "by=department"})
    windows = fields.List(fields.Nested(WindowSummary), metadata={"description": "by=window"})
    total = fields.Nested(DepartmentSummary, metadata={"description": "every department together"})
