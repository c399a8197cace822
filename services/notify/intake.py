"""notify's event intake: one consumer per event type it delivers (nameko binds one queue per entrypoint, named
after the method: keep the names), each planning the deliveries of its event (`handlers.take_in`) in the
transaction that records it as consumed. The list is `domain.EVENTS` (tests/unit/test_notify_intake.py holds
them equal, each with its contract). A module of its own, so that `nameko run` finds only NotifyService."""

from __future__ import annotations

from services.kernel import clock
from services.kernel.messaging import consume_event

from . import handlers


def deliveries_of(source: str, event_type: str):
    """The consumer of `event_type` from `source`: its deliveries planned, the sender woken."""

    def consumer(self, event):
        with self.platform.consuming(event) as uow:
            planned = handlers.take_in(uow, self.sender.settings, event, clock.now())
        if planned:
            self.sender.notify()

    consumer.__doc__ = f"{event_type} from {source} → deliveries"
    return consume_event(source, event_type)(consumer)


class EventIntake:
    """Mixed into NotifyService: the consumers of the events it delivers."""

    on_appeal_received = deliveries_of("appeals", "appeal.received")
    on_appeal_deadline_warning = deliveries_of("appeals", "appeal.deadline_warning")
    on_appeal_overdue = deliveries_of("appeals", "appeal.overdue")
    on_appeal_urged = deliveries_of("appeals", "appeal.urged")
    on_appeal_escalated = deliveries_of("appeals", "appeal.escalated")
    on_appeal_emergency = deliveries_of("appeals", "appeal.emergency")
    on_appeal_supervised = deliveries_of("appeals", "appeal.supervised")
    on_appeal_dispatched = deliveries_of("appeals", "appeal.dispatched")
    on_appeal_return_reviewed = deliveries_of("appeals", "appeal.return_reviewed")
    on_appeal_extension_decided = deliveries_of("appeals", "appeal.extension_decided")
    on_appeal_assist_requested = deliveries_of("appeals", "appeal.assist_requested")
    on_report_hot_issues_published = deliveries_of("appeals", "report.hot_issues_published")
    on_appeal_return_review_overdue = deliveries_of("appeals", "appeal.return_review_overdue")
    on_appeal_return_review_escalated = deliveries_of("appeals", "appeal.return_review_escalated")
    on_appeal_dispatch_overdue = deliveries_of("appeals", "appeal.dispatch_overdue")
    on_appeal_dispatch_escalated = deliveries_of("appeals", "appeal.dispatch_escalated")
    on_appeal_callback_overdue = deliveries_of("appeals", "appeal.callback_overdue")
    on_appeal_callback_escalated = deliveries_of("appeals", "appeal.callback_escalated")
    on_appeal_supervision_warning = deliveries_of("appeals", "appeal.supervision_warning")
    on_appeal_supervision_overdue = deliveries_of("appeals", "appeal.supervision_overdue")
    on_efficiency_warning_issued = deliveries_of("appeals", "efficiency_warning.issued")
    on_monitor_warning = deliveries_of("approvals", "monitor.warning")
    on_monitor_yellow_card = deliveries_of("approvals", "monitor.yellow_card")
    on_monitor_red_card = deliveries_of("approvals", "monitor.red_card")
    on_monitor_irregularity = deliveries_of("approvals", "monitor.irregularity")
    on_monitor_supervision_ordered = deliveries_of("approvals", "monitor.supervision_ordered")
    on_monitor_supervision_overdue = deliveries_of("approvals", "monitor.supervision_overdue")
    on_project_milestone_missed = deliveries_of("approvals", "project.milestone_missed")
    on_project_self_check_missing = deliveries_of("approvals", "project.self_check_missing")
    on_joint_approval_alert_raised = deliveries_of("approvals", "joint_approval.alert_raised")
    on_scoring_results_published = deliveries_of("scoring", "scoring.results_published")
    # rectification reports (整改) and objections (申诉): the department's duty contacts and the monitors (#14)
    on_monitor_rectification_submitted = deliveries_of("approvals", "monitor.rectification_submitted")
    on_monitor_rectification_accepted = deliveries_of("approvals", "monitor.rectification_accepted")
    on_monitor_rectification_returned = deliveries_of("approvals", "monitor.rectification_returned")
    on_monitor_rectification_overdue = deliveries_of("approvals", "monitor.rectification_overdue")
    on_visit_rectification_submitted = deliveries_of("scoring", "visit.rectification_submitted")
    on_visit_rectification_accepted = deliveries_of("scoring", "visit.rectification_accepted")
    on_visit_rectification_returned = deliveries_of("scoring", "visit.rectification_returned")
    on_visit_rectification_overdue = deliveries_of("scoring", "visit.rectification_overdue")
    on_objection_lodged = deliveries_of("scoring", "objection.lodged")
    on_objection_decided = deliveries_of("scoring", "objection.decided")
    # 好差评 (#15): a bad review for its department's follow-up, and a follow-up overdue
    on_review_recorded = deliveries_of("approvals", "review.recorded")
    on_review_follow_up_overdue = deliveries_of("approvals", "review.follow_up_overdue")
    # the sanctions register and target management (#16)
    on_sanction_recorded = deliveries_of("scoring", "sanction.recorded")
    on_sanction_review_requested = deliveries_of("scoring", "sanction.review_requested")
    on_sanction_review_decided = deliveries_of("scoring", "sanction.review_decided")
    on_target_plan_overdue = deliveries_of("scoring", "target.plan_overdue")
    on_target_milestone_overdue = deliveries_of("scoring", "target.milestone_overdue")
    # enforcement under the monitor (#17)
    on_enforcement_irregularity = deliveries_of("approvals", "enforcement.irregularity")
