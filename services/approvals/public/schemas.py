"""marshmallow schemas of the public face (no key): the service guide, the progress query, the results."""

from marshmallow import Schema, ValidationError, fields, post_load, validate

from services.kernel import clock
from services.kernel.fields import Day, Moment

from ..schemas import CODE, LIGHTS, MaterialSchema
from . import domain

NO = validate.Length(min=1, max=32)


# -- the service guide (办事指南) ------------------------------------------------------------------------


class GuideQuery(Schema):
    department = fields.String(load_default=None, validate=CODE, metadata={"description": "a department's code"})
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=50),
                      metadata={"description": "a word in the item's name"})


class GuideItemOut(Schema):
    code = fields.String()
    name = fields.String()
    department = fields.String()
    department_name = fields.String(metadata={"description": "its name in the register of organisations, else the "
                                                             "code"})
    kind = fields.String(metadata={"description": "immediate (即办件) or committed (承诺件)"})
    kind_zh = fields.String()
    materials = fields.List(fields.Nested(MaterialSchema), metadata={"description": "the materials to bring"})
    statutory_limit = fields.Integer(allow_none=True, metadata={"description": "法定时限, working days"})
    committed_limit = fields.Integer(allow_none=True, metadata={
        "description": "承诺时限 (the 服务承诺), working days; null: none beyond the statutory one"})
    handling_place = fields.String(allow_none=True, metadata={"description": "办理地点"})
    window_decides = fields.Boolean(metadata={"description": "the window decides it itself (fully authorised, "
                                                             "窗口充分授权)"})
    joint = fields.Boolean(metadata={"description": "a joint approval of several departments (联合审批)"})
    public_results = fields.Boolean(metadata={"description": "its decisions are disclosed (审批结果公开)"})


class GuideOut(Schema):
    items = fields.List(fields.Nested(GuideItemOut))
    total = fields.Integer()


# -- the progress query (办件进度查询) -------------------------------------------------------------------


class ProgressIn(Schema):
    application_no = fields.String(required=True, validate=NO, metadata={"description": "办件编号 (SP…)"})
    query_code = fields.String(required=True, validate=validate.Length(min=1, max=16), metadata={
        "description": "查询码: printed on the receipt (not case-sensitive)"})


class StepOut(Schema):
    at = Moment()
    action = fields.String()
    name = fields.String(metadata={"description": "the step in Chinese"})
    state = fields.String(allow_none=True)
    state_zh = fields.String(allow_none=True)


class ProgressOut(Schema):
    application_no = fields.String()
    item_code = fields.String()
    item_name = fields.String(allow_none=True)
    department = fields.String()
    department_name = fields.String()
    state = fields.String()
    state_zh = fields.String()
    received_at = Moment()
    accepted_at = Moment(allow_none=True)
    due_at = Moment(allow_none=True, metadata={"description": "when it is due (the statutory or committed limit, "
                                                              "pauses and extension counted)"})
    light = fields.String(allow_none=True, validate=validate.OneOf(LIGHTS), metadata={
        "description": "green, yellow (due soon), red (overdue); null before acceptance and once ended"})
    days_left = fields.Integer(allow_none=True, metadata={"description": "剩余工作日"})
    days_overdue = fields.Integer(allow_none=True, metadata={"description": "已超期工作日"})
    decision_zh = fields.String(allow_none=True, metadata={"description": "准予许可 / 不予许可, once decided"})
    decided_at = Moment(allow_none=True)
    steps = fields.List(fields.Nested(StepOut), metadata={
        "description": "what happened, oldest first: step names and dates only, never who or why"})


# -- the results (审批结果公开) ---------------------------------------------------------------------------


class ResultsQuery(Schema):
    from_ = Day(data_key="from", load_default=None, metadata={
        "description": "first day of decision (YYYY-MM-DD); default: the longest range ending at `to`"})
    to = Day(load_default=None, metadata={"description": "last day of decision, included; default: today"})
    department = fields.String(load_default=None, validate=CODE)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=domain.MAX_PER_PAGE))

    @post_load
    def the_range(self, data, **kwargs):
        try:
            data["from_"], data["to"] = domain.date_range(data["from_"], data["to"], clock.now().date())
        except ValueError as exc:
            field, message = exc.args
            raise ValidationError(message, field) from None
        return data


class ResultOut(Schema):
    application_no = fields.String()
    item_code = fields.String()
    item_name = fields.String()
    department = fields.String()
    department_name = fields.String()
    applicant = fields.String(metadata={"description": "an enterprise's name; a person's never (个人)"})
    approved = fields.Boolean()
    decision_zh = fields.String(metadata={"description": "准予许可 / 不予许可"})
    decided_at = Moment()


class ResultsPage(Schema):
    items = fields.List(fields.Nested(ResultOut))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    # echoed: the range the answer covers (the defaults filled in)
    from_ = fields.Date(data_key="from")
    to = fields.Date()
