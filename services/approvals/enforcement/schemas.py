"""The HTTP API's schemas of enforcement inspections: certificates (执法证), an inspection's registration, the
legal office's decision, the result, the enterprise's report through the desk, the lists."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from services.kernel.fields import Day, Moment, page_of

from ..schemas import CODE
from .domain import MIN_INSPECTORS, RESULTS, STATES

CERT_NO = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9\-]{1,31}$", error="a certificate number: letters, digits, - "
                                                                     "(2 to 32) / 执法证号格式不正确")
# 统一社会信用代码: 18 characters of digits and capital letters (no I, O, S, V, Z)
CREDIT_CODE = validate.Regexp(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
                              error="a unified social credit code (18 characters) / 统一社会信用代码格式不正确")
ENTERPRISE = validate.Length(min=2, max=200)


def _inspectors(min_count: int) -> fields.List:
    return fields.List(fields.String(validate=CERT_NO), required=True,
                       validate=validate.Length(min=min_count, max=20, error=f"at least {min_count} inspectors / "
                                                                             f"执法人员不少于{min_count}人"),
                       metadata={"description": "the inspectors' enforcement certificate numbers"})


class _DistinctInspectors:
    @validates("inspectors")
    def _distinct(self, value, **_):
        if len(set(value)) != len(value):
            raise ValidationError("each inspector once / 执法人员不能重复")


class CertificateIn(Schema):
    holder = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={
        "description": "the holder's name: shown to the API's readers, never in events or logs"})
    department = fields.String(required=True, validate=CODE)
    valid_from = Day(required=True)
    valid_until = Day(required=True, years_ahead=10)
    revoked = fields.Boolean(load_default=False)

    @validates_schema
    def _span(self, data, **_):
        if data.get("valid_from") and data.get("valid_until") and data["valid_until"] < data["valid_from"]:
            raise ValidationError({"valid_until": ["before valid_from / 有效期止早于有效期起"]})


class CertificateSeed(CertificateIn):
    number = fields.String(required=True, validate=CERT_NO)


class CertificateOut(CertificateSeed):
    department_name = fields.String(allow_none=True)
    updated_at = Moment()


class CertificatesQuery(Schema):
    department = fields.String(load_default=None, validate=CODE)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


CertificatePage = page_of(CertificateOut, "CertificatePage")


class InspectionIn(_DistinctInspectors, Schema):
    enterprise = fields.String(required=True, validate=ENTERPRISE, metadata={"description": "the enterprise's name"})
    enterprise_code = fields.String(load_default=None, allow_none=True, validate=CREDIT_CODE, metadata={
        "description": "统一社会信用代码 (optional): counts the enterprise's inspections by it, else by name"})
    basis = fields.String(required=True, validate=validate.Length(min=2, max=1000), metadata={
        "description": "the legal basis of the inspection (检查依据)"})
    inspectors = _inspectors(MIN_INSPECTORS)
    planned_on = Day(required=True)
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={
        "description": "the department's reference: the same registration again answers 200 with it"})


class DecisionIn(Schema):
    approved = fields.Boolean(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ResultIn(_DistinctInspectors, Schema):
    carried_out_on = Day(required=True)
    result = fields.String(required=True, validate=validate.OneOf(RESULTS), metadata={
        "description": "no_violation 未发现违法行为, violation_found 发现违法行为, rectification_ordered 责令整改, "
                       "case_opened 立案查处"})
    findings = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    inspectors = _inspectors(1)


class ReportIn(Schema):
    enterprise = fields.String(required=True, validate=ENTERPRISE)
    enterprise_code = fields.String(load_default=None, allow_none=True, validate=CREDIT_CODE)
    department = fields.String(required=True, validate=CODE)
    inspected_on = Day(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ReportOut(Schema):
    report_id = fields.Integer()
    matched = fields.Boolean(metadata={"description": "matched to a registered inspection; false: registered as an "
                                                      "unregistered inspection and alerted"})
    inspection_id = fields.Integer()
    reference_no = fields.String()
    department = fields.String()
    inspected_on = fields.Date()
    message_zh = fields.String()


class HistoryOut(Schema):
    at = Moment()
    action = fields.String()
    by = fields.String()
    note = fields.String(allow_none=True)


class InspectionOut(Schema):
    id = fields.Integer()
    reference_no = fields.String()
    department = fields.String()
    department_name = fields.String(allow_none=True)
    enterprise = fields.String()
    enterprise_code = fields.String(allow_none=True)
    basis = fields.String(allow_none=True)
    inspectors = fields.List(fields.String())
    planned_on = fields.Date(allow_none=True)
    external_ref = fields.String(allow_none=True)
    state = fields.String()
    state_zh = fields.String()
    registered_by = fields.String()
    registered_at = Moment()
    approved = fields.Boolean(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = Moment(allow_none=True)
    decision_note = fields.String(allow_none=True)
    carried_out_on = fields.Date(allow_none=True)
    result = fields.String(allow_none=True)
    result_zh = fields.String(allow_none=True)
    findings = fields.String(allow_none=True)
    actual_inspectors = fields.List(fields.String(), allow_none=True)
    reported_at = Moment(allow_none=True)
    result_due_at = Moment(allow_none=True)
    overdue = fields.Boolean()
    history = fields.List(fields.Nested(HistoryOut))


class InspectionsQuery(Schema):
    department = fields.String(load_default=None, validate=CODE)
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    enterprise = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    enterprise_code = fields.String(load_default=None, validate=CREDIT_CODE)
    from_ = Day(load_default=None, data_key="from")
    to = Day(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


InspectionPage = page_of(InspectionOut, "InspectionPage")

