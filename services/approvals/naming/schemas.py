"""The HTTP API's schemas of the satisfied windows (群众满意窗口)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from services.kernel.fields import Moment, page_of

from ..schemas import CODE
from .domain import TITLE_STATES, Period

MAX_WINDOWS = 200


def _period(value: str) -> None:
    try:
        Period.parse(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


PERIOD = fields.String(required=True, validate=_period,
                       metadata={"description": "a year (2026), a half (2026-H1, 2026-H2) or a quarter (2026-Q3)"})


class CandidatesQuery(Schema):
    period = fields.String(required=True, validate=_period,
                           metadata={"description": "a year (2026), a half (2026-H1) or a quarter (2026-Q3)"})


class CriterionOut(Schema):
    criterion = fields.String(metadata={"description": "reviews, satisfaction, red_cards, complaints, on_time"})
    label_zh = fields.String()
    threshold = fields.Float()
    met = fields.Boolean()
    evidence = fields.Dict(metadata={"description": "counts and rates; red_cards: the alerts' ids; complaints: the "
                                                    "upheld cases' numbers"})


class StandardOut(Schema):
    criterion = fields.String()
    label_zh = fields.String()
    threshold = fields.Float()


class CandidateOut(Schema):
    window = fields.String()
    name = fields.String()
    department = fields.String(allow_none=True)
    department_name = fields.String()
    service_point = fields.String()
    meets = fields.Boolean(metadata={"description": "every criterion met"})
    criteria = fields.List(fields.Nested(CriterionOut))
    title_id = fields.Integer(allow_none=True, metadata={"description": "named for this period already: its title"})


class CandidatesOut(Schema):
    period = fields.String()
    period_from = fields.Date()
    period_to = fields.Date()
    complete = fields.Boolean(metadata={"description": "the period has ended (else: its record so far)"})
    standard = fields.List(fields.Nested(StandardOut))
    windows = fields.List(fields.Nested(CandidateOut))


class DecisionIn(Schema):
    period = PERIOD
    windows = fields.List(fields.String(validate=CODE), required=True,
                          validate=validate.Length(min=1, max=MAX_WINDOWS),
                          metadata={"description": "the codes of the windows named (each once)"})
    decided_by = fields.String(required=True, validate=validate.Length(min=2, max=200),
                               metadata={"description": "who decided: the leading group (领导小组)"})
    decided_at = Moment(required=True, metadata={"description": "when the leading group decided; the title's date"})
    document_no = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100),
                                metadata={"description": "the decision's document number (文号)"})
    override_reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=2, max=2000),
                                    metadata={"description": "required when a window named does not meet the "
                                                             "standard: why it is named all the same (recorded)"})

    @validates("windows")
    def _once(self, value, **kwargs):
        if len(set(value)) != len(value):
            raise ValidationError("each window once")


class TitleOut(Schema):
    id = fields.Integer()
    title_zh = fields.String()
    decision_id = fields.Integer()
    period = fields.String()
    window = fields.String()
    window_name = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    department_name = fields.String(allow_none=True)
    named_at = Moment()
    named_on = fields.Date()
    decided_by = fields.String()
    document_no = fields.String(allow_none=True)
    met = fields.Boolean(metadata={"description": "met the standard over the period when named"})
    override_reason = fields.String(allow_none=True)
    criteria = fields.List(fields.Nested(CriterionOut))
    state = fields.String(metadata={"description": ", ".join(TITLE_STATES)})
    state_zh = fields.String()
    revoked_at = Moment(allow_none=True)
    revoked_by = fields.String(allow_none=True)
    revoke_reason = fields.String(allow_none=True)
    recheck_id = fields.Integer(allow_none=True, metadata={"description": "the failed re-check the revocation "
                                                                          "followed"})


class DecisionOut(Schema):
    id = fields.Integer()
    period = fields.String()
    decided_by = fields.String()
    decided_at = Moment()
    document_no = fields.String(allow_none=True)
    windows = fields.List(fields.String())
    titles = fields.List(fields.Nested(TitleOut))


class TitlesQuery(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf(TITLE_STATES))
    period = fields.String(load_default=None, validate=_period)
    window = fields.String(load_default=None, validate=CODE)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


TitlePage = page_of(TitleOut, "TitlePage")


class RevokeIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                           metadata={"description": "why the title is revoked (撤销理由)"})
    decided_by = fields.String(required=True, validate=validate.Length(min=2, max=200),
                               metadata={"description": "who decided: the leading group"})


class RecheckOut(Schema):
    id = fields.Integer()
    title_id = fields.Integer()
    window = fields.String()
    window_name = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    period = fields.String(metadata={"description": "the period the title was named for"})
    quarter = fields.String(metadata={"description": "the quarter checked"})
    passed = fields.Boolean()
    failing = fields.List(fields.String())
    failing_zh = fields.List(fields.String())
    criteria = fields.List(fields.Nested(CriterionOut))
    checked_at = Moment()
    title_state = fields.String()


class RechecksQuery(Schema):
    outcome = fields.String(load_default="failed", validate=validate.OneOf(("failed", "passed", "all")),
                            metadata={"description": "failed (the flags, default), passed or all"})
    quarter = fields.String(load_default=None, validate=_period)
    window = fields.String(load_default=None, validate=CODE)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


RecheckPage = page_of(RecheckOut, "RecheckPage")


class PublicWindowOut(Schema):
    window_name = fields.String()
    department_name = fields.String()
    service_point = fields.String()
    period = fields.String()
    named_on = fields.Date()
    title_zh = fields.String()


class PublicWindowsOut(Schema):
    items = fields.List(fields.Nested(PublicWindowOut))
    total = fields.Integer()
