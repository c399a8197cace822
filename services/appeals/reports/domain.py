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
            "total": report["totals"]["count"]}

