"""Contracts of the events the scoring service (考核) publishes: a period's results when the assessment
office closes (publishes) it, and the audited reopening of a closed period."""

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


@contract("scoring.period_reopened", version=1)
class ScoringPeriodReopened(Schema):
    """A published period was reopened (audited, with a reason): its published results no longer stand until
    it is closed again."""

    period = fields.String(required=True)
    revision = fields.Integer(required=True)
    reason = fields.String(required=True)
    by = fields.String(required=True)
    reopened_at = fields.AwareDateTime(required=True, format="iso")
