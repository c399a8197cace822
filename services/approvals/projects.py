"""Key projects (重点项目), their agents (代办员) for green-channel applications, and joint approval (联合审批):
one case per project that runs one sub-application per item in parallel under one joint limit.

The approvals' `alarms` table hangs off an application, so a project's accountability checks and a joint case's
own clock keep their next check times in tables of their own here, claimed by a timer with SKIP LOCKED like the
application monitor's; the alerts they raise are stored with every other alert (`alerts`, by subject), so that
monitors list, acknowledge and resolve them in one place. A project and its plan can be edited after
registration: each change is recorded in the project's history, published, and its checks rescheduled. Mixed
into the service class (needs `platform`, `settings`, `_submit_in`, `_alert_refused_submission`, `_app`,
`_item`)."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.kernel import clock
from services.kernel import fields as kfields
from services.kernel.db import Moment
from services.kernel.errors import BadRequest, NotFound
from services.kernel.http import api
from services.kernel.workcal import CalendarUnavailable, DeadlineClock

from . import store
from .domain import (
    DECIDED,
    DELIVERED,
    RED_CARD,
    REFUSED,
    STATE_ZH,
    WARNING_DAYS_LEFT,
    WARNING_FRACTION,
    YELLOW_CARD,
    IllegalTransition,
    Item,
    monitor_moments,
)
from .schemas import CODE, SERVICE_POINTS, ApplicantIn

log = logging.getLogger(__name__)

READERS = ("window_system", "department_handler", "monitor", "operator")
PROJECT_EDITORS = ("operator",)
UNIT_REPORTERS = ("department_handler", "operator")
INSPECTORS = ("monitor", "operator")
CHECK_INTERVAL = 0.2
BATCH = 200
ACCOUNTABILITY = "accountability"
# a sub-application in one of these states is done with, for its joint case
CONCLUDED = (DECIDED, DELIVERED, REFUSED)
JOINT_CARDS = {WARNING_DAYS_LEFT: "warning", WARNING_FRACTION: "warning", YELLOW_CARD: "yellow", RED_CARD: "red"}
_US = timedelta(microseconds=1)

# -- tables ---------------------------------------------------------------------------------------------

metadata = store.metadata

projects = Table(
    "projects", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    # department codes; the first is the lead unit (its self-check alerts go there)
    Column("responsible_units", JSON, nullable=False, default=list),
    Column("agent_name", String(100), nullable=False),
    Column("agent_phone", String(32), nullable=False),
    # the month whose self-check report is checked next ("2026-11"), and when (after the due day)
    Column("self_check_period", String(7), nullable=False),
    Column("next_self_check_at", Moment(), nullable=False),
    # this project's report day of the following month (None: PROJECTS.SELF_CHECK_DUE_DAY)
    Column("self_check_due_day", Integer),
    Column("created_at", Moment(), nullable=False),
    Column("updated_at", Moment(), nullable=False),
)
Index("ix_projects_next_self_check", projects.c.next_self_check_at)

milestones = Table(
    "project_milestones", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_code", String(64), ForeignKey("projects.code"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("deadline", Date, nullable=False),
    Column("responsible_unit", String(64), nullable=False),
    Column("done_at", Moment()),
    Column("done_by", String(100)),
    # the first instant after the deadline day; `checked_at` once the monitor looked
    Column("check_at", Moment(), nullable=False),
    Column("checked_at", Moment()),
    # taken out of the plan (kept for the record; never checked again)
    Column("cancelled_at", Moment()),
    Column("cancelled_by", String(100)),
)
Index("ix_project_milestones_due", milestones.c.checked_at, milestones.c.check_at)

self_checks = Table(
    "project_self_checks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_code", String(64), ForeignKey("projects.code"), nullable=False),
    Column("period", String(7), nullable=False),
    Column("summary", Text, nullable=False),
    Column("submitted_by", String(100), nullable=False),
    Column("submitted_at", Moment(), nullable=False),
    UniqueConstraint("project_code", "period", name="uq_project_self_checks_period"),
)

inspections = Table(
    "project_inspections", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_code", String(64), ForeignKey("projects.code"), nullable=False, index=True),
    Column("quarter", String(7), nullable=False),
    Column("inspector", String(100), nullable=False),
    Column("findings", Text, nullable=False),
    Column("rectification", Text),
    Column("inspected_at", Moment(), nullable=False),
)

# every change to a project or its plan after registration: who, when, what (from → to) and why
project_history = Table(
    "project_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_code", String(64), ForeignKey("projects.code"), nullable=False, index=True),
    Column("at", Moment(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(40), nullable=False),
    Column("milestone_id", Integer),
    Column("changes", JSON, nullable=False, default=dict),
    Column("reason", Text),
)

joint_approvals = Table(
    "joint_approvals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("external_ref", String(100), nullable=False, unique=True),
    Column("project_code", String(64), ForeignKey("projects.code"), nullable=False),
    Column("item_codes", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # open | completed
    Column("started_at", Moment(), nullable=False),
    Column("limit_days", Integer, nullable=False),
    Column("due_at", Moment()),
    Column("clock_error", String(300)),
    Column("completed_at", Moment()),
    Column("approved", Boolean),
    Column("created_at", Moment(), nullable=False),
)
Index("ix_joint_approvals_state", joint_approvals.c.state)

joint_members = Table(
    "joint_approval_members", metadata,
    Column("joint_id", Integer, ForeignKey("joint_approvals.id"), primary_key=True),
    Column("item_code", String(64), primary_key=True),
    Column("application_id", Integer, ForeignKey("applications.id"), nullable=False, unique=True),
    Column("department", String(64), nullable=False),
)

joint_alarms = Table(
    "joint_approval_alarms", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("joint_id", Integer, ForeignKey("joint_approvals.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("fire_at", Moment(), nullable=False),
    Column("fired_at", Moment()),
)
Index("ix_joint_approval_alarms_due", joint_alarms.c.fired_at, joint_alarms.c.fire_at)


# -- settings -------------------------------------------------------------------------------------------


class ProjectSettings(DependencyProvider):
    """`PROJECTS.SELF_CHECK_DUE_DAY`: last monthly self-check report day of the following month (default 5)."""

    def setup(self):
        cfg = self.container.config.get("PROJECTS") or {}
        day = int(cfg.get("SELF_CHECK_DUE_DAY") or 5)
        if not 1 <= day <= 28:
            raise ValueError("PROJECTS.SELF_CHECK_DUE_DAY must be a day from 1 to 28")
        self.due_day = day

    def get_dependency(self, worker_ctx):
        return self


# -- rules (pure) ---------------------------------------------------------------------------------------


def period_of(moment: datetime) -> str:
    return f"{moment.astimezone(clock.TZ):%Y-%m}"


def next_period(period: str) -> str:
    year, month = map(int, period.split("-"))
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def self_check_due(period: str, due_day: int) -> datetime:
    """The first instant after the due day of the month following `period`: from then on, it is missing."""
    year, month = map(int, next_period(period).split("-"))
    return datetime.combine(date(year, month, due_day), time.max, tzinfo=clock.TZ) + _US


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=clock.TZ)


def joint_item(rules_limit: int) -> Item:
    """The joint case as an item, so the domain's monitor moments (warnings, cards) apply to its clock."""
    return Item(code="joint", name="联合审批", department="joint", committed_limit=rules_limit, joint=True)


def jsonable(row: dict) -> dict:
    return store.jsonable(dict(row))


# -- schemas ----------------------------------------------------------------------------------------------

class AgentIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(required=True, validate=validate.Regexp(r"^[0-9+\-]{5,32}$"))


class MilestoneIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    deadline = kfields.Day(years_ahead=10, required=True)
    responsible_unit = fields.String(required=True, validate=CODE)


class ProjectIn(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    responsible_units = fields.List(fields.String(validate=CODE), required=True,
                                    validate=validate.Length(min=1, max=50))
    agent = fields.Nested(AgentIn, required=True)
    milestones = fields.List(fields.Nested(MilestoneIn), load_default=list, validate=validate.Length(max=200))


PERIOD = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="a month: YYYY-MM")
REASON = validate.Length(min=2, max=2000)


class ProjectPatchIn(Schema):
    """Any of the project's own fields; at least one. `self_check_due_day`: the report day of the following
    month for this project (null: the configured default); `self_check_from`: the first month whose report is
    (again) required — the monitor checks from that month on."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    responsible_units = fields.List(fields.String(validate=CODE), validate=validate.Length(min=1, max=50))
    agent = fields.Nested(AgentIn)
    self_check_due_day = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=28))
    self_check_from = fields.String(validate=PERIOD)
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not set(data) - {"reason"}:
            raise ValidationError("nothing to change", "_body")


class MilestoneAddIn(MilestoneIn):
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)


class MilestonePatchIn(Schema):
    """Any of the milestone's fields; at least one. A new deadline reschedules its check."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    deadline = kfields.Day(years_ahead=10)
    responsible_unit = fields.String(validate=CODE)
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not set(data) - {"reason"}:
            raise ValidationError("nothing to change", "_body")


class CancelIn(Schema):
    reason = fields.String(required=True, validate=REASON)


class AtIn(Schema):
    at = kfields.Moment(load_default=None, allow_none=True)


class SelfCheckIn(Schema):
    period = fields.String(required=True, validate=PERIOD)
    summary = fields.String(required=True, validate=validate.Length(min=1, max=10000))


class InspectionIn(Schema):
    quarter = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-Q[1-4]$"))
    findings = fields.String(required=True, validate=validate.Length(min=1, max=10000))
    rectification = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10000))
    at = kfields.Moment(load_default=None, allow_none=True)


class JointApprovalIn(Schema):
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=100))
    project_code = fields.String(required=True, validate=CODE)
    applicant = fields.Nested(ApplicantIn, required=True)
    item_codes = fields.List(fields.String(validate=CODE), required=True, validate=validate.Length(min=2, max=30))
    # materials submitted, per item code
    materials = fields.Dict(keys=fields.String(validate=CODE), values=fields.List(fields.String(validate=CODE)),
                            load_default=dict)
    service_point = fields.String(load_default="city_center",
                                  validate=validate.OneOf(SERVICE_POINTS))
    green_channel = fields.Boolean(load_default=True)
    at = kfields.Moment(load_default=None, allow_none=True)

    @validates_schema
    def distinct_items(self, data, **kwargs):
        if len(set(data["item_codes"])) != len(data["item_codes"]):
            raise ValidationError("each item once", "item_codes")


class ProjectAlertsQuery(Schema):
    subject = fields.String(load_default=None, validate=validate.OneOf(("project", "joint_approval")))
    subject_ref = fields.String(load_default=None, validate=validate.Length(max=64))
    level = fields.String(load_default=None, validate=validate.OneOf((ACCOUNTABILITY, "warning", "yellow", "red")))


# -- queries ----------------------------------------------------------------------------------------------


def get_project(session: Session, code: str, *, lock: bool = False) -> dict | None:
    q = select(projects).where(projects.c.code == code)
    row = session.execute(q.with_for_update() if lock else q).mappings().first()
    return dict(row) if row is not None else None


def raise_project_alert(session: Session, subject: str, ref: str, department: str | None, level: str, rule: str,
                        at: datetime, details: dict, *, project_code: str, joint_id: int | None = None) -> int | None:
    """Store a project's or joint case's alert unless (subject, ref, rule) has one: its id, or None when it had."""
    return store.raise_subject_alert(session, subject, ref, department=department, level=level, rule=rule, at=at,
                                     details=details, project_code=project_code, joint_id=joint_id)


def milestone_rule(milestone: dict) -> str:
    # the deadline is part of the rule: a milestone missed, moved and missed again is two accountability alerts
    return f"milestone_missed:{milestone['id']}@{milestone['deadline'].isoformat()}"


# whether each check of the timer has anything to do (one row, or none)
_NOW = bindparam("now", type_=Moment())
_DUE_MILESTONE = select(milestones.c.id).where(milestones.c.checked_at.is_(None),
                                               milestones.c.check_at <= _NOW).limit(1)
_DUE_SELF_CHECK = select(projects.c.code).where(projects.c.next_self_check_at <= _NOW).limit(1)
_DUE_JOINT_ALARM = select(joint_alarms.c.id).where(joint_alarms.c.fired_at.is_(None),
                                                   joint_alarms.c.fire_at <= _NOW).limit(1)
_COMPLETE_JOINT = select(joint_approvals.c.id).where(
    joint_approvals.c.state == "open",
    ~select(joint_members.c.application_id).join(store.applications,
                                                 store.applications.c.id == joint_members.c.application_id)
    .where(joint_members.c.joint_id == joint_approvals.c.id, store.applications.c.state.not_in(CONCLUDED))
    .exists()).limit(1)


class ProjectEndpoints:
    """Key projects, green-channel agents and joint approval, with their own monitor timer."""

    project_settings = ProjectSettings()

    # -- key projects -------------------------------------------------------------------------------------

    @api("POST", "/api/v1/projects", roles=PROJECT_EDITORS, body=ProjectIn, status=201,
         summary="register a key project (重点项目): units, agent (代办员), milestone plan", tags=("projects",),
         responses={409: "a project with this code exists"})
    def create_project(self, call):
        b = call.body
        now = clock.now()
        due_day = self.project_settings.due_day
        period = period_of(now)
        try:
            with self.platform.unit_of_work() as uow:
                s = uow.session
                s.execute(insert(projects).values(
                    code=b["code"], name=b["name"], responsible_units=list(b["responsible_units"]),
                    agent_name=b["agent"]["name"], agent_phone=b["agent"]["phone"], self_check_period=period,
                    next_self_check_at=self_check_due(period, due_day), created_at=now, updated_at=now))
                for m in b["milestones"]:
                    s.execute(insert(milestones).values(
                        project_code=b["code"], name=m["name"], deadline=m["deadline"],
                        responsible_unit=m["responsible_unit"], check_at=end_of(m["deadline"]) + _US))
        except IntegrityError:
            raise IllegalTransition(f"project {b['code']} exists", "重点项目编号已存在") from None
        with self.platform.session() as s:
            return 201, self._project_view(s, get_project(s, b["code"]))

    @api("GET", "/api/v1/projects/<code>", roles=READERS, summary="a key project with its plan, reports and records",
         tags=("projects",))
    def show_project(self, call, code):
        with self.platform.session() as s:
            return self._project_view(s, self._project(s, code, call=call))

    def _project(self, session, code, lock: bool = False, call=None):
        """The project, or 404; with `call`, also 404 for a department handler whose department is not one of
        its responsible units (the plan names the agent and his phone), as for a project that does not exist."""
        row = get_project(session, code, lock=lock)
        scope = call.department_scope if call is not None else None
        if row is None or (scope is not None and scope not in (row["responsible_units"] or ())):
            raise NotFound(f"no project {code}", message_zh="重点项目不存在")
        return row

    def _project_view(self, s, row) -> dict:
        code = row["code"]
        out = {k: row[k] for k in ("code", "name", "responsible_units", "created_at", "updated_at")}
        out["agent"] = {"name": row["agent_name"], "phone": row["agent_phone"]}
        out["next_self_check"] = {"period": row["self_check_period"], "missing_from": row["next_self_check_at"],
                                  "due_day": self._due_day(row)}
        out["milestones"] = [
            {k: m[k] for k in ("id", "name", "deadline", "responsible_unit", "done_at", "done_by", "cancelled_at",
                               "cancelled_by")}
            for m in s.execute(select(milestones).where(milestones.c.project_code == code)
                               .order_by(milestones.c.deadline, milestones.c.id)).mappings()]
        out["self_checks"] = [dict(r) for r in s.execute(
            select(self_checks).where(self_checks.c.project_code == code).order_by(self_checks.c.period)).mappings()]
        out["inspections"] = [dict(r) for r in s.execute(
            select(inspections).where(inspections.c.project_code == code).order_by(inspections.c.id)).mappings()]
        out["history"] = [
            {k: h[k] for k in ("at", "actor", "role", "action", "milestone_id", "changes", "reason")}
            for h in s.execute(select(project_history).where(project_history.c.project_code == code)
                               .order_by(project_history.c.id)).mappings()]
        return jsonable(out)

    def _due_day(self, project: dict) -> int:
        return project["self_check_due_day"] or self.project_settings.due_day

    # -- changes after registration ------------------------------------------------------------------------

    def _record_change(self, uow, project: dict, call, action: str, changes: dict, reason, now,
                       milestone_id: int | None = None) -> None:
        """One line of the project's history and one `project.plan_changed` event, in the change's own unit of
        work. `project`: as it is after the change."""
        changes = store.jsonable(changes)
        uow.session.execute(insert(project_history).values(
            project_code=project["code"], at=now, actor=call.principal.name, role=call.principal.role,
            action=action, milestone_id=milestone_id, changes=changes, reason=reason))
        uow.publish("project.plan_changed", {
            "project_code": project["code"], "project_name": project["name"], "action": action,
            "milestone_id": None if milestone_id is None else str(milestone_id), "changes": changes,
            "reason": reason, "by": call.principal.name, "changed_at": now,
            "responsible_units": list(project["responsible_units"])},
            department=(project["responsible_units"] or [None])[0])

    @api("PATCH", "/api/v1/projects/<code>", roles=PROJECT_EDITORS, body=ProjectPatchIn,
         summary="change a key project after registration: name, units, agent, self-check schedule (recorded, "
                 "published, checks rescheduled)", tags=("projects",))
    def update_project(self, call, code):
        b = dict(call.body)
        reason = b.pop("reason", None)
        now = clock.now()
        with self.platform.unit_of_work() as uow:
            s = uow.session
            old = self._project(s, code, lock=True)
            values = {k: b[k] for k in ("name", "self_check_due_day") if k in b}
            if "responsible_units" in b:
                values["responsible_units"] = list(b["responsible_units"])
            if "agent" in b:
                values.update(agent_name=b["agent"]["name"], agent_phone=b["agent"]["phone"])
            if "self_check_from" in b and b["self_check_from"] < period_of(old["created_at"]):
                raise BadRequest({"self_check_from": ["cannot be before the month the project was registered"]})
            if "self_check_due_day" in b or "self_check_from" in b:
                # the month checked next, and when: a month already alerted is not alerted again (one per rule)
                period = b.get("self_check_from", old["self_check_period"])
                due_day = values.get("self_check_due_day", old["self_check_due_day"]) or self.project_settings.due_day
                values.update(self_check_period=period, next_self_check_at=self_check_due(period, due_day))
            changes = {k: {"from": old[k], "to": v} for k, v in values.items() if old[k] != v}
            if changes:
                s.execute(update(projects).where(projects.c.code == code).values(**values, updated_at=now))
                new = {**old, **values, "updated_at": now}
                self._record_change(uow, new, call, "project_changed", changes, reason, now)
            else:
                new = old
            return self._project_view(s, new)

    def _milestone(self, session, code: str, milestone_id: int, *, open_only: bool = False) -> dict:
        m = session.execute(select(milestones).where(milestones.c.id == milestone_id,
                                                     milestones.c.project_code == code)).mappings().first()
        if m is None:
            raise NotFound(f"no milestone {milestone_id} in project {code}", message_zh="节点不存在")
        if open_only and m["done_at"] is not None:
            raise IllegalTransition("the milestone is done: its plan is history", "节点已完成，不能修改")
        if open_only and m["cancelled_at"] is not None:
            raise IllegalTransition("the milestone was cancelled", "节点已取消")
        return dict(m)

    @api("POST", "/api/v1/projects/<code>/milestones", roles=PROJECT_EDITORS, body=MilestoneAddIn, status=201,
         summary="add a milestone to a key project's plan", tags=("projects",))
    def add_milestone(self, call, code):
        b = call.body
        now = clock.now()
        with self.platform.unit_of_work() as uow:
            s = uow.session
            project = self._project(s, code, lock=True)
            values = {k: b[k] for k in ("name", "deadline", "responsible_unit")}
            milestone_id = s.execute(insert(milestones).values(
                project_code=code, check_at=end_of(b["deadline"]) + _US, **values)).inserted_primary_key[0]
            self._record_change(uow, project, call, "milestone_added",
                                {k: {"from": None, "to": v} for k, v in values.items()}, b["reason"], now,
                                milestone_id)
            return 201, self._project_view(s, project)

    @api("PATCH", "/api/v1/projects/<code>/milestones/<int:milestone_id>", roles=PROJECT_EDITORS,
         body=MilestonePatchIn, summary="change a milestone not yet done: name, deadline (its check is rescheduled), "
                                        "responsible unit", tags=("projects",),
         responses={409: "the milestone is done or cancelled"})
    def update_milestone(self, call, code, milestone_id):
        b = dict(call.body)
        reason = b.pop("reason", None)
        now = clock.now()
        with self.platform.unit_of_work() as uow:
            s = uow.session
            project = self._project(s, code, lock=True)
            m = self._milestone(s, code, milestone_id, open_only=True)
            changes = {k: {"from": m[k], "to": v} for k, v in b.items() if m[k] != v}
            if changes:
                values = dict(b)
                if "deadline" in changes:
                    # checked again at the end of the new deadline day (an alert on the old one stays raised)
                    values.update(check_at=end_of(b["deadline"]) + _US, checked_at=None)
                s.execute(update(milestones).where(milestones.c.id == milestone_id).values(**values))
                self._record_change(uow, project, call, "milestone_changed", changes, reason, now, milestone_id)
            return self._project_view(s, project)

    @api("POST", "/api/v1/projects/<code>/milestones/<int:milestone_id>/cancel", roles=PROJECT_EDITORS,
         body=CancelIn, summary="take a milestone not yet done out of the plan (kept on record, no longer checked)",
         tags=("projects",), responses={409: "the milestone is done or cancelled"})
    def cancel_milestone(self, call, code, milestone_id):
        now = clock.now()
        with self.platform.unit_of_work() as uow:
            s = uow.session
            project = self._project(s, code, lock=True)
            m = self._milestone(s, code, milestone_id, open_only=True)
            s.execute(update(milestones).where(milestones.c.id == milestone_id).values(
                cancelled_at=now, cancelled_by=call.principal.name, checked_at=m["checked_at"] or now))
            self._record_change(uow, project, call, "milestone_cancelled",
                                {"cancelled_at": {"from": None, "to": now}}, call.body["reason"], now, milestone_id)
            return self._project_view(s, project)

    @api("POST", "/api/v1/projects/<code>/milestones/<int:milestone_id>/done", roles=UNIT_REPORTERS, body=AtIn,
         summary="a milestone reached (by its responsible unit)", tags=("projects",),
         responses={409: "the milestone was cancelled"})
    def milestone_done(self, call, code, milestone_id):
        now = clock.now()
        with self.platform.unit_of_work() as uow:
            s = uow.session
            m = s.execute(select(milestones).where(milestones.c.id == milestone_id,
                                                   milestones.c.project_code == code)).mappings().first()
            not_found = NotFound(f"no milestone {milestone_id} in project {code}", message_zh="节点不存在")
            if m is None:
                raise not_found
            call.require_department(m["responsible_unit"], not_found)
            if m["cancelled_at"] is not None:
                raise IllegalTransition("the milestone was cancelled", "节点已取消")
            s.execute(update(milestones).where(milestones.c.id == milestone_id).values(
                done_at=call.body["at"] or now, done_by=call.principal.name))
        with self.platform.session() as s:
            return self._project_view(s, self._project(s, code))

    @api("POST", "/api/v1/projects/<code>/self-checks", roles=UNIT_REPORTERS, body=SelfCheckIn, status=201,
         summary="the monthly self-check report (月度自查) of a month", tags=("projects",),
         responses={409: "that month's report is in already"})
    def submit_self_check(self, call, code):
        now = clock.now()
        try:
            with self.platform.unit_of_work() as uow:
                project = self._project(uow.session, code)
                not_found = NotFound(f"no project {code}", message_zh="重点项目不存在")
                if call.department_scope is not None and call.department_scope not in project["responsible_units"]:
                    raise not_found
                uow.session.execute(insert(self_checks).values(
                    project_code=code, period=call.body["period"], summary=call.body["summary"],
                    submitted_by=call.principal.name, submitted_at=now))
        except IntegrityError:
            raise IllegalTransition("this month's self-check is in already", "该月自查报告已提交") from None
        with self.platform.session() as s:
            return 201, self._project_view(s, self._project(s, code))

    @api("POST", "/api/v1/projects/<code>/inspections", roles=INSPECTORS, body=InspectionIn, status=201,
         summary="a quarterly inspection record (季度督查)", tags=("projects",))
    def record_inspection(self, call, code):
        b = call.body
        with self.platform.unit_of_work() as uow:
            self._project(uow.session, code)
            uow.session.execute(insert(inspections).values(
                project_code=code, quarter=b["quarter"], inspector=call.principal.name, findings=b["findings"],
                rectification=b["rectification"], inspected_at=b["at"] or clock.now()))
        with self.platform.session() as s:
            return 201, self._project_view(s, self._project(s, code))

    @api("GET", "/api/v1/projects/<code>/applications", roles=READERS,
         summary="a project's applications, green channel first, each with the project's agent (代办员)",
         tags=("projects",))
    def project_applications(self, call, code):
        now = clock.now()
        scope = call.department_scope
        with self.platform.session() as s:
            project = self._project(s, code)
            agent = {"name": project["agent_name"], "phone": project["agent_phone"]}
            apps = store.applications
            q = select(apps).where(apps.c.project_code == code)
            if scope is not None:
                q = q.where(apps.c.department == scope)
            rows = s.execute(q.order_by(apps.c.green_channel.desc(), apps.c.id.desc()).limit(500)).mappings()
            items: dict = {}
            out = []
            for r in rows:
                row = store._load(r)
                out.append(self._sub_view(s, row, now, items, agent if row["green_channel"] else None))
        return {"items": out, "total": len(out)}

    def _sub_view(self, s, row, now, items, agent=None) -> dict:
        app = self._app(s, row, now, items)
        status = app.clock_status(now)
        return jsonable({
            "id": row["id"], "application_no": row["application_no"], "item_code": row["item_code"],
            "department": row["department"], "state": row["state"], "state_zh": STATE_ZH.get(row["state"]),
            "green_channel": row["green_channel"], "project_code": row["project_code"], "agent": agent,
            "due_at": row["due_at"], "light": status["light"] if status else None})

    # -- joint approval ------------------------------------------------------------------------------------

    @api("POST", "/api/v1/joint-approvals", roles=("window_system",), body=JointApprovalIn, status=201,
         summary="a joint approval (联合审批): one sub-application per item, in parallel under one joint limit",
         tags=("joint approval",), responses={200: "this external_ref was submitted before: the existing case"})
    def submit_joint_approval(self, call):
        b = call.body
        now = clock.now()
        try:
            joint_id, created = self._create_joint(call, b, now)
        except IntegrityError:
            # the same external_ref at the same moment (a retry racing the first attempt): the other one won
            with self.platform.session() as s:
                joint_id = s.execute(select(joint_approvals.c.id).where(
                    joint_approvals.c.external_ref == b["external_ref"])).scalar_one_or_none()
            if joint_id is None:
                raise
            created = False
        return (201 if created else 200), self._joint_view(call, joint_id, now)

    def _create_joint(self, call, b, now) -> tuple[int, bool]:
        """The case, its sub-applications (each through the window contract's own submission), their membership,
        the joint clock's alarms and the events: one unit of work, so a crash leaves either all or nothing."""
        at = b["at"] or now
        submitting = None
        try:
            with self.platform.unit_of_work() as uow:
                s = uow.session
                existing = s.execute(select(joint_approvals.c.id).where(
                    joint_approvals.c.external_ref == b["external_ref"])).scalar_one_or_none()
                if existing is not None:
                    return existing, False
                project = get_project(s, b["project_code"])
                if project is None:  # a field of the body, as an unknown item code is: 400, not 404
                    raise BadRequest({"project_code": [f"no key project {b['project_code']}"]})
                unknown = [c for c in b["item_codes"] if self._item(s, c) is None]
                if unknown:
                    raise BadRequest({"item_codes": [f"unknown approval items: {', '.join(unknown)}"]})
                rules = self.settings.rules
                joint = {"external_ref": b["external_ref"], "project_code": project["code"],
                         "item_codes": b["item_codes"], "state": "open", "started_at": at,
                         "limit_days": rules.joint_limit, "created_at": now}
                try:
                    joint.update(due_at=self._joint_clock(joint).due_at, clock_error=None)
                except CalendarUnavailable as exc:
                    joint.update(due_at=None, clock_error=str(exc))
                joint["id"] = s.execute(insert(joint_approvals).values(**joint)).inserted_primary_key[0]
                subs = []
                for code in b["item_codes"]:
                    submitting = {
                        "external_ref": f"{b['external_ref']}/{code}", "item_code": code, "applicant": b["applicant"],
                        "materials": b["materials"].get(code, []), "service_point": b["service_point"],
                        "green_channel": b["green_channel"], "project_code": project["code"], "at": at}
                    _, sub = self._submit_in(uow, call, submitting, now)
                    subs.append((code, sub["id"], sub["department"]))
                s.execute(insert(joint_members), [{"joint_id": joint["id"], "item_code": c, "application_id": i,
                                                   "department": d} for c, i, d in subs])
                self._schedule_joint(s, joint)
                uow.publish("joint_approval.created", {
                    "joint_id": str(joint["id"]), "project_code": project["code"], "item_codes": b["item_codes"],
                    "departments": sorted({d for _, _, d in subs}),
                    "application_ids": [str(i) for _, i, _ in subs], "limit_days": joint["limit_days"],
                    "started_at": joint["started_at"], "due_at": joint["due_at"],
                    "clock_error": joint["clock_error"]})
                return joint["id"], True
        except IllegalTransition as exc:
            # refused as a whole (dated in the future): the irregularity is alerted on the submission it stopped at
            if submitting is not None:
                self._alert_refused_submission(submitting, exc, now)
            raise

    def _joint_clock(self, joint) -> DeadlineClock:
        return DeadlineClock(started_at=joint["started_at"], limit_days=joint["limit_days"],
                             calendar=self.settings.calendar)

    def _schedule_joint(self, session, joint) -> None:
        moments = monitor_moments(self.settings.rules, joint_item(joint["limit_days"]), self._joint_clock(joint))
        rows = [{"joint_id": joint["id"], "kind": kind, "fire_at": at} for kind, at in moments]
        if rows:
            session.execute(insert(joint_alarms), rows)

    @api("GET", "/api/v1/joint-approvals/<int:joint_id>", roles=READERS,
         summary="a joint approval: its sub-applications, the joint clock and state", tags=("joint approval",))
    def get_joint_approval(self, call, joint_id):
        return self._joint_view(call, joint_id, clock.now())

    def _joint_view(self, call, joint_id, now) -> dict:
        not_found = NotFound(f"no joint approval {joint_id}", message_zh="联合审批不存在")
        scope = call.department_scope
        with self.platform.session() as s:
            joint = s.execute(select(joint_approvals).where(joint_approvals.c.id == joint_id)).mappings().first()
            if joint is None:
                raise not_found
            members = s.execute(select(joint_members).where(joint_members.c.joint_id == joint_id)
                                .order_by(joint_members.c.item_code)).mappings().all()
            if scope is not None and scope not in {m["department"] for m in members}:
                raise not_found
            subs, items = [], {}
            for m in members:
                row = store.get(s, m["application_id"])
                if scope is not None and m["department"] != scope:
                    # another department's part: that it exists and how far it got, nothing more
                    subs.append({"item_code": m["item_code"], "department": m["department"], "state": row["state"],
                                 "state_zh": STATE_ZH.get(row["state"])})
                else:
                    subs.append(self._sub_view(s, row, now, items))
        out = {k: joint[k] for k in ("id", "external_ref", "project_code", "item_codes", "state", "completed_at",
                                     "approved")}
        out["clock"] = self._joint_clock_view(joint, now)
        out["sub_applications"] = subs
        out["decided"] = sum(1 for x in subs if x["state"] in CONCLUDED)
        return jsonable(out)

    def _joint_clock_view(self, joint, now) -> dict:
        base = {"limit_days": joint["limit_days"], "started_at": joint["started_at"], "due_at": joint["due_at"],
                "error": joint["clock_error"]}
        at = joint["completed_at"] or now
        try:
            st = self._joint_clock(joint).status(at)
        except CalendarUnavailable as exc:
            return {**base, "elapsed": None, "remaining": None, "fraction_used": None, "light": None,
                    "error": str(exc)}
        rules = self.settings.rules
        warned = ((rules.warn_days_left is not None and st.remaining <= rules.warn_days_left)
                  or (rules.warn_fraction is not None and st.fraction_used >= rules.warn_fraction))
        light = "red" if st.overdue else "yellow" if warned else "green"
        return {**base, "start_date": st.start_date, "elapsed": st.elapsed, "remaining": st.remaining,
                "fraction_used": st.fraction_used, "light": light}

    # -- alerts ------------------------------------------------------------------------------------------------

    @api("GET", "/api/v1/project-alerts", roles=("monitor", "department_handler"), query=ProjectAlertsQuery,
         summary="accountability alerts of key projects and the joint cases' own clock alerts, newest first (the "
                 "same alerts as GET /api/v1/alerts?subject=project|joint_approval)", tags=("projects",))
    def list_project_alerts(self, call):
        alerts = store.alerts
        conds = [alerts.c.subject.in_(("project", "joint_approval"))]
        conds += [alerts.c[k] == v for k, v in call.query.items() if v is not None]
        if call.department_scope is not None:
            conds.append(alerts.c.department == call.department_scope)
        q = select(alerts).where(and_(*conds))
        with self.platform.session() as s:
            rows = s.execute(q.order_by(alerts.c.id.desc()).limit(500)).mappings().all()
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
        return {"items": [jsonable(r) for r in rows], "total": total}

    # -- the monitor -------------------------------------------------------------------------------------------

    @timer(interval=CHECK_INTERVAL)
    def check_projects(self):
        now = clock.now()
        steps = {self._check_milestones: _DUE_MILESTONE, self._check_self_checks: _DUE_SELF_CHECK,
                 self._fire_joint_alarms: _DUE_JOINT_ALARM, self._complete_joints: _COMPLETE_JOINT}
        # asked in a reader first: an idle tick never takes SQLite's write lock, which window actions need
        with self.platform.session() as s:
            due = [step for step, query in steps.items() if s.execute(query, {"now": now}).first() is not None]
        for step in due:
            try:
                step(now)
            except Exception:
                log.exception("project check %s failed", step.__name__)

    def _check_milestones(self, now) -> None:
        with self.platform.unit_of_work() as uow:
            s = uow.session
            due = s.execute(select(milestones).where(milestones.c.checked_at.is_(None), milestones.c.check_at <= now)
                            .order_by(milestones.c.check_at).limit(BATCH).with_for_update(skip_locked=True)
                            ).mappings().all()
            for m in due:
                s.execute(update(milestones).where(milestones.c.id == m["id"]).values(checked_at=now))
                if m["done_at"] is not None and m["done_at"] <= end_of(m["deadline"]):
                    continue
                project = get_project(s, m["project_code"])
                rule = milestone_rule(m)
                alert_id = raise_project_alert(s, "project", m["project_code"], m["responsible_unit"], ACCOUNTABILITY,
                                               rule, now, {"milestone": m["name"], "deadline": m["deadline"]},
                                               project_code=m["project_code"])
                if alert_id is not None:
                    uow.publish("project.milestone_missed", {
                        "project_code": m["project_code"], "project_name": project["name"],
                        "milestone_id": str(m["id"]), "milestone": m["name"], "deadline": m["deadline"],
                        "responsible_unit": m["responsible_unit"], "alert_id": str(alert_id),
                        "level": ACCOUNTABILITY, "rule": rule, "raised_at": now}, department=m["responsible_unit"])

    def _check_self_checks(self, now) -> None:
        with self.platform.unit_of_work() as uow:
            s = uow.session
            due = s.execute(select(projects).where(projects.c.next_self_check_at <= now).limit(BATCH)
                            .with_for_update(skip_locked=True)).mappings().all()
            for p in due:
                due_day = self._due_day(p)
                period, check_at = p["self_check_period"], p["next_self_check_at"]
                while check_at <= now:  # one alert per month missed, however long the monitor was away
                    report = s.execute(select(self_checks.c.id).where(
                        self_checks.c.project_code == p["code"], self_checks.c.period == period)).first()
                    if report is None:
                        self._self_check_missing(uow, p, period, check_at, now)
                    period = next_period(period)
                    check_at = self_check_due(period, due_day)
                s.execute(update(projects).where(projects.c.code == p["code"]).values(
                    self_check_period=period, next_self_check_at=check_at))

    def _self_check_missing(self, uow, project, period, missing_from, now) -> None:
        lead = (project["responsible_units"] or [None])[0]
        rule = f"self_check_missing:{period}"
        alert_id = raise_project_alert(uow.session, "project", project["code"], lead, ACCOUNTABILITY, rule, now,
                                       {"period": period, "due_by": missing_from - _US}, project_code=project["code"])
        if alert_id is not None:
            uow.publish("project.self_check_missing", {
                "project_code": project["code"], "project_name": project["name"], "period": period,
                "due_by": missing_from - _US, "responsible_units": list(project["responsible_units"]),
                "alert_id": str(alert_id), "level": ACCOUNTABILITY, "rule": rule, "raised_at": now},
                department=lead)

    def _fire_joint_alarms(self, now) -> None:
        with self.platform.unit_of_work() as uow:
            s = uow.session
            due = s.execute(select(joint_alarms).where(joint_alarms.c.fired_at.is_(None), joint_alarms.c.fire_at <= now)
                            .order_by(joint_alarms.c.fire_at).limit(BATCH).with_for_update(skip_locked=True)
                            ).mappings().all()
            for alarm in due:
                s.execute(update(joint_alarms).where(joint_alarms.c.id == alarm["id"]).values(fired_at=now))
                joint = s.execute(select(joint_approvals).where(joint_approvals.c.id == alarm["joint_id"])
                                  ).mappings().first()
                if joint["state"] != "open" or alarm["kind"] not in JOINT_CARDS:
                    continue
                level = JOINT_CARDS[alarm["kind"]]
                view = self._joint_clock_view(joint, now)
                alert_id = raise_project_alert(s, "joint_approval", str(joint["id"]), None, level, alarm["kind"], now,
                                               {"due_at": joint["due_at"], "remaining_days": view.get("remaining")},
                                               project_code=joint["project_code"], joint_id=joint["id"])
                if alert_id is not None:
                    uow.publish("joint_approval.alert_raised", {
                        "joint_id": str(joint["id"]), "project_code": joint["project_code"],
                        "alert_id": str(alert_id), "level": level, "rule": alarm["kind"], "raised_at": now,
                        "limit_days": joint["limit_days"], "due_at": joint["due_at"],
                        "elapsed_days": view.get("elapsed"), "remaining_days": view.get("remaining")})

    def _complete_joints(self, now) -> None:
        with self.platform.unit_of_work() as uow:
            s = uow.session
            open_ = s.execute(select(joint_approvals).where(joint_approvals.c.state == "open").limit(BATCH)
                              .with_for_update(skip_locked=True)).mappings().all()
            for joint in open_:
                apps = store.applications
                rows = s.execute(select(apps.c.state, apps.c.approved, apps.c.decided_at, apps.c.refused_at)
                                 .join(joint_members, joint_members.c.application_id == apps.c.id)
                                 .where(joint_members.c.joint_id == joint["id"])).mappings().all()
                if not rows or any(r["state"] not in CONCLUDED for r in rows):
                    continue
                completed_at = max(r["decided_at"] or r["refused_at"] for r in rows)
                approved = all(r["approved"] for r in rows)
                s.execute(update(joint_approvals).where(joint_approvals.c.id == joint["id"]).values(
                    state="completed", completed_at=completed_at, approved=approved))
                in_time = None if joint["due_at"] is None else completed_at <= joint["due_at"]
                uow.publish("joint_approval.completed", {
                    "joint_id": str(joint["id"]), "project_code": joint["project_code"],
                    "completed_at": completed_at, "approved": approved, "in_time": in_time,
                    "limit_days": joint["limit_days"], "due_at": joint["due_at"]})
