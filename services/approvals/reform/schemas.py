"""The HTTP API's schemas of the reform figures: retiring and merging items, the history, the report."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.kernel.fields import Day, Moment, page_of

from ..schemas import CODE, ItemOut

DOCUMENT = validate.Length(min=2, max=100)
YEAR = validate.Range(min=2004, max=2100)
FORMATS = ("json", "csv", "html")


class ItemRetireIn(Schema):
    document = fields.String(required=True, validate=DOCUMENT,
                             metadata={"description": "the document that decided it, e.g. 莱政发〔2026〕5号"})
    effective_on = Day(load_default=None, allow_none=True, metadata={
        "description": "the day it takes effect (default today; a coming day is allowed): from then on the item "
                       "takes no new application"})
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                           metadata={"description": "why it is retired (取消理由)"})


class ItemMergeIn(Schema):
    into = fields.String(required=True, validate=CODE, metadata={"description": "the active item it merges into"})
    document = fields.String(required=True, validate=DOCUMENT,
                             metadata={"description": "the document that decided it"})
    effective_on = Day(load_default=None, allow_none=True, metadata={
        "description": "the day it takes effect (default today; a coming day is allowed)"})
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ItemChangeOut(Schema):
    id = fields.Integer()
    item_code = fields.String()
    change = fields.String(metadata={"description": "initial (the catalogue as found: seeded or migrated), added, "
                                                    "changed, retired, merged"})
    change_zh = fields.String()
    effective_on = fields.Date()
    document = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    name = fields.String()
    department = fields.String()
    department_name = fields.String()
    kind = fields.String()
    statutory_limit = fields.Integer(allow_none=True)
    committed_limit = fields.Integer(allow_none=True)
    joint = fields.Boolean()
    merged_into = fields.String(allow_none=True)
    previous = fields.Dict(allow_none=True, metadata={"description": "the tracked figures before the change"})
    recorded_by = fields.String()
    recorded_at = Moment()


class ItemHistoryOut(Schema):
    item = fields.Nested(ItemOut)
    changes = fields.List(fields.Nested(ItemChangeOut))


class ItemChangesQuery(Schema):
    year = fields.Integer(required=True, validate=YEAR)
    department = fields.String(load_default=None, validate=CODE)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


ItemChangePage = page_of(ItemChangeOut, "ItemChangePage")


class ReformReportQuery(Schema):
    year = fields.Integer(required=True, validate=YEAR)
    format = fields.String(load_default=None, validate=validate.OneOf(FORMATS),
                           metadata={"description": "json, csv or html (printable); default by the Accept header"})


class ReformFiguresOut(Schema):
    items_start = fields.Integer(metadata={"description": "items in force at the start of the year"})
    items_now = fields.Integer(metadata={"description": "items in force on as_of"})
    items_cut_pct = fields.Float(allow_none=True, metadata={"description": "(start − now) / start × 100"})
    added = fields.Integer()
    retired = fields.Integer()
    merged = fields.Integer()
    limit_changes = fields.Integer(metadata={"description": "changes of an item's figures in the year"})
    statutory_avg_start = fields.Float(allow_none=True)
    statutory_avg_now = fields.Float(allow_none=True)
    statutory_cut_pct = fields.Float(allow_none=True)
    committed_avg_start = fields.Float(allow_none=True)
    committed_avg_now = fields.Float(allow_none=True)
    committed_cut_pct = fields.Float(allow_none=True)
    decided = fields.Integer(metadata={"description": "applications decided in the year"})
    items_decided = fields.Integer(metadata={"description": "items with at least one decided application"})
    actual_avg_days = fields.Float(allow_none=True, metadata={
        "description": "working days from acceptance to decision: each item's average, averaged over the items"})


class ReformDepartmentFiguresOut(ReformFiguresOut):
    department = fields.String()
    department_name = fields.String()


class ReformReportOut(Schema):
    year = fields.Integer()
    start_on = fields.Date()
    as_of = fields.Date(metadata={"description": "the day 'now' means: today in the running year, else Dec 31"})
    generated_at = Moment()
    uncounted = fields.Integer(metadata={"description": "decided applications whose working days could not be "
                                                        "counted (no calendar schedule for their year)"})
    departments = fields.List(fields.Nested(ReformDepartmentFiguresOut))
    city = fields.Nested(ReformFiguresOut)

