"""The HTTP API's schemas of penalties: a penalty basis of the catalogue with its discretion bands, a filed penalty
decision, the list."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from services.kernel.fields import Day, Moment, page_of

from ..schemas import CODE
from .domain import CIRCUMSTANCES, FINE, KINDS, PARTY_KINDS

MAX_YUAN = 10_000_000_000  # 10¹⁰ yuan: beyond any fine, well within Numeric(14, 2)
YUAN = validate.Range(min=0, max=MAX_YUAN, error=f"yuan from 0 to {MAX_YUAN} / 金额须在 0 至 {MAX_YUAN} 元之间")
KINDS_DOC = ("warning 警告, fine 罚款, confiscation 没收违法所得, licence_suspension 暂扣许可证照, "
             "suspension 责令停产停业, licence_revocation 吊销许可证照, detention 行政拘留")
CASE_NO = validate.Regexp(r"^[^\s]{1,64}$", error="1 to 64 characters, no spaces / 案件编号为 1 至 64 个非空白字符")


def _cents(value: float) -> None:
    if round(value * 100) != round(value * 100, 6):
        raise ValidationError("at most two decimals (fen) / 金额最多保留两位小数")


def _distinct(value: list) -> None:
    if len(set(value)) != len(value):
        raise ValidationError("each kind once / 每种处罚只能填一次")


class Band(Schema):
    min = fields.Float(required=True, validate=[YUAN, _cents])
    max = fields.Float(required=True, validate=[YUAN, _cents])

    @validates_schema
    def _order(self, data, **_):
        if data["min"] > data["max"]:
            raise ValidationError("must not be below min / 上限不能低于下限", "max")


class PenaltyBaseIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "what the basis punishes, e.g. 未取得许可从事食品经营"})
    law = fields.String(required=True, validate=validate.Length(min=1, max=200),
                        metadata={"description": "the law or regulation, e.g. 《中华人民共和国食品安全法》"})
    article = fields.String(required=True, validate=validate.Length(min=1, max=100),
                            metadata={"description": "its article, e.g. 第一百二十二条第一款"})
    kinds = fields.List(fields.String(validate=validate.OneOf(KINDS)), required=True,
                        validate=[validate.Length(min=1, max=len(KINDS)), _distinct],
                        metadata={"description": f"the penalty kinds the basis allows: {KINDS_DOC}"})
    bands = fields.Dict(keys=fields.String(validate=validate.OneOf(CIRCUMSTANCES)), values=fields.Nested(Band),
                        load_default=dict,
                        metadata={"description": "the discretion standard (自由裁量基准): circumstance minor 轻微 / "
                                                 "general 一般 / serious 严重 → the fine's range {min, max} in yuan; "
                                                 "{}: none (no circumstance needed)"})

    @validates_schema
    def _fines(self, data, **_):
        if data.get("bands") and FINE not in data.get("kinds", ()):
            raise ValidationError("bands bound a fine: kinds must include fine / 裁量基准的金额幅度仅适用于罚款，"
                                  "处罚种类须包含罚款", "bands")


class PenaltyBaseSeed(PenaltyBaseIn):
    code = fields.String(required=True, validate=CODE)


class PenaltyBaseOut(Schema):
    code = fields.String()
    name = fields.String()
    law = fields.String()
    article = fields.String()
    kinds = fields.List(fields.String())
    kinds_zh = fields.List(fields.String())
    bands = fields.Dict(keys=fields.String(), values=fields.Nested(Band))
    updated_at = Moment()
    updated_by = fields.String()


class PenaltyIn(Schema):
    case_no = fields.String(required=True, validate=CASE_NO,
                            metadata={"description": "the decision's case number (案件编号), unique in the department: "
                                                     "the same filing again is answered with the first (retry-safe)"})
    party_kind = fields.String(required=True, validate=validate.OneOf(PARTY_KINDS),
                               metadata={"description": "enterprise 企业 or person 个人"})
    party_name = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "an enterprise's name; a person's name is kept masked (张*), never in full"})
    basis_code = fields.String(required=True, validate=CODE,
                               metadata={"description": "the penalty basis of the catalogue (处罚依据)"})
    kinds = fields.List(fields.String(validate=validate.OneOf(KINDS)), required=True,
                        validate=[validate.Length(min=1, max=len(KINDS)), _distinct],
                        metadata={"description": f"the penalties decided: {KINDS_DOC}"})
    amount = fields.Float(load_default=None, allow_none=True, validate=[YUAN, _cents],
                          metadata={"description": "the fine in yuan (with kind fine, and only then)"})
    circumstance = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(CIRCUMSTANCES),
                                 metadata={"description": "the circumstance found (违法情节): minor 轻微, "
                                                          "general 一般, serious 严重; a fine under a basis with "
                                                          "bands states it"})
    decided_on = Day(required=True, metadata={"description": "the decision's day (YYYY-MM-DD), not in the future"})
    hearing_held = fields.Boolean(load_default=False, metadata={"description": "a hearing (听证) was held"})

    @validates("party_name")
    def _name(self, value, **_):
        if not value.strip():
            raise ValidationError("must not be blank / 不能为空")

    @validates_schema
    def _fine(self, data, **_):
        fine, amount = FINE in data.get("kinds", ()), data.get("amount")
        if fine and amount is None:
            raise ValidationError("a fine states its amount / 罚款须填写金额", "amount")
        if fine and amount == 0:
            raise ValidationError("a fine is above 0 / 罚款金额须大于 0", "amount")
        if not fine and amount is not None:
            raise ValidationError("an amount only with kind fine / 仅罚款填写金额", "amount")


class PenaltyOut(Schema):
    id = fields.Integer()
    department = fields.String()
    department_name = fields.String()
    case_no = fields.String()
    party_kind = fields.String()
    party_name = fields.String(metadata={"description": "an enterprise's name; a person's masked"})
    basis_code = fields.String()
    basis_name = fields.String(allow_none=True)
    kinds = fields.List(fields.String())
    kinds_zh = fields.List(fields.String())
    amount = fields.Float(allow_none=True)
    circumstance = fields.String(allow_none=True)
    circumstance_zh = fields.String(allow_none=True)
    decided_on = fields.Date()
    hearing_held = fields.Boolean()
    filed_at = Moment()
    filed_by = fields.String()
    major = fields.Boolean(metadata={"description": "重大: filed within PENALTIES.FILING_DAYS working days"})
    major_reasons = fields.List(fields.String())
    filing_due_at = Moment(allow_none=True, metadata={"description": "a major one's limit (None: not major, or "
                                                                     "waiting for the calendar's year)"})
    late = fields.Boolean(allow_none=True, metadata={"description": "filed after its limit (None: not known yet)"})
    irregularities = fields.List(fields.String(), metadata={"description": "late_filing, out_of_band, "
                                                                           "no_circumstance"})
    irregularities_zh = fields.List(fields.String())


class PenaltiesQuery(Schema):
    department = fields.String(load_default=None, validate=CODE)
    basis_code = fields.String(load_default=None, validate=CODE)
    party_kind = fields.String(load_default=None, validate=validate.OneOf(PARTY_KINDS))
    major = fields.Boolean(load_default=None)
    late = fields.Boolean(load_default=None)
    irregular = fields.Boolean(load_default=None, metadata={"description": "with an irregularity or without"})
    from_ = Day(load_default=None, data_key="from", metadata={"description": "decided on or after (YYYY-MM-DD)"})
    to = Day(load_default=None, metadata={"description": "decided on or before (YYYY-MM-DD)"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))

    @validates_schema
    def _span(self, data, **_):
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError("must not be before from / 结束日期不能早于开始日期", "to")


PenaltyPage = page_of(PenaltyOut, "PenaltyPage")
