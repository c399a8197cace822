"""The HTTP API's schemas of the operator's desk: the export's query, and a caller's history."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..schemas import AppealOut, SearchFilters


class ExportQuery(SearchFilters):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "html")), metadata={
        "description": "csv (Excel: UTF-8 with a BOM, Chinese headers) or html (the printable list)"})


class CallerQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class CategoryCountOut(Schema):
    category = fields.String()
    category_name = fields.String()
    count = fields.Integer()


class RepeatCountsOut(Schema):
    total = fields.Integer(metadata={"description": "every appeal from this number (repeat calls included)"})
    open = fields.Integer(metadata={"description": "not yet closed, invalid, withdrawn or a linked repeat call"})
    last_30_days = fields.Integer(metadata={"description": "received in the last 30 days"})
    by_category = fields.List(fields.Nested(CategoryCountOut), metadata={"description": "most first"})


class CallerHistoryOut(Schema):
    phone = fields.String(metadata={"description": "the number as the search key (normalised)"})
    counts = fields.Nested(RepeatCountsOut)
    items = fields.List(fields.Nested(AppealOut), metadata={"description": "newest first"})
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
