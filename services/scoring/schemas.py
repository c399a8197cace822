"""marshmallow schemas of the scoring HTTP API."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.kernel.errors import BadRequest
from services.kernel.fields import Id, Moment, evidence_links

from .domain import (
    CORRECTION_ACTIONS,
    CORRECTION_KINDS,
    OBJECTION_STATES,
    PERIOD_HELP,
    PERIOD_HELP_ZH,
    RECTIFICATION_STATES,
    Period,
    parse_period,
)

CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$", error="letters, digits, _ and -, at most 64")
TIERS = ("city", "town_street")
FORMATS = ("json", "csv", "html")


def _period_ok(value: str) -> None:
    try:
        parse_period(value)
    except ValueError:
        raise ValidationError(f"{PERIOD_HELP} / {PERIOD_HELP_ZH}") from None


def period_or_400(text: str, field: str = "period") -> Period:
    try:
        return parse_period(text)
    except ValueError:
        raise BadRequest({field: [f"{PERIOD_HELP} / {PERIOD_HELP_ZH}"]}) from None


def _month_ok(value: str) -> None:
    _period_ok(value)
    if parse_period(value).kind != "month":
        raise ValidationError("a month, e.g. 2026-09 / 须为月份，如 2026-09")


class FactsQuery(Schema):
    department = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    period = fields.String(load_default=None, validate=_period_ok, metadata={
        "description": "the facts counting in this period (2026, 2026-H1, 2026-Q3, 2026-09)"})
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class FactOut(Schema):
    id = fields.Integer()
    department = fields.String(allow_none=True)
    period = fields.String()
    metric = fields.String()
    value = fields.Float()
    ref = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    at = Moment(allow_none=True)
    source_event_id = fields.String()
    source_event_type = fields.String()
    occurred_at = Moment()
    recorded_at = Moment()
    late = fields.Boolean(metadata={"description": "recorded after its period was closed (published)"})
    voided = fields.Boolean(metadata={"description": "no longer counts: an objection upheld, its appeal voided "
                                                     "(invalid or withdrawn), or a merged appeal's received/dispatched "
                                                     "fact (counted through the main case); the fact stays in the "
                                                     "ledger"})
    void = fields.Nested(lambda: VoidOut(), allow_none=True)


class VoidOut(Schema):
    void_cause = fields.String(metadata={"description": "objection, correction (an own input voided or corrected), "
                                                        "or the appeal's end: invalid | withdrawn | merged"})
    void_reason = fields.String()
    void_ref = fields.String(allow_none=True, metadata={
        "description": "the objection's or the appeal's id, or the corrected input (evaluation-12)"})
    voided_by = fields.String()
    voided_at = Moment()
    void_recorded_at = Moment()


# -- the register -----------------------------------------------------------------------------------

class DepartmentIn(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    approval_functions = fields.Boolean(load_default=False)
    enforcement_functions = fields.Boolean(load_default=False)
    tier = fields.String(load_default="city", validate=validate.OneOf(TIERS))
    assessed = fields.Boolean(load_default=True, metadata={
        "description": "false: listed as not assessed (不参与考核), never scored or ranked (the assessment office)"})
    superior = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200), metadata={
        "description": "驻莱单位: the superior authority outside the city the unit answers to (e.g. 国家税务总局烟台市"
                       "税务局); its enterprise-evaluation report is addressed there; empty or none: a city unit"})


class DepartmentOut(Schema):
    code = fields.String()
    name = fields.String()
    approval_functions = fields.Boolean()
    enforcement_functions = fields.Boolean()
    tier = fields.String()
    assessed = fields.Boolean()
    superior = fields.String(allow_none=True, metadata={"description": "驻莱单位: its superior authority"})
    updated_at = Moment()


# -- own inputs -------------------------------------------------------------------------------------

def _criteria_ok(value: dict) -> None:
    if not value:
        raise ValidationError("at least one criterion / 至少评一项")
    if len(value) > 50:
        raise ValidationError("at most 50 criteria / 最多 50 项")


def _scores(**kwargs) -> fields.Dict:
    return fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=64)),
                       values=fields.Float(required=True, allow_nan=False, validate=validate.Range(
                           min=0, max=100, error="a score is 0..100 / 评分须在 0 到 100 之间")),
                       validate=_criteria_ok, **kwargs)


def _adjustment_value(**kwargs) -> fields.Float:
    return fields.Float(allow_nan=False, validate=validate.Range(
        min=-10, max=10, error="an adjustment is -10..10 points / 调整分值须在 -10 到 10 之间"), **kwargs)


class EvaluationIn(Schema):
    enterprise = fields.String(required=True, validate=validate.Length(min=1, max=200))
    department = fields.String(required=True, validate=validate.Length(min=1, max=64))
    period = fields.String(required=True, validate=_period_ok)
    scores = _scores(required=True)


class CorrectionOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "evaluation, visit, criticism or adjustment"})
    item_id = fields.Integer()
    revision = fields.Integer(metadata={"description": "the n-th change of this input"})
    action = fields.String(metadata={"description": "void (no longer counts) or correct (fields changed)"})
    department = fields.String(metadata={"description": "the input's department before"})
    department_after = fields.String(allow_none=True)
    periods = fields.List(fields.String(), metadata={"description": "the fact periods it touched, before and after"})
    reason = fields.String()
    assessor = fields.String(metadata={"description": "the assessor who made it"})
    by = fields.String(metadata={"description": "the API key's actor that sent it"})
    at = Moment()
    before = fields.Dict(metadata={"description": "the input as it was"})
    after = fields.Dict(allow_none=True, metadata={"description": "the input as corrected; none for a void"})


class Corrected(Schema):
    """The fields an own input shows about its corrections (更正)."""
    voided = fields.Boolean(metadata={"description": "voided as entered wrongly: it no longer counts"})
    void_reason = fields.String(allow_none=True)
    corrections = fields.List(fields.Nested(CorrectionOut), metadata={
        "description": "every void or correction, each with the input before and after (in the GET of one)"})


class EvaluationOut(Corrected):
    id = fields.Integer()
    enterprise = fields.String()
    department = fields.String()
    period = fields.String()
    scores = fields.Dict(keys=fields.String(), values=fields.Float())
    score = fields.Float(metadata={"description": "the mean of the criteria's scores"})
    recorded_by = fields.String()
    recorded_at = Moment()


class ListQuery(Schema):
    department = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    period = fields.String(load_default=None, validate=_period_ok)


class PointIn(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(("enterprise", "village")))
    town_street = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))


class PointOut(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    town_street = fields.String(allow_none=True)
    updated_at = Moment()


class VisitIn(Schema):
    department = fields.String(required=True, validate=validate.Length(min=1, max=64))
    point_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))
    visited_at = Moment(required=True)
    finding = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    due_at = Moment(required=True)
    visitor = fields.String(required=True, validate=validate.Length(min=1, max=100))


class VisitCloseIn(Schema):
    evidence = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    closed_at = Moment(load_default=None, allow_none=True)


class VisitsQuery(Schema):
    department = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    state = fields.String(load_default=None, validate=validate.OneOf(("open", "closed")))


class VisitOut(Corrected):
    id = fields.Integer()
    department = fields.String()
    point_code = fields.String(allow_none=True)
    visited_at = Moment()
    finding = fields.String()
    due_at = Moment()
    visitor = fields.String()
    state = fields.String()
    evidence = fields.String(allow_none=True)
    closed_at = Moment(allow_none=True)
    closed_by = fields.String(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "past its due time without being closed by then"})
    recorded_at = Moment()


class AdjustmentIn(Schema):
    department = fields.String(required=True, validate=validate.Length(min=1, max=64))
    period = fields.String(required=True, validate=_period_ok)
    value = _adjustment_value(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    approved_by = fields.String(required=True, validate=validate.Length(min=1, max=100))


class AdjustmentOut(Corrected):
    id = fields.Integer()
    department = fields.String()
    period = fields.String()
    value = fields.Float()
    reason = fields.String()
    approved_by = fields.String()
    recorded_by = fields.String()
    recorded_at = Moment()


class CriticismIn(Schema):
    department = fields.String(required=True, validate=validate.Length(min=1, max=64))
    issued_at = Moment(required=True)
    document = fields.String(required=True, validate=validate.Length(min=1, max=200))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CriticismOut(Corrected):
    id = fields.Integer()
    department = fields.String()
    issued_at = Moment()
    document = fields.String()
    reason = fields.String()
    recorded_by = fields.String()
    recorded_at = Moment()


# -- corrections (更正) -----------------------------------------------------------------------------

class _Changes(Schema):
    @validates_schema
    def _some(self, data, **kwargs):
        if not data:
            raise ValidationError("name at least one field to correct / 至少更正一项")


class EvaluationChanges(_Changes):
    enterprise = fields.String(validate=validate.Length(min=1, max=200))
    department = fields.String(validate=validate.Length(min=1, max=64))
    period = fields.String(validate=_period_ok)
    scores = _scores()


class VisitChanges(_Changes):
    department = fields.String(validate=validate.Length(min=1, max=64))
    point_code = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    finding = fields.String(validate=validate.Length(min=1, max=5000))
    due_at = Moment()


class CriticismChanges(_Changes):
    department = fields.String(validate=validate.Length(min=1, max=64))
    issued_at = Moment()
    document = fields.String(validate=validate.Length(min=1, max=200))
    reason = fields.String(validate=validate.Length(min=1, max=2000))


class AdjustmentChanges(_Changes):
    department = fields.String(validate=validate.Length(min=1, max=64))
    period = fields.String(validate=_period_ok)
    value = _adjustment_value()
    reason = fields.String(validate=validate.Length(min=1, max=2000))
    approved_by = fields.String(validate=validate.Length(min=1, max=100))


class VoidIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                           metadata={"description": "why the input was wrong (作废理由)"})
    assessor = fields.String(required=True, validate=validate.Length(min=1, max=100),
                             metadata={"description": "the assessor who voids it (经办人)"})


def _correct_in(name: str, changes: type[Schema]) -> type[Schema]:
    return type(name, (VoidIn,), {
        "changes": fields.Nested(changes, required=True, metadata={
            "description": "the fields to correct, with their right values (only those named change)"}),
        "reason": fields.String(required=True, validate=validate.Length(min=2, max=2000),
                                metadata={"description": "why the input was wrong (更正理由)"}),
    })


EvaluationCorrectIn = _correct_in("EvaluationCorrectIn", EvaluationChanges)
VisitCorrectIn = _correct_in("VisitCorrectIn", VisitChanges)
CriticismCorrectIn = _correct_in("CriticismCorrectIn", CriticismChanges)
AdjustmentCorrectIn = _correct_in("AdjustmentCorrectIn", AdjustmentChanges)


class CorrectionsQuery(Schema):
    kind = fields.String(load_default=None, validate=validate.OneOf(CORRECTION_KINDS))
    action = fields.String(load_default=None, validate=validate.OneOf(CORRECTION_ACTIONS))
    department = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    period = fields.String(load_default=None, validate=_period_ok)
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=5000))


# -- scores -----------------------------------------------------------------------------------------

class ScoresQuery(Schema):
    period = fields.String(required=True, validate=_period_ok)


class ReportQuery(ScoresQuery):
    format = fields.String(load_default=None, validate=validate.OneOf(FORMATS),
                           metadata={"description": "json (default), csv or html; else by the Accept header"})


class MonthQuery(Schema):
    period = fields.String(required=True, validate=_month_ok)


STANDINGS = "ranked, not_ranked (no metric reached its minimum sample) or not_assessed (registered as not assessed)"


class ScoreRow(Schema):
    department = fields.String()
    name = fields.String()
    group = fields.String(metadata={"description": "the register's tier: city or town_street"})
    group_zh = fields.String(metadata={"description": "市直部门 or 镇街"})
    ranking_group = fields.String(metadata={
        "description": "the group it is ranked in (rules' groups): city or town_street when ranked separately, all "
                       "when together; rank, tier and advanced unit are within it"})
    ranking_group_zh = fields.String()
    group_size = fields.Integer(metadata={"description": "the ranked units of its ranking group (the n of its "
                                                         "thirds)"})
    standing = fields.String(metadata={"description": STANDINGS})
    standing_zh = fields.String(metadata={"description": "参与排名 / 不参与排名 / 不参与考核"})
    standing_reason = fields.String(metadata={"description": "why not ranked or not assessed (Chinese)"})
    insufficient = fields.List(fields.String(), metadata={
        "description": "the metrics with not enough data (数据不足), left out of the composite"})
    composite = fields.Float(allow_none=True, metadata={"description": "none when not ranked or not assessed"})
    rank = fields.Integer(allow_none=True, metadata={"description": "its rank within its ranking group"})
    tier = fields.Integer(allow_none=True, metadata={"description": "三档 within its ranking group: 1, 2 or 3; none "
                                                                    "when not ranked"})
    tier_label = fields.String()
    tier_bonus = fields.Float()
    bonus = fields.Float(metadata={"description": "tier bonus + the advanced-unit bonus"})
    advanced_unit = fields.Boolean()
    disqualified = fields.Boolean()
    disqualification = fields.List(fields.String())
    efficiency_warnings = fields.Integer()
    deduction = fields.Float()
    adjustment = fields.Float()
    final = fields.Float(allow_none=True, metadata={"description": "none for a unit not assessed"})
    metrics = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True), metadata={
        "description": "each metric's score; none: not enough data (数据不足)"})


class MetricRuleOut(Schema):
    code = fields.String()
    label_zh = fields.String()
    weight = fields.Float()
    kind = fields.String()
    inputs = fields.List(fields.String())
    min_sample = fields.Float(metadata={"description": "the sample the metric needs to count for a department"})
    basis = fields.List(fields.String(), metadata={"description": "the facts whose sum is the sample"})
    basis_label_zh = fields.String()


class ScoresOut(Schema):
    period = fields.String()
    label_zh = fields.String()
    state = fields.String(metadata={"description": "open (computed live from the ledger) or closed (published)"})
    revision = fields.Integer()
    rules_version = fields.String()
    as_of = Moment(metadata={"description": "the moment red cards and visits are judged at"})
    closed_at = Moment(allow_none=True)
    rows = fields.List(fields.Nested(ScoreRow))
    metrics = fields.List(fields.Nested(MetricRuleOut))
    notes_zh = fields.List(fields.String(), metadata={"description": "the rules' explanations (Chinese)"})
    late_facts = fields.List(fields.Nested(FactOut), metadata={
        "description": "facts recorded after the period was closed: shown, not counted until a reopening"})
    open_objections = fields.List(fields.Nested(lambda: OpenObjectionOut()), metadata={
        "description": "objections on the period's facts open now (open period) or when it was closed"})


class MetricBreakdown(Schema):
    code = fields.String()
    label_zh = fields.String()
    weight = fields.Float()
    kind = fields.String()
    score = fields.Float(allow_none=True)
    inputs = fields.Dict(keys=fields.String(), values=fields.Float())
    status = fields.String(metadata={
        "description": "scored, penalised (below the minimum sample with a deduction: counted), insufficient "
                       "(数据不足: left out) or not_assessed"})
    sample = fields.Float(allow_none=True)
    min_sample = fields.Float()
    basis_label_zh = fields.String()
    effective_weight = fields.Float(metadata={"description": "its share of the composite in percent, after the "
                                                             "weights of the metrics left out are renormalised"})
    explanation_zh = fields.String()


class DepartmentScoreOut(Schema):
    period = fields.String()
    state = fields.String()
    rules_version = fields.String()
    row = fields.Nested(ScoreRow)
    standing = fields.String(metadata={"description": STANDINGS})
    standing_zh = fields.String()
    standing_reason = fields.String()
    explanation_zh = fields.List(fields.String(), metadata={
        "description": "why not ranked or not assessed, which metrics had not enough data, the weights used"})
    notes_zh = fields.List(fields.String())
    metrics = fields.List(fields.Nested(MetricBreakdown))
    totals = fields.Dict(keys=fields.String(), values=fields.Float())
    facts = fields.List(fields.Nested(FactOut))
    visits_overdue = fields.List(fields.Nested(VisitOut))
    adjustments = fields.List(fields.Nested(AdjustmentOut))
    criticisms = fields.List(fields.Nested(CriticismOut))
    unresolved_red_cards = fields.List(fields.String())


class ReopenIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AuditOut(Schema):
    action = fields.String()
    revision = fields.Integer()
    by = fields.String()
    reason = fields.String(allow_none=True)
    at = Moment()


class PeriodOut(Schema):
    period = fields.String()
    state = fields.String()
    revision = fields.Integer()
    closed_at = Moment(allow_none=True)
    closed_by = fields.String(allow_none=True)
    rules_version = fields.String(allow_none=True)
    event_id = fields.String(allow_none=True)
    audit = fields.List(fields.Nested(AuditOut))
    replay_matches = fields.Boolean(allow_none=True, metadata={
        "description": "recomputing the published results from the ledger (as of the close) gives the same rows; "
                       "none when open or published under other rules (see replay_note)"})
    replay_note = fields.String(allow_none=True)
    late_facts = fields.Integer()
    open_objections = fields.List(fields.Nested(lambda: OpenObjectionOut()), metadata={
        "description": "objections on the period's facts open now (open period) or when it was closed "
                       "(published as open)"})


class ClosePeriodIn(Schema):
    with_open_objections = fields.Boolean(load_default=False, metadata={
        "description": "close although objections on the period's facts are open: they are published as open"})


# -- objections (申诉) -------------------------------------------------------------------------------

class ObjectionIn(Schema):
    fact_id = Id(required=True)
    reasons = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class DecisionIn(Schema):
    reasons = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class ObjectionsQuery(Schema):
    department = fields.String(load_default=None, validate=CODE)
    state = fields.String(load_default=None, validate=validate.OneOf(OBJECTION_STATES))
    period = fields.String(load_default=None, validate=_period_ok)


class OpenObjectionOut(Schema):
    id = fields.Integer()
    fact_id = fields.Integer()
    department = fields.String()
    metric = fields.String()
    period = fields.String()
    lodged_at = Moment()


class ObjectionStep(Schema):
    action = fields.String(metadata={"description": "lodged, upheld or rejected"})
    by = fields.String()
    at = Moment()
    reasons = fields.String()
    on_behalf = fields.Boolean()


class ObjectionOut(Schema):
    id = fields.Integer()
    fact_id = fields.Integer()
    department = fields.String()
    period = fields.String(metadata={"description": "the fact's period"})
    metric = fields.String()
    reasons = fields.String()
    lodged_by = fields.String()
    on_behalf = fields.Boolean(metadata={"description": "entered by the assessment office for the department"})
    lodged_at = Moment()
    state = fields.String(metadata={"description": "open, upheld (the fact voided) or rejected"})
    decision_reasons = fields.String(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = Moment(allow_none=True)
    fact = fields.Nested(FactOut, allow_none=True)
    history = fields.List(fields.Nested(ObjectionStep))


class GroupListsOut(Schema):
    group = fields.String()
    label_zh = fields.String()
    red = fields.List(fields.Nested(ScoreRow))
    black = fields.List(fields.Nested(ScoreRow))


class ListsOut(Schema):
    period = fields.String()
    red = fields.List(fields.Nested(ScoreRow), metadata={"description": "红榜: the best five of each ranking group"})
    black = fields.List(fields.Nested(ScoreRow), metadata={
        "description": "黑榜: the worst five of each ranking group, worst first"})
    groups = fields.List(fields.Nested(GroupListsOut), metadata={"description": "the lists of each ranking group"})


# -- 驻莱单位 -----------------------------------------------------------------------------------------

class StationedRow(Schema):
    department = fields.String()
    name = fields.String()
    superior = fields.String(metadata={"description": "the superior authority the report is addressed to"})
    evaluations = fields.Integer(metadata={"description": "enterprise evaluations in the period (voided ones not)"})
    average = fields.Float(allow_none=True, metadata={"description": "their mean score; none when not evaluated"})
    lowest = fields.Float(allow_none=True)
    highest = fields.Float(allow_none=True)
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "evaluations per score band of the rule file (优秀, 良好, 一般, 较差)"})
    rank = fields.Integer(allow_none=True, metadata={"description": "rank among the stationed units by mean"})
    ranked_units = fields.Integer()


class BandOut(Schema):
    label_zh = fields.String()
    min = fields.Float()


class SuperiorOut(Schema):
    superior = fields.String()
    units = fields.List(fields.Nested(StationedRow))


class StationedOut(Schema):
    period = fields.String()
    label_zh = fields.String()
    as_of = Moment()
    rules_version = fields.String()
    bands = fields.List(fields.Nested(BandOut))
    rows = fields.List(fields.Nested(StationedRow), metadata={"description": "every stationed unit, best first"})
    superiors = fields.List(fields.Nested(SuperiorOut), metadata={"description": "the same, by superior"})


# -- rectification of visit findings (整改) -----------------------------------------------------------

MAX_ATTACHMENTS = 20


class RectificationIn(Schema):
    corrected = fields.String(required=True, validate=validate.Length(min=2, max=4000),
                              metadata={"description": "what was corrected (整改情况)"})
    corrected_by = fields.String(required=True, validate=validate.Length(min=1, max=100),
                                 metadata={"description": "who corrected it (整改责任人); shown to the assessment "
                                                          "office and the department, never in events or logs"})
    attachments = evidence_links(MAX_ATTACHMENTS)


class RectificationAcceptIn(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000),
                         metadata={"description": "the assessor's remark, kept with the close-out evidence"})


class RectificationReturnIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                           metadata={"description": "why the report is sent back (退回理由)"})


class RectificationsQuery(Schema):
    department = fields.String(load_default=None, validate=CODE)
    state = fields.String(load_default=None, validate=validate.OneOf(RECTIFICATION_STATES))


class RoundOut(Schema):
    round = fields.Integer()
    corrected = fields.String()
    corrected_by = fields.String()
    attachments = fields.List(fields.String())
    submitted_by = fields.String()
    submitted_at = Moment()
    decision = fields.String(allow_none=True, metadata={"description": "accepted, returned, or none (waiting)"})
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = Moment(allow_none=True)
    note = fields.String(allow_none=True, metadata={"description": "the return's reason or the acceptance's remark"})


class RectificationOut(Schema):
    visit_id = fields.Integer()
    department = fields.String()
    finding = fields.String()
    visited_at = Moment()
    state = fields.String(metadata={"description": "pending, submitted (waits for review), accepted (closed out "
                                                   "with it), returned (to submit again) or closed (closed out "
                                                   "otherwise)"})
    state_zh = fields.String()
    due_at = Moment(allow_none=True, metadata={"description": "the report is due before this moment"})
    clock_error = fields.String(allow_none=True, metadata={
        "description": "why there is no due time (the calendar has no schedule for the year)"})
    overdue = fields.Boolean()
    overdue_at = Moment(allow_none=True, metadata={"description": "when it became overdue (announced once)"})
    current = fields.Nested(RoundOut, allow_none=True)
    rounds = fields.List(fields.Nested(RoundOut))
