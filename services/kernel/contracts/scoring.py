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


@contract("scoring.results_published", version=1)
class ScoringResultsPublished(Schema):
    """A period (`2026`, `2026-Q3`, `2026-09`) was closed and its results published. `revision` counts the
    publications of the period (a reopened and closed again period publishes revision 2, ...); `results` has
    one row per department, best first; `rules_version` names the rule file used."""

    period = fields.String(required=True)
    revision = fields.Integer(required=True)
    rules_version = fields.String(required=True)
    published_at = fields.AwareDateTime(required=True, format="iso")
    by = fields.String(required=True)
    results = fields.List(fields.Nested(_Result), required=True)


@contract("scoring.period_reopened", version=1)
class ScoringPeriodReopened(Schema):
    """A published period was reopened (audited, with a reason): its published results no longer stand until
    it is closed again."""

    period = fields.String(required=True)
    revision = fields.Integer(required=True)
    reason = fields.String(required=True)
    by = fields.String(required=True)
    reopened_at = fields.AwareDateTime(required=True, format="iso")
