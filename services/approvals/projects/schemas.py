"""The HTTP API's schemas of key projects, their plans and reports, joint approval, project alerts and the
accountability procedure (the answers' too: every endpoint declares what it answers with)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from services.kernel import clock
from services.kernel import fields as kfields
from services.kernel.contracts.scoring import SANCTION_KINDS
from services.kernel.fields import page_of

from ..schemas import CODE, LIGHTS, SERVICE_POINTS, AlertOut, ApplicantIn
from .domain import ACCOUNTABILITY, OUTCOMES, PROJECT_STATES, TARGETS


class AgentIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(required=True, validate=validate.Regexp(r"^[0-9+\-]{5,32}$"))


class MilestoneIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    deadline = kfields.Day(years_ahead=10, required=True)
    responsible_unit = fields.String(required=True, validate=CODE)


class ProjectIn(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    responsible_units = fields.List(fields.String(validate=CODE), required=True,
                                    validate=validate.Length(min=1, max=50))
    agent = fields.Nested(AgentIn, required=True)
    milestones = fields.List(fields.Nested(MilestoneIn), load_default=list, validate=validate.Length(max=200))


PERIOD = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="a month: YYYY-MM")
REASON = validate.Length(min=2, max=2000)


class ProjectPatchIn(Schema):
    """Any of the project's own fields; at least one. `self_check_due_day`: the report day of the following
    month for this project (null: the configured default); `self_check_from`: the first month whose report is
    (again) required — the monitor checks from that month on."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    responsible_units = fields.List(fields.String(validate=CODE), validate=validate.Length(min=1, max=50))
    agent = fields.Nested(AgentIn)
    self_check_due_day = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=28))
    self_check_from = fields.String(validate=PERIOD)
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not set(data) - {"reason"}:
            raise ValidationError("nothing to change", "_body")


class MilestoneAddIn(MilestoneIn):
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)


class MilestonePatchIn(Schema):
    """Any of the milestone's fields; at least one. A new deadline reschedules its check."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    deadline = kfields.Day(years_ahead=10)
    responsible_unit = fields.String(validate=CODE)
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not set(data) - {"reason"}:
            raise ValidationError("nothing to change", "_body")


class CancelIn(Schema):
    reason = fields.String(required=True, validate=REASON)


class AtIn(Schema):
    at = kfields.Moment(load_default=None, allow_none=True)


class SelfCheckIn(Schema):
    period = fields.String(required=True, validate=PERIOD)
    summary = fields.String(required=True, validate=validate.Length(min=1, max=10000))


QUARTER = validate.Regexp(r"^\d{4}-Q[1-4]$", error="a quarter: YYYY-Qn")


class InspectionIn(Schema):
    quarter = fields.String(required=True, validate=QUARTER)
    findings = fields.String(required=True, validate=validate.Length(min=1, max=10000))
    findings_count = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=1000), metadata={
        "description": "how many problems the inspection found (0: none); scoring counts them"})
    rectification = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10000))
    at = kfields.Moment(load_default=None, allow_none=True)


class JointApprovalIn(Schema):
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=100))
    project_code = fields.String(required=True, validate=CODE)
    applicant = fields.Nested(ApplicantIn, required=True)
    item_codes = fields.List(fields.String(validate=CODE), required=True, validate=validate.Length(min=2, max=30))
    # materials submitted, per item code
    materials = fields.Dict(keys=fields.String(validate=CODE), values=fields.List(fields.String(validate=CODE)),
                            load_default=dict)
    service_point = fields.String(load_default="city_center",
                                  validate=validate.OneOf(SERVICE_POINTS))
    green_channel = fields.Boolean(load_default=True)
    at = kfields.Moment(load_default=None, allow_none=True)

    @validates_schema
    def distinct_items(self, data, **kwargs):
        if len(set(data["item_codes"])) != len(data["item_codes"]):
            raise ValidationError("each item once", "item_codes")


class ProjectAlertsQuery(Schema):
    subject = fields.String(load_default=None, validate=validate.OneOf(("project", "joint_approval")))
    subject_ref = fields.String(load_default=None, validate=validate.Length(max=64))
    level = fields.String(load_default=None, validate=validate.OneOf((ACCOUNTABILITY, "warning", "yellow", "red")))


class CloseIn(Schema):
    reason = fields.String(required=True, validate=REASON)


# -- lists --------------------------------------------------------------------------------------------------


class _Paging(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class ProjectsQuery(_Paging):
    department = fields.String(load_default=None, validate=CODE, metadata={
        "description": "one of its responsible units"})
    lead_unit = fields.String(load_default=None, validate=CODE, metadata={"description": "its lead unit (the first)"})
    state = fields.String(load_default=None, validate=validate.OneOf(PROJECT_STATES))
    green_channel = fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "true: with a green-channel application; false: with none"})
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=100), metadata={
        "description": "text in its code or name"})
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100), metadata={
        "description": "registered in this year (Asia/Shanghai)"})


class JointsQuery(_Paging):
    project_code = fields.String(load_default=None, validate=CODE)
    state = fields.String(load_default=None, validate=validate.OneOf(("open", "completed")))
    department = fields.String(load_default=None, validate=CODE, metadata={
        "description": "with a sub-application in this department"})
    item_code = fields.String(load_default=None, validate=CODE)


class ProceduresQuery(_Paging):
    department = fields.String(load_default=None, validate=CODE, metadata={
        "description": "the unit held responsible"})
    state = fields.String(load_default=None, validate=validate.OneOf(("open", "concluded")))
    project_code = fields.String(load_default=None, validate=CODE)
    joint_id = kfields.Id(load_default=None)
    alert_id = kfields.Id(load_default=None)
    outcome = fields.String(load_default=None, validate=validate.OneOf(OUTCOMES))


# -- the accountability procedure (责任追究程序) ------------------------------------------------------------


class ProcedureStartIn(Schema):
    reason = fields.String(required=True, validate=REASON, metadata={"description": "why accountability is sought"})
    responsible_department = fields.String(load_default=None, validate=CODE, metadata={
        "description": "the unit held responsible (default: the alert's department; required for a joint case's "
                       "alert, which has none)"})


class ConcludeIn(Schema):
    """`outcome` measure: `measure` (a sanction kind), `target` (unit or person), `post` (职务, for a person: the
    position held, never a name), `deciding_body`, `document_no`; `outcome` none_due: none of those but
    `deciding_body` and `document_no`, optional."""

    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    measure = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SANCTION_KINDS))
    target = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(TARGETS))
    post = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    deciding_body = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=2, max=200))
    document_no = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=2, max=100))
    decided_on = kfields.Day(required=True)
    reason = fields.String(required=True, validate=REASON)

    @validates("decided_on")
    def not_future(self, value, **kwargs):
        if value > clock.now().astimezone(clock.TZ).date():
            raise ValidationError("cannot be in the future / 不能晚于今天")

    @validates_schema
    def complete(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        if data.get("outcome") == "measure":
            for name in ("measure", "target", "deciding_body", "document_no"):
                if data.get(name) is None:
                    errors[name] = ["required for a measure / 须填写"]
            if data.get("target") == "person" and data.get("post") is None:
                errors["post"] = ["the position held (职务) of the person / 须填写职务"]
            if data.get("target") == "unit" and data.get("post") is not None:
                errors["post"] = ["only for a person / 仅对个人填写"]
        elif data.get("outcome") == "none_due":
            for name in ("measure", "target", "post"):
                if data.get(name) is not None:
                    errors[name] = ["not for none_due / 不予追究时不填"]
        if errors:
            raise ValidationError(errors)


# -- answers ------------------------------------------------------------------------------------------------
# Dumped from the views, which are already JSON (moments and days as their ISO text): strings here, described.

_MOMENT = {"format": "date-time"}
_DAY = {"format": "date"}


def _moment(**kwargs):
    return fields.String(allow_none=True, metadata=_MOMENT, **kwargs)


class AgentOut(Schema):
    name = fields.String()
    phone = fields.String()


class NextSelfCheckOut(Schema):
    period = fields.String(metadata={"description": "the month checked next"})
    missing_from = _moment()
    due_day = fields.Integer()


class NextInspectionOut(Schema):
    quarter = fields.String(allow_none=True, metadata={"description": "the quarter checked next"})
    missing_from = _moment()


class MilestoneOut(Schema):
    id = fields.Integer()
    name = fields.String()
    deadline = fields.String(metadata=_DAY)
    responsible_unit = fields.String()
    done_at = _moment()
    done_by = fields.String(allow_none=True)
    cancelled_at = _moment()
    cancelled_by = fields.String(allow_none=True)


class SelfCheckOut(Schema):
    id = fields.Integer()
    period = fields.String()
    summary = fields.String()
    submitted_by = fields.String()
    submitted_at = _moment()


class InspectionOut(Schema):
    id = fields.Integer()
    quarter = fields.String()
    inspector = fields.String()
    findings = fields.String()
    findings_count = fields.Integer()
    rectification = fields.String(allow_none=True)
    inspected_at = _moment()


class ProjectHistoryOut(Schema):
    at = _moment()
    actor = fields.String()
    role = fields.String()
    action = fields.String()
    milestone_id = fields.Integer(allow_none=True)
    changes = fields.Dict(metadata={"description": "{field: {from, to}}"})
    reason = fields.String(allow_none=True)


class ProjectOut(Schema):
    code = fields.String()
    name = fields.String()
    responsible_units = fields.List(fields.String(), metadata={"description": "the first is the lead unit"})
    state = fields.String(metadata={"description": ", ".join(PROJECT_STATES)})
    closed_at = _moment()
    agent = fields.Nested(AgentOut, metadata={"description": "the agent (代办员) of its green-channel applications"})
    created_at = _moment()
    updated_at = _moment()
    next_self_check = fields.Nested(NextSelfCheckOut)
    next_inspection = fields.Nested(NextInspectionOut)
    milestones = fields.List(fields.Nested(MilestoneOut))
    self_checks = fields.List(fields.Nested(SelfCheckOut))
    inspections = fields.List(fields.Nested(InspectionOut))
    history = fields.List(fields.Nested(ProjectHistoryOut))


class ProjectSummaryOut(Schema):
    code = fields.String()
    name = fields.String()
    responsible_units = fields.List(fields.String())
    lead_unit = fields.String(allow_none=True)
    state = fields.String()
    created_at = _moment()
    closed_at = _moment()
    next_self_check = fields.Nested(NextSelfCheckOut)
    next_inspection = fields.Nested(NextInspectionOut)
    open_alerts = fields.Integer(metadata={"description": "its alerts and its joint cases' not resolved"})


ProjectPage = page_of(ProjectSummaryOut, "ProjectPage")


class SubApplicationOut(Schema):
    """A sub-application in brief; another department's only by item, department and state."""

    id = fields.Integer()
    application_no = fields.String()
    item_code = fields.String()
    department = fields.String()
    state = fields.String()
    state_zh = fields.String(allow_none=True)
    green_channel = fields.Boolean()
    project_code = fields.String(allow_none=True)
    agent = fields.Nested(AgentOut, allow_none=True)
    due_at = _moment()
    light = fields.String(allow_none=True, metadata={"description": ", ".join(LIGHTS)})


class ProjectApplicationsOut(Schema):
    items = fields.List(fields.Nested(SubApplicationOut))
    total = fields.Integer()


class JointClockOut(Schema):
    limit_days = fields.Integer()
    started_at = _moment()
    start_date = fields.String(allow_none=True, metadata=_DAY)
    due_at = _moment()
    elapsed = fields.Float(allow_none=True)
    remaining = fields.Float(allow_none=True)
    fraction_used = fields.Float(allow_none=True)
    light = fields.String(allow_none=True, metadata={"description": ", ".join(LIGHTS)})
    error = fields.String(allow_none=True, metadata={"description": "no due time: the calendar lacks a year"})


class JointOut(Schema):
    id = fields.Integer()
    external_ref = fields.String()
    project_code = fields.String()
    item_codes = fields.List(fields.String())
    state = fields.String(metadata={"description": "open, completed"})
    completed_at = _moment()
    approved = fields.Boolean(allow_none=True)
    clock = fields.Nested(JointClockOut)
    sub_applications = fields.List(fields.Nested(SubApplicationOut))
    decided = fields.Integer(metadata={"description": "sub-applications concluded"})


class JointSummaryOut(Schema):
    id = fields.Integer()
    external_ref = fields.String()
    project_code = fields.String()
    item_codes = fields.List(fields.String())
    departments = fields.List(fields.String())
    state = fields.String()
    started_at = _moment()
    completed_at = _moment()
    approved = fields.Boolean(allow_none=True)
    clock = fields.Nested(JointClockOut)


JointPage = page_of(JointSummaryOut, "JointPage")


class ProjectAlertsOut(Schema):
    items = fields.List(fields.Nested(AlertOut))
    total = fields.Integer()


class ProcedureOut(Schema):
    id = fields.Integer()
    alert_id = fields.Integer()
    subject = fields.String(metadata={"description": "the alert's: project, joint_approval"})
    project_code = fields.String(allow_none=True)
    joint_id = fields.Integer(allow_none=True)
    responsible_department = fields.String()
    reason = fields.String()
    started_by = fields.String()
    started_at = kfields.Moment()
    state = fields.String(metadata={"description": "open, concluded"})
    outcome = fields.String(allow_none=True, metadata={"description": ", ".join(OUTCOMES)})
    measure = fields.String(allow_none=True, metadata={"description": ", ".join(SANCTION_KINDS)})
    measure_zh = fields.String(allow_none=True)
    target = fields.String(allow_none=True)
    post = fields.String(allow_none=True)
    deciding_body = fields.String(allow_none=True)
    document_no = fields.String(allow_none=True)
    decided_on = fields.Date(allow_none=True)
    conclusion_reason = fields.String(allow_none=True)
    concluded_by = fields.String(allow_none=True)
    concluded_at = kfields.Moment(allow_none=True)


ProcedurePage = page_of(ProcedureOut, "ProcedurePage")
