"""The electronic monitor's timers (电子监察): every application's next check times are indexed alarms; a timer
fires the due ones (`handlers.fire_due_alarms`: several instances never claim the same; the domain's
`Application.on_alarm` decides what each means), and another gives the applications that waited for a calendar
year their moments (`handlers.catch_up_with_calendar`), and a third forgets old action references
(`handlers.purge_action_refs`). Alerts are unique per (application, rule), so an alarm
that fires again after its application was rescheduled never raises the same alert twice."""

from __future__ import annotations

import eventlet
from nameko.timer import timer

from services.kernel import clock
from services.kernel.service import calendar_timer

from . import handlers


class MonitorTimer:
    """Mixed into the service class (needs `platform` and `settings`)."""

    # every 0.2 s: an idle tick is one indexed query, and a due alarm waits at most one interval
    @timer(interval=handlers.MONITOR_INTERVAL)
    def fire_alarms(self):
        while handlers.fire_due_alarms(self.platform, self.settings, clock.now()) >= handlers.ALARM_BATCH:
            eventlet.sleep(0)  # let the relay publish this batch while the next is prepared

    # At start and every CALENDAR_CHECK_SECONDS (60): the calendar follows CALENDAR_FILE (a year imported into it
    # is swapped in, no restart), then the open applications whose clock or monitor moments could not be computed
    # for want of that year get them, their calendar_unavailable alerts are resolved by the system, and
    # calendar.waiting says how many still wait when that changed.
    @calendar_timer
    def recalculate_after_calendar(self):
        handlers.catch_up_with_calendar(self.platform, self.settings)
        self.platform.report_calendar_waiting()

    # Hourly: the window system's references of its actions older than ACTION_REFS.KEEP_DAYS are forgotten (one
    # indexed DELETE; several instances deleting the same rows is harmless).
    @timer(interval=3600)
    def purge_action_refs(self):
        handlers.purge_action_refs(self.platform, self.settings, clock.now())
