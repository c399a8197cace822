"""Rectification (整改) of the electronic monitor's alerts: the department submits a report for an alert of its
own (what was corrected, by whom, attachments as links); a monitor or assessor accepts it — the alert is resolved
with it (`monitor.alert_resolved` naming the report) — or sends it back with a reason, and the department may
submit again. Yellow and red cards and irregularities are due for rectification within a configured number of
working days after they were raised (RECTIFICATION.DAYS, per level); an overdue one is announced once
(`monitor.rectification_overdue`).

One row per alert (`rectifications`), created with the alert (store.raise_subject_alert) and checked by its own
timer at an indexed moment (`check_at`): first to compute the due time with the working-day calendar, then at the
due time. Several instances claim due rows with `FOR UPDATE SKIP LOCKED`; `overdue_at` is set once.

By layer: `domain` (the rules), `store` (the table and its queries), `schemas` (the HTTP API's), `usecases`
(submit, review, check the due ones), `endpoints` (the mixin `RectificationEndpoints`, imported by service.py
from there: the core store imports this package's store, so this module imports nothing)."""
