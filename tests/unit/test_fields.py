"""The kernel's HTTP fields: a time, a date or an id at the edge of what Python or a database can hold is a
field message (400), never an overflow (500); times are written as RFC 3339 in Beijing time; and every
service's API takes its times and query ids through these fields."""

import contextlib
import inspect
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from services.appeals.service import AppealsService
from services.approvals.service import ApprovalsService
from services.kernel import clock
from services.kernel.fields import MAX_ID, Day, Id, Moment
from services.kernel.http import ApiEndpoint
from services.kernel.workcal import CalendarUnavailable, WorkCalendar, moment_bounds
from services.notify.service import NotifyService
from services.scoring.service import ScoringService

SERVICES = (AppealsService, ApprovalsService, ScoringService, NotifyService)
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
ANY_MOMENT = st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=OFFSETS)
EDGES = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999+00:00",
         "1900-01-01T08:00:00+08:00", "1901-12-13T20:45:52+08:00", "2003-12-31T23:59:59+08:00"]


class Body(Schema):
    at = Moment(load_default=None)
    day = Day(load_default=None)
    id = Id(load_default=None)


def test_moment_bounds_cover_the_calendar_and_next_year():
    now = datetime(2026, 12, 2, 12, tzinfo=clock.TZ)
    earliest, latest = moment_bounds(now)
    years = WorkCalendar().years_covered()
    assert earliest == datetime(years[0], 1, 1, tzinfo=clock.TZ)
    assert latest == datetime(max(years[-1], 2026) + 2, 1, 1, tzinfo=clock.TZ)


@pytest.mark.parametrize("text", EDGES)
def test_a_time_at_the_edge_or_before_the_calendar_is_a_field_message(text):
    with pytest.raises(ValidationError) as exc:
        Body().load({"at": text})
    assert list(exc.value.messages) == ["at"]


@settings(max_examples=300, deadline=None)
@given(ANY_MOMENT)
def test_any_time_is_either_within_the_calendar_or_a_field_message(moment):
    try:
        loaded = Body().load({"at": moment.isoformat()})["at"]
    except ValidationError as exc:
        assert list(exc.messages) == ["at"]
        return
    earliest, latest = moment_bounds(clock.now())
    assert earliest <= loaded < latest
    # the calendar has the day, or says it does not yet (next year): never an overflow
    with contextlib.suppress(CalendarUnavailable):
        WorkCalendar().is_working_day(loaded)
    assert (loaded + timedelta(days=366)).astimezone(clock.TZ)  # and arithmetic near it cannot overflow


@settings(max_examples=200, deadline=None)
@given(st.dates())
def test_any_date_is_either_within_the_calendar_or_a_field_message(day):
    try:
        loaded = Body().load({"day": day.isoformat()})["day"]
    except ValidationError as exc:
        assert list(exc.messages) == ["day"]
        return
    with contextlib.suppress(CalendarUnavailable):
        WorkCalendar().add_working_days(loaded, 60)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(), st.integers(min_value=2**62, max_value=2**80), st.integers(max_value=1)))
def test_any_integer_is_either_an_id_a_database_holds_or_a_field_message(number):
    try:
        loaded = Body().load({"id": str(number)})["id"]
    except ValidationError as exc:
        assert list(exc.messages) == ["id"]
        assert not 1 <= number <= MAX_ID
        return
    assert 1 <= loaded <= MAX_ID == 2**63 - 1


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_times_are_written_with_a_whole_minute_beijing_offset(moment):
    written = Body().dump({"at": moment})["at"]
    assert written.endswith(("+08:00", "+09:00")), written  # +09:00: Shanghai's summer time, 1986-1991
    assert datetime.fromisoformat(written) == moment


def test_shanghai_local_mean_time_is_not_written():
    old = datetime(1900, 1, 1, tzinfo=clock.TZ)  # the zone database's +08:05:43
    assert Body().dump({"at": old})["at"] == "1899-12-31T23:54:17+08:00"
    assert clock.isoformat(old) == "1899-12-31T23:54:17+08:00"


def _api_schemas():
    for service in SERVICES:
        for name, method in inspect.getmembers(service, callable):
            for ext in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
                if isinstance(ext, ApiEndpoint):
                    for which, schema in (("body", ext.body_schema), ("query", ext.query_schema)):
                        if schema is not None:
                            yield f"{service.name}.{name}.{which}", schema


def _fields(schema: Schema, prefix=""):
    for key, field in schema.fields.items():
        if field.dump_only:
            continue
        yield prefix + key, field
        if isinstance(field, fields.Nested):
            yield from _fields(field.schema, f"{prefix}{key}.")
        if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            yield from _fields(field.inner.schema, f"{prefix}{key}[].")


def test_every_api_takes_times_dates_and_ids_through_the_kernel_fields_or_bounds_them():
    seen, wrong = 0, []
    for where, schema_cls in _api_schemas():
        for name, field in _fields(schema_cls(), where + "."):
            seen += 1
            if isinstance(field, fields.DateTime) and not isinstance(field, Moment):
                wrong.append(name)
            if type(field) is fields.Date and not any(isinstance(v, validate.Range) for v in field.validators):
                wrong.append(name)
            if isinstance(field, fields.Integer) and not any(getattr(v, "max", None) for v in field.validators):
                wrong.append(name)  # an unbounded integer: one over 64 bits fails in the database
    assert seen > 100
    assert not wrong, wrong


def test_the_range_is_stated_in_the_message():
    with pytest.raises(ValidationError) as exc:
        Body().load({"at": "1900-01-01T00:00:00+08:00", "day": str(date(9999, 12, 31))})
    earliest, latest = moment_bounds(clock.now())
    assert str(earliest.year) in exc.value.messages["at"][0] and str(latest.year - 1) in exc.value.messages["day"][0]


def test_a_moment_read_back_from_the_database_has_a_whole_minute_offset(tmp_path):
    import sqlalchemy as sa

    from services.kernel.db import Moment as MomentColumn
    from services.kernel.db import create_db_engine

    engine = create_db_engine(f"sqlite:///{tmp_path / 'm.db'}")
    table = sa.Table("m", sa.MetaData(), sa.Column("at", MomentColumn()))
    table.create(engine)
    stored = [datetime(1900, 1, 1, tzinfo=UTC), datetime(2026, 5, 1, 1, 2, 3, tzinfo=UTC)]
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"at": at} for at in stored])
        read = [row.at for row in conn.execute(sa.select(table.c.at))]
    assert read == stored
    assert [at.utcoffset() for at in read] == [timedelta(hours=8)] * 2
    assert read[0].isoformat() == "1900-01-01T08:00:00+08:00"
    engine.dispose()
