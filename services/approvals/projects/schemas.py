"""The HTTP API's schemas of key projects, their plans and reports, joint approval and project alerts."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.kernel import fields as kfields

from ..schemas import CODE, SERVICE_POINTS, ApplicantIn
from .domain import ACCOUNTABILITY


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


class InspectionIn(Schema):
    quarter = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-Q[1-4]$"))
    findings = fields.String(required=True, validate=validate.Length(min=1, max=10000))
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
