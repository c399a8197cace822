"""The entrypoints of key projects and joint approval: parse, authorise, call one use case, shape the answer.
Mixed into the service class (needs `platform` and `settings`)."""

from __future__ import annotations

import logging

from nameko.timer import timer
from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.http import api

from .. import handlers
from . import store, usecases
from .domain import SubmissionRefused
from .schemas import (
    AtIn,
    CancelIn,
    CloseIn,
    ConcludeIn,
    InspectionIn,
    JointApprovalIn,
    JointOut,
    JointPage,
    JointsQuery,
    MilestoneAddIn,
    MilestonePatchIn,
    ProcedureOut,
    ProcedurePage,
    ProceduresQuery,
    ProcedureStartIn,
    ProjectAlertsOut,
    ProjectAlertsQuery,
    ProjectApplicationsOut,
    ProjectIn,
    ProjectOut,
    ProjectPage,
    ProjectPatchIn,
    ProjectsQuery,
    SelfCheckIn,
)
from .settings import ProjectSettings
from .views import joint_view

log = logging.getLogger(__name__)

READERS = ("window_system", "department_handler", "monitor", "operator")
PROJECT_EDITORS = ("operator",)
UNIT_REPORTERS = ("department_handler", "operator")
INSPECTORS = ("monitor", "operator")
PROCEDURE_READERS = ("monitor", "department_handler")
CHECK_INTERVAL = 0.2


class ProjectEndpoints:
    """Key projects, green-channel agents and joint approval, with their own monitor timer."""

    project_settings = ProjectSettings()

    # -- key projects -------------------------------------------------------------------------------------

    @api("GET", "/api/v1/projects", roles=READERS, query=ProjectsQuery, response=ProjectPage,
         summary="key projects, newest first (department handlers: those they are a responsible unit of)",
         tags=("projects",))
    def list_projects(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            return call.page(*usecases.list_projects(s, self.project_settings, query))

    @api("POST", "/api/v1/projects", roles=PROJECT_EDITORS, body=ProjectIn, response=ProjectOut, status=201,
         summary="register a key project (重点项目): units, agent (代办员), milestone plan", tags=("projects",),
         responses={409: "a project with this code exists"})
    def create_project(self, call):
        with self.platform.unit_of_work() as uow:
            return 201, usecases.create_project(uow, self.project_settings, call.body, clock.now())

    @api("GET", "/api/v1/projects/<code>", roles=READERS, response=ProjectOut,
         summary="a key project with its plan, reports and records", tags=("projects",),
         responses={404: "no such project (department handlers: or not one of its responsible units)"})
    def show_project(self, call, code):
        with self.platform.session() as s:
            return usecases.show_project(s, self.project_settings, code, call.department_scope)

    @api("PATCH", "/api/v1/projects/<code>", roles=PROJECT_EDITORS, body=ProjectPatchIn, response=ProjectOut,
         summary="change a key project after registration: name, units, agent, self-check schedule (recorded, "
                 "published, checks rescheduled)", tags=("projects",))
    def update_project(self, call, code):
        with self.platform.unit_of_work() as uow:
            return usecases.update_project(uow, self.project_settings, code, call.body, call.actor, clock.now())

    @api("POST", "/api/v1/projects/<code>/milestones", roles=PROJECT_EDITORS, body=MilestoneAddIn,
         response=ProjectOut, status=201,
         summary="add a milestone to a key project's plan", tags=("projects",))
    def add_milestone(self, call, code):
        with self.platform.unit_of_work() as uow:
            return 201, usecases.add_milestone(uow, self.project_settings, code, call.body, call.actor, clock.now())

    @api("PATCH", "/api/v1/projects/<code>/milestones/<int:milestone_id>", roles=PROJECT_EDITORS,
         body=MilestonePatchIn, response=ProjectOut,
         summary="change a milestone not yet done: name, deadline (its check is rescheduled), responsible unit",
         tags=("projects",),
         responses={409: "the milestone is done or cancelled"})
    def update_milestone(self, call, code, milestone_id):
        with self.platform.unit_of_work() as uow:
            return usecases.update_milestone(uow, self.project_settings, code, milestone_id, call.body, call.actor,
                                             clock.now())

    @api("POST", "/api/v1/projects/<code>/milestones/<int:milestone_id>/cancel", roles=PROJECT_EDITORS,
         body=CancelIn, response=ProjectOut,
         summary="take a milestone not yet done out of the plan (kept on record, no longer checked)",
         tags=("projects",), responses={409: "the milestone is done or cancelled"})
    def cancel_milestone(self, call, code, milestone_id):
        with self.platform.unit_of_work() as uow:
            return usecases.cancel_milestone(uow, self.project_settings, code, milestone_id, call.body["reason"],
                                             call.actor, clock.now())

    @api("POST", "/api/v1/projects/<code>/milestones/<int:milestone_id>/done", roles=UNIT_REPORTERS, body=AtIn,
         response=ProjectOut,
         summary="a milestone reached (by its responsible unit)", tags=("projects",),
         responses={409: "the milestone was cancelled"})
    def milestone_done(self, call, code, milestone_id):
        with self.platform.unit_of_work() as uow:
            return usecases.milestone_done(uow, self.project_settings, code, milestone_id, call.body["at"],
                                           call.actor, call.department_scope, clock.now())

    @api("POST", "/api/v1/projects/<code>/self-checks", roles=UNIT_REPORTERS, body=SelfCheckIn,
         response=ProjectOut, status=201,
         summary="the monthly self-check report (月度自查) of a month", tags=("projects",),
         responses={409: "that month's report is in already"})
    def submit_self_check(self, call, code):
        with self.platform.unit_of_work() as uow:
            return 201, usecases.submit_self_check(uow, self.project_settings, code, call.body, call.actor,
                                                   call.department_scope, clock.now())

    @api("POST", "/api/v1/projects/<code>/inspections", roles=INSPECTORS, body=InspectionIn,
         response=ProjectOut, status=201,
         summary="a quarterly inspection record (重点督察, one a quarter): published with its findings count",
         tags=("projects",), responses={409: "the project is closed"})
    def record_inspection(self, call, code):
        with self.platform.unit_of_work() as uow:
            return 201, usecases.record_inspection(uow, self.project_settings, code, call.body, call.actor,
                                                   clock.now())

    @api("POST", "/api/v1/projects/<code>/close", roles=PROJECT_EDITORS, body=CloseIn, response=ProjectOut,
         summary="a key project ended: no longer checked (open milestones, self-checks, inspections)",
         tags=("projects",), responses={409: "the project is closed already"})
    def close_project(self, call, code):
        with self.platform.unit_of_work() as uow:
            return usecases.close_project(uow, self.project_settings, code, call.body["reason"], call.actor,
                                          clock.now())

    @api("GET", "/api/v1/projects/<code>/applications", roles=READERS, response=ProjectApplicationsOut,
         summary="a project's applications, green channel first, each with the project's agent (代办员)",
         tags=("projects",))
    def project_applications(self, call, code):
        with self.platform.session() as s:
            return usecases.project_applications(self.settings, s, code, call.department_scope, clock.now())

    # -- joint approval ------------------------------------------------------------------------------------

    @api("POST", "/api/v1/joint-approvals", roles=("window_system",), body=JointApprovalIn, status=201,
         response=JointOut,
         summary="a joint approval (联合审批): one sub-application per item, in parallel under one joint limit",
         tags=("joint approval",), responses={200: "this external_ref was submitted before: the existing case"})
    def submit_joint_approval(self, call):
        data = call.body
        now = clock.now()
        try:
            with self.platform.unit_of_work() as uow:
                joint_id, created = usecases.submit_joint(uow, self.settings, data, call.actor, now)
        except SubmissionRefused as exc:
            # refused as a whole, and rolled back: the irregularity is alerted on the submission it stopped at
            with self.platform.unit_of_work() as uow:
                handlers.alert_refused_submission(uow, self.settings, exc.submission, exc, now)
            raise
        except IntegrityError:
            # the same external_ref at the same moment (a retry racing the first attempt): the other one won
            with self.platform.session() as s:
                joint_id = store.find_joint_id(s, data["external_ref"])
            if joint_id is None:
                raise
            created = False
        with self.platform.session() as s:
            return (201 if created else 200), joint_view(self.settings, s, joint_id, call.department_scope, now)

    @api("GET", "/api/v1/joint-approvals", roles=READERS, query=JointsQuery, response=JointPage,
         summary="joint approvals, newest first, each with its clock (department handlers: those with a part in "
                 "their department)", tags=("joint approval",))
    def list_joint_approvals(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            return call.page(*usecases.list_joints(self.settings, s, query, clock.now()))

    @api("GET", "/api/v1/joint-approvals/<int:joint_id>", roles=READERS, response=JointOut,
         summary="a joint approval: its sub-applications, the joint clock and state", tags=("joint approval",))
    def get_joint_approval(self, call, joint_id):
        with self.platform.session() as s:
            return joint_view(self.settings, s, joint_id, call.department_scope, clock.now())

    # -- alerts ------------------------------------------------------------------------------------------------

    @api("GET", "/api/v1/project-alerts", roles=("monitor", "department_handler"), query=ProjectAlertsQuery,
         response=ProjectAlertsOut,
         summary="accountability alerts of key projects and the joint cases' own clock alerts, newest first (the "
                 "same alerts as GET /api/v1/alerts?subject=project|joint_approval)", tags=("projects",))
    def list_project_alerts(self, call):
        with self.platform.session() as s:
            return usecases.list_project_alerts(s, call.query, call.department_scope)

    # -- the accountability procedure (责任追究程序) --------------------------------------------------------------

    @api("POST", "/api/v1/alerts/<int:alert_id>/accountability", roles=("monitor",), body=ProcedureStartIn,
         response=ProcedureOut, status=201,
         summary="start the accountability procedure (责任追究程序) on a key project's accountability alert or a "
                 "joint case's overdue card", tags=("projects",),
         responses={404: "no such alert", 409: "not an accountability alert, or it has a procedure already"})
    def start_accountability(self, call, alert_id):
        with self.platform.unit_of_work() as uow:
            return 201, usecases.start_procedure(uow, alert_id, call.body, call.actor, clock.now())

    @api("GET", "/api/v1/accountability-procedures", roles=PROCEDURE_READERS, query=ProceduresQuery,
         response=ProcedurePage, summary="accountability procedures, newest first (department handlers: those "
                                         "holding their department responsible)", tags=("projects",))
    def list_accountability_procedures(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            return call.page(*usecases.list_procedures(s, query))

    @api("GET", "/api/v1/accountability-procedures/<int:procedure_id>", roles=PROCEDURE_READERS,
         response=ProcedureOut, summary="an accountability procedure", tags=("projects",),
         responses={404: "no such procedure"})
    def show_accountability_procedure(self, call, procedure_id):
        with self.platform.session() as s:
            return usecases.show_procedure(s, procedure_id, call.department_scope)

    @api("POST", "/api/v1/accountability-procedures/<int:procedure_id>/conclude", roles=("monitor",),
         body=ConcludeIn, response=ProcedureOut,
         summary="conclude the procedure with a measure (a sanction kind, against a unit or a post) or a decision "
                 "that none is due: publishes accountability.concluded and resolves the alert, at once",
         tags=("projects",), responses={404: "no such procedure",
                                        409: "concluded already, otherwise (the same conclusion again: 200)"})
    def conclude_accountability(self, call, procedure_id):
        with self.platform.unit_of_work() as uow:
            return usecases.conclude_procedure(uow, self.settings, procedure_id, call.body, call.actor, clock.now())

    # -- the monitor -------------------------------------------------------------------------------------------

    @timer(interval=CHECK_INTERVAL)
    def check_projects(self):
        now = clock.now()
        # asked in a reader first: an idle tick never takes SQLite's write lock, which window actions need
        with self.platform.session() as s:
            due = store.due_checks(s, now)
        for name in due:
            try:
                with self.platform.unit_of_work() as uow:
                    usecases.run_check(name, uow, self.settings, self.project_settings, now)
            except Exception:
                log.exception("project check %s failed", name)
