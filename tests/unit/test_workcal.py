"""Working-day calendar and deadline clock: statutory examples, override files, pauses, time zones."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.kernel.workcal import (
    TZ,
    CalendarUnavailable,
    DeadlineClock,
    WorkCalendar,
    YearSchedule,
    local_date,
)

CAL = WorkCalendar.load(None)

OVERRIDE_2027 = textwrap.dedent(
    """\
    # a made-up 2027 schedule, shaped like a State Council notice
    years:
      2027:
        holidays:
          - 2027-01-01
          - "2027-02-06..2027-02-14"
          - 2027-10-01..2027-10-07
        workdays: [2027-02-20, "2027-10-09"]
    """
)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def write(tmp_path, text: str):
    path = tmp_path / "calendar.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- calendar -------------------------------------------------------------------------------------


def test_domain_example_national_day_2026():
    assert CAL.add_working_days(date(2026, 9, 30), 5) == date(2026, 10, 13)
    assert CAL.working_days_between(date(2026, 9, 30), date(2026, 10, 13)) == 5


def test_make_up_saturday_counts_and_holiday_weekday_does_not():
    assert date(2026, 10, 10).weekday() == 5
    assert CAL.is_working_day(date(2026, 10, 10))
    assert not CAL.is_working_day(date(2026, 10, 11))
    assert not CAL.is_working_day(date(2026, 10, 5))  # a Monday inside the National Day holiday
    assert CAL.next_working_day(date(2026, 10, 9)) == date(2026, 10, 10)


def test_spring_festival_2026():
    # Feb 15–23 off; Saturday Feb 14 and Saturday Feb 28 are make-up days.
    assert CAL.is_working_day(date(2026, 2, 14))
    assert all(not CAL.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert CAL.next_working_day(date(2026, 2, 14)) == date(2026, 2, 24)
    assert CAL.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    # Sat 14 (1), Tue 24 .. Fri 27 (2-5), make-up Sat 28 (6)
    assert CAL.add_working_days(date(2026, 2, 13), 6) == date(2026, 2, 28)
    # 2-6 (5) + 9-13 (5) + 14 + 24-27 (4) + 28
    assert CAL.working_days_between(date(2026, 2, 1), date(2026, 2, 28)) == 16


def test_add_and_between_edge_cases():
    d = date(2026, 3, 4)
    assert CAL.add_working_days(d, 0) == d
    with pytest.raises(ValueError):
        CAL.add_working_days(d, -1)
    assert CAL.working_days_between(d, d) == 0
    assert CAL.working_days_between(date(2026, 3, 10), d) == 0


def test_across_years():
    # 2025-12-31 (Wed) → 2026-01-01..03 off, Sunday Jan 4 make-up, Mon Jan 5
    assert CAL.add_working_days(date(2025, 12, 30), 1) == date(2025, 12, 31)
    assert CAL.add_working_days(date(2025, 12, 30), 2) == date(2026, 1, 4)
    assert CAL.working_days_between(date(2024, 12, 31), date(2026, 12, 31)) == sum(
        CAL.working_days_between(date(y - 1, 12, 31), date(y, 12, 31)) for y in (2025, 2026)
    )


@pytest.mark.parametrize("year", [2003, 2027])
def test_year_without_schedule_raises(year):
    with pytest.raises(CalendarUnavailable) as err:
        CAL.is_working_day(date(year, 3, 3))
    assert err.value.year == year
    assert f"{year} 年" in str(err.value) and f"no holiday schedule loaded for {year}" in str(err.value)


def test_deadline_running_into_unscheduled_year_says_so():
    with pytest.raises(CalendarUnavailable) as err:
        CAL.add_working_days(date(2026, 12, 20), 20)
    assert err.value.year == 2027
    with pytest.raises(CalendarUnavailable):
        DeadlineClock(at(2026, 12, 20), 20, CAL).status(at(2026, 12, 21))


def test_years_covered():
    years = CAL.years_covered()
    assert years[0] == 2004 and 2026 in years and 2027 not in years


def test_override_file_adds_2027(tmp_path):
    cal = WorkCalendar.from_file(write(tmp_path, OVERRIDE_2027))
    assert 2027 in cal.years_covered()
    assert not cal.is_working_day(date(2027, 1, 1))
    assert not cal.is_working_day(date(2027, 2, 8))  # Monday inside the range
    assert cal.is_working_day(date(2027, 2, 20))  # make-up Saturday
    assert not cal.is_working_day(date(2027, 2, 21))  # plain Sunday
    assert cal.is_working_day(date(2027, 3, 1))
    assert cal.add_working_days(date(2026, 12, 30), 2) == date(2027, 1, 4)
    # Dec 21-25, 28-31 (9), Jan 4-8 (14), 11-15 (19), Mon 18 (20)
    assert cal.add_working_days(date(2026, 12, 20), 20) == date(2027, 1, 18)
    # The package's years are still there.
    assert cal.add_working_days(date(2026, 9, 30), 5) == date(2026, 10, 13)
    assert WorkCalendar.load(str(tmp_path / "calendar.yaml")).is_working_day(date(2027, 2, 20))
    assert WorkCalendar.load("").years_covered() == CAL.years_covered()


def test_override_replaces_package_year(tmp_path):
    cal = WorkCalendar.from_file(write(tmp_path, "years:\n  2026:\n    holidays: [2026-01-01]\n"))
    assert cal.is_working_day(date(2026, 10, 5))
    assert not cal.is_working_day(date(2026, 10, 10))


def test_empty_override_file_means_package_only(tmp_path):
    cal = WorkCalendar.from_file(write(tmp_path, "# nothing published yet\n"))
    assert cal.years_covered() == CAL.years_covered()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("years:\n  2027:\n    holidays: [2028-01-01]\n", "outside the year"),
        ("years:\n  2027:\n    holidays: [2027-01-01, 2027-02-20]\n    workdays: [2027-02-20]\n", "both"),
        ("years:\n  2027:\n    holidays: [2027-01-01]\n    bridges: []\n", "bridges"),
        ("yaers: {}\n", "yaers"),
        ("years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-02-22]\n", "Monday"),
        ('years:\n  2027:\n    holidays: ["2027-02-14..2027-02-06"]\n', "ends before"),
        ('years:\n  2027:\n    holidays: ["2026-12-31..2027-01-02"]\n', "outside the year"),
        ("years:\n  2027:\n    holidays: [soon]\n", "not a date"),
        ("years:\n  2027:\n    holidays: [2027-02-30]\n", "not valid YAML"),
        ("years:\n  2027:\n    workdays: [2027-02-20]\n", "no holidays"),
        ("years:\n  2027:\n", "no holidays"),
        ("years:\n  next:\n    holidays: [2027-01-01]\n", "not a year"),
        ("years:\n  2027:\n    holidays: 2027-01-01\n", "list"),
        ("- 2027-01-01\n", "mapping"),
    ],
)
def test_override_file_validation(tmp_path, text, message):
    with pytest.raises(ValueError, match=message) as err:
        WorkCalendar.from_file(write(tmp_path, text))
    assert "calendar.yaml" in str(err.value)


def test_year_schedule_validates_programmatic_use():
    with pytest.raises(ValueError, match="outside the year"):
        YearSchedule(2027, frozenset({date(2026, 1, 1)}))
    with pytest.raises(ValueError, match="twice"):
        s = YearSchedule(2027, frozenset({date(2027, 1, 1)}))
        WorkCalendar([s, s])


def test_datetimes_are_read_in_shanghai():
    assert local_date(datetime(2026, 9, 30, 20, tzinfo=UTC)) == date(2026, 10, 1)
    assert not CAL.is_working_day(datetime(2026, 9, 30, 20, tzinfo=UTC))
    with pytest.raises(ValueError, match="time zone"):
        CAL.is_working_day(datetime(2026, 9, 30, 20))


# -- deadline clock -------------------------------------------------------------------------------


def test_clock_domain_example():
    clock = DeadlineClock(at(2026, 9, 30, 16), 5, CAL)
    assert clock.start_date == date(2026, 10, 8)
    assert clock.due_date == date(2026, 10, 13)
    assert clock.due_at == datetime.combine(date(2026, 10, 13), time.max, tzinfo=TZ)
    s = clock.status(at(2026, 10, 10, 12))  # the make-up Saturday, half gone
    assert s.elapsed == pytest.approx(2.5)
    assert s.remaining == pytest.approx(2.5)
    assert s.fraction_used == pytest.approx(0.5)
    assert not s.overdue and not s.paused and s.paused_intervals == []
    assert clock.status(at(2026, 10, 11, 12)).elapsed == pytest.approx(3.0)  # Sunday: nothing counts
    assert not clock.status(clock.due_at).overdue
    late = clock.status(clock.due_at + timedelta(microseconds=1))
    assert late.overdue and late.elapsed == pytest.approx(5.0)
    assert clock.status(at(2026, 10, 15, 12)).remaining == pytest.approx(-1.5)


def test_acceptance_day_never_counts():
    clock = DeadlineClock(at(2026, 3, 4, 8), 3, CAL)
    assert clock.status(at(2026, 3, 4, 23, 59)).elapsed == 0.0
    assert clock.status(at(2026, 3, 1)).elapsed == 0.0  # before acceptance
    assert clock.status(at(2026, 3, 5, 6)).elapsed == pytest.approx(0.25)


def test_clock_timezone_conversion():
    utc = DeadlineClock(datetime(2026, 9, 30, 20, tzinfo=UTC), 5, CAL)
    assert utc.started_at.tzinfo is TZ
    assert utc.accepted_on == date(2026, 10, 1)
    assert utc.due_date == date(2026, 10, 13)
    # 00:30 in Shanghai but still the 29th in UTC: the Shanghai day decides.
    early = DeadlineClock(datetime(2026, 9, 29, 16, 30, tzinfo=UTC), 1, CAL)
    assert early.accepted_on == date(2026, 9, 30)
    assert early.due_date == date(2026, 10, 8)
    with pytest.raises(ValueError):
        DeadlineClock(datetime(2026, 9, 30, 20), 5, CAL)
    with pytest.raises(ValueError):
        early.status(datetime(2026, 10, 1))
    with pytest.raises(ValueError):
        early.pause(datetime(2026, 10, 1))


def test_limit_zero_is_due_at_end_of_acceptance_day():
    clock = DeadlineClock(at(2026, 3, 4), 0, CAL)
    assert clock.due_date == date(2026, 3, 4)
    s = clock.status(at(2026, 3, 4, 18))
    assert not s.overdue and s.fraction_used == 1.0 and s.remaining == 0.0
    assert clock.status(at(2026, 3, 5, 0)).overdue


def test_pause_and_resume():
    # Mon 2026-03-02 accepted, 10 days; Tue 3 .. Fri 13 would be due normally.
    clock = DeadlineClock(at(2026, 3, 2), 10, CAL)
    assert clock.due_date == date(2026, 3, 16)
    paused = clock.pause(at(2026, 3, 4, 15))  # Wed: still counts
    assert paused.paused and paused.due_at is None and paused.due_date is None
    assert paused.moment_at_elapsed(9) is None
    assert clock.paused is False  # immutable: the original is unchanged
    s = paused.status(at(2026, 3, 9, 12))
    assert s.paused and s.due_at is None and not s.overdue
    assert s.elapsed == pytest.approx(2.0)  # Mar 3 and Mar 4
    assert s.paused_intervals == [(at(2026, 3, 4, 15), None)]
    # Ends Tue 10th: Thu 5 .. Tue 10 (4 working days) do not count; Wed 11 counts again.
    resumed = paused.resume(at(2026, 3, 10, 9))
    assert not resumed.paused
    assert resumed.due_date == CAL.add_working_days(date(2026, 3, 16), 4) == date(2026, 3, 20)
    assert resumed.status(at(2026, 3, 10, 23)).elapsed == pytest.approx(2.0)
    assert resumed.status(at(2026, 3, 11, 12)).elapsed == pytest.approx(2.5)


def test_pause_and_resume_same_day_excludes_nothing():
    clock = DeadlineClock(at(2026, 3, 2), 10, CAL)
    again = clock.pause(at(2026, 3, 5, 9)).resume(at(2026, 3, 5, 17))
    assert again.due_date == clock.due_date
    assert again.status(at(2026, 3, 5, 12)).elapsed == clock.status(at(2026, 3, 5, 12)).elapsed


def test_pause_on_acceptance_day():
    clock = DeadlineClock(at(2026, 3, 2, 9), 2, CAL).pause(at(2026, 3, 2, 11)).resume(at(2026, 3, 4, 9))
    # Mar 3 and Mar 4 are inside the special procedure.
    assert clock.due_date == date(2026, 3, 6)
    assert clock.status(at(2026, 3, 4, 20)).elapsed == 0.0


def test_pause_errors():
    clock = DeadlineClock(at(2026, 3, 2), 10, CAL)
    with pytest.raises(ValueError, match="not paused"):
        clock.resume(at(2026, 3, 3))
    paused = clock.pause(at(2026, 3, 4))
    with pytest.raises(ValueError, match="already paused"):
        paused.pause(at(2026, 3, 5))
    with pytest.raises(ValueError, match="before the pause"):
        paused.resume(at(2026, 3, 3))
    with pytest.raises(ValueError, match="before acceptance"):
        clock.pause(at(2026, 3, 1))
    with pytest.raises(ValueError, match="before the previous resume"):
        paused.resume(at(2026, 3, 6)).pause(at(2026, 3, 5))


def test_pause_after_deadline_keeps_it_overdue():
    clock = DeadlineClock(at(2026, 3, 2), 2, CAL)  # due Wed Mar 4
    paused = clock.pause(at(2026, 3, 9))
    assert paused.due_date == date(2026, 3, 4)
    assert paused.status(at(2026, 3, 10)).overdue


def test_extend():
    clock = DeadlineClock(at(2026, 9, 30), 5, CAL)
    longer = clock.extend(10)
    assert longer.limit_days == 15 and longer.extensions == (10,)
    assert clock.limit_days == 5
    assert longer.due_date == CAL.add_working_days(date(2026, 10, 13), 10)
    assert longer.status(at(2026, 10, 14, 12)).fraction_used == pytest.approx(5.5 / 15)
    assert clock.pause(at(2026, 10, 9)).extend(2).limit_days == 7
    for bad in (0, -3):
        with pytest.raises(ValueError):
            clock.extend(bad)


@pytest.mark.parametrize("x", [0.0, 0.3, 1.0, 4.0, 4.8, 5.0, 7.25])
def test_moment_at_elapsed_matches_status(x):
    clock = DeadlineClock(at(2026, 9, 30), 5, CAL).pause(at(2026, 10, 9, 10)).resume(at(2026, 10, 12, 9))
    moment = clock.moment_at_elapsed(x)
    assert moment is not None
    assert clock.status(moment).elapsed == pytest.approx(x, abs=1e-9)
    if x > 0:
        assert clock.status(moment - timedelta(minutes=1)).elapsed < x


def test_moment_at_elapsed_schedules_warnings():
    clock = DeadlineClock(at(2026, 9, 30), 5, CAL)
    one_left = clock.moment_at_elapsed(clock.limit_days - 1)
    assert one_left == datetime(2026, 10, 13, tzinfo=TZ)  # start of the last day
    assert clock.moment_at_elapsed(clock.limit_days) == clock.due_at + timedelta(microseconds=1)
    assert clock.moment_at_elapsed(-1) == clock.started_at
    assert clock.moment_at_elapsed(0.8 * 5) == one_left


def test_clock_rebuilt_from_stored_fields():
    clock = DeadlineClock(at(2026, 3, 2), 10, CAL).pause(at(2026, 3, 4)).resume(at(2026, 3, 10))
    rebuilt = DeadlineClock(clock.started_at, clock.limit_days, CAL, pauses=clock.pauses)
    assert rebuilt == clock and rebuilt.due_at == clock.due_at


# -- properties -----------------------------------------------------------------------------------

SCHEDULED = st.dates(min_value=date(2010, 1, 1), max_value=date(2026, 9, 30))
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(d=SCHEDULED, n=st.integers(0, 60))
def test_between_inverts_add(d, n):
    assert CAL.working_days_between(d, CAL.add_working_days(d, n)) == n


@PROPS
@given(d=SCHEDULED, n=st.integers(1, 60))
def test_add_lands_on_working_day_and_is_monotonic(d, n):
    result = CAL.add_working_days(d, n)
    assert result > d
    assert CAL.is_working_day(result)
    assert CAL.add_working_days(d, n - 1) < result


@PROPS
@given(dates=st.lists(SCHEDULED, min_size=3, max_size=3))
def test_between_is_additive(dates):
    a, b, c = sorted(dates)
    assert CAL.working_days_between(a, c) == CAL.working_days_between(a, b) + CAL.working_days_between(b, c)


@PROPS
@given(d=SCHEDULED, span=st.integers(0, 40))
def test_between_matches_day_by_day_count(d, span):
    end = d + timedelta(days=span)
    expected = sum(CAL.is_working_day(d + timedelta(days=i)) for i in range(1, span + 1))
    assert CAL.working_days_between(d, end) == expected


@PROPS
@given(
    start=st.datetimes(
        min_value=datetime(2010, 1, 1), max_value=datetime(2026, 6, 30), timezones=st.just(TZ)
    ),
    limit=st.integers(0, 30),
    pause_after=st.one_of(st.none(), st.integers(0, 20 * 24)),
    pause_hours=st.one_of(st.none(), st.integers(0, 20 * 24)),
    offsets=st.lists(st.integers(0, 60 * 24 * 60), min_size=2, max_size=6),
)
def test_elapsed_is_monotonic_in_now(start, limit, pause_after, pause_hours, offsets):
    clock = DeadlineClock(start, limit, CAL)
    if pause_after is not None:
        p = start + timedelta(hours=pause_after)
        clock = clock.pause(p)
        if pause_hours is not None:
            clock = clock.resume(p + timedelta(hours=pause_hours))
    elapsed = [clock.status(start + timedelta(minutes=m)).elapsed for m in sorted(offsets)]
    assert elapsed == sorted(elapsed)
    assert all(e >= 0 for e in elapsed)
    for x in (limit - 1, 0.8 * limit, limit):
        moment = clock.moment_at_elapsed(x)
        if moment is not None:
            assert clock.status(moment).elapsed == pytest.approx(max(x, 0), abs=1e-9)


def _reference_due_date(clock: DeadlineClock) -> date | None:
    """Day-by-day model of the counting rules, to check the bisect-based implementation."""
    if clock.limit_days == 0:
        return clock.accepted_on
    excluded = [(s.date(), e.date() if e is not None else date.max) for s, e in clock.pauses]
    day, count = clock.accepted_on, 0
    while True:
        day += timedelta(days=1)
        if any(s < day <= e for s, e in excluded):
            if any(e == date.max and s < day for s, e in excluded):
                return None
            continue
        if CAL.is_working_day(day):
            count += 1
            if count == clock.limit_days:
                return day


@PROPS
@given(
    start=st.datetimes(
        min_value=datetime(2010, 1, 1), max_value=datetime(2026, 6, 30), timezones=st.just(TZ)
    ),
    limit=st.integers(0, 25),
    gaps=st.lists(st.tuples(st.integers(0, 15 * 24), st.integers(0, 15 * 24)), max_size=3),
    leave_open=st.booleans(),
    probe_hours=st.integers(0, 70 * 24),
)
def test_clock_matches_day_by_day_model(start, limit, gaps, leave_open, probe_hours):
    clock = DeadlineClock(start, limit, CAL)
    t = start
    for i, (before, length) in enumerate(gaps):
        t += timedelta(hours=before)
        clock = clock.pause(t)
        if leave_open and i == len(gaps) - 1:
            break
        t += timedelta(hours=length)
        clock = clock.resume(t)
    assert clock.due_date == _reference_due_date(clock)
    now = start + timedelta(hours=probe_hours, minutes=17)
    today = now.date()
    excluded = [(s.date(), e.date() if e is not None else date.max) for s, e in clock.pauses]
    whole = sum(
        1
        for k in range(1, (today - clock.accepted_on).days)
        if CAL.is_working_day(d := clock.accepted_on + timedelta(days=k))
        and not any(s < d <= e for s, e in excluded)
    )
    today_counts = (
        today > clock.accepted_on
        and CAL.is_working_day(today)
        and not any(s < today <= e for s, e in excluded)
    )
    seconds = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6
    expected = whole + (seconds / 86400 if today_counts else 0.0)
    assert clock.status(now).elapsed == pytest.approx(expected, abs=1e-9)
