"""marshmallow schemas of the notify HTTP API (and of its seed file, which holds the same objects)."""

from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, pre_dump, validate, validates_schema

from services.kernel.fields import Moment, page_of

from .channels import REDACTED, redact, scrub, secret_parts
from .domain import CHANNELS, DUTY, EVENTS, PARKED_EVENT, SEVERITIES

CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$",
                       error="letters, digits, '.', '_' or '-', at most 100, starting with a letter or digit")
KINDS = ("person", "duty", "group")
STATUSES = ("pending", "sending", "sent", "held", "digested", "parked")
# what a subscription may name: the consumed event types, the ops alert, and patterns over them
KNOWN_EVENT_TYPES = tuple(sorted({*EVENTS, PARKED_EVENT}))
_TOKEN = validate.Regexp(r"^[A-Za-z0-9_\-]{6,200}$", error="a robot token or key (letters, digits, '_' or '-')")


def _check_address(channel: str, address: str) -> str | None:
    """Why an address does not fit its channel (None: it fits)."""
    if channel == "email":
        try:
            validate.Email()(address)
        except ValidationError:
            return "not an e-mail address"
        return None
    if channel == "webhook":
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "a webhook is an http:// or https:// URL"
        return None
    if channel in ("dingtalk", "wecom"):
        prefix = {"dingtalk": "dingtalk://", "wecom": "wecombot://"}[channel]
        if address.startswith(prefix):
            return None if len(address) > len(prefix) + 5 else "the robot URL has no token"
        try:
            _TOKEN(address)
        except ValidationError:
            return f"a robot token, or an Apprise URL starting with {prefix}"
        return None
    return None


class Addresses(Schema):
    email = fields.String(validate=validate.Length(max=300))
    webhook = fields.String(validate=validate.Length(max=500))
    dingtalk = fields.String(validate=validate.Length(max=500))
    wecom = fields.String(validate=validate.Length(max=500))

    @validates_schema
    def _fits(self, data, **kwargs):
        errors = {}
        for channel, address in data.items():
            if REDACTED in address:  # sent back as read: the use case matches it against the stored address
                continue
            problem = _check_address(channel, address)
            if problem:
                errors[channel] = [problem]
        if errors:
            raise ValidationError(errors)


class RecipientIn(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    department = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))
    role = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))
    addresses = fields.Nested(Addresses, load_default=dict)
    active = fields.Boolean(load_default=True)

    @validates_schema
    def _duty_has_department(self, data, **kwargs):
        if data.get("kind") == "duty" and not data.get("department"):
            raise ValidationError({"department": ["a duty contact belongs to a department"]})


class RecipientUpdate(Schema):
    """Change a recipient; fields left out stay as they are."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    kind = fields.String(validate=validate.OneOf(KINDS))
    department = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    role = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    addresses = fields.Nested(Addresses)
    active = fields.Boolean()


class RedactedAddresses(fields.Dict):
    """A recipient's addresses as they may be shown: robot tokens and webhook URLs are secrets."""

    def _serialize(self, value, attr, obj, **kwargs):
        value = {channel: redact(channel, address) for channel, address in (value or {}).items()}
        return super()._serialize(value, attr, obj, **kwargs)


class RecipientOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    department = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    addresses = RedactedAddresses(keys=fields.String(), values=fields.String(), metadata={
        "description": f"e-mail in full; webhook URLs as scheme://host/{REDACTED} and the last 4 characters, robot "
                       f"tokens as {REDACTED} and their last 4 characters (send one back unchanged to keep it)"})
    active = fields.Boolean()
    created_at = Moment()
    updated_at = Moment()


class RecipientsQuery(Schema):
    department = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))


def _event_pattern(value: str) -> None:
    from fnmatch import fnmatchcase

    if not any(fnmatchcase(t, value) for t in KNOWN_EVENT_TYPES):
        raise ValidationError(f"matches no event type notify delivers: {value!r} (known: "
                              f"{', '.join(KNOWN_EVENT_TYPES)}; patterns like 'monitor.*' are allowed)")


class SubscriptionIn(Schema):
    recipient = fields.String(required=True, validate=validate.Length(min=1, max=100),
                              metadata={"description": f"a recipient's code, or {DUTY!r}: the duty contacts of "
                                                       "the event's department"})
    event_types = fields.List(fields.String(validate=[validate.Length(min=1, max=100), _event_pattern]),
                              required=True, validate=validate.Length(min=1, max=50))
    min_severity = fields.String(load_default="info", validate=validate.OneOf(SEVERITIES))
    departments = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list,
                              validate=validate.Length(max=200),
                              metadata={"description": "only events of these departments; empty: all"})
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))


class SubscriptionOut(Schema):
    id = fields.Integer()
    recipient = fields.String()
    event_types = fields.List(fields.String())
    min_severity = fields.String()
    departments = fields.List(fields.String())
    channel = fields.String()
    created_at = Moment()


class SubscriptionsQuery(Schema):
    recipient = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))


class DeliveriesQuery(Schema):
    event_type = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    recipient = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    department = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    event_id = fields.String(load_default=None, validate=validate.Length(min=1, max=36))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class DeliveryOut(Schema):
    id = fields.Integer()
    event_id = fields.String()
    event_type = fields.String()
    severity = fields.String()
    recipient = fields.String()
    channel = fields.String()
    department = fields.String(allow_none=True)
    subject = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "pending, sending, sent, held (quiet hours), digested "
                                                    "(went out in digest `digest_id`), parked"})
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    next_attempt_at = Moment(allow_none=True)
    digest_id = fields.Integer(allow_none=True)
    created_at = Moment()
    sent_at = Moment(allow_none=True)

    @pre_dump
    def _no_secrets(self, row, **kwargs):
        # errors recorded before they were scrubbed at the source may still name the webhook's token
        if isinstance(row, dict) and row.get("last_error") and row.get("address"):
            row = {**row, "last_error": scrub(row["last_error"], secret_parts(row["channel"], row["address"]))}
        return row


DeliveryPage = page_of(DeliveryOut, "DeliveryPage")
