"""Contracts of the commands the monitor console (served by notify) sends to the service that owns an alert.

The console never changes an alert itself: it asks the owner (`owner`: approvals for its alerts) through
an event, and the owner answers with its usual `monitor.alert_acknowledged` / `monitor.alert_resolved`,
which the console then shows. The owner deduplicates on `event_id` and ignores a request it cannot carry
out (already resolved, unknown alert), logging why.

A monitor's review of a department's rectification report goes the same way (actions `accept_rectification`,
`return_rectification`), answered by `monitor.rectification_accepted` / `monitor.rectification_returned`.

And what the console shows of a service's state: `calendar.waiting`, the records waiting for a calendar year."""

from marshmallow import Schema, fields, validate

from .envelope import contract

# accept_rectification / return_rectification (issue 14): a monitor's review of the department's rectification
# report of the alert, carried out as approvals' POST /api/v1/alerts/<id>/rectification/accept|return and answered
# by monitor.rectification_accepted (with monitor.alert_resolved) / monitor.rectification_returned
ALERT_ACTIONS = ("acknowledge", "resolve", "accept_rectification", "return_rectification")


class _Actor(Schema):
    name = fields.String(required=True)
    role = fields.String(required=True)
    department = fields.String(load_default=None, allow_none=True)


@contract("alert.action_requested", version=1)
class AlertActionRequested(Schema):
    """A monitor pressed acknowledge or resolve in the console, or accept / send back (退回) on the alert's
    rectification report. `note` is required to resolve (what was corrected) and to send a report back (the
    reason); a remark otherwise. `alert_id` is the owner's alert id."""

    owner = fields.String(required=True, validate=validate.OneOf(("approvals", "appeals")))
    alert_id = fields.String(required=True)
    # the alert's department as the console has it: alert ids are unique per node only, so an owner whose alert
    # of that id belongs to another department ignores the request
    department = fields.String(load_default=None, allow_none=True)
    action = fields.String(required=True, validate=validate.OneOf(ALERT_ACTIONS))
    note = fields.String(load_default=None, allow_none=True)
    actor = fields.Nested(_Actor, required=True)


@contract("calendar.waiting", version=1)
class CalendarWaiting(Schema):
    """How many open records of a service wait for a working-day calendar year that is not loaded (cases or
    applications without a due time: next year's State Council notice is not imported yet). Published by appeals
    and approvals when the count or the years change, and once at start; the latest `at` per service and
    department (the node's DEPARTMENT, null for a single deployment) is the state. `waiting` 0: none waits."""

    service = fields.String(required=True, validate=validate.OneOf(("appeals", "approvals")))
    department = fields.String(load_default=None, allow_none=True)
    waiting = fields.Integer(required=True, validate=validate.Range(min=0))
    missing_years = fields.List(fields.Integer(), load_default=list)
    at = fields.AwareDateTime(required=True, format="iso")
