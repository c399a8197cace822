"""Supervision orders (督办): a monitor orders the department to act on an open application by a date; the
order is itself monitored. When `act_by` has passed (its end, Asia/Shanghai) with the application still open,
one `red` alert (rule `supervision_overdue:<order id>`) and one `monitor.supervision_overdue` event are raised.
An order is fulfilled when its application is decided (or delivered); it is closed when the application was
refused. Its state is derived from the application's, so no window action has to know about orders.

Its own timer, not the `alarms` table: an application's alarms are replaced by every window action, an order's
moment is not. Several instances claim due orders with `FOR UPDATE SKIP LOCKED`, and alerts are unique per
(application, rule): an order fires once.

By layer: `domain` (the rules), `store` (the table and its queries), `schemas` (the HTTP API's), `usecases`
(order one, check the due ones), `endpoints` (the mixin `SupervisionEndpoints`)."""

from .endpoints import SupervisionEndpoints

__all__ = ["SupervisionEndpoints"]
