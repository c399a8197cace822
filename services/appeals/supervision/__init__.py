"""Supervision orders on appeals (督办): a monitor orders the case's department to act by a date (`act_by`), and
the order is itself monitored. A warning (`appeal.supervision_warning`) when SUPERVISION_WARN_DAYS working days
are left (default 1: at the start of the last working day on or before `act_by`), and an overdue event
(`appeal.supervision_overdue`) the first instant after `act_by`, each once, unless the order was fulfilled
first: the department replied after the order, or the case closed.

Its own columns and timer, not the `alarms` table: an appeal's alarms are replaced by every step of the case, an
order's moments are not. Several instances claim due orders with `FOR UPDATE SKIP LOCKED`; a step of the case
reported late first fires the orders' moments before it (`usecases.catch_up`), at their real moments.

By layer: `domain` (the rules), `store` (the table and its queries), `schemas` (the HTTP API's), `usecases`
(record, fulfil, catch up, check the due ones, list), `endpoints` (the mixin `SupervisionEndpoints`)."""

from .endpoints import SupervisionEndpoints

__all__ = ["SupervisionEndpoints"]
