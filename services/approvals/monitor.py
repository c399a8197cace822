"""The electronic monitor (电子监察): every application's next check times are indexed alarms; a timer claims
the due ones (several instances never claim the same), and raises each warning, card or irregularity as a
stored alert and an event in one unit of work. Alerts are unique per (application, rule), so an alarm that
fires again after its application was rescheduled never raises the same alert twice."""

from __future__ import annotations

import contextlib
import logging

import eventlet
from nameko.timer import timer

from services.kernel import clock
from services.kernel.domain import SYSTEM
from services.kernel.service import catch_up_with_calendar
from services.kernel.workcal import CalendarUnavailable

from . import handlers, store
from .domain import (
    ACCEPTED,
    CALENDAR_UNAVAILABLE,
    DEEMED_ACCEPTANCE,
    OPEN,
    RED_CARD,
    SPECIAL_PROCEDURE_OVERRUN,
    SUBMITTED,
    WARNING_DAYS_LEFT,
    WARNING_FRACTION,
    YELLOW_CARD,
    IllegalTransition,
)
from .handlers import event_figures

log = logging.getLogger(__name__)

ALARM_BATCH = 100  # small batches: the first events go out while later ones are prepared
MONITOR_INTERVAL = 0.2
# alarm kind -> (alert level, event type)
CARDS = {
    WARNING_DAYS_LEFT: ("warning", "monitor.warning"),
    WARNING_FRACTION: ("warning", "monitor.warning"),
    YELLOW_CARD: ("yellow", "monitor.yellow_card"),
    RED_CARD: ("red", "monitor.red_card"),
}


class MonitorTimer:
    """Mixed into the service class (needs `platform`, `settings`, `_app`, `apply`, `alert_irregularity`)."""

    # every 0.2 s: an idle tick is one indexed query, and a due alarm waits at most one interval
    @timer(interval=MONITOR_INTERVAL)
    def fire_alarms(self):
        with self.platform.session() as s:
            if not store.alarm_due(s, clock.now()):
                return
        while self._fire_batch() >= ALARM_BATCH:
            eventlet.sleep(0)  # let the relay publish this batch while the next is prepared

    def _fire_batch(self) -> int:
        now = clock.now()
        with self.platform.unit_of_work() as uow:
            s = uow.session
            due = store.claim_due_alarms(s, now, ALARM_BATCH)
            items: dict = {}
            busy = []
            # A window action holding an application waits for these alarm rows: never wait for it in turn
            # (a deadlock on PostgreSQL), give its alarms back for the next tick instead.
            rows = store.get_many(s, sorted({alarm["application_id"] for alarm in due}))
            for alarm in due:
                row = rows.get(alarm["application_id"])
                if row is None:
                    busy.append(alarm["alarm_id"])
                    continue
                if row["state"] not in OPEN:
                    continue
                app = self._app(s, row, now, items)
                kind = alarm["kind"]
                if kind == DEEMED_ACCEPTANCE:
                    if row["state"] == SUBMITTED:
                        # IllegalTransition: a notice in time or an acceptance came first
                        with contextlib.suppress(IllegalTransition):
                            self.apply(uow, app, app.deem_accepted(now, SYSTEM), SYSTEM, now, now)
                elif kind in CARDS:
                    if row["state"] == ACCEPTED:
                        self._raise(uow, app, *CARDS[kind], kind, now)
                elif kind == SPECIAL_PROCEDURE_OVERRUN:
                    irregularity = app.special_procedure_overrun(now)
                    if irregularity is not None:
                        self.alert_irregularity(uow, app, irregularity, now, refused=False)
                elif kind == CALENDAR_UNAVAILABLE:
                    self._raise(uow, app, "warning", "monitor.warning", CALENDAR_UNAVAILABLE, now,
                                {"error": row["clock_error"] or self._missing_year()})
                else:
                    log.warning("unknown alarm kind %s of application %s", kind, row["id"])
            store.unclaim(s, busy)
        return len(due) - len(busy)

    # At start (and, harmlessly, every hour after): the calendar is read when the service starts, so a
    # year added to CALENDAR_FILE arrives with a restart. Then the open applications whose clock or monitor
    # moments could not be computed for want of that year get them now, and their calendar_unavailable
    # alerts are resolved by the system.
    @timer(interval=3600, eager=True)
    def recalculate_after_calendar(self):
        def pending():
            with self.platform.session() as s:
                return store.calendar_pending(s, OPEN, CALENDAR_UNAVAILABLE)

        # rows a window action held are skipped and looked at again in an hour
        catch_up_with_calendar(self.settings, "applications", pending, self._recalculate, ALARM_BATCH)

    def _recalculate(self, ids: list[int]) -> tuple[int, int]:
        """(recalculated, skipped because another transaction held them)."""
        now = clock.now()
        done = 0
        with self.platform.unit_of_work() as uow:
            s = uow.session
            items: dict = {}
            rows = store.get_many(s, ids)
            for row in rows.values():
                app = self._app(s, row, now, items)
                outcome = app.recalculated(now)
                if outcome is None:
                    continue  # still a year short, or closed meanwhile
                self.apply(uow, app, outcome, SYSTEM, now, now)
                for alert in store.unresolved_alerts(s, row["id"], CALENDAR_UNAVAILABLE):
                    handlers.change_alert(uow, self.settings, alert, {"state": "resolved", "resolved_by": SYSTEM.name,
                                                   "resolved_at": now,
                                                   "note": "节假日安排已载入，期限已重新计算"},
                                      "monitor.alert_resolved", SYSTEM.name)
                done += 1
        return done, len(ids) - len(rows)

    def _missing_year(self) -> str:
        """Why a moment could not be computed before the application had a clock: the year after the last
        one the calendar holds (the only one a near deadline can run into)."""
        return str(CalendarUnavailable(max(self.settings.calendar.years_covered()) + 1))

    def _raise(self, uow, app, level: str, event_type: str, rule: str, now, details: dict | None = None) -> None:
        figures = event_figures(app, now)
        alert_id = store.raise_alert(uow.session, app.row["id"], app.row["department"], level, rule, now,
                                     {**(details or {}), **{k: figures.get(k) for k in (
                                         "due_at", "limit_days", "elapsed_days", "remaining_days")}})
        if alert_id is not None:
            uow.publish(event_type, {**figures, "alert_id": str(alert_id), "level": level, "rule": rule,
                                     "raised_at": now}, department=app.row["department"])
