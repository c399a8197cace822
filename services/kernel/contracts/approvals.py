"""Contracts of the events the approvals service (网上审批 + 电子监察) publishes.

Every event names the application, its item and department, and the clock figures assessment needs.
Personal data never travels in events: no applicant names, no id numbers (masked or not)."""

from marshmallow import Schema, fields, validate

from ..privacy import ScrubbedString
from .envelope import contract
from .scoring import SANCTION_KINDS

SPECIAL_PROCEDURES = ("hearing", "testing", "inspection", "appraisal", "expert_review")
ALERT_LEVELS = ("warning", "yellow", "red", "irregularity", "accountability")
# what a stored alert is about: an application, a submission refused before it became one, a key project, a
# joint approval case
ALERT_SUBJECTS = ("application", "submission", "project", "joint_approval", "inspection", "penalty")
SEVERITIES = ("low", "medium", "high")


class _Application(Schema):
    """Fields every application event carries, so a consumer can act without calling back."""

    application_id = fields.String(required=True)
    application_no = fields.String(required=True)
    item_code = fields.String(required=True)
    department = fields.String(required=True)
    by = fields.String(load_default=None, allow_none=True)
    # the statutory clock, where it has started (after acceptance)
    limit_days = fields.Integer(load_default=None, allow_none=True)
    clock_started_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")
    due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")
    clock_error = fields.String(load_default=None, allow_none=True)
    paused = fields.Boolean(load_default=None, allow_none=True)
    elapsed_days = fields.Float(load_default=None, allow_none=True)
    remaining_days = fields.Float(load_default=None, allow_none=True)
    green_channel = fields.Boolean(load_default=None, allow_none=True)
    # when what the event reports happened (a window action's `at`, which may be back-dated; the monitor's
    # moment for its alerts): assessment counts the event in this moment's period, not in occurred_at's
    at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")
    # the clock in whole working days, as people read it (added in issue 13): `days_left` counts today when it
    # is a working day of the limit (never negative; 0 once overdue), `days_overdue` the working days past the
    # due date (0 while in time)
    days_left = fields.Integer(load_default=None, allow_none=True)
    days_overdue = fields.Integer(load_default=None, allow_none=True)


@contract("application.submitted", version=1)
class ApplicationSubmitted(_Application):
    """An application was received at a window. `notice_by`: the end of the one-time supplement notice period
    (after it, the application counts as accepted on the day received)."""

    service_point = fields.String(load_default=None, allow_none=True)
    missing = fields.List(fields.String(), load_default=list)
    notice_by = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")


@contract("application.accepted", version=1)
class ApplicationAccepted(_Application):
    """Accepted (受理): the clock starts the day after. `deemed`: accepted by law (no notice in time)."""

    deemed = fields.Boolean(required=True)


@contract("application.refused", version=1)
class ApplicationRefused(_Application):
    """Not accepted (不予受理), with the reason."""

    reason = ScrubbedString(required=True)


@contract("application.supplement_requested", version=1)
class ApplicationSupplementRequested(_Application):
    """The one-time notice of missing materials (一次告知); `count` above 1 is itself irregular."""

    missing = fields.List(fields.String(), required=True)
    note = ScrubbedString(load_default=None, allow_none=True)
    count = fields.Integer(required=True)


@contract("application.supplement_received", version=1)
class ApplicationSupplementReceived(_Application):
    """The requested materials arrived."""


@contract("application.special_procedure_started", version=1)
class ApplicationSpecialProcedureStarted(_Application):
    """A special procedure (特别程序) started: the clock stops. `irregular_from`: when it becomes an overrun."""

    kind = fields.String(required=True, validate=validate.OneOf(SPECIAL_PROCEDURES))
    irregular_from = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")


@contract("application.special_procedure_ended", version=1)
class ApplicationSpecialProcedureEnded(_Application):
    """The special procedure ended: the clock runs again, with a later due time."""

    kind = fields.String(required=True, validate=validate.OneOf(SPECIAL_PROCEDURES))
    started_at = fields.AwareDateTime(required=True, format="iso")


@contract("application.extended", version=1)
class ApplicationExtended(_Application):
    """The limit was extended once (延期), before the due time, with an approver."""

    days = fields.Integer(required=True)
    approver = fields.String(required=True)
    reason = ScrubbedString(required=True)
    previous_due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")


@contract("application.decided", version=1)
class ApplicationDecided(_Application):
    """Approved or denied (准予 / 不予许可). `in_time`: within the limit (None when the calendar could not say)."""

    approved = fields.Boolean(required=True)
    reason = ScrubbedString(load_default=None, allow_none=True)
    in_time = fields.Boolean(load_default=None, allow_none=True)


@contract("application.delivered", version=1)
class ApplicationDelivered(_Application):
    """The decision was delivered (送达)."""


class _Ended(_Application):
    """An application ended without a decision: its clock stopped, its alarms cancelled, its open alerts resolved
    by `system` (each a monitor.alert_resolved); nothing is raised about it afterwards. `from_state`: the state
    it ended in; `reason`: why (free text, scrubbed)."""

    reason = ScrubbedString(required=True)
    from_state = fields.String(required=True)


@contract("application.withdrawn", version=1)
class ApplicationWithdrawn(_Ended):
    """撤回: the applicant withdrew the application (a window action)."""


@contract("application.terminated", version=1)
class ApplicationTerminated(_Ended):
    """终止: the law ends the case (e.g. the applicant died, the matter lapsed; a window action)."""


@contract("application.abandoned", version=1)
class ApplicationAbandoned(_Ended):
    """视为撤回: the requested supplement (补正) was not delivered within its limit (`supplement_limit_days` working
    days after the day of the notice `supplement_requested_at`: the item's, else APPROVALS.SUPPLEMENT_LIMIT); the
    monitor ends the application at the first instant after `supplement_due_at` (`at`)."""

    supplement_limit_days = fields.Integer(required=True)
    supplement_requested_at = fields.AwareDateTime(required=True, format="iso")
    supplement_due_at = fields.AwareDateTime(required=True, format="iso")


class _Alert(_Application):
    alert_id = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(ALERT_LEVELS))
    rule = fields.String(required=True)
    raised_at = fields.AwareDateTime(required=True, format="iso")


@contract("monitor.warning", version=1)
class MonitorWarning(_Alert):
    """预警: the remaining time crossed the item's threshold (`rule` warning_days_left or warning_fraction), or
    the due date falls in a year without calendar (`rule` calendar_unavailable)."""


@contract("monitor.yellow_card", version=1)
class MonitorYellowCard(_Alert):
    """黄牌: the application is overdue and still open."""


@contract("monitor.red_card", version=1)
class MonitorRedCard(_Alert):
    """红牌: still open a configured number of working days after the yellow card."""


class _AnyAlert(_Alert):
    """An alert of any subject: the application fields are there when it is an application's. A refused
    submission names its `external_ref` (and item, department); a project's alert its `project_code`; a joint
    case's its `joint_id` and `project_code`; an enforcement inspection's or a penalty's (#17) its `subject_ref`
    (the inspection's or penalty's id) and `reference_no` (its registration or case number)."""

    subject = fields.String(load_default="application", validate=validate.OneOf(ALERT_SUBJECTS))
    application_id = fields.String(load_default=None, allow_none=True)
    application_no = fields.String(load_default=None, allow_none=True)
    item_code = fields.String(load_default=None, allow_none=True)
    department = fields.String(load_default=None, allow_none=True)
    external_ref = fields.String(load_default=None, allow_none=True)
    project_code = fields.String(load_default=None, allow_none=True)
    joint_id = fields.String(load_default=None, allow_none=True)
    subject_ref = fields.String(load_default=None, allow_none=True)
    reference_no = fields.String(load_default=None, allow_none=True)


@contract("monitor.irregularity", version=1)
class MonitorIrregularity(_AnyAlert):
    """纠错: an irregular action, detected when it arrived (stored even when the action itself was refused). A
    submission refused as irregular (dated in the future) has no application (`application_id` null): `subject`
    `submission`, with its `external_ref`, `item_code` and `department`, raised once per external_ref (`rule`
    `future_time`). `code` `late_report` (迟报): an action recorded more than APPROVALS.LATE_REPORT_HOURS after
    its `at` (`rule` `late_report:<action>@<at>`, once per action)."""

    code = fields.String(required=True)
    description_zh = fields.String(required=True)
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    at = fields.AwareDateTime(required=True, format="iso")
    refused = fields.Boolean(required=True)


# -- alert handling and supervision orders (督办) ---------------------------------------------------------
# (appended with services/approvals/supervision/; another section may follow)


@contract("monitor.alert_acknowledged", version=1)
class MonitorAlertAcknowledged(_AnyAlert):
    """A monitor acknowledged an open alert. `by`: who; `note`: optional remark."""

    note = ScrubbedString(load_default=None, allow_none=True)
    acknowledged_at = fields.AwareDateTime(required=True, format="iso")


@contract("monitor.alert_resolved", version=1)
class MonitorAlertResolved(_AnyAlert):
    """A monitor resolved an alert (纠错): `by` who resolved it, `note` what was corrected. `rectification_id`: the
    department's rectification report whose acceptance resolved it (None: resolved otherwise)."""

    note = ScrubbedString(required=True)
    resolved_at = fields.AwareDateTime(required=True, format="iso")
    # resolved by accepting the department's rectification report (added in issue 14)
    rectification_id = fields.String(load_default=None, allow_none=True)


@contract("monitor.supervision_ordered", version=1)
class MonitorSupervisionOrdered(_Application):
    """督办: a monitor ordered the department to act on an open application by `act_by` (a date in
    Asia/Shanghai, included). `by`: the monitor."""

    order_id = fields.String(required=True)
    act_by = fields.Date(required=True)
    note = ScrubbedString(required=True)
    ordered_at = fields.AwareDateTime(required=True, format="iso")


@contract("monitor.supervision_overdue", version=1)
class MonitorSupervisionOverdue(_Alert):
    """A supervision order's `act_by` passed with its application still open (not decided, delivered or
    refused): raised once per order, as an alert of level `red` with `rule` `supervision_overdue:<order_id>`."""

    order_id = fields.String(required=True)
    act_by = fields.Date(required=True)


@contract("monitor.supervision_exposure", version=1)
class MonitorSupervisionExposure(Schema):
    """The public view of a supervision order a monitor exposed (曝光台), published when it was exposed and again
    when the department acted (`rectified`; nothing follows that). A snapshot: the one with the highest `revision`
    of a `public_id` is the truth, so a consumer keeps that and ignores older ones arriving late. Every text is
    desensitised for the public already (the applicant's name masked, phones, id and card numbers scrubbed):
    no application number, no applicant, no monitor's name."""

    public_id = fields.String(required=True, validate=validate.Length(min=8, max=32))
    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    department = fields.String(required=True)
    item_code = fields.String(required=True)
    item_name = fields.String(load_default=None, allow_none=True)
    # what the department was ordered to do (the order's note), at most 200 characters
    problem = ScrubbedString(required=True)
    exposed_at = fields.AwareDateTime(required=True, format="iso")
    act_by = fields.Date(required=True)
    rectified = fields.Boolean(required=True)
    # what the department did: its accepted rectification report, or the outcome of the application
    rectification = ScrubbedString(load_default=None, allow_none=True)
    rectified_on = fields.Date(load_default=None, allow_none=True)
    changed_at = fields.AwareDateTime(required=True, format="iso")


# -- key projects (重点项目) and joint approval (联合审批) ------------------------------------------------------
# Published by services/approvals/projects/. A project's accountability alerts and a joint case's own clock
# alerts are stored with every other alert (GET /api/v1/alerts?subject=project|joint_approval).


class _ProjectAlert(Schema):
    project_code = fields.String(required=True)
    project_name = fields.String(required=True)
    alert_id = fields.String(required=True)
    level = fields.String(required=True, validate=validate.Equal("accountability"))
    rule = fields.String(required=True)
    raised_at = fields.AwareDateTime(required=True, format="iso")


@contract("project.milestone_missed", version=1)
class ProjectMilestoneMissed(_ProjectAlert):
    """问责: a milestone of a key project's plan passed its deadline day without being marked done (raised once
    per milestone and deadline; `rule` `milestone_missed:<milestone_id>@<deadline>`, so a milestone whose deadline
    was moved after it was missed is alerted again if the new one is missed too)."""

    milestone_id = fields.String(required=True)
    milestone = fields.String(required=True)
    deadline = fields.Date(required=True)
    responsible_unit = fields.String(required=True)


@contract("project.self_check_missing", version=1)
class ProjectSelfCheckMissing(_ProjectAlert):
    """问责: no monthly self-check report (月度自查) for `period` ("2026-11") by `due_by` (the configured day of the
    following month); raised once per project and month, `rule` `self_check_missing:<period>`."""

    period = fields.String(required=True)
    due_by = fields.AwareDateTime(required=True, format="iso")
    responsible_units = fields.List(fields.String(), required=True)


@contract("project.inspection_missing", version=1)
class ProjectInspectionMissing(_ProjectAlert):
    """问责: an active key project had no inspection (重点督察) recorded for `quarter` ("2026-Q4") when the quarter
    ended (`due_by`, its last instant, Asia/Shanghai); raised once per project and quarter on the lead unit, `rule`
    `inspection_missing:<quarter>`."""

    quarter = fields.String(required=True)
    due_by = fields.AwareDateTime(required=True, format="iso")
    responsible_units = fields.List(fields.String(), required=True)


@contract("project.inspection_recorded", version=1)
class ProjectInspectionRecorded(Schema):
    """An inspection (重点督察) of a key project recorded for `quarter`: `findings_count` problems found (the
    findings' text stays in approvals), at `inspected_at` (`inspected_on`: its day in Asia/Shanghai).
    `department`: the lead unit, whose project it is; `by`: the inspector's key."""

    inspection_id = fields.String(required=True)
    project_code = fields.String(required=True)
    project_name = fields.String(required=True)
    department = fields.String(required=True)
    responsible_units = fields.List(fields.String(), required=True)
    quarter = fields.String(required=True)
    findings_count = fields.Integer(required=True, validate=validate.Range(min=0))
    inspected_on = fields.Date(required=True)
    inspected_at = fields.AwareDateTime(required=True, format="iso")
    by = fields.String(required=True)
    recorded_at = fields.AwareDateTime(required=True, format="iso")


@contract("project.plan_changed", version=1)
class ProjectPlanChanged(Schema):
    """A key project or its plan was changed after registration (each change is also a line of the project's
    history), and its checks rescheduled: `action` project_changed (name, units, agent, self-check schedule),
    milestone_added, milestone_changed (a new deadline is checked anew), milestone_cancelled, project_closed (no
    longer checked: its open milestones, self-checks and inspections). `changes`:
    {field: {from, to}}; `by`: who."""

    project_code = fields.String(required=True)
    project_name = fields.String(required=True)
    action = fields.String(required=True, validate=validate.OneOf(
        ("project_changed", "milestone_added", "milestone_changed", "milestone_cancelled", "project_closed")))
    milestone_id = fields.String(load_default=None, allow_none=True)
    changes = fields.Dict(required=True)
    reason = ScrubbedString(load_default=None, allow_none=True)
    by = fields.String(required=True)
    changed_at = fields.AwareDateTime(required=True, format="iso")
    responsible_units = fields.List(fields.String(), required=True)


class _Joint(Schema):
    joint_id = fields.String(required=True)
    project_code = fields.String(required=True)
    limit_days = fields.Integer(required=True)
    due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")


@contract("accountability.started", version=1)
class AccountabilityStarted(Schema):
    """A monitor started the accountability procedure (责任追究程序) on a key project's accountability alert or a
    joint case's overdue card (yellow, red); `department`: the unit held responsible. It ends with
    accountability.concluded."""

    procedure_id = fields.String(required=True)
    alert_id = fields.String(required=True)
    project_code = fields.String(load_default=None, allow_none=True)
    joint_id = fields.String(load_default=None, allow_none=True)
    department = fields.String(required=True)
    rule = fields.String(required=True)
    reason = ScrubbedString(required=True)
    by = fields.String(required=True)
    started_at = fields.AwareDateTime(required=True, format="iso")


@contract("accountability.concluded", version=1)
class AccountabilityConcluded(Schema):
    """The accountability procedure (责任追究程序) started on a key project's or a joint case's accountability alert
    ended: with a measure (`outcome` measure — scoring's sanctions register takes it in) or with a recorded decision
    that none is due (`outcome` none_due). No person's name travels: `post` names the position held."""

    procedure_id = fields.String(required=True)
    alert_id = fields.String(required=True)
    project_code = fields.String(load_default=None, allow_none=True)
    joint_id = fields.String(load_default=None, allow_none=True)
    # the unit held accountable
    department = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(("measure", "none_due")))
    measure = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SANCTION_KINDS))
    target = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(("unit", "person")))
    post = ScrubbedString(load_default=None, allow_none=True)
    deciding_body = fields.String(load_default=None, allow_none=True)
    document_no = fields.String(load_default=None, allow_none=True)
    decided_on = fields.Date(required=True)
    reason = ScrubbedString(required=True)
    by = fields.String(required=True)
    concluded_at = fields.AwareDateTime(required=True, format="iso")


@contract("joint_approval.created", version=1)
class JointApprovalCreated(_Joint):
    """A joint approval started: one sub-application per item (each also published as application.submitted),
    in parallel under one joint limit counted from `started_at`."""

    item_codes = fields.List(fields.String(), required=True)
    departments = fields.List(fields.String(), required=True)
    application_ids = fields.List(fields.String(), required=True)
    started_at = fields.AwareDateTime(required=True, format="iso")
    clock_error = fields.String(load_default=None, allow_none=True)


@contract("joint_approval.completed", version=1)
class JointApprovalCompleted(_Joint):
    """Every sub-application is decided (or refused): the joint case is complete. `approved`: all approved."""

    completed_at = fields.AwareDateTime(required=True, format="iso")
    approved = fields.Boolean(required=True)
    in_time = fields.Boolean(load_default=None, allow_none=True)


@contract("joint_approval.alert_raised", version=1)
class JointApprovalAlertRaised(_Joint):
    """The joint clock as a whole: a warning (预警), yellow card (黄牌, overdue) or red card (红牌), once each."""

    alert_id = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(("warning", "yellow", "red")))
    rule = fields.String(required=True)
    raised_at = fields.AwareDateTime(required=True, format="iso")
    elapsed_days = fields.Float(load_default=None, allow_none=True)
    remaining_days = fields.Float(load_default=None, allow_none=True)


# -- rectification (整改) of alerts --------------------------------------------------------------------------
# Published by services/approvals/rectification/. The report's text, who corrected it and its links stay in the
# API (GET /api/v1/alerts/<id>/rectification): events say which alert, which round and when.

RECTIFICATION_STATES = ("pending", "submitted", "accepted", "returned", "closed")


class _Rectification(_AnyAlert):
    """The alert's subject and figures (as its own events), its department, and the rectification: its id,
    `round` (how many reports were submitted) and `rectification_due_at` (the end of the last working day for
    it; None: not monitored)."""

    department = fields.String(required=True)
    rectification_id = fields.String(required=True)
    round = fields.Integer(required=True)
    rectification_due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")


@contract("monitor.rectification_submitted", version=1)
class MonitorRectificationSubmitted(_Rectification):
    """The department submitted a rectification report (整改报告) for its alert: it waits for a monitor's or
    assessor's review. `by`: the submitting key; `overdue`: it had been announced overdue before."""

    submitted_at = fields.AwareDateTime(required=True, format="iso")
    attachments_count = fields.Integer(required=True)
    overdue = fields.Boolean(required=True)


@contract("monitor.rectification_accepted", version=1)
class MonitorRectificationAccepted(_Rectification):
    """The report was accepted (`by`: the reviewer, `note`: their remark): the alert was resolved with it (a
    monitor.alert_resolved naming `rectification_id` goes out in the same transaction)."""

    note = ScrubbedString(load_default=None, allow_none=True)
    accepted_at = fields.AwareDateTime(required=True, format="iso")


@contract("monitor.rectification_returned", version=1)
class MonitorRectificationReturned(_Rectification):
    """The report was sent back (退回) with `reason`; the department may submit again (the due time stays)."""

    reason = ScrubbedString(required=True)
    returned_at = fields.AwareDateTime(required=True, format="iso")


@contract("monitor.rectification_overdue", version=1)
class MonitorRectificationOverdue(_Rectification):
    """A yellow or red card or irregularity passed its rectification due time (`rectification_days` working days
    after it was raised, RECTIFICATION.DAYS or the level's) with no report waiting or accepted: announced once per
    alert. `rectification_state`: pending (no report) or returned (sent back, not submitted again)."""

    rectification_state = fields.String(required=True, validate=validate.OneOf(("pending", "returned")))
    rectification_days = fields.Integer(required=True)
    overdue_at = fields.AwareDateTime(required=True, format="iso")


# -- reviews (好差评, #15) -------------------------------------------------------------------------------------
# Published by services/approvals/reviews/. The applicant's words and the department's report stay in the API
# (GET /api/v1/reviews/<id>): events say which application, which level and when.

REVIEW_LEVELS = ("very_satisfied", "satisfied", "basically_satisfied", "unsatisfied", "very_unsatisfied")
REVIEW_CHANNELS = ("window", "public")


class _Review(Schema):
    """The review and its application: `review_id` (the first review's for a follow-up), the application's number,
    item and department, and the review's `level`."""

    review_id = fields.String(required=True)
    application_id = fields.String(required=True)
    application_no = fields.String(load_default=None, allow_none=True)
    item_code = fields.String(required=True)
    department = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(REVIEW_LEVELS))


@contract("review.recorded", version=1)
class ReviewRecorded(_Review):
    """An application was reviewed (好差评) at the window's device or on the public page (`channel`). `bad`: 不满意 or
    非常不满意; a bad first review starts the department's follow-up, due `follow_up_due_at` (`follow_up_days`
    working days). `round` 1 is the review, 2 the re-review after the follow-up's report (`replaces`: the first
    review's id), which is `final`: so is a good first review (nothing can follow it). `at`: the moment the
    application's rating counts in (the first review's, also for the re-review, which replaces its level)."""

    bad = fields.Boolean(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(REVIEW_CHANNELS))
    round = fields.Integer(required=True, validate=validate.OneOf((1, 2)))
    final = fields.Boolean(required=True)
    replaces = fields.String(load_default=None, allow_none=True)
    aspects = fields.List(fields.String(), load_default=list)
    reviewed_at = fields.AwareDateTime(required=True, format="iso")
    at = fields.AwareDateTime(required=True, format="iso")
    follow_up_due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")
    follow_up_days = fields.Integer(load_default=None, allow_none=True)


@contract("review.follow_up_reported", version=1)
class ReviewFollowUpReported(_Review):
    """The department reported what it verified and rectified on a bad review (`by`: its key); the applicant may
    review once more. `overdue`: it had been announced overdue before."""

    by = fields.String(required=True)
    reviewed_at = fields.AwareDateTime(required=True, format="iso")
    follow_up_due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")
    reported_at = fields.AwareDateTime(required=True, format="iso")
    overdue = fields.Boolean(required=True)


@contract("review.follow_up_overdue", version=1)
class ReviewFollowUpOverdue(_Review):
    """A bad review's follow-up passed its due time (`follow_up_days` working days after the day of the review,
    REVIEWS.FOLLOW_UP_DAYS) without the department's report: announced once per review."""

    reviewed_at = fields.AwareDateTime(required=True, format="iso")
    follow_up_due_at = fields.AwareDateTime(required=True, format="iso")
    follow_up_days = fields.Integer(required=True)
    overdue_at = fields.AwareDateTime(required=True, format="iso")


# Published by services/approvals/naming/ (群众满意窗口, #15). Windows and departments by code and name; never who
# decided (the leading group's members) nor any applicant.


class _Title(Schema):
    """The title 群众满意窗口 of a window for a period (a year 2026, a half 2026-H1 or a quarter 2026-Q3)."""

    title_id = fields.String(required=True)
    window = fields.String(required=True)
    department = fields.String(load_default=None, allow_none=True, metadata={
        "description": "the window's department; None: a comprehensive window (综合窗口)"})
    period = fields.String(required=True)


@contract("naming.window_named", version=1)
class WindowNamed(_Title):
    """The leading group named a window 群众满意窗口 for the period (`named_at`, the decision's moment; `named_on`
    its day). `met`: it met the standard over the period; if not, `failing` lists the criteria it missed (named on
    a recorded override reason)."""

    decision_id = fields.String(required=True)
    window_name = fields.String(load_default=None, allow_none=True)
    named_at = fields.AwareDateTime(required=True, format="iso")
    named_on = fields.Date(required=True)
    met = fields.Boolean(required=True)
    failing = fields.List(fields.String(), load_default=list)
    document_no = fields.String(load_default=None, allow_none=True)
    by = fields.String(required=True)


@contract("naming.recheck_failed", version=1)
class RecheckFailed(_Title):
    """The quarterly re-check (复查) found a named window no longer meeting the standard over `quarter`: flagged for
    the leading group's review (`failing`: the criteria missed, `failing_zh` their labels). Once per title and
    quarter."""

    recheck_id = fields.String(required=True)
    window_name = fields.String(load_default=None, allow_none=True)
    quarter = fields.String(required=True)
    failing = fields.List(fields.String(), required=True)
    failing_zh = fields.List(fields.String(), load_default=list)
    checked_at = fields.AwareDateTime(required=True, format="iso")


@contract("naming.title_revoked", version=1)
class TitleRevoked(_Title):
    """The leading group revoked a window's title (`reason`, scrubbed), usually after a failed re-check
    (`recheck_id`, `quarter`); the window leaves the public list."""

    named_on = fields.Date(required=True)
    reason = ScrubbedString(required=True)
    recheck_id = fields.String(load_default=None, allow_none=True)
    quarter = fields.String(load_default=None, allow_none=True)
    revoked_at = fields.AwareDateTime(required=True, format="iso")
    by = fields.String(required=True)


# -- enforcement under the monitor (执法检查审核登记, 重大行政处罚备案, seed II.8, #17) ---------------------------
# Published by services/approvals/enforcement/ and services/approvals/penalties/. Their alerts are stored with every
# other alert (subject `inspection` or `penalty`), acknowledged and resolved like them (monitor.alert_*).
ENFORCEMENT_SUBJECTS = ("inspection", "penalty")


@contract("enforcement.irregularity", version=1)
class EnforcementIrregularity(Schema):
    """An irregularity in the use of enforcement power, detected when the data arrived, raised once per (subject,
    rule) as an alert of level `irregularity`: an inspection carried out without approval, an inspector without a
    valid enforcement certificate, more inspections of one enterprise in a period than the rule allows (扰企), an
    inspection's result not reported in time, an inspection an enterprise reported that nobody registered; a major
    penalty filed late, a penalty outside its discretion band or a band chosen without a stated circumstance.
    `code` names which; `subject_ref` the inspection's or penalty's id, `reference_no` its registration or case
    number. No person's name (a party who is a person, an inspector) travels."""

    alert_id = fields.String(required=True)
    level = fields.String(required=True, validate=validate.Equal("irregularity"))
    rule = fields.String(required=True)
    subject = fields.String(required=True, validate=validate.OneOf(ENFORCEMENT_SUBJECTS))
    subject_ref = fields.String(required=True)
    reference_no = fields.String(load_default=None, allow_none=True)
    department = fields.String(required=True)
    code = fields.String(required=True)
    description_zh = ScrubbedString(required=True)
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    raised_at = fields.AwareDateTime(required=True, format="iso")


# the lifecycle of an enforcement inspection (services/approvals/enforcement/, #17): no inspector's name travels,
# only certificate numbers' count; the enterprise's name and code do (a legal person's public identity)
class _Inspection(Schema):
    inspection_id = fields.String(required=True)
    reference_no = fields.String(required=True)
    department = fields.String(required=True)
    enterprise = fields.String(required=True)
    enterprise_code = fields.String(load_default=None, allow_none=True)
    planned_on = fields.Date(load_default=None, allow_none=True)
    state = fields.String(required=True)


@contract("inspection.registered", version=1)
class InspectionRegistered(_Inspection):
    """An enforcement department registered a planned inspection of an enterprise (执法检查登记)."""

    basis = ScrubbedString(required=True)
    inspectors_count = fields.Integer(required=True)
    registered_at = fields.AwareDateTime(required=True, format="iso")


@contract("inspection.decided", version=1)
class InspectionDecided(_Inspection):
    """The legal office (法制机构) approved or refused a registered inspection."""

    approved = fields.Boolean(required=True)
    decided_at = fields.AwareDateTime(required=True, format="iso")


@contract("inspection.result_reported", version=1)
class InspectionResultReported(_Inspection):
    """The department reported an inspection's result after carrying it out."""

    carried_out_on = fields.Date(required=True)
    result = fields.String(required=True)
    approved_before = fields.Boolean(required=True)
    reported_at = fields.AwareDateTime(required=True, format="iso")


@contract("inspection.reported_by_enterprise", version=1)
class InspectionReportedByEnterprise(Schema):
    """An enterprise reported, through the enterprise-service desk (企业服务台), an inspection it received; matched
    to a registered inspection (`inspection_id`), or registered as an unregistered one (`matched` false)."""

    report_id = fields.String(required=True)
    department = fields.String(required=True)
    enterprise = fields.String(required=True)
    enterprise_code = fields.String(load_default=None, allow_none=True)
    inspected_on = fields.Date(required=True)
    matched = fields.Boolean(required=True)
    inspection_id = fields.String(required=True)
    reference_no = fields.String(required=True)
    reported_at = fields.AwareDateTime(required=True, format="iso")


@contract("penalty.filed", version=1)
class PenaltyFiled(Schema):
    """A penalty decision filed by its department (重大行政处罚备案, #17): `major` (重大) ones are due within
    PENALTIES.FILING_DAYS working days of the decision (`filing_due_at`; None while the calendar lacks the year),
    `late` when filed after it; `irregularities` the codes alerted with it (enforcement.irregularity). `party` is an
    enterprise's name, or 个人 for a person: no person's name travels."""

    penalty_id = fields.String(required=True)
    case_no = fields.String(required=True)
    department = fields.String(required=True)
    party_kind = fields.String(required=True, validate=validate.OneOf(("enterprise", "person")))
    party = ScrubbedString(required=True)
    basis_code = fields.String(required=True)
    kinds = fields.List(fields.String(), required=True)
    amount = fields.Float(load_default=None, allow_none=True)
    circumstance = fields.String(load_default=None, allow_none=True)
    decided_on = fields.Date(required=True)
    hearing_held = fields.Boolean(load_default=False)
    filed_at = fields.AwareDateTime(required=True, format="iso")
    major = fields.Boolean(required=True)
    filing_due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")
    late = fields.Boolean(load_default=None, allow_none=True)
    irregularities = fields.List(fields.String(), load_default=list)
