"""China working-day calendar (State Council schedule plus per-deployment overrides) and the
administrative deadline clock counted in working days, all in Asia/Shanghai."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import threading
import time as _time
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml

__all__ = [
    "TZ",
    "CalendarUnavailable",
    "ClockStatus",
    "DeadlineClock",
    "WorkCalendar",
    "YearSchedule",
    "local_date",
    "moment_bounds",
]

from .clock import TZ  # noqa: E402  one time zone for the whole platform

log = logging.getLogger(__name__)

_DAY = timedelta(days=1)
_DAY_US = 86_400_000_000
_RANGE_SEP = ".."


class CalendarUnavailable(Exception):
    """A date falls in a year whose holiday schedule is not loaded.

    Raised instead of guessing Monday–Friday: a deadline computed without the State Council's
    schedule can be off by a week around Spring Festival or National Day."""

    def __init__(self, year: int):
        self.year = year
        super().__init__(
            f"{year} 年的节假日安排尚未载入 / no holiday schedule loaded for {year}; "
            "add it to the calendar override file"
        )

    @staticmethod
    def year_in(message: str | None) -> int | None:
        """The year a stored message of this exception names (a record's `clock_error`), else None."""
        found = _MISSING_YEAR.match(message or "")
        return int(found.group(1)) if found else None


_MISSING_YEAR = re.compile(r"\s*(\d{4}) 年的节假日安排尚未载入")


def local_date(value: date | datetime) -> date:
    """The Asia/Shanghai calendar day of `value`; a plain date is taken as already local."""
    if isinstance(value, datetime):
        return _aware(value).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


def moment_bounds(now: datetime, years_ahead: int = 1) -> tuple[datetime, datetime]:
    """The span a time given to the platform may fall in, `[earliest, latest)`: from the first year the
    package's calendar covers (an earlier case could get no clock, no warning, no card) to the end of the
    `years_ahead`-th year after the later of its last year and this year (next year's schedule arrives as an
    override file, and a deadline may lie there)."""
    first, last = _package_years()
    last_allowed = max(last, now.astimezone(TZ).year) + years_ahead
    return _midnight(date(first, 1, 1)), _midnight(date(last_allowed + 1, 1, 1))


def _aware(value: datetime, what: str = "datetime") -> datetime:
    # A naive datetime is ambiguous (server clocks run in UTC, users think in Beijing time),
    # and a one-day error at midnight changes a deadline, so refuse rather than assume.
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value.isoformat()} has no time zone; give an aware datetime")
    return value.astimezone(TZ)


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=TZ)


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule: statutory holidays and make-up working days (调休)."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        # Every real schedule has at least New Year's Day; an empty one is almost certainly a
        # placeholder, and accepting it would be exactly the Monday–Friday guess we refuse.
        if not self.holidays:
            raise ValueError(f"year {self.year}: no holidays listed")
        for kind, days in (("holiday", self.holidays), ("workday", self.workdays)):
            for d in sorted(days):
                if isinstance(d, datetime) or not isinstance(d, date):
                    raise ValueError(f"year {self.year}: {kind} {d!r} is not a date")
                if d.year != self.year:
                    raise ValueError(f"year {self.year}: {kind} {d.isoformat()} is outside the year")
        both = sorted(self.holidays & self.workdays)
        if both:
            listed = ", ".join(d.isoformat() for d in both)
            raise ValueError(f"year {self.year}: listed both as holiday and as workday: {listed}")
        for d in sorted(self.workdays):
            # Make-up days only ever move work onto a weekend; a weekday here is a typo.
            if d.weekday() < 5:
                raise ValueError(
                    f"year {self.year}: make-up workday {d.isoformat()} is a {d.strftime('%A')}; "
                    "only Saturdays and Sundays can be make-up working days"
                )

    def is_working_day(self, d: date) -> bool:
        return d in self.workdays or (d.weekday() < 5 and d not in self.holidays)


class _Year:
    """Working days of one year as ordinals, sorted for bisect and hashed for membership."""

    __slots__ = ("ordinals", "members")

    def __init__(self, ordinals: list[int]):
        self.ordinals = ordinals
        self.members = frozenset(ordinals)


class _Tables:
    """One schedule: the override years and the per-year tables built from them (and the package), cached.
    Immutable once built, apart from the cache; a reload builds a new one and swaps it in whole."""

    __slots__ = ("overrides", "years", "lock")

    def __init__(self, overrides: Iterable[YearSchedule]):
        self.overrides: dict[int, YearSchedule] = {}
        for schedule in overrides:
            if schedule.year in self.overrides:
                raise ValueError(f"year {schedule.year} is defined twice")
            self.overrides[schedule.year] = schedule
        self.years: dict[int, _Year] = {}
        self.lock = threading.Lock()

    def year(self, year: int) -> _Year:
        cached = self.years.get(year)
        if cached is not None:
            return cached
        with self.lock:
            cached = self.years.get(year)
            if cached is None:
                cached = self.years[year] = _Year(self._build_year(year))
            return cached

    def _build_year(self, year: int) -> list[int]:
        day, end = date(year, 1, 1), date(year + 1, 1, 1)
        schedule = self.overrides.get(year)
        if schedule is not None:
            is_working = schedule.is_working_day
        else:
            first, last = _package_years()
            if not first <= year <= last:
                raise CalendarUnavailable(year)
            is_working = _package_is_workday
        ordinals = []
        while day < end:
            if is_working(day):
                ordinals.append(day.toordinal())
            day += _DAY
        return ordinals


class WorkCalendar:
    """Working days from the `chinese_calendar` package, with whole years replaced or added by
    overrides. Per-year tables are built once and cached, so queries are bisects, not scans.

    A calendar loaded from an override file (`load`) follows the file: `refresh()` notices a change
    (stat, then content hash) and swaps the new schedule in whole, for every holder of this object; a file
    that does not load, or is gone, leaves the last good schedule in place (`problem` says why)."""

    def __init__(self, overrides: Iterable[YearSchedule] = ()):
        # every query reads this once: a reload replaces it in one assignment, never edits it
        self._tables = _Tables(overrides)
        self.path: Path | None = None
        self.problem: str | None = None  # why the file's current content is not in use, if it is not
        self.loaded_at: float | None = None  # time.time() of the last (re)load from the file
        self._signature: tuple | None = None  # the file's (mtime_ns, size, inode) last looked at
        self._digest: str | None = None  # sha256 of the content in use
        self._refused: str | None = None  # sha256 of content that failed to load (logged once)
        self._refresh_lock = threading.Lock()

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None) -> WorkCalendar:
        """The calendar for a deployment: the package data alone when no override file is set. One object per
        file in a process, shared by every caller (the services' settings, `/health`), and brought up to date
        with the file on each call; a file that does not load the first time raises."""
        if path is None or str(path).strip() == "":
            return _default_calendar()
        key = os.path.abspath(os.fspath(path))
        with _watched_lock:
            cal = _watched.get(key)
            if cal is None:
                cal = cls.from_file(key)
                cal._watch(Path(key))
                _watched[key] = cal
                return cal
        cal.refresh(force=True)
        return cal

    @classmethod
    def from_file(cls, path: str | Path) -> WorkCalendar:
        path = Path(path)
        return cls._from_bytes(path.read_bytes(), path)

    @classmethod
    def _from_bytes(cls, raw: bytes, path: Path) -> WorkCalendar:
        try:
            data = yaml.safe_load(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 text: {exc}") from exc
        except (yaml.YAMLError, ValueError) as exc:
            # An impossible unquoted date (2027-02-30) surfaces from PyYAML as a bare ValueError.
            raise ValueError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "calendar overrides") -> WorkCalendar:
        """Build from the parsed override document (`{"years": {2027: {...}}}`)."""
        if data is None:
            # An empty file is a placeholder a deployment ships before next year is known.
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError(f"{source}: expected a mapping with key 'years'")
        unknown = set(data) - {"years"}
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {_names(unknown)}; only 'years' is allowed")
        years = data.get("years") or {}
        if not isinstance(years, Mapping):
            raise ValueError(f"{source}: 'years' must map a year to its holidays and workdays")
        schedules = []
        for raw_year, entry in years.items():
            year = _parse_year(raw_year, source)
            where = f"{source}: year {year}"
            if entry is None:
                entry = {}
            if not isinstance(entry, Mapping):
                raise ValueError(f"{where}: expected a mapping with 'holidays' and 'workdays'")
            unknown = set(entry) - {"holidays", "workdays"}
            if unknown:
                raise ValueError(f"{where}: unknown key(s) {_names(unknown)}; allowed: holidays, workdays")
            holidays = _parse_dates(entry.get("holidays"), f"{where} holidays")
            workdays = _parse_dates(entry.get("workdays"), f"{where} workdays")
            try:
                schedules.append(YearSchedule(year, holidays, workdays))
            except ValueError as exc:
                raise ValueError(f"{source}: {exc}") from None
        try:
            return cls(schedules)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None

    # -- following the override file ----------------------------------------------------------

    def _watch(self, path: Path) -> None:
        self.path = path
        self._signature = _file_signature(path)
        self._digest = hashlib.sha256(path.read_bytes()).hexdigest()
        self.loaded_at = _time.time()

    def refresh(self, force: bool = False) -> bool:
        """Bring the schedule up to date with the override file; True when a new one was swapped in.

        Cheap when nothing changed: one stat (mtime, size, inode), and the content's hash only when the stat
        differs, `force` is given or the file was written in the last two seconds (an edit within the
        file system's timestamp granularity keeps the stat). A file that does not load keeps the old schedule,
        logs one error per content and is tried again when it changes; a removed file keeps the last good
        schedule with a warning. Never raises for the file's sake."""
        if self.path is None:
            return False
        with self._refresh_lock:
            try:
                return self._refresh(force)
            except Exception as exc:  # a worker must never die of the calendar file
                self._note_problem(f"{self.path}: cannot be read: {exc}", None)
                return False

    def _refresh(self, force: bool) -> bool:
        path = self.path
        signature = _file_signature(path)
        if signature is None:
            if self.problem != _GONE:
                log.warning("calendar file %s is gone: keeping the last schedule loaded (years %s); restore it or "
                            "import the notice again", path, _span(self.years_covered()))
                self.problem = _GONE
            self._signature = None
            return False
        recent = _time.time() - signature[0] / 1e9 < 2.0
        if signature == self._signature and not force and not recent:
            return False
        raw = path.read_bytes()
        self._signature = signature
        digest = hashlib.sha256(raw).hexdigest()
        if digest == self._digest:
            if self.problem == _GONE:
                log.info("calendar file %s is back, unchanged", path)
            self.problem = None
            return False
        if digest == self._refused:
            return False
        try:
            fresh = WorkCalendar._from_bytes(raw, path)
        except (ValueError, OSError) as exc:
            self._note_problem(str(exc), digest)
            return False
        before = self.years_covered()
        self._tables = fresh._tables  # the swap: one assignment, seen whole by every holder of this object
        self._digest, self._refused, self.problem = digest, None, None
        self.loaded_at = _time.time()
        log.info("calendar file %s reloaded: years %s (were %s)", path, _span(self.years_covered()), _span(before))
        return True

    def _note_problem(self, message: str, digest: str | None) -> None:
        if digest is None or digest != self._refused:
            log.error("calendar file not loaded, keeping the previous schedule (years %s): %s",
                      _span(self.years_covered()), message)
        self._refused = digest
        self.problem = message

    def describe(self) -> dict[str, Any]:
        """For `/health`: the years known, where the schedule comes from, and a problem with the file."""
        return {"years": list(self.years_covered()),
                "source": str(self.path) if self.path is not None else "package chinesecalendar",
                "problem": self.problem}

    # -- queries ------------------------------------------------------------------------------

    def years_covered(self) -> tuple[int, ...]:
        """Years with a schedule, in order: the package's years plus any override years."""
        first, last = _package_years()
        return tuple(sorted(set(range(first, last + 1)) | set(self._tables.overrides)))

    def override(self, year: int) -> YearSchedule | None:
        """The override file's schedule of `year`, if it has one (it replaces the package's)."""
        return self._tables.overrides.get(year)

    def is_working_day(self, d: date | datetime) -> bool:
        d = local_date(d)
        return d.toordinal() in self._tables.year(d.year).members

    def next_working_day(self, d: date | datetime) -> date:
        """The first working day strictly after `d`."""
        return self.add_working_days(d, 1)

    def add_working_days(self, d: date | datetime, n: int) -> date:
        """The n-th working day strictly after `d`; `d` itself when n == 0."""
        d = local_date(d)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return d
        tables = self._tables  # one schedule for the whole answer, whatever a reload does meanwhile
        year = d.year
        days = tables.year(year).ordinals
        i = bisect_right(days, d.toordinal())
        while i + n > len(days):
            n -= len(days) - i
            year += 1
            days = tables.year(year).ordinals
            i = 0
        return date.fromordinal(days[i + n - 1])

    def working_days_between(self, start: date | datetime, end: date | datetime) -> int:
        """Working days in the half-open range (start, end]; 0 when end <= start."""
        start, end = local_date(start), local_date(end)
        if end <= start:
            return 0
        tables = self._tables
        first = tables.year(start.year).ordinals
        if start.year == end.year:
            return bisect_right(first, end.toordinal()) - bisect_right(first, start.toordinal())
        total = len(first) - bisect_right(first, start.toordinal())
        for year in range(start.year + 1, end.year):
            total += len(tables.year(year).ordinals)
        return total + bisect_right(tables.year(end.year).ordinals, end.toordinal())


_GONE = "the calendar file is gone; the last schedule loaded stays in use"

# the calendars loaded from override files in this process, by absolute path (`WorkCalendar.load`)
_watched: dict[str, WorkCalendar] = {}
_watched_lock = threading.Lock()


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    # os.replace (the import writes so) gives a new inode: a rewrite within the mtime granularity is still seen
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _span(years: tuple[int, ...]) -> str:
    return f"{years[0]}-{years[-1]}" if years else "none"


def _package_is_workday(d: date) -> bool:
    try:
        return chinese_calendar.is_workday(d)
    except NotImplementedError:
        raise CalendarUnavailable(d.year) from None


_package_range: tuple[int, int] | None = None


def _package_years() -> tuple[int, int]:
    # The package publishes no range; its data tables are the only authority, and probing them
    # once is cheaper than relying on exceptions for every lookup.
    global _package_range
    if _package_range is None:
        from chinese_calendar.constants import holidays

        _package_range = (min(holidays).year, max(holidays).year)
    return _package_range


_default: WorkCalendar | None = None
_default_lock = threading.Lock()


def _default_calendar() -> WorkCalendar:
    # Shared so that every caller without overrides reuses one set of per-year caches.
    global _default
    with _default_lock:
        if _default is None:
            _default = WorkCalendar()
        return _default


def _names(keys: Iterable[Any]) -> str:
    return ", ".join(sorted(repr(k) for k in keys))


def _parse_year(raw: Any, source: str) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"{source}: {raw!r} is not a year")
    try:
        year = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: {raw!r} is not a year") from None
    if not 1900 <= year <= 2200 or str(raw).strip() != str(year):
        raise ValueError(f"{source}: {raw!r} is not a year")
    return year


def _parse_dates(raw: Any, where: str) -> set[date]:
    if raw is None:
        return set()
    if not isinstance(raw, list):
        raise ValueError(f"{where}: expected a list of dates")
    out: set[date] = set()
    for item in raw:
        if isinstance(item, str) and _RANGE_SEP in item:
            lo_text, _, hi_text = item.partition(_RANGE_SEP)
            lo, hi = _parse_date(lo_text, where), _parse_date(hi_text, where)
            if hi < lo:
                raise ValueError(f"{where}: range {item!r} ends before it starts")
            day = lo
            while day <= hi:
                out.add(day)
                day += _DAY
        else:
            out.add(_parse_date(item, where))
    return out


def _parse_date(item: Any, where: str) -> date:
    # YAML already turns an unquoted 2027-01-01 into a date; a timestamp would be a datetime,
    # which names a moment, not a day.
    if isinstance(item, date) and not isinstance(item, datetime):
        return item
    if isinstance(item, str):
        try:
            return date.fromisoformat(item.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}: {item!r} is not a date (expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)")


# -- the deadline clock -------------------------------------------------------------------------

Interval = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class ClockStatus:
    """A deadline clock evaluated at one moment."""

    now: datetime
    limit_days: int
    started_at: datetime
    start_date: date
    due_date: date | None
    due_at: datetime | None
    paused: bool
    paused_intervals: list[Interval]
    elapsed: float
    remaining: float
    fraction_used: float
    overdue: bool


@dataclass(frozen=True)
class DeadlineClock:
    """An administrative time limit in working days, immutable: `pause`, `resume` and `extend`
    return a new clock, so a stored clock can be shared and its history replayed.

    Counting (Administrative Licensing Law Art. 42, 45, 82): the acceptance day does not count;
    working days after it do. A special procedure (特别程序) stops the clock at day granularity:
    the day it starts still counts, working days after that day up to and including the day it
    ends do not, counting resumes the day after it ends.

    The deadline is the end of the last counted working day: `due_at` is that date at
    23:59:59.999999 Asia/Shanghai, and the clock is overdue from the next midnight on
    (`now > due_at`). A limit of 0 (即办件) is due at the end of the acceptance day.
    """

    started_at: datetime
    limit_days: int
    calendar: WorkCalendar = field(compare=False, repr=False)
    pauses: tuple[Interval, ...] = ()
    # Each extension granted, in working days; `limit_days` already includes them.
    extensions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", _aware(self.started_at, "started_at"))
        if isinstance(self.limit_days, bool) or not isinstance(self.limit_days, int):
            raise TypeError(f"limit_days must be an int, got {self.limit_days!r}")
        if self.limit_days < 0:
            raise ValueError(f"limit_days must be >= 0, got {self.limit_days}")
        pauses: list[Interval] = []
        floor = self.started_at
        for i, (start, end) in enumerate(self.pauses):
            start = _aware(start, "pause start")
            if start < floor:
                raise ValueError(
                    f"pause at {start.isoformat()} is before "
                    f"{'acceptance' if i == 0 else 'the previous resume'} at {floor.isoformat()}"
                )
            if end is None:
                if i != len(self.pauses) - 1:
                    raise ValueError("only the last special procedure can still be open")
            else:
                end = _aware(end, "resume")
                if end < start:
                    raise ValueError(
                        f"resume at {end.isoformat()} is before the pause at {start.isoformat()}"
                    )
                floor = end
            pauses.append((start, end))
        object.__setattr__(self, "pauses", tuple(pauses))
        object.__setattr__(self, "extensions", tuple(self.extensions))

    # -- operations ---------------------------------------------------------------------------

    def pause(self, at: datetime) -> DeadlineClock:
        """A special procedure starts at `at`: a new, paused clock."""
        if self.paused:
            raise ValueError("the clock is already paused; resume it first")
        return replace(self, pauses=self.pauses + ((at, None),))

    def resume(self, at: datetime) -> DeadlineClock:
        """The special procedure ends at `at`: a new, running clock."""
        if not self.paused:
            raise ValueError("the clock is not paused")
        start, _ = self.pauses[-1]
        return replace(self, pauses=self.pauses[:-1] + ((start, at),))

    def extend(self, days: int) -> DeadlineClock:
        """A new clock whose limit is `days` working days longer."""
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError(f"days must be an int, got {days!r}")
        if days < 1:
            raise ValueError(f"an extension must be at least 1 working day, got {days}")
        return replace(self, limit_days=self.limit_days + days, extensions=self.extensions + (days,))

    # -- queries ------------------------------------------------------------------------------

    @property
    def accepted_on(self) -> date:
        return self.started_at.date()

    @property
    def start_date(self) -> date:
        """First working day after acceptance, where the statutory count begins (a special
        procedure started on the acceptance day can push the first day actually counted later)."""
        return self.calendar.next_working_day(self.accepted_on)

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None

    @property
    def due_date(self) -> date | None:
        """The last working day of the limit, or None while paused.

        A pause begun after the limit was already used up leaves the (past) due date in place:
        starting a special procedure must not clear an overdue case."""
        if self.limit_days == 0:
            return self.accepted_on
        return self._nth_counted_day(self.limit_days)

    @property
    def due_at(self) -> datetime | None:
        """End of `due_date` (23:59:59.999999 Asia/Shanghai), or None while paused: a paused
        clock has no due time until the special procedure ends (see `due_date` for the
        already-overdue exception)."""
        due = self.due_date
        return None if due is None else datetime.combine(due, time.max, tzinfo=TZ)

    def status(self, now: datetime) -> ClockStatus:
        """The clock as it stands (all recorded pauses and extensions) evaluated at `now`."""
        now = _aware(now, "now")
        due_date = self.due_date
        due_at = None if due_date is None else datetime.combine(due_date, time.max, tzinfo=TZ)
        elapsed = self._elapsed(now)
        # With limit 0 nothing was ever available, so the allowance is fully used from the start;
        # `overdue` says whether the acceptance day has passed.
        fraction = elapsed / self.limit_days if self.limit_days else 1.0
        return ClockStatus(
            now=now,
            limit_days=self.limit_days,
            started_at=self.started_at,
            start_date=self.start_date,
            due_date=due_date,
            due_at=due_at,
            paused=self.paused,
            paused_intervals=list(self.pauses),
            elapsed=elapsed,
            remaining=self.limit_days - elapsed,
            fraction_used=fraction,
            overdue=due_at is not None and now > due_at,
        )

    def moment_at_elapsed(self, x: float) -> datetime | None:
        """The moment `status(...).elapsed` reaches `x` working days, or None when that moment
        lies beyond an open special procedure. Any x <= 0 is reached at acceptance.

        `moment_at_elapsed(limit_days)` is the midnight after `due_at`, the first overdue instant."""
        if math.isnan(x) or math.isinf(x):
            raise ValueError(f"x must be finite, got {x}")
        if x <= 0:
            return self.started_at
        whole = math.ceil(x) - 1
        day = self._nth_counted_day(whole + 1)
        if day is None:
            return None
        offset_us = round((x - whole) * _DAY_US)
        return _midnight(day) + timedelta(microseconds=offset_us)

    # -- internals ----------------------------------------------------------------------------

    def _segments(self) -> list[tuple[date, date | None]]:
        """Counted stretches as half-open day ranges (after, through]; None = open-ended."""
        segments: list[tuple[date, date | None]] = []
        after = self.accepted_on
        for start, end in self.pauses:
            segments.append((after, start.date()))
            if end is None:
                return segments
            after = max(after, end.date())
        segments.append((after, None))
        return segments

    def _nth_counted_day(self, n: int) -> date | None:
        cal = self.calendar
        for after, through in self._segments():
            if through is None:
                return cal.add_working_days(after, n)
            available = cal.working_days_between(after, through)
            if available >= n:
                return cal.add_working_days(after, n)
            n -= available
        return None

    def _counted_through(self, day: date) -> int:
        """Counted working days on or before `day`."""
        cal = self.calendar
        total = 0
        for after, through in self._segments():
            if through is None or day <= through:
                return total + cal.working_days_between(after, day)
            total += cal.working_days_between(after, through)
        return total

    def _is_counted(self, day: date) -> bool:
        if day <= self.accepted_on or not self.calendar.is_working_day(day):
            return False
        return any(after < day and (through is None or day <= through) for after, through in self._segments())

    def _elapsed(self, now: datetime) -> float:
        today = now.date()
        if today <= self.accepted_on:
            return 0.0
        elapsed = float(self._counted_through(today - _DAY))
        if self._is_counted(today):
            since_midnight = now.replace(tzinfo=None) - datetime.combine(today, time.min)
            elapsed += since_midnight / timedelta(microseconds=_DAY_US)
        return elapsed
