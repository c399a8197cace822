"""marshmallow schemas of the appeals HTTP API."""

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from services.kernel.contracts.appeals import (
    APPEAL_TYPES,
    CHANNELS,
    FINDINGS,
    INVALID_KINDS,
    RETURN_DECISIONS,
    SATISFACTION,
    URGENCIES,
)
from services.kernel.fields import Day, Id, Moment, page_of

from .domain import MAX_SPLIT_PARTS, STATUSES

CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", error="letters, digits, _ . - (at most 64)")


class AppellantSchema(Schema):
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(r"^\+?[0-9][0-9\- ]{4,30}$", error="not a phone number"))
    anonymous = fields.Boolean(load_default=False)


class LocationSchema(Schema):
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))
    town_street = fields.String(load_default=None, allow_none=True, validate=CODE)
    latitude = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))

    @validates_schema
    def both_or_neither(self, data, **kwargs):
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError("give both latitude and longitude, or neither", "latitude")


class AnswerIn(Schema):
    answer = fields.String(required=True, validate=validate.Length(min=2, max=4000),
                           metadata={"description": "what the operator answered on the call: the case's reply"})


class AppealIn(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    external_ref = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=128))
    appellant = fields.Nested(AppellantSchema, load_default=dict)
    type = fields.String(required=True, validate=validate.OneOf(APPEAL_TYPES))
    urgency = fields.String(load_default="normal", validate=validate.OneOf(URGENCIES))
    category = fields.String(required=True, validate=CODE)
    content = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    location = fields.Nested(LocationSchema, load_default=dict)
    attachments = fields.List(fields.Url(schemes={"http", "https"}), load_default=list,
                              validate=validate.Length(max=20))
    subject_department = fields.String(load_default=None, allow_none=True, validate=CODE)
    received_at = Moment(load_default=None, allow_none=True)
    public = fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "the appellant agreed to show the case in public (Open311); default by channel: on for "
                       "online_opinion, off for every other; never for efficiency complaints and the discipline "
                       "office's categories"})
    public_address = fields.Boolean(load_default=False, metadata={
        "description": "the appellant agreed to show the exact address of a public case (else: its street)"})
    close_on_call = fields.Nested(AnswerIn, load_default=None, allow_none=True,
                                  metadata={"description": "the operator answered the consultation on the call "
                                                           "(直接办结): taken in closed, with the answer as its "
                                                           "reply; no department, no clock, no call-back"})

    @validates_schema
    def complaint_names_its_unit(self, data, **kwargs):
        if data.get("type") == "efficiency_complaint" and not data.get("subject_department"):
            raise ValidationError("an efficiency complaint names the department complained about",
                                  "subject_department")


class AppellantOut(Schema):
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    anonymous = fields.Boolean()


class LocationOut(Schema):
    address = fields.String(allow_none=True)
    town_street = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)


class ClockOut(Schema):
    started_at = Moment(allow_none=True)
    limit_days = fields.Integer(allow_none=True)
    due_at = Moment(allow_none=True)
    error = fields.String(allow_none=True)
    overdue = fields.Boolean()
    urged_at = Moment(allow_none=True)
    escalated_at = Moment(allow_none=True)


class WaitOut(Schema):
    """The hotline centre's clock while the case waits for it (return_pending: the review; awaiting_dispatch: the
    dispatch; replied: the call-back); null in any other status."""

    since = Moment()
    due_at = Moment(allow_none=True, metadata={"description": "null while the calendar lacks the year"})


class ExtensionOut(Schema):
    used = fields.Boolean()
    pending_days = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)


class AssistOut(Schema):
    department = fields.String()
    department_name = fields.String(metadata={"description": "its name in the register of organisations"})
    requested_at = Moment()
    accepted_at = Moment(allow_none=True)
    replied_at = Moment(allow_none=True)
    part = fields.String(allow_none=True)


class AppealOut(Schema):
    id = fields.Integer()
    case_no = fields.String()
    channel = fields.String()
    external_ref = fields.String(allow_none=True)
    type = fields.String()
    urgency = fields.String()
    category = fields.String()
    content = fields.String()
    appellant = fields.Nested(AppellantOut)
    location = fields.Nested(LocationOut)
    attachments = fields.List(fields.String())
    department = fields.String(allow_none=True)
    subject_department = fields.String(allow_none=True)
    status = fields.String()
    status_zh = fields.String()
    # the codes' Chinese names (views.Labels): a code nobody names is shown as itself
    category_name = fields.String(metadata={"description": "the category's name in the dispatch catalogue (道路设施)"})
    department_name = fields.String(allow_none=True, metadata={
        "description": "the department's name in the register of organisations (DEPARTMENTS_FILE)"})
    town_street_name = fields.String(allow_none=True, metadata={"description": "the town-street's name (register)"})
    subject_department_name = fields.String(allow_none=True, metadata={
        "description": "the name of the department an efficiency complaint is about (register)"})
    channel_zh = fields.String(metadata={"description": "the channel's label (12345热线)"})
    type_zh = fields.String(metadata={"description": "the type's label (投诉)"})
    urgency_zh = fields.String(metadata={"description": "the urgency's label (一般, 紧急)"})
    received_at = Moment()
    dispatched_at = Moment(allow_none=True)
    accepted_at = Moment(allow_none=True)
    replied_at = Moment(allow_none=True)
    closed_at = Moment(allow_none=True)
    due_at = Moment(allow_none=True)
    clock = fields.Nested(ClockOut)
    wait = fields.Nested(WaitOut, allow_none=True)
    acceptance_overdue = fields.Boolean(metadata={"description": "not signed for within the acceptance limit of "
                                                                 "its latest dispatch"})
    extension = fields.Nested(ExtensionOut)
    reply = fields.String(allow_none=True)
    return_reason = fields.String(allow_none=True)
    returned_by = fields.String(allow_none=True, metadata={
        "description": "the department whose return waits for review (return_pending), or was reviewed last"})
    return_count = fields.Integer()
    reopen_count = fields.Integer()
    repeat_count = fields.Integer()
    duplicate_of = fields.String(allow_none=True, metadata={"description": "case_no of the open case"})
    satisfaction = fields.String(allow_none=True)
    resolved = fields.Boolean(allow_none=True)
    supervised_until = Day(allow_none=True)
    exposed = fields.Boolean()
    finding = fields.String(allow_none=True)
    finding_reasons = fields.String(allow_none=True)
    finding_person = fields.String(allow_none=True)
    reward = fields.Boolean(allow_none=True)
    public = fields.Boolean(metadata={"description": "shown by the Open311 facade"})
    public_address = fields.Boolean(metadata={"description": "with its exact address (else the street)"})
    public_id = fields.String(allow_none=True, metadata={"description": "its service_request_id in Open311"})
    closed_on_call = fields.Boolean(metadata={"description": "answered and closed on the call (直接办结)"})
    invalid_kind = fields.String(allow_none=True, metadata={
        "description": "status invalid (无效): prank, wrong_number, test or other"})
    void_reason = fields.String(allow_none=True, metadata={
        "description": "why the case was ended as invalid or withdrawn (撤诉)"})
    assisting = fields.List(fields.Nested(AssistOut), metadata={
        "description": "assisting departments (协办) of the current dispatch; in lists and exports only department, "
                       "accepted_at and replied_at (the part is in one appeal's answer)"})
    merged_into = fields.Integer(allow_none=True, metadata={"description": "status merged: the main case's id"})
    split_from = fields.Integer(allow_none=True, metadata={"description": "the case this one was split off"})


class SplitOut(AppealOut):
    parts = fields.List(fields.Nested(AppealOut), metadata={"description": "the new cases, in the order given"})


class HistoryOut(Schema):
    at = Moment()
    actor = fields.String()
    role = fields.String()
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    details = fields.Dict()


class AppealDetailOut(AppealOut):
    history = fields.List(fields.Nested(HistoryOut))


_STATUS = "|".join(STATUSES)


class SearchFilters(Schema):
    """The filters of the operator's search (GET /api/v1/appeals and its export), ANDed; docs/appeals-desk.md."""

    case_no = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Za-z0-9]{1,32}$",
                                                                        error="not a case number"))
    phone = fields.String(load_default=None, metadata={"description": "the caller's number, any spelling (+86, "
                                                                      "spaces, dashes); operators only (else 403)"},
                          validate=validate.Regexp(r"^\+?[0-9][0-9\- ()]{4,30}$", error="not a phone number"))
    keyword = fields.String(load_default=None, validate=validate.Length(min=1, max=100), metadata={
        "description": "words in the content or the reply (substrings; terms separated by spaces, each must occur); "
                       "a term of 1-2 characters needs from/to at most 31 days apart, a case_no or a phone (else 400)"})
    type = fields.String(load_default=None, validate=validate.OneOf(APPEAL_TYPES))
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    urgency = fields.String(load_default=None, validate=validate.OneOf(URGENCIES))
    status = fields.String(load_default=None, validate=validate.Regexp(rf"^({_STATUS})(,({_STATUS}))*$",
                                                                       error="statuses, comma-separated"),
                           metadata={"description": "one status or several, comma-separated"})
    department = fields.String(load_default=None, validate=CODE)
    category = fields.String(load_default=None, validate=CODE)
    town_street = fields.String(load_default=None, validate=CODE)
    overdue = fields.Boolean(load_default=None, metadata={"description": "true: overdue only; false: not overdue"})
    received_from = Moment(load_default=None, data_key="from", metadata={"description": "received at or after"})
    received_to = Moment(load_default=None, data_key="to", metadata={"description": "received before"})
    involvement = fields.String(load_default=None, validate=validate.OneOf(("lead", "assisting", "any")), metadata={
        "description": "how `department` is read: lead (主办: the case is the department's), assisting (协办: the "
                       "department assists on it) or any. Default: lead; a department handler's list: any (its own "
                       "cases and those it assists on). assisting or any without a department: 400"})
    sort = fields.String(load_default=None, validate=validate.OneOf(
        ("received_at", "-received_at", "due_at", "-due_at", "case_no", "-case_no")),
        metadata={"description": "a leading - sorts descending; default: newest first (by intake)"})

    @post_load
    def statuses(self, data, **kwargs):
        if data.get("status") is not None:
            data["status"] = tuple(dict.fromkeys(data["status"].split(",")))
        return data


class AppealsQuery(SearchFilters):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


AppealPage = page_of(AppealOut, "AppealPage")


class At(Schema):
    """Every handling action: when it happened (default: now). The hotline's or the department's own system
    may report late; an `at` in the future or before the case's previous step is refused."""

    at = Moment(load_default=None, allow_none=True)


class DispatchIn(At):
    department = fields.String(required=True, validate=CODE)
    assisting = fields.List(fields.String(validate=CODE), load_default=list, validate=validate.Length(max=10),
                            metadata={"description": "assisting departments (协办): each signs for and gives its "
                                                     "part; the case's clock is the lead's. Replaces the previous "
                                                     "dispatch's"})


class AssistReplyIn(At):
    part = fields.String(required=True, validate=validate.Length(min=2, max=4000),
                         metadata={"description": "the assisting department's part of the reply"})


class ReasonIn(At):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class ReplyIn(At):
    reply = fields.String(required=True, validate=validate.Length(min=2, max=4000))


class ExtensionIn(At):
    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=60))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class ExtensionDecisionIn(At):
    approved = fields.Boolean(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ReturnReviewIn(At):
    decision = fields.String(required=True, validate=validate.OneOf(RETURN_DECISIONS))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class CallbackIn(At):
    satisfaction = fields.String(required=True, validate=validate.OneOf(SATISFACTION))
    resolved = fields.Boolean(required=True)


class SuperviseIn(At):
    act_by = Day(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    exposed = fields.Boolean(load_default=False)


class FindingIn(At):
    finding = fields.String(required=True, validate=validate.OneOf(FINDINGS))
    reasons = fields.String(required=True, validate=validate.Length(min=2, max=4000))
    person = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    reward = fields.Boolean(load_default=False)


class CloseOnCallIn(At, AnswerIn):
    """直接办结: the answer the operator gave on the call."""


class InvalidateIn(At):
    kind = fields.String(required=True, validate=validate.OneOf(INVALID_KINDS),
                         metadata={"description": "prank 恶意骚扰, wrong_number 拨错号码, test 测试, other 其他"})
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class MergeIn(At):
    into = Id(required=True, strict=True,
              metadata={"description": "the id of the main case (same matter, same department)"})
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class PartIn(Schema):
    content = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    category = fields.String(required=True, validate=CODE)
    type = fields.String(required=True, validate=validate.OneOf(APPEAL_TYPES))


class SplitIn(At):
    parts = fields.List(fields.Nested(PartIn), required=True, validate=validate.Length(min=1, max=MAX_SPLIT_PARTS),
                        metadata={"description": "the case's other matters, each to become a new case (the case "
                                                 "keeps its first matter)"})
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class CorrectIn(At):
    """At least one of the fields; each changed one goes into the history (old → new)."""

    category = fields.String(validate=CODE)
    town_street = fields.String(allow_none=True, validate=CODE)
    address = fields.String(allow_none=True, validate=validate.Length(max=300))
    type = fields.String(validate=validate.OneOf(APPEAL_TYPES))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))

    @validates_schema
    def something_to_correct(self, data, **kwargs):
        if not any(k in data for k in ("category", "town_street", "address", "type")):
            raise ValidationError("give at least one of category, town_street, address, type", "_schema")


class RuleIn(Schema):
    category = fields.String(required=True, validate=CODE)
    town_street = fields.String(load_default=None, allow_none=True, validate=CODE)
    department = fields.String(required=True, validate=CODE)
    category_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class RuleOut(Schema):
    id = fields.Integer()
    category = fields.String()
    town_street = fields.String(allow_none=True)
    department = fields.String()
    category_name = fields.String()
    description = fields.String(allow_none=True)
    updated_at = Moment()
