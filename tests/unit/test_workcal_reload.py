"""The calendar follows its override file without a restart: a change is noticed (stat, then content hash), the new
schedule is swapped in whole for every holder of the calendar, and a file that does not load, or is gone, leaves
the last good schedule in place with one log line."""

from __future__ import annotations

import logging
import os
import textwrap
from datetime import date, datetime
from pathlib import Path

import pytest

from services.kernel import workcal
from services.kernel.config import ConfigError
from services.kernel.service import calendar_check_seconds, calendar_waiting_summary
from services.kernel.workcal import TZ, CalendarUnavailable, DeadlineClock, WorkCalendar

EMPTY = "# next year's schedule goes here (xiaoneng calendar import)\n"
Y2027 = textwrap.dedent("""\
    years:
      2027:
        holidays: [2027-01-01..2027-01-03, 2027-02-06..2027-02-12]
        workdays: [2027-02-20]
    """)
# the same year with a longer New Year holiday (a correction)
Y2027_LONG = Y2027.replace("2027-01-01..2027-01-03", "2027-01-01..2027-01-07")


def replace_file(path: Path, text: str) -> None:
    """Write as `xiaoneng calendar import` does: a new file renamed over the old one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def age(path: Path, seconds: float = 3600) -> None:
    """Make the file look written long ago (outside the two-second window in which its content is always hashed)."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


@pytest.fixture
def calendar_file(tmp_path):
    path = tmp_path / "calendar.yaml"
    path.write_text(EMPTY, encoding="utf-8")
    age(path)
    yield path
    workcal._watched.pop(os.path.abspath(path), None)


def at(*parts):
    return datetime(*parts, tzinfo=TZ)


# -- change detection ------------------------------------------------------------------------------------------


def test_a_year_written_into_the_file_is_picked_up_by_the_same_object(calendar_file):
    cal = WorkCalendar.load(calendar_file)
    clock = DeadlineClock(started_at=at(2026, 12, 21, 10), limit_days=13, calendar=cal)
    with pytest.raises(CalendarUnavailable) as err:
        _ = clock.due_at
    assert err.value.year == 2027
    assert cal.refresh() is False  # nothing changed

    replace_file(calendar_file, Y2027)
    assert cal.refresh() is True
    assert cal.years_covered()[-1] == 2027 and cal.problem is None
    # the clock made before holds the same object: Dec 22–31 are 8 working days, Jan 1–3 off, Jan 4–8 the other 5
    assert clock.due_date == date(2027, 1, 8)
    assert cal.refresh() is False


def test_load_gives_every_caller_of_a_file_the_same_calendar_brought_up_to_date(calendar_file):
    settings_calendar = WorkCalendar.load(calendar_file)
    health_calendar = WorkCalendar.load(str(calendar_file))
    assert settings_calendar is health_calendar
    replace_file(calendar_file, Y2027)
    # a later load notices the change itself, and the first holder sees it too
    assert WorkCalendar.load(calendar_file) is settings_calendar
    assert 2027 in settings_calendar.years_covered()
    assert WorkCalendar.load(None) is WorkCalendar.load("")  # no file: the package's shared calendar
    assert WorkCalendar.load(None).refresh() is False


def test_an_unchanged_file_is_only_stat_ed(calendar_file, monkeypatch):
    cal = WorkCalendar.load(calendar_file)
    age(calendar_file, 7200)  # a new mtime: looked at once, same content, nothing swapped
    tables = cal._tables
    assert cal.refresh() is False and cal._tables is tables

    def no_reading(self):
        raise AssertionError(f"{self} read although its stat did not change")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    assert cal.refresh() is False and cal.problem is None


def test_a_rewrite_that_keeps_size_and_mtime_is_still_seen_while_it_is_recent(calendar_file):
    # an edit in place within the file system's timestamp granularity: same inode, size and mtime
    cal = WorkCalendar.load(calendar_file)
    replace_file(calendar_file, Y2027)
    assert cal.refresh() is True
    st = os.stat(calendar_file)
    with open(calendar_file, "r+", encoding="utf-8") as fh:
        fh.write(Y2027_LONG)  # same length as Y2027
    assert len(Y2027_LONG) == len(Y2027)
    os.utime(calendar_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert workcal._file_signature(calendar_file) == cal._signature
    assert cal.refresh() is True
    assert not cal.is_working_day(date(2027, 1, 6))


# -- a bad or missing file ---------------------------------------------------------------------------------------


def test_a_file_that_does_not_load_keeps_the_old_calendar_and_is_logged_once(calendar_file, caplog):
    cal = WorkCalendar.load(calendar_file)
    replace_file(calendar_file, Y2027)
    cal.refresh()
    tables = cal._tables
    caplog.set_level(logging.INFO, logger="services.kernel.workcal")
    replace_file(calendar_file, Y2027.replace("workdays: [2027-02-20]", "workdays: [2027-02-22]"))  # a Monday
    assert cal.refresh() is False
    assert cal._tables is tables and cal.is_working_day(date(2027, 2, 20))
    assert "2027-02-22 is a Monday" in cal.problem
    age(calendar_file)
    assert cal.refresh(force=True) is False  # the same bad content again: not logged again
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "keeping the previous schedule (years 2004-2027)" in errors[0].getMessage()
    assert cal.describe() == {"years": list(range(2004, 2028)), "source": str(calendar_file),
                              "problem": cal.problem}

    replace_file(calendar_file, "years: [not, a, mapping]\n")  # changed again, still bad: tried, logged
    assert cal.refresh() is False
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2

    replace_file(calendar_file, Y2027_LONG)  # fixed
    assert cal.refresh() is True and cal.problem is None
    assert not cal.is_working_day(date(2027, 1, 6))


def test_unreadable_bytes_never_raise_out_of_refresh(calendar_file):
    cal = WorkCalendar.load(calendar_file)
    replace_file(calendar_file, "x")
    calendar_file.write_bytes(b"\xff\xfe years")
    assert cal.refresh() is False
    assert "not UTF-8" in cal.problem and cal.years_covered()[-1] == 2026


def test_a_removed_file_keeps_the_last_good_calendar_with_a_warning(calendar_file, caplog):
    cal = WorkCalendar.load(calendar_file)
    replace_file(calendar_file, Y2027)
    cal.refresh()
    caplog.set_level(logging.WARNING, logger="services.kernel.workcal")
    calendar_file.unlink()
    assert cal.refresh() is False and cal.refresh() is False
    assert 2027 in cal.years_covered() and "gone" in cal.problem
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "is gone: keeping the last schedule loaded (years 2004-2027)" in warnings[0]
    replace_file(calendar_file, Y2027)  # put back unchanged
    assert cal.refresh() is False and cal.problem is None


def test_a_missing_or_bad_file_at_start_still_refuses_to_start(tmp_path):
    with pytest.raises(FileNotFoundError):
        WorkCalendar.load(tmp_path / "nowhere.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("years: {2027: {holidays: []}}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no holidays listed"):
        WorkCalendar.load(bad)
    assert os.path.abspath(bad) not in workcal._watched  # not remembered: a fixed file loads next time


# -- the swap is atomic ----------------------------------------------------------------------------------------------


def test_a_reload_in_the_middle_of_a_question_does_not_mix_two_schedules(calendar_file, monkeypatch):
    cal = WorkCalendar.load(calendar_file)
    replace_file(calendar_file, Y2027)
    cal.refresh()
    old = cal._tables
    expected = cal.add_working_days(date(2026, 12, 30), 5)  # Dec 31, then Jan 4–7 (Jan 1–3 off)
    assert expected == date(2027, 1, 7)
    real_year = workcal._Tables.year
    swapped = []

    def year_then_reload(self, year):
        found = real_year(self, year)
        if year == 2026 and not swapped:  # between the two years the answer needs, the file changes
            swapped.append(True)
            replace_file(calendar_file, Y2027_LONG)
            assert cal.refresh() is True
        return found

    monkeypatch.setattr(workcal._Tables, "year", year_then_reload)
    cal._tables.years.clear()
    assert cal.add_working_days(date(2026, 12, 30), 5) == expected  # all of it from the schedule it started with
    assert swapped and cal._tables is not old
    # the next question: the new one (Dec 31, then Jan 8, 11, 12, 13: Jan 1–7 off)
    assert cal.add_working_days(date(2026, 12, 30), 5) == date(2027, 1, 13)
    assert date(2027, 1, 7) not in old.overrides[2027].holidays  # the old schedule was never edited


# -- configuration and the health summary ----------------------------------------------------------------------


def test_calendar_check_seconds(monkeypatch):
    monkeypatch.delenv("CALENDAR_CHECK_SECONDS", raising=False)
    assert calendar_check_seconds({}) == 60.0
    assert calendar_check_seconds({"CALENDAR_CHECK_SECONDS": "0.5"}) == 0.5
    monkeypatch.setenv("CALENDAR_CHECK_SECONDS", "5")
    assert calendar_check_seconds({"CALENDAR_CHECK_SECONDS": None}) == 5.0
    for bad in ("0", "-1", "soon"):
        with pytest.raises(ConfigError, match="CALENDAR_CHECK_SECONDS"):
            calendar_check_seconds({"CALENDAR_CHECK_SECONDS": bad})


def test_the_waiting_summary_names_the_years_from_the_clock_errors():
    cal = WorkCalendar.load(None)
    error_2027, error_2028 = str(CalendarUnavailable(2027)), str(CalendarUnavailable(2028))
    assert CalendarUnavailable.year_in(error_2027) == 2027 and CalendarUnavailable.year_in("other") is None
    assert calendar_waiting_summary([], cal) == {"waiting": 0, "missing_years": []}
    assert calendar_waiting_summary([(error_2027, 2), (error_2028, 1), (None, 3), ("x", 0)], cal) == \
        {"waiting": 6, "missing_years": [2027, 2028]}  # None: an alert alone, for the year after the last known
