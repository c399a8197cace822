"""Contracts of the events the scoring service (考核) publishes: a period's results when the assessment
office closes (publishes) it, the audited reopening of a closed period, a department's objections (申诉) to
facts, lodged and decided, the rectification (整改) of undercover-visit findings, the sanctions register (效能问责)
and target management (目标管理). No reasons, reports, names or links travel (the departments' and the office's
text stays in scoring)."""

from marshmallow import Schema, fields, validate

from ..privacy import ScrubbedString
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
    # the group the department was ranked in (rules 2026.4: city departments and town-streets apart), and how
    # many were ranked in it: `rank` and `tier` are within it; `all` when everyone is ranked together
    ranking_group = fields.String(load_default="all")
    ranking_group_zh = fields.String(load_default=None, allow_none=True)
    group_size = fields.Integer(load_default=None, allow_none=True)


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
    """A period (`2026`, `2026-H1`, `2026-Q3`, `2026-09`) was closed and its results published. `revision` counts the
    publications of the period (a reopened and closed again period publishes revision 2, ...); `results` has
    one row per ranked department, best first within each ranking group (groups in the rule file's order);
    `rules_version` names the rule file used. `unranked` (optional,
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
SANCTION_TARGETS = ("unit", "person")
SANCTION_SOURCES = ("complaint", "visit", "monitor_alert", "project_accountability", "inspection", "direct")
SANCTION_DECISIONS = ("upheld", "withdrawn")


class _Sanction(Schema):
    sanction_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(SANCTION_KINDS))
    department = fields.String(required=True)  # the sanctioned unit (a person's: the unit they serve in)


@contract("sanction.recorded", version=1)
class SanctionRecorded(_Sanction):
    """A measure (效能问责) entered the register: against the unit or one of its staff (`post` names the position; no
    person's name travels, nor the reasons). `costs_points`: it counts as an efficiency warning (−0.5, the rule
    file's deduction); `disqualifies`: the unit is out of the advanced-unit selection in that period. A review may
    be asked for up to `review_due_on` (none: the calendar could not say). To the unit and the assessment office."""

    target = fields.String(required=True, validate=validate.OneOf(SANCTION_TARGETS))
    post = ScrubbedString(load_default=None, allow_none=True)
    source = fields.String(required=True, validate=validate.OneOf(SANCTION_SOURCES))
    source_ref = fields.String(load_default=None, allow_none=True)  # a warning, visit, alert or procedure id
    deciding_body = fields.String(load_default=None, allow_none=True)
    document_no = fields.String(load_default=None, allow_none=True)  # 文号, e.g. 效能告诫〔2026〕3号
    decided_on = fields.Date(required=True)
    review_due_on = fields.Date(load_default=None, allow_none=True)
    costs_points = fields.Boolean(required=True)
    disqualifies = fields.Boolean(required=True)
    recorded_at = fields.AwareDateTime(required=True, format="iso")


@contract("sanction.review_requested", version=1)
class SanctionReviewRequested(_Sanction):
    """The sanctioned unit asked for review (申辩/复核) of a measure; `on_behalf`: entered by the assessment office
    for it. The reasons stay in scoring. To the assessment office."""

    on_behalf = fields.Boolean(required=True)
    requested_at = fields.AwareDateTime(required=True, format="iso")


@contract("sanction.review_decided", version=1)
class SanctionReviewDecided(_Sanction):
    """The assessment office decided a review: the measure `upheld`, or `withdrawn` (its cost in the assessment
    voided: the score as if it had never been). To the unit."""

    decision = fields.String(required=True, validate=validate.OneOf(SANCTION_DECISIONS))
    decided_at = fields.AwareDateTime(required=True, format="iso")


# -- target management (目标管理, seed III.1, #16) ----------------------------------------------------------
# The year's key tasks (重点工作目标) with their lead units: the implementation plan due by a date, progress
# against dated milestones. Ids, units, dates and flags only: the plans, notes and who reported stay in scoring.


class _Target(Schema):
    target_id = fields.String(required=True)
    year = fields.Integer(required=True)
    lead_unit = fields.String(required=True)  # the department code of the lead unit (牵头单位)
    co_units = fields.List(fields.String(), load_default=list)  # the co-units (配合单位)


@contract("target.created", version=1)
class TargetCreated(_Target):
    """A key task of the year was set (六定); its lead unit's implementation plan and assessment rules are due by
    `plan_due_at` (the first instant after the due day, Asia/Shanghai). To the lead and co-units."""

    title = ScrubbedString(required=True)
    plan_due_at = fields.AwareDateTime(required=True, format="iso")
    milestones = fields.Integer(required=True)  # how many dated milestones its schedule (定进度) has
    at = fields.AwareDateTime(required=True, format="iso")


@contract("target.plan_submitted", version=1)
class TargetPlanSubmitted(_Target):
    """The lead unit submitted its implementation plan (实施方案) and assessment rules (考核细则); `revision` 1 is the
    first, later ones revise it; `late`: the first came after `plan_due_at`. To the assessment office."""

    revision = fields.Integer(required=True)
    late = fields.Boolean(required=True)
    plan_due_at = fields.AwareDateTime(required=True, format="iso")
    at = fields.AwareDateTime(required=True, format="iso")


@contract("target.plan_overdue", version=1)
class TargetPlanOverdue(_Target):
    """No plan was submitted by the end of the due day (TARGETS.PLAN_DUE, default 02-28): once per task. `at` is
    the moment it became overdue. To the lead unit and the assessment office."""

    plan_due_at = fields.AwareDateTime(required=True, format="iso")
    at = fields.AwareDateTime(required=True, format="iso")


@contract("target.progress_reported", version=1)
class TargetProgressReported(_Target):
    """The lead unit reported progress on a milestone of the schedule (定进度): `done` or not yet; `late`: reported
    done after the milestone's day. To the assessment office."""

    milestone_id = fields.String(required=True)
    done = fields.Boolean(required=True)
    late = fields.Boolean(required=True)
    due_at = fields.AwareDateTime(required=True, format="iso")
    at = fields.AwareDateTime(required=True, format="iso")


@contract("target.milestone_overdue", version=1)
class TargetMilestoneOverdue(_Target):
    """A milestone's day ended without a report of it done: once per milestone. `at` is the moment it became
    overdue. To the lead unit and the assessment office."""

    milestone_id = fields.String(required=True)
    due_at = fields.AwareDateTime(required=True, format="iso")
    at = fields.AwareDateTime(required=True, format="iso")
