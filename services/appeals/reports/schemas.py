"""marshmallow schemas of the hot-issue report: the period asked for, and what the JSON answer holds (and the
OpenAPI document says)."""

from __future__ import annotations

from marshmallow import Schema, fields, post_load, validate

from services.kernel import clock

from .domain import EARLIEST, LATEST, resolve_period

FORMATS = ("json", "csv", "html")

_DATE_RANGE = validate.Range(min=EARLIEST, max=LATEST, error="must be between {min} and {max}")


class PeriodIn(Schema):
    """`from` and `to`: dates (YYYY-MM-DD) in Asia/Shanghai, both included; default the last 7 days."""

    date_from = fields.Date(data_key="from", load_default=None, validate=_DATE_RANGE,
                            metadata={"description": "first day, included (default: to − 6)"})
    date_to = fields.Date(data_key="to", load_default=None, validate=_DATE_RANGE,
                          metadata={"description": "last day, included (default: today)"})

    @post_load
    def to_period(self, data, **kwargs):
        today = clock.now().astimezone(clock.TZ).date()
        data["period"] = resolve_period(data.pop("date_from"), data.pop("date_to"), today)
        return data


class HotIssuesQuery(PeriodIn):
    format = fields.String(load_default=None, validate=validate.OneOf(FORMATS),
                           metadata={"description": "json (default), csv or html; else by the Accept header"})


# -- what the JSON answer holds (and the OpenAPI document says) -------------------------------------

class PeriodOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    days = fields.Integer()
    previous_from = fields.Date()
    previous_to = fields.Date()
    timezone = fields.String()


class Figures(Schema):
    count = fields.Integer(metadata={"description": "cases received in the period (repeat calls not included)"})
    previous = fields.Integer(metadata={"description": "cases in the previous period of the same length"})
    change = fields.Integer()
    change_pct = fields.Float(allow_none=True, metadata={"description": "null when previous is 0"})
    open = fields.Integer(metadata={"description": "of the period's cases: not closed yet"})
    overdue = fields.Integer(metadata={"description": "of the period's cases: went past their deadline"})
    repeat_calls = fields.Integer(metadata={"description": "repeat calls linked to open cases, in the period"})


class CategoryOut(Figures):
    rank = fields.Integer()
    category = fields.String()
    category_name = fields.String()


class TownStreetOut(Figures):
    rank = fields.Integer()
    town_street = fields.String(allow_none=True, metadata={"description": "null: not given"})
    town_street_name = fields.String(allow_none=True, metadata={
        "description": "its name in the register of organisations (DEPARTMENTS_FILE), else the code"})


class CallerCategoryOut(Schema):
    category = fields.String()
    category_name = fields.String()
    count = fields.Integer()


class CallerOut(Schema):
    phone = fields.String(metadata={"description": "masked, e.g. 138****5678"})
    count = fields.Integer(metadata={"description": "appeals received in the period, repeat calls included"})
    categories = fields.List(fields.Nested(CallerCategoryOut))
    case_nos = fields.List(fields.String(), metadata={"description": "the latest 10"})


class GroupOut(Schema):
    category = fields.String()
    category_name = fields.String()
    town_street = fields.String(allow_none=True)
    town_street_name = fields.String(allow_none=True)
    address = fields.String(allow_none=True, metadata={"description": "null: a town-street-wide group"})
    count = fields.Integer()
    repeat_calls = fields.Integer()
    open = fields.Integer()
    overdue = fields.Integer()
    first_received_at = fields.AwareDateTime()
    last_received_at = fields.AwareDateTime()
    case_nos = fields.List(fields.String(), metadata={"description": "the latest 10"})


class HotIssuesOut(Schema):
    period = fields.Nested(PeriodOut)
    generated_at = fields.AwareDateTime()
    totals = fields.Nested(Figures)
    categories = fields.List(fields.Nested(CategoryOut))
    town_streets = fields.List(fields.Nested(TownStreetOut))
    repeat_callers = fields.List(fields.Nested(CallerOut))
    groups = fields.List(fields.Nested(GroupOut))


class PublishedOut(Schema):
    event_id = fields.String()
    period_from = fields.Date()
    period_to = fields.Date()
    top_categories = fields.List(fields.String())
    top_category_names = fields.List(fields.String(), metadata={"description": "their names, in the same order"})
    total = fields.Integer()

