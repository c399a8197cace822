"""Contracts of the events the scoring service (考核) publishes: a period's results when the assessment
office closes (publishes) it, the audited reopening of a closed period, a department's objections (申诉) to
facts, lodged and decided, and the rectification (整改) of undercover-visit findings. No reasons, reports, names
or links travel (the departments' and the office's text stays in scoring)."""

from marshmallow import Schema, fields, validate

from .envelope import contract


class _Result(Schema):
    department = fields.String(required=True)
    composite = fields.Float(required=True)
    rank = fields.Integer(required=True)
    tier = fields.Integer(required=True, validate=validate.OneOf((1, 2, 3)))
    bonus = fields.Float(required=True)
    advanced_unit = fields.Boolean(required=True)
    efficiency_warnings = fields.Integer(required=True)
    deduction = fields.Float(required=True)
    adjustment = fields.Float(load_default=0.0)
    final = fields.Float(required=True)


class _Unranked(Schema):
    department = fields.String(required=True)
    standing = fields.String(required=True, validate=validate.OneOf(("not_ranked", "not_assessed")))
    standing_reason = fields.String(load_default="")
    insufficient = fields.List(fields.String(), load_default=list)  # the metrics with not enough data (数据不足)
    efficiency_warnings = fields.Integer(load_default=0)
    deduction = fields.Float(load_default=0.0)
    adjustment = fields.Float(load_default=0.0)
    final = fields.Float(load_default=None, allow_none=True)  # none for a unit not assessed


class _OpenObjection(Schema):
    objection_id = fields.String(required=True)
    fact_id = fields.String(required=True)
    department = fields.String(required=True)
    metric = fields.String(required=True)
    lodged_at = fields.AwareDateTime(required=True, format="iso")


@contract("scoring.results_published", version=1)
class ScoringResultsPublished(Schema):
    """A period (`2026`, `2026-Q3`, `2026-09`) was closed and its results published. `revision` counts the
    publications of the period (a reopened and closed again period publishes revision 2, ...); `results` has
    one row per ranked department, best first; `rules_version` names the rule file used. `unranked` (optional,
    from rules 2026.2): the departments listed without a rank — `not_ranked` (no metric reached its minimum
    sample) or `not_assessed` (registered as not assessed) — with the reason; not ranked ones still carry
    their deduction and final, a unit not assessed has no final."""

    period = fields.String(required=True)
    revision = fields.Integer(required=True)
    rules_version = fields.String(required=True)
    published_at = fields.AwareDateTime(required=True, format="iso")
    by = fields.String(required=True)
    results = fields.List(fields.Nested(_Result), required=True)
    unranked = fields.List(fields.Nested(_Unranked), load_default=list)
    # optional (#14): the objections on the period's facts still open when it was closed with
    # with_open_objections: true; their facts counted as they stood
    open_objections = fields.List(fields.Nested(_OpenObjection), load_default=list)


@contract("scoring.period_reopened", version=1)
class ScoringPeriodReopened(Schema):
    """A published period was reopened (audited, with a reason): its published results no longer stand until
    it is closed again."""

    period = fields.String(required=True)
    revision = fields.Integer(required=True)
    reason = fields.String(required=True)
    by = fields.String(required=True)
    reopened_at = fields.AwareDateTime(required=True, format="iso")


OBJECTION_DECISIONS = ("upheld", "rejected")


class _Objection(Schema):
    objection_id = fields.String(required=True)
    fact_id = fields.String(required=True)
    department = fields.String(required=True)
    period = fields.String(required=True)  # the fact's period (a month, or the period an assessor named)
    metric = fields.String(required=True)
    by = fields.String(required=True)


@contract("objection.lodged", version=1)
class ObjectionLodged(_Objection):
    """A department objected (申诉) to a fact of its assessment; open until the assessment office decides.
    `on_behalf`: entered by the assessment office for the department. To the assessment office."""

    on_behalf = fields.Boolean(required=True)
    lodged_at = fields.AwareDateTime(required=True, format="iso")


@contract("objection.decided", version=1)
class ObjectionDecided(_Objection):
    """The assessment office decided an objection: `upheld` (the fact was voided and no longer counts) or
    `rejected` (it stands); the reasons are in scoring (GET /api/v1/objections/{id}). To the department."""

    decision = fields.String(required=True, validate=validate.OneOf(OBJECTION_DECISIONS))
    decided_at = fields.AwareDateTime(required=True, format="iso")


class _Rectification(Schema):
    visit_id = fields.String(required=True)
    department = fields.String(required=True)
    round = fields.Integer(load_default=None, allow_none=True)  # which report (1, 2, ...); none when overdue
    due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")
    at = fields.AwareDateTime(required=True, format="iso")


@contract("visit.rectification_submitted", version=1)
class VisitRectificationSubmitted(_Rectification):
    """A department submitted a rectification report (整改报告) for an undercover-visit finding of its own; it waits
    for the assessment office's review. To the assessment office."""


@contract("visit.rectification_accepted", version=1)
class VisitRectificationAccepted(_Rectification):
    """The assessment office accepted the report: the finding is closed out (销号) with it. To the department."""


@contract("visit.rectification_returned", version=1)
class VisitRectificationReturned(_Rectification):
    """The assessment office sent the report back with a reason (in scoring); the department submits again. To
    the department."""


@contract("visit.rectification_overdue", version=1)
class VisitRectificationOverdue(_Rectification):
    """No rectification report was submitted (or the one returned was not submitted again) by `due_at`, the end
    of the configured working days after the visit (SCORING.RECTIFICATION_DAYS, default 10): once per finding.
    `at` is the moment it became overdue. To the department and the assessment office."""


# -- the sanctions register (效能问责, #16) -----------------------------------------------------------------
# The kinds of measure (seed III.3), in order of weight; what each costs is the rule file's (scoring).
SANCTION_KINDS = ("efficiency_warning", "criticism", "organisational", "disciplinary", "judicial")
SANCTION_KIND_ZH = {"efficiency_warning": "效能告诫", "criticism": "通报批评", "organisational": "组织处理",
                    "disciplinary": "纪律处分", "judicial": "移送司法机关"}
