"""The hot-issue report's use cases: compute the report of a period, and publish its summary (by hand, or on the
schedule: once per period whatever the number of instances)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.kernel import clock
from services.kernel.departments import DepartmentRegister

from . import publications, store
from .domain import FIGURES, Period, Schedule, change, event_payload, ranked

log = logging.getLogger(__name__)

EVENT_TYPE = "report.hot_issues_published"


def hot_issues(session: Session, period: Period, now: datetime | None = None,
               register: DepartmentRegister | None = None) -> dict:
    """The report of `period` (see the package's doc for what each figure means), town-streets named by the
    register of organisations (`town_street_name`; the code where it names none)."""
    conn = session.connection()  # Core: the ORM layer would add a third to every one of the small queries
    names = store.category_names(conn)
    cells = store.cells(conn, period)
    categories = ranked(cells, "category")
    for item in categories:
        item["category_name"] = names.get(item["category"], item["category"])
    totals = {k: sum(c[k] for c in cells) for k in FIGURES}
    register = register or DepartmentRegister(None)
    towns = ranked(cells, "town_street")
    groups = store.groups(conn, period, cells, names)
    for item in (*towns, *groups):
        item["town_street_name"] = register.name(item["town_street"])
    prev = period.previous
    return {
        "period": {"from": period.first, "to": period.last, "days": period.days, "previous_from": prev.first,
                   "previous_to": prev.last, "timezone": str(clock.TZ)},
        "generated_at": now or clock.now(),
        "totals": {**totals, **change(totals["count"], totals["previous"])},
        "categories": categories,
        "town_streets": towns,
        "repeat_callers": store.repeat_callers(conn, period, names),
        "groups": groups,
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


def publish_scheduled(reader, unit_of_work, schedule: Schedule, now: datetime) -> list[tuple[str, Period]]:
    """Publish the brief of every period `schedule` says is due at `now` and nobody published yet (the timer of
    each instance calls this): the (kind, period) published here. The publication row and the event commit
    together, and the row's unique key lets one instance's commit through: another instance that computed the same
    period at the same moment rolls back, event and all. The cheap look-up first spares the computation."""
    done = []
    for kind, period in schedule.due(now):
        with reader() as s:
            if publications.published(s, kind, period) is not None:
                log.debug("hot-issue brief %s %s–%s: already published", kind, period.first, period.last)
                continue
            payload = event_payload(hot_issues(s, period, now))
        try:
            with unit_of_work() as uow:
                event = uow.publish(EVENT_TYPE, payload)
                publications.record(uow.session, kind, period, event["event_id"], payload["total"], now)
        except IntegrityError:
            log.info("hot-issue brief %s %s–%s was published by another instance", kind, period.first, period.last)
            continue
        log.info("hot-issue brief %s %s–%s published on schedule (%d cases)", kind, period.first, period.last,
                 payload["total"])
        done.append((kind, period))
    return done
