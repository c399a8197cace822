"""The hot-issue report's rules: the period a request means, the figures of each category and town-street
against the previous period, their ranking, and what the published event says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from marshmallow import ValidationError

from services.kernel import clock

DEFAULT_DAYS = 7
MAX_DAYS = 366
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
TOP_CALLERS = 20
TOP_GROUPS = 20
GROUP_MIN = 3
CALLER_MIN = 2
CASE_NOS = 10
FIGURES = ("count", "previous", "open", "overdue", "repeat_calls")
TOP_EVENT = 10  # categories named in the published event
BRIEF_ROWS = 10  # rows per table of the one-page brief


# -- the period -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    first: date  # first day, included
    last: date  # last day, included

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=clock.TZ)

    @property
    def end(self) -> datetime:  # excluded
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=clock.TZ)

    @property
    def previous(self) -> Period:
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


def resolve_period(first: date | None, last: date | None, today: date) -> Period:
    """The period a request means; ValidationError with messages on `from` / `to` if it makes no sense."""
    if last is None:
        last = today if first is None else max(today, first)
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValidationError({"to": [f"must be on or after from ({first.isoformat()})"]})
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationError({"to": [f"the period may span at most {MAX_DAYS} days"]})
    return Period(first, last)



def change(count: int, previous: int) -> dict:
    pct = round((count - previous) * 100 / previous, 1) if previous else None
    return {"change": count - previous, "change_pct": pct}


def ranked(cells: list[dict], key: str) -> list[dict]:
    acc: dict = {}
    for cell in cells:
        f = acc.setdefault(cell[key], dict.fromkeys(FIGURES, 0))
        for k in FIGURES:
            f[k] += cell[k]
    items = [{key: k, **f, **change(f["count"], f["previous"])} for k, f in acc.items()
             if f["count"] or f["previous"] or f["repeat_calls"]]
    items.sort(key=lambda i: (-i["count"], -i["repeat_calls"], -i["previous"], i[key] is None, i[key] or ""))
    for rank, item in enumerate(items, 1):
        item["rank"] = rank
    return items



def event_payload(report: dict) -> dict:
    return {"period_from": report["period"]["from"].isoformat(), "period_to": report["period"]["to"].isoformat(),
            "top_categories": [c["category"] for c in report["categories"] if c["count"]][:TOP_EVENT],
            "top_category_names": [c["category_name"] for c in report["categories"] if c["count"]][:TOP_EVENT],
            "total": report["totals"]["count"]}



# -- the schedule ---------------------------------------------------------------------------------------

SCHEDULES = ("weekly", "monthly")
SCHEDULE_ZH = {"weekly": "周报", "monthly": "月报"}


@dataclass(frozen=True)
class Schedule:
    """When the brief is published by itself: `kinds` (weekly: Monday–Sunday, monthly: a calendar month),
    `delay` after the period's end (the first check at or after Monday 00:05 publishes the week before), and
    `catch_up`: a period whose publication moment is longer ago than this is left to a person (the publish
    endpoint), so that a first start or a long outage does not publish old periods by surprise."""

    kinds: tuple[str, ...] = SCHEDULES
    delay: timedelta = timedelta(minutes=5)
    catch_up: timedelta = timedelta(days=2)
    check_seconds: float = 60.0

    @classmethod
    def from_config(cls, cfg: dict | None) -> Schedule:
        """`REPORTS` of the config: HOT_ISSUES_SCHEDULE (a list, or comma-separated; [], empty or "off": none;
        absent: none), HOT_ISSUES_DELAY_MINUTES, HOT_ISSUES_CATCH_UP_HOURS, HOT_ISSUES_CHECK_SECONDS. ValueError names
        the bad setting."""
        cfg = cfg or {}
        raw = cfg.get("HOT_ISSUES_SCHEDULE")
        if raw is None or raw is False or (isinstance(raw, str) and raw.strip().lower() in ("", "off", "none", "[]")):
            kinds: list[str] = []
        elif isinstance(raw, str):
            kinds = [k.strip() for k in raw.strip("[]").split(",") if k.strip()]
        elif isinstance(raw, list | tuple):
            kinds = [str(k).strip() for k in raw]
        else:
            raise ValueError(f"REPORTS.HOT_ISSUES_SCHEDULE must be a list of {', '.join(SCHEDULES)}, got {raw!r}")
        unknown = [k for k in kinds if k not in SCHEDULES]
        if unknown:
            raise ValueError(f"REPORTS.HOT_ISSUES_SCHEDULE: unknown {', '.join(map(repr, unknown))}; "
                             f"use {', '.join(SCHEDULES)} or []")

        def number(key, default, low):
            value = cfg.get(key)
            if value is None or value == "":
                return default
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"REPORTS.{key} must be a number, got {value!r}") from None
            if value < low:
                raise ValueError(f"REPORTS.{key} must be at least {low}, got {value:g}")
            return value

        return cls(kinds=tuple(dict.fromkeys(kinds)),
                   delay=timedelta(minutes=number("HOT_ISSUES_DELAY_MINUTES", 5, 0)),
                   catch_up=timedelta(hours=number("HOT_ISSUES_CATCH_UP_HOURS", 48, 1)),
                   check_seconds=number("HOT_ISSUES_CHECK_SECONDS", 60, 0.01))

    def moment(self, period: Period) -> datetime:
        """When the brief of `period` is due: its end (the next day 00:00, Asia/Shanghai) plus the delay."""
        return period.end + self.delay

    def due(self, now: datetime) -> list[tuple[str, Period]]:
        """The (kind, period) whose brief is due at `now`: of each kind, the latest whole period whose moment has
        come, unless that moment is more than `catch_up` ago."""
        found = []
        for kind in self.kinds:
            period = latest_whole(kind, (now - self.delay).astimezone(clock.TZ).date())
            if now - self.moment(period) <= self.catch_up:
                found.append((kind, period))
        return found


def latest_whole(kind: str, today: date) -> Period:
    """The last whole week (Monday–Sunday) or calendar month that ended before `today` began."""
    if kind == "weekly":
        last = today - timedelta(days=today.weekday() + 1)
        return Period(last - timedelta(days=6), last)
    if kind == "monthly":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last)
    raise ValueError(kind)
