"""marshmallow fields of every service's HTTP schemas, so that a time, a date or an id means the same, and
fails the same way (400 with a field message, never a 500), on every endpoint."""

from __future__ import annotations

from datetime import date, datetime

from marshmallow import Schema, ValidationError, fields, validate

from . import clock
from .workcal import moment_bounds

__all__ = ["Day", "Id", "MAX_ID", "Moment", "page_of"]

# SQLite's INTEGER and PostgreSQL's BIGINT are signed 64-bit: a larger id cannot exist, and binding one fails.
MAX_ID = 2**63 - 1


def _span_message(earliest: datetime, latest: datetime) -> str:
    last_year = latest.year - 1
    return (f"must lie between {earliest.year} and the end of {last_year} / "
            f"时间须在 {earliest.year} 年至 {last_year} 年之间")


class Moment(fields.AwareDateTime):
    """A date-time with its offset (RFC 3339). On input it must fall in the years the working-day calendar
    covers, up to the end of next year or `years_ahead` years (`workcal.moment_bounds`): a time outside has
    no clock, and times at the edge of Python's range overflow once converted to Beijing time. Written in
    Beijing time, `+08:00`."""

    def __init__(self, *, years_ahead: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.years_ahead = years_ahead

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        earliest, latest = moment_bounds(clock.now(), self.years_ahead)
        # Compare years first: converting 0001-01-01T00:00+14:00 or 9999-12-31T23:59-12:00 overflows.
        if not earliest.year - 1 <= moment.year <= latest.year or not earliest <= moment < latest:
            raise ValidationError(_span_message(earliest, latest))
        return moment

    def _serialize(self, value, attr, obj, **kwargs) -> str | None:
        if value is None:
            return None
        return clock.isoformat(value)


class Day(fields.Date):
    """A calendar date (YYYY-MM-DD), bounded like `Moment`: adding working days to 9999-12-31 overflows, and
    a day outside the calendar's years has no working days to count."""

    def __init__(self, *, years_ahead: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.years_ahead = years_ahead

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        earliest, latest = moment_bounds(clock.now(), self.years_ahead)
        if not earliest.date() <= day < latest.date():
            raise ValidationError(_span_message(earliest, latest))
        return day


class Id(fields.Integer):
    """A row id (or any number a query compares with one): a whole number from `min` (default 1) to 2⁶³−1.
    A `validate.Range`, so that the OpenAPI document states the bounds too."""

    def __init__(self, *, min: int = 1, **kwargs):  # noqa: A002  named like validate.Range's bound
        bound = validate.Range(min=min, max=MAX_ID, error=f"must be a whole number from {min} to {MAX_ID} / "
                                                          f"须为 {min} 至 {MAX_ID} 之间的整数")
        extra = kwargs.pop("validate", None)
        extra = [] if extra is None else list(extra) if isinstance(extra, list | tuple) else [extra]
        super().__init__(validate=[bound, *extra], **kwargs)


def evidence_links(max_items: int = 20) -> fields.List:
    """Links to evidence (a rectification report's attachments): http/https URLs only, at most `max_items`; no
    files are taken."""
    return fields.List(
        fields.Url(schemes={"http", "https"}, validate=validate.Length(max=2000)), load_default=list,
        validate=validate.Length(max=max_items),
        metadata={"description": f"links to the evidence (http/https, at most {max_items}); no files"})


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The answer of a paged list (`call.page`): `items` of `item`, `page`, `per_page`, `total` — one shape for every
    list; `name` is the schema's name in the OpenAPI document (e.g. "ReviewPage")."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item)), "page": fields.Integer(),
                             "per_page": fields.Integer(), "total": fields.Integer()}, name=name)

