"""Contracts of the commands the monitor console (served by notify) sends to the service that owns an alert.

The console never changes an alert itself: it asks the owner (`owner`: approvals for its alerts) through
an event, and the owner answers with its usual `monitor.alert_acknowledged` / `monitor.alert_resolved`,
which the console then shows. The owner deduplicates on `event_id` and ignores a request it cannot carry
out (already resolved, unknown alert), logging why."""

from marshmallow import Schema, fields, validate

from .envelope import contract

ALERT_ACTIONS = ("acknowledge", "resolve")


class _Actor(Schema):
    name = fields.String(required=True)
    role = fields.String(required=True)
    department = fields.String(load_default=None, allow_none=True)


@contract("alert.action_requested", version=1)
class AlertActionRequested(Schema):
    """A monitor pressed acknowledge or resolve in the console. `note` is required to resolve (what was
    corrected). `alert_id` is the owner's alert id."""

    owner = fields.String(required=True, validate=validate.OneOf(("approvals", "appeals")))
    alert_id = fields.String(required=True)
    # the alert's department as the console has it: alert ids are unique per node only, so an owner whose alert
    # of that id belongs to another department ignores the request
    department = fields.String(load_default=None, allow_none=True)
    action = fields.String(required=True, validate=validate.OneOf(ALERT_ACTIONS))
    note = fields.String(load_default=None, allow_none=True)
    actor = fields.Nested(_Actor, required=True)
