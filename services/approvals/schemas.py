"""marshmallow schemas of the approvals HTTP API (the window-system contract, the catalogue, alerts)."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.kernel.contracts.approvals import ALERT_LEVELS, ALERT_SUBJECTS
from services.kernel.fields import Day, Id, Moment, page_of

from .domain import KINDS, SPECIAL_PROCEDURES, STATES

CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", error="letters, digits, _ . - (at most 64)")
SERVICE_POINTS = ("city_center", "town_street_center", "village_agent")
APPLICANT_KINDS = ("person", "enterprise")
LIGHTS = ("green", "yellow", "red")


# a staff member's badge number (佩证上岗): printed on the badge, stored and shown as given
BADGE = validate.Regexp(r"^[A-Za-z0-9\-]{1,32}$", error="a badge number: 1 to 32 letters, digits or -")


class At(Schema):
    """Every window action, the submission included: when it happened at the counter (default: now), and at which
    registered window by which badge (佩证上岗; the first step naming a badge makes them responsible, 首问负责)."""

    at = Moment(load_default=None, allow_none=True)
    window = fields.String(load_default=None, allow_none=True, validate=CODE, metadata={
        "description": "the registered, active window (GET /api/v1/windows) of the application's department or a "
                       "comprehensive one (综合窗口); else 400"})
    badge = fields.String(load_default=None, allow_none=True, validate=BADGE, metadata={
        "description": "the badge number of the staff member who acted (佩证上岗), 1-32 of A-Z a-z 0-9 -"})


# what a window system's own reference of an action may be (it is stored and compared, never parsed)
ACTION_REF = validate.Regexp(r"^[\x21-\x7e]{1,128}$", error="1 to 128 printable ASCII characters, no spaces")


class ActionIn(At):
    """Every window action on an application: `at`, and the window system's own reference of the action."""

    action_ref = fields.String(load_default=None, allow_none=True, validate=ACTION_REF, metadata={
        "description": "the window system's own reference of this action, for safe retries (or send it as the "
                       "`Idempotency-Key` header; both given: they must be equal). The same reference with the "
                       "same content answers the first (successful) result again and records nothing; with other "
                       "content: 409. References are kept ACTION_REFS.KEEP_DAYS days (default 7)."})


# -- the catalogue --------------------------------------------------------------------------------------


class MaterialSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ItemIn(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    department = fields.String(required=True, validate=CODE)
    kind = fields.String(load_default="committed", validate=validate.OneOf(KINDS))
    statutory_limit = fields.Integer(load_default=None, allow_none=True, strict=True,
                                     validate=validate.Range(min=0, max=365))
    committed_limit = fields.Integer(load_default=None, allow_none=True, strict=True,
                                     validate=validate.Range(min=0, max=365))
    materials = fields.List(fields.Nested(MaterialSchema), load_default=list, validate=validate.Length(max=100))
    fully_authorised = fields.Boolean(load_default=True)
    joint = fields.Boolean(load_default=False)
    warn_days_left = fields.Integer(load_default=None, allow_none=True, strict=True,
                                    validate=validate.Range(min=0, max=365))
    warn_fraction = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1))
    handling_place = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200), metadata={
        "description": "where it is handled (办理地点), shown in the public service guide"})
    public_results = fields.Boolean(load_default=False, metadata={
        "description": "its decisions are disclosed on the public page (审批结果公开): enterprise applicants by name, "
                       "persons never"})
    supplement_limit = fields.Integer(load_default=None, allow_none=True, strict=True,
                                      validate=validate.Range(min=1, max=365), metadata={
                                          "description": "working days the applicant has to deliver a requested "
                                                         "supplement before the application is deemed withdrawn "
                                                         "(视为撤回); null: APPROVALS.SUPPLEMENT_LIMIT (30)"})
    # the item's life (reform, #17): answered, and taken back but ignored, so that an item read can be put back;
    # only POST /api/v1/items/{code}/retire and /merge change it
    status = fields.String(load_default=None, allow_none=True, metadata={
        "description": "active, retired (取消) or merged (合并): from ended_on on it takes no new application "
                       "(read-only: ignored on input)"})
    ended_on = Day(load_default=None, allow_none=True, metadata={"description": "read-only"})
    merged_into = fields.String(load_default=None, allow_none=True, metadata={
        "description": "the item it was merged into (read-only)"})
    # the history's record of this change (reform, #17): not stored on the item
    document = fields.String(load_default=None, allow_none=True, load_only=True, validate=validate.Length(max=100),
                             metadata={"description": "the document that decided the change (e.g. 莱政发〔2026〕5号), "
                                                      "kept in the item's history"})
    effective_on = Day(load_default=None, allow_none=True, load_only=True, years_ahead=0, metadata={
        "description": "the day the change takes effect, for the history (default: today; not in the future)"})

    @validates_schema
    def committed_within_statutory(self, data, **kwargs):
        s, c = data.get("statutory_limit"), data.get("committed_limit")
        if s is not None and c is not None and c > s:
            raise ValidationError("the committed limit cannot exceed the statutory one", "committed_limit")


class ItemOut(ItemIn):
    department_name = fields.String(metadata={"description": "the department's name in the register of "
                                                             "organisations (DEPARTMENTS_FILE), else the code"})
    updated_at = Moment()


# -- applications ---------------------------------------------------------------------------------------


class ApplicantIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(APPLICANT_KINDS))
    id_number = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9A-Za-z\-]{6,32}$", error="an id card number or unified social credit code"))


class ApplicationIn(At):
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=128))
    item_code = fields.String(required=True, validate=CODE)
    applicant = fields.Nested(ApplicantIn, required=True)
    materials = fields.List(fields.String(validate=CODE), load_default=list, validate=validate.Length(max=100))
    service_point = fields.String(required=True, validate=validate.OneOf(SERVICE_POINTS))
    green_channel = fields.Boolean(load_default=False)
    project_code = fields.String(load_default=None, allow_none=True, validate=CODE)


class RefuseIn(ActionIn):
    # an empty reason reaches the domain, which refuses it and records the irregularity
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class SupplementIn(ActionIn):
    missing = fields.List(fields.String(validate=CODE), required=True, validate=validate.Length(min=1, max=100))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class SpecialProcedureIn(ActionIn):
    kind = fields.String(required=True, validate=validate.OneOf(SPECIAL_PROCEDURES))


class ExtendIn(ActionIn):
    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=60))
    approver = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class EndIn(ActionIn):
    """Withdraw (撤回) or terminate (终止): why, e.g. 申请人主动撤回 / 申请人死亡 / 申请事项已失效."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class DecideIn(ActionIn):
    approved = fields.Boolean(required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ApplicantOut(Schema):
    name = fields.String()
    kind = fields.String()
    id_number = fields.String(allow_none=True, metadata={"description": "always masked"})


class PauseOut(Schema):
    kind = fields.String()
    started_at = Moment()
    ended_at = Moment(allow_none=True)


class ClockOut(Schema):
    limit_days = fields.Integer(allow_none=True)
    started_at = Moment(allow_none=True, metadata={"description": "acceptance (the count starts "
                                                                                "the working day after)"})
    start_date = Day(allow_none=True)
    due_at = Moment(allow_none=True)
    paused = fields.Boolean()
    paused_intervals = fields.List(fields.Nested(PauseOut))
    elapsed = fields.Float(allow_none=True, metadata={"description": "working days, fractional"})
    remaining = fields.Float(allow_none=True, metadata={"description": "working days, fractional (negative when "
                                                                       "overdue): for computing; people read "
                                                                       "days_left / days_overdue"})
    days_left = fields.Integer(allow_none=True, metadata={
        "description": "whole working days left, today included when it is a working day of the limit "
                       "(剩余 N 个工作日); 0 once overdue; never negative"})
    days_overdue = fields.Integer(allow_none=True, metadata={
        "description": "whole working days past the due date (已超期 N 个工作日), the current one included; 0 in time"})
    fraction_used = fields.Float(allow_none=True)
    light = fields.String(allow_none=True, validate=validate.OneOf(LIGHTS))
    extension_days = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)


class ResponsibleOut(Schema):
    """首问负责: the window and badge of the first step that named a badge."""

    window = fields.String(allow_none=True)
    window_name = fields.String(allow_none=True, metadata={"description": "its name in the register of windows"})
    badge = fields.String()


class ApplicationOut(Schema):
    id = fields.Integer()
    application_no = fields.String()
    external_ref = fields.String()
    item_code = fields.String()
    department = fields.String()
    department_name = fields.String(metadata={"description": "its name in the register of organisations "
                                                             "(DEPARTMENTS_FILE), else the code"})
    state = fields.String()
    state_zh = fields.String()
    applicant = fields.Nested(ApplicantOut)
    materials = fields.List(fields.String())
    missing = fields.List(fields.String())
    service_point = fields.String()
    green_channel = fields.Boolean()
    project_code = fields.String(allow_none=True)
    received_at = Moment()
    accepted_at = Moment(allow_none=True)
    deemed_accepted = fields.Boolean()
    supplement_count = fields.Integer()
    refusal_reason = fields.String(allow_none=True)
    approved = fields.Boolean(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    decided_at = Moment(allow_none=True)
    decided_in_time = fields.Boolean(allow_none=True)
    delivered_at = Moment(allow_none=True)
    ended_at = Moment(allow_none=True, metadata={"description": "withdrawn, terminated or abandoned: when"})
    end_reason = fields.String(allow_none=True, metadata={"description": "withdrawn, terminated or abandoned: why"})
    due_at = Moment(allow_none=True)
    clock = fields.Nested(ClockOut, allow_none=True)
    responsible = fields.Nested(ResponsibleOut, allow_none=True, metadata={
        "description": "首问负责: the first window and badge that handled it; null until a step names a badge"})


class HistoryOut(Schema):
    at = Moment()
    recorded_at = Moment()
    actor = fields.String()
    role = fields.String()
    action = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    details = fields.Dict()
    window = fields.String(allow_none=True, metadata={"description": "the window of the step (佩证上岗), if named"})
    window_name = fields.String(allow_none=True)
    badge = fields.String(allow_none=True, metadata={"description": "the badge number of the step, if named"})


class ApplicationSubmittedOut(ApplicationOut):
    query_code = fields.String(allow_none=True, metadata={
        "description": "the receipt's query code (查询码): with application_no, the applicant's key to the public "
                       "progress query and review; answered here only (also to a retried submission)"})


class ApplicationDetailOut(ApplicationOut):
    history = fields.List(fields.Nested(HistoryOut))


class ApplicationsQuery(Schema):
    external_ref = fields.String(load_default=None, validate=validate.Length(min=1, max=128),
                                 metadata={"description": "the window system's reference of the submission"})
    department = fields.String(load_default=None, validate=CODE)
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    light = fields.String(load_default=None, validate=validate.OneOf(LIGHTS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


ApplicationPage = page_of(ApplicationOut, "ApplicationPage")


# -- alerts ---------------------------------------------------------------------------------------------


class AlertOut(Schema):
    id = fields.Integer()
    subject = fields.String(metadata={"description": "what the alert is about: " + ", ".join(ALERT_SUBJECTS)})
    subject_ref = fields.String(metadata={"description": "the application's id, the refused submission's "
                                                         "external_ref, the project's code or the joint case's id"})
    application_id = fields.Integer(allow_none=True)
    project_code = fields.String(allow_none=True, metadata={"description": "a project's alert, or a joint case's"})
    joint_id = fields.Integer(allow_none=True)
    department = fields.String(allow_none=True, metadata={"description": "None: a joint case's own clock"})
    level = fields.String()
    rule = fields.String()
    raised_at = Moment()
    details = fields.Dict()
    state = fields.String()
    acknowledged_by = fields.String(allow_none=True)
    acknowledged_at = Moment(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    resolved_at = Moment(allow_none=True)
    note = fields.String(allow_none=True)


class AlertsQuery(Schema):
    subject = fields.String(load_default=None, validate=validate.OneOf(ALERT_SUBJECTS))
    application_id = Id(load_default=None)
    project_code = fields.String(load_default=None, validate=CODE)
    joint_id = Id(load_default=None)
    department = fields.String(load_default=None, validate=CODE)
    level = fields.String(load_default=None, validate=validate.OneOf(ALERT_LEVELS))
    state = fields.String(load_default=None, validate=validate.OneOf(("open", "acknowledged", "resolved")))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


AlertPage = page_of(AlertOut, "AlertPage")


class ResolveIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                         metadata={"description": "what was corrected"})


class AckIn(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
