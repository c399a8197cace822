"""The hot-issue report's use cases: compute the report of a period, and publish its summary."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.kernel import clock

from . import store
from .domain import FIGURES, Period, change, event_payload, ranked

EVENT_TYPE = "report.hot_issues_published"


def hot_issues(session: Session, period: Period, now: datetime | None = None) -> dict:
    """The report of `period` (see the package's doc for what each figure means)."""
    conn = session.connection()  # Core: the ORM layer would add a third to every one of the small queries
    names = store.category_names(conn)
    cells = store.cells(conn, period)
    categories = ranked(cells, "category")
    for item in categories:
        item["category_name"] = names.get(item["category"], item["category"])
    totals = {k: sum(c[k] for c in cells) for k in FIGURES}
    prev = period.previous
    return {
        "period": {"from": period.first, "to": period.last, "days": period.days, "previous_from": prev.first,
                   "previous_to": prev.last, "timezone": str(clock.TZ)},
        "generated_at": now or clock.now(),
        "totals": {**totals, **change(totals["count"], totals["previous"])},
        "categories": categories,
        "town_streets": ranked(cells, "town_street"),
        "repeat_callers": store.repeat_callers(conn, period, names),
        "groups": store.groups(conn, period, cells, names),
    }


def publish_hot_issues(reader, unit_of_work, period: Period) -> tuple[dict, dict]:
    """Publish the summary of `period` (event report.hot_issues_published): (its payload, the event). Computed
    in a read session (`reader()`) first, then published in a unit of work of its own (`unit_of_work()`): on
    SQLite the write lock is then held only for the outbox row, not for the whole computation (intake would wait
    for it)."""
    with reader() as s:
        payload = event_payload(hot_issues(s, period))
    with unit_of_work() as uow:
        event = uow.publish(EVENT_TYPE, payload)
    return payload, event
