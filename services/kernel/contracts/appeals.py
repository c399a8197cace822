"""Contracts of the events the appeals service (民意直通) publishes.

Personal data never travels in events: no names, no phone numbers (masked or not). Free text (reasons, notes,
the emergency's summary) is a `ScrubbedString`: phone, id and card numbers and e-mail addresses in it become
labels when the event is built, so neither the bus nor any consumer (notify's messages, its log, the console
feed) ever holds them."""

from marshmallow import Schema, fields, validate

from ..privacy import ScrubbedString
from .envelope import contract

CHANNELS = ("hotline", "mayor_line", "sunshine_dialogue", "online_opinion", "window", "web")
APPEAL_TYPES = (
    "consultation", "help", "complaint", "suggestion", "report", "praise", "efficiency_complaint",
)
URGENCIES = ("normal", "emergency")
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")
WARNING_KINDS = ("last_day", "fraction")
FINDINGS = ("upheld", "not_upheld")
RETURN_DECISIONS = ("approved", "rejected")
VOID_KINDS = ("invalid", "withdrawn")
INVALID_KINDS = ("prank", "wrong_number", "test", "other")

# The Chinese labels of the vocabularies above, for every service that shows them to people (answers, messages,
# exports, reports, Open311): defined once, beside the codes.
CHANNEL_ZH = {"hotline": "12345热线", "mayor_line": "市长公开电话", "sunshine_dialogue": "阳光对话",
              "online_opinion": "网络舆情", "window": "服务窗口", "web": "网站"}
TYPE_ZH = {"consultation": "咨询", "help": "求助", "complaint": "投诉", "suggestion": "建议", "report": "举报",
           "praise": "表扬", "efficiency_complaint": "效能投诉"}
URGENCY_ZH = {"normal": "一般", "emergency": "紧急"}
SATISFACTION_ZH = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


class _Case(Schema):
    """Fields every appeal event carries, so a consumer can act without calling back."""

    appeal_id = fields.String(required=True)
    case_no = fields.String(required=True)
    department = fields.String(load_default=None, allow_none=True)
    type = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(APPEAL_TYPES))
    urgency = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(URGENCIES))
    category = fields.String(load_default=None, allow_none=True)
    category_name = fields.String(load_default=None, allow_none=True,
                                  metadata={"description": "the category's Chinese name in the dispatch catalogue "
                                                           "(道路设施); absent from producers before it was added"})
    due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")


@contract("appeal.received", version=1)
class AppealReceived(_Case):
    """A new appeal was taken in on some channel (not a repeat of an open case)."""

    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    type = fields.String(required=True, validate=validate.OneOf(APPEAL_TYPES))
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    category = fields.String(required=True)
    town_street = fields.String(load_default=None, allow_none=True)
    received_at = fields.AwareDateTime(required=True, format="iso")


@contract("appeal.duplicate_linked", version=1)
class AppealDuplicateLinked(_Case):
    """A repeat call (same phone, category and town-street within the window) was linked to an open case
    instead of being dispatched again. `appeal_id`/`case_no` are the open case's."""

    duplicate_id = fields.String(required=True)
    duplicate_case_no = fields.String(required=True)
    repeat_count = fields.Integer(required=True)


@contract("appeal.dispatched", version=1)
class AppealDispatched(_Case):
    """The case went to a responsible department (automatically at intake, or by an operator)."""

    previous_department = fields.String(load_default=None, allow_none=True)
    limit_days = fields.Integer(load_default=None, allow_none=True)
    by = fields.String(required=True)
    assisting = fields.List(fields.String(), load_default=None, allow_none=True,
                            metadata={"description": "assisting departments (协办), each told by "
                                                     "appeal.assist_requested"})


@contract("appeal.accepted", version=1)
class AppealAccepted(_Case):
    """The department signed for the case (签收). `in_time`: before its deadline (the response rate)."""

    in_time = fields.Boolean(required=True)


@contract("appeal.returned", version=1)
class AppealReturned(_Case):
    """The department returned the case as misassigned (退回); it goes back to the operators."""

    reason = ScrubbedString(required=True)


@contract("appeal.return_reviewed", version=1)
class AppealReturnReviewed(_Case):
    """An operator reviewed a return (退单审核). `decision` approved: the return was justified, the case waits
    for re-dispatch and the return costs `returned_by` nothing; rejected: the case goes back to `returned_by`
    (then also `department`) and counts as an unjustified return."""

    returned_by = fields.String(required=True)
    decision = fields.String(required=True, validate=validate.OneOf(RETURN_DECISIONS))
    note = ScrubbedString(load_default=None, allow_none=True)
    by = fields.String(required=True)


@contract("appeal.acceptance_overdue", version=1)
class AppealAcceptanceOverdue(_Case):
    """The department did not sign for the case (签收) within the acceptance limit after `dispatched_at`; it
    counts as a late response whether or not it is accepted later."""

    dispatched_at = fields.AwareDateTime(required=True, format="iso")


class _HotlineWait(_Case):
    """Fields of the hotline centre's clock: `department` is null (the hotline centre's, no department's)."""

    waiting_since = fields.AwareDateTime(required=True, format="iso")
    wait_due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")


class _ReturnReviewWait(_HotlineWait):
    returned_by = fields.String(load_default=None, allow_none=True)


@contract("appeal.return_review_warning", version=1)
class AppealReturnReviewWarning(_ReturnReviewWait):
    """A return (退回) by `returned_by` waits for the hotline centre's review (退单审核) and one working day of
    the review limit (REVIEW_WITHIN_DAYS after `waiting_since`) is left. To the hotline centre."""


@contract("appeal.return_review_overdue", version=1)
class AppealReturnReviewOverdue(_ReturnReviewWait):
    """The review of a return was not done by `wait_due_at`. To the hotline centre."""


@contract("appeal.return_review_escalated", version=1)
class AppealReturnReviewEscalated(_ReturnReviewWait):
    """The review of a return is still not done HOTLINE_ESCALATE_AFTER_DAYS working days after it became
    overdue. To the hotline centre's management."""


@contract("appeal.dispatch_warning", version=1)
class AppealDispatchWarning(_HotlineWait):
    """A case waits for dispatch (after an approved return, or not dispatched by the catalogue at intake) and
    one working day of the re-dispatch limit (REDISPATCH_WITHIN_DAYS after `waiting_since`) is left."""


@contract("appeal.dispatch_overdue", version=1)
class AppealDispatchOverdue(_HotlineWait):
    """A case waiting for dispatch was not dispatched by `wait_due_at`. To the hotline centre."""


@contract("appeal.dispatch_escalated", version=1)
class AppealDispatchEscalated(_HotlineWait):
    """A case waiting for dispatch is still not dispatched HOTLINE_ESCALATE_AFTER_DAYS working days after it
    became overdue. To the hotline centre's management."""


class _CallbackWait(_HotlineWait):
    replied_by = fields.String(load_default=None, allow_none=True)


@contract("appeal.callback_warning", version=1)
class AppealCallbackWarning(_CallbackWait):
    """A replied case waits for its call-back (回访) and one working day of the call-back limit
    (CALLBACK_WITHIN_DAYS after the reply, `waiting_since`) is left. `replied_by`: the department that replied."""


@contract("appeal.callback_overdue", version=1)
class AppealCallbackOverdue(_CallbackWait):
    """The call-back of a replied case was not recorded by `wait_due_at`. To the hotline centre."""


@contract("appeal.callback_escalated", version=1)
class AppealCallbackEscalated(_CallbackWait):
    """The call-back is still not recorded HOTLINE_ESCALATE_AFTER_DAYS working days after it became overdue. To
    the hotline centre's management."""


class _SupervisionOrder(_Case):
    """`department`: the department the order was given to."""

    order_id = fields.String(required=True)
    act_by = fields.Date(required=True)
    ordered_at = fields.AwareDateTime(required=True, format="iso")


@contract("appeal.supervision_warning", version=1)
class AppealSupervisionWarning(_SupervisionOrder):
    """A supervision order (督办) on the case is not fulfilled (no reply after it, case open) and
    SUPERVISION_WARN_DAYS working days before the end of `act_by` are left (default: its last working day began)."""


@contract("appeal.supervision_overdue", version=1)
class AppealSupervisionOverdue(_SupervisionOrder):
    """`act_by` of a supervision order (督办) passed with the order not fulfilled: the department did not reply
    after the order and the case is open. Once per order."""


@contract("appeal.voided", version=1)
class AppealVoided(_Case):
    """The case ended as invalid (无效: `invalid_kind` prank, wrong_number, test or other) or withdrawn by the
    caller (撤诉): counted nowhere — consumers take back whatever they counted for it."""

    kind = fields.String(required=True, validate=validate.OneOf(VOID_KINDS))
    invalid_kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(INVALID_KINDS))
    reason = ScrubbedString(required=True)
    by = fields.String(required=True)


@contract("appeal.closed_on_call", version=1)
class AppealClosedOnCall(_Case):
    """The operator answered a consultation on the call and closed it (直接办结): no department, no clock, no
    call-back. `appeal.closed` follows. The answer does not travel (it is the case's reply)."""

    by = fields.String(required=True)


@contract("appeal.corrected", version=1)
class AppealCorrected(_Case):
    """An operator corrected the case after intake (更正). `corrected`: the names of what changed (category,
    town_street, address, type); `changes`: old and new of each but the address, which never travels
    ({"category": {"old": "road", "new": "water"}}); a type change on a running clock recomputes its limit:
    `limit_days` and `due_at` are the new ones."""

    corrected = fields.List(fields.String(), required=True)
    changes = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    reason = ScrubbedString(required=True)
    by = fields.String(required=True)
    limit_days = fields.Integer(load_default=None, allow_none=True)


@contract("appeal.merged", version=1)
class AppealMerged(_Case):
    """The case was of the same matter as the main case `main_id` / `main_case_no` and was merged into it (合并): it
    ended as a linked case, its clocks and alarms stopped (`appeal.closed` follows); the main case answers for both.
    `department` is the main case's."""

    main_id = fields.String(required=True)
    main_case_no = fields.String(required=True)
    reason = ScrubbedString(required=True)
    by = fields.String(required=True)


@contract("appeal.split", version=1)
class AppealSplit(_Case):
    """The case held several matters (拆分): it keeps its first; each other became a new case (`part_case_nos`),
    taken in with `appeal.received` and dispatched like any intake."""

    part_case_nos = fields.List(fields.String(), required=True)
    reason = ScrubbedString(required=True)
    by = fields.String(required=True)


@contract("appeal.assist_requested", version=1)
class AppealAssistRequested(_Case):
    """The case was dispatched with this `department` assisting (协办) the lead `lead_department`: it signs for its
    part and gives it; the case's clock is the lead's."""

    lead_department = fields.String(required=True)


@contract("appeal.assist_accepted", version=1)
class AppealAssistAccepted(_Case):
    """The assisting `department` signed for its part (协办签收)."""

    lead_department = fields.String(required=True)


@contract("appeal.assist_replied", version=1)
class AppealAssistReplied(_Case):
    """The assisting `department` gave its part of the reply (the text stays with the case); the lead's reply shows
    it."""

    lead_department = fields.String(required=True)


@contract("appeal.extension_requested", version=1)
class AppealExtensionRequested(_Case):
    days = fields.Integer(required=True)
    reason = ScrubbedString(required=True)


@contract("appeal.extension_decided", version=1)
class AppealExtensionDecided(_Case):
    approved = fields.Boolean(required=True)
    days = fields.Integer(required=True)
    note = ScrubbedString(load_default=None, allow_none=True)


@contract("appeal.replied", version=1)
class AppealReplied(_Case):
    """The department answered the appellant (答复). `in_time`: before the deadline."""

    in_time = fields.Boolean(required=True)


@contract("appeal.callback_recorded", version=1)
class AppealCallbackRecorded(_Case):
    """The call-back (回访) after the reply: satisfaction and whether the problem was resolved."""

    satisfaction = fields.String(required=True, validate=validate.OneOf(SATISFACTION))
    resolved = fields.Boolean(required=True)


@contract("appeal.reopened", version=1)
class AppealReopened(_Case):
    """Unsatisfied call-back: back to the same department with a new deadline."""

    reopen_count = fields.Integer(required=True)


@contract("appeal.closed", version=1)
class AppealClosed(_Case):
    satisfaction = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SATISFACTION))
    resolved = fields.Boolean(load_default=None, allow_none=True)


@contract("appeal.deadline_warning", version=1)
class AppealDeadlineWarning(_Case):
    """The deadline is near: `kind` last_day (one working day left) or fraction (a share of the time used)."""

    kind = fields.String(required=True, validate=validate.OneOf(WARNING_KINDS))


@contract("appeal.overdue", version=1)
class AppealOverdue(_Case):
    """The deadline passed with the case still open."""


@contract("appeal.urged", version=1)
class AppealUrged(_Case):
    """An urging notice (催办) went to the department, the day after the deadline."""


@contract("appeal.escalated", version=1)
class AppealEscalated(_Case):
    """Still overdue a number of working days after the urging notice (→ written criticism 通报批评)."""

    urged_at = fields.AwareDateTime(required=True, format="iso")


@contract("appeal.emergency", version=1)
class AppealEmergency(_Case):
    """An emergency appeal: page the department's duty contact and the monitors now."""

    town_street = fields.String(load_default=None, allow_none=True)
    summary = ScrubbedString(required=True)


@contract("appeal.supervised", version=1)
class AppealSupervised(_Case):
    """A monitor ordered the department to act by a date (督办); `exposed`: shown on the media board (曝光台)."""

    act_by = fields.Date(required=True)
    note = ScrubbedString(load_default=None, allow_none=True)
    exposed = fields.Boolean(required=True)
    by = fields.String(required=True)


@contract("complaint.finding_recorded", version=1)
class ComplaintFindingRecorded(_Case):
    """An efficiency complaint (投诉举报) ended with its finding."""

    subject_department = fields.String(load_default=None, allow_none=True)
    finding = fields.String(required=True, validate=validate.OneOf(FINDINGS))
    reasons = ScrubbedString(required=True)
    reward = fields.Boolean(required=True)


@contract("efficiency_warning.issued", version=1)
class EfficiencyWarningIssued(Schema):
    """An efficiency warning (效能告诫) to a unit or one of its staff: −0.5 in the unit's assessment."""

    warning_id = fields.String(required=True)
    unit = fields.String(required=True)
    person = fields.String(load_default=None, allow_none=True)
    reason = ScrubbedString(required=True)
    appeal_id = fields.String(load_default=None, allow_none=True)
    case_no = fields.String(load_default=None, allow_none=True)


@contract("report.hot_issues_published", version=1)
class HotIssuesPublished(Schema):
    """A hot-issue summary for the joint meeting (联席会议) was published."""

    period_from = fields.Date(required=True)
    period_to = fields.Date(required=True)
    top_categories = fields.List(fields.String(), required=True)
    top_category_names = fields.List(fields.String(), load_default=None, allow_none=True, metadata={
        "description": "the Chinese names of `top_categories`, in the same order (道路设施)"})
    total = fields.Integer(required=True)


# -- rewarded reports (有奖投诉举报, #16) ------------------------------------------------------------------------
# Published by services/appeals/rewards/. No personal data: not the reporter who is paid, not who approved it;
# the case by its number, the units, the amount.


class _Reward(Schema):
    """The reward of an upheld efficiency complaint: its id, the case (`department` the discipline office that
    handled it, `subject_department` the unit the report was about), `amount` in yuan as written ("500.00") and
    the day it was approved."""

    reward_id = fields.String(required=True)
    appeal_id = fields.String(required=True)
    case_no = fields.String(required=True)
    department = fields.String(load_default=None, allow_none=True)
    subject_department = fields.String(load_default=None, allow_none=True)
    amount = fields.String(required=True, validate=validate.Regexp(r"^[0-9]+\.[0-9]{2}$"))
    approved_on = fields.Date(required=True)


@contract("complaint.reward_recorded", version=1)
class ComplaintRewardRecorded(_Reward):
    """A reward for the reporter of an upheld efficiency complaint was approved and recorded (once per case)."""

    recorded_at = fields.AwareDateTime(required=True, format="iso")


@contract("complaint.reward_paid", version=1)
class ComplaintRewardPaid(_Reward):
    """The approved reward was paid on `paid_on` (recorded at `paid_at`); nothing follows."""

    paid_on = fields.Date(required=True)
    paid_at = fields.AwareDateTime(required=True, format="iso")
