"""Where key projects and joint cases are kept: their tables (on the approvals' metadata) and the queries on
them. The approvals' `alarms` table hangs off an application, so a project's accountability checks and a joint
case's own clock keep their next check times in tables of their own, claimed by the projects' timer with SKIP
LOCKED like the application monitor's; their alerts are stored with every other alert (`alerts`, by subject)."""

from __future__ import annotations

from datetime import datetime

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
    cast,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import Moment, paged

from .. import store as core
from .domain import CONCLUDED

metadata = core.metadata
BATCH = 200  # rows a check of the timer claims at once

# -- tables ---------------------------------------------------------------------------------------------

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
    # active | closed (a closed project is no longer checked)
    Column("state", String(16), nullable=False, default="active", server_default="active"),
    Column("closed_at", Moment()),
    # the quarter whose inspection (重点督察) is checked next ("2026-Q4"), and when (the first instant after it)
    Column("inspection_quarter", String(7)),
    Column("next_inspection_at", Moment()),
)
Index("ix_projects_next_self_check", projects.c.next_self_check_at)
Index("ix_projects_next_inspection", projects.c.next_inspection_at)

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
    # how many problems the inspection found (what scoring counts; the findings' text stays here)
    Column("findings_count", Integer, nullable=False, default=0, server_default="0"),
)
Index("ix_project_inspections_quarter", inspections.c.project_code, inspections.c.quarter)

# The accountability procedure (责任追究程序) started on an accountability alert: at most one per alert; it ends
# with a measure (a sanction kind, against a unit or a post) or a recorded decision that none is due.
procedures = Table(
    "accountability_procedures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, unique=True),
    Column("subject", String(16), nullable=False),  # the alert's: project | joint_approval
    Column("project_code", String(64)),
    Column("joint_id", Integer),
    Column("responsible_department", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("started_by", String(100), nullable=False),
    Column("started_at", Moment(), nullable=False),
    Column("state", String(16), nullable=False),  # open | concluded
    Column("outcome", String(16)),  # measure | none_due
    Column("measure", String(32)),  # a sanction kind (contracts.scoring.SANCTION_KINDS)
    Column("target", String(16)),  # unit | person
    Column("post", String(100)),  # the position held (职务), never a name
    Column("deciding_body", String(200)),
    Column("document_no", String(100)),
    Column("decided_on", Date),
    Column("conclusion_reason", Text),
    Column("concluded_by", String(100)),
    Column("concluded_at", Moment()),
)
Index("ix_accountability_procedures_state", procedures.c.state, procedures.c.responsible_department)

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


# -- key projects ---------------------------------------------------------------------------------------


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _units_text():
    # the responsible units as JSON text (the same on SQLite and PostgreSQL: `["FGJ", "SCJGJ"]`, as written):
    # a code is quoted in it, so that a LIKE on `"CODE"` finds the unit and no other
    return cast(projects.c.responsible_units, String)


def _unit_condition(department: str, *, lead: bool = False):
    quoted = f'"{_like(department)}"'
    return _units_text().like(f"[{quoted}%" if lead else f"%{quoted}%", escape="\\")


def list_projects(session: Session, *, department: str | None = None, lead_unit: str | None = None,
                  state: str | None = None, green_channel: bool | None = None, q: str | None = None,
                  year_span: tuple[datetime, datetime] | None = None, page: int = 1,
                  per_page: int = 50) -> tuple[list[dict], int]:
    """A page of projects, newest first: of a responsible unit (`department`) or lead unit, in a state, with (or
    without) a green-channel application, whose code or name contains `q`, registered in `year_span`."""
    conds = []
    if department is not None:
        conds.append(_unit_condition(department))
    if lead_unit is not None:
        conds.append(_unit_condition(lead_unit, lead=True))
    if state is not None:
        conds.append(projects.c.state == state)
    if green_channel is not None:
        apps = core.applications
        green = exists().where(apps.c.project_code == projects.c.code, apps.c.green_channel.is_(True))
        conds.append(green if green_channel else ~green)
    if q:
        pattern = f"%{_like(q.lower())}%"
        conds.append(func.lower(projects.c.code).like(pattern, escape="\\")
                     | func.lower(projects.c.name).like(pattern, escape="\\"))
    if year_span is not None:
        conds.append(and_(projects.c.created_at >= year_span[0], projects.c.created_at < year_span[1]))
    return paged(session, [projects], projects, conds, page, per_page, projects.c.created_at.desc(),
                 projects.c.code)


def open_alert_counts(session: Session, codes: list[str]) -> dict[str, int]:
    """Unresolved alerts of each project (its own and its joint cases'), by code."""
    if not codes:
        return {}
    alerts = core.alerts
    rows = session.execute(select(alerts.c.project_code, func.count()).where(
        alerts.c.project_code.in_(codes), alerts.c.subject.in_(("project", "joint_approval")),
        alerts.c.state != "resolved").group_by(alerts.c.project_code))
    return {code: n for code, n in rows}


def get_project(session: Session, code: str, *, lock: bool = False) -> dict | None:
    q = select(projects).where(projects.c.code == code)
    row = session.execute(q.with_for_update() if lock else q).mappings().first()
    return dict(row) if row is not None else None


def insert_project(session: Session, values: dict) -> None:
    session.execute(insert(projects).values(**values))


def update_project(session: Session, code: str, values: dict) -> None:
    session.execute(update(projects).where(projects.c.code == code).values(**values))


def add_history(session: Session, values: dict) -> None:
    session.execute(insert(project_history).values(**values))


def insert_milestone(session: Session, values: dict) -> int:
    return session.execute(insert(milestones).values(**values)).inserted_primary_key[0]


def get_milestone(session: Session, code: str, milestone_id: int) -> dict | None:
    row = session.execute(select(milestones).where(milestones.c.id == milestone_id,
                                                   milestones.c.project_code == code)).mappings().first()
    return dict(row) if row is not None else None


def update_milestone(session: Session, milestone_id: int, values: dict) -> None:
    session.execute(update(milestones).where(milestones.c.id == milestone_id).values(**values))


def insert_self_check(session: Session, values: dict) -> None:
    session.execute(insert(self_checks).values(**values))


def insert_inspection(session: Session, values: dict) -> int:
    return session.execute(insert(inspections).values(**values)).inserted_primary_key[0]


def has_inspection(session: Session, code: str, quarter: str) -> bool:
    return session.execute(select(inspections.c.id).where(
        inspections.c.project_code == code, inspections.c.quarter == quarter).limit(1)).first() is not None


def close_open_milestones(session: Session, code: str, now: datetime) -> None:
    """A closed project's milestones not yet checked are never checked (they stay as they were)."""
    session.execute(update(milestones).where(milestones.c.project_code == code, milestones.c.checked_at.is_(None))
                    .values(checked_at=now))


def records_of(session: Session, code: str) -> dict[str, list[dict]]:
    """A project's plan, reports, inspections and history, each in the order it is shown."""
    return {
        "milestones": [dict(r) for r in session.execute(
            select(milestones).where(milestones.c.project_code == code)
            .order_by(milestones.c.deadline, milestones.c.id)).mappings()],
        "self_checks": [dict(r) for r in session.execute(
            select(self_checks).where(self_checks.c.project_code == code).order_by(self_checks.c.period))
            .mappings()],
        "inspections": [dict(r) for r in session.execute(
            select(inspections).where(inspections.c.project_code == code).order_by(inspections.c.id))
            .mappings()],
        "history": [dict(r) for r in session.execute(
            select(project_history).where(project_history.c.project_code == code)
            .order_by(project_history.c.id)).mappings()],
    }


def project_applications(session: Session, code: str, department: str | None, limit: int = 500) -> list[dict]:
    """A project's applications (of one department, if given), green channel first, then newest."""
    apps = core.applications
    q = select(apps).where(apps.c.project_code == code)
    if department is not None:
        q = q.where(apps.c.department == department)
    rows = session.execute(q.order_by(apps.c.green_channel.desc(), apps.c.id.desc()).limit(limit)).mappings()
    return [core._load(r) for r in rows]


# -- alerts ---------------------------------------------------------------------------------------------


def raise_project_alert(session: Session, subject: str, ref: str, department: str | None, level: str, rule: str,
                        at: datetime, details: dict, *, project_code: str, joint_id: int | None = None) -> int | None:
    """Store a project's or joint case's alert unless (subject, ref, rule) has one: its id, or None when it had."""
    return core.raise_subject_alert(session, subject, ref, department=department, level=level, rule=rule, at=at,
                                    details=details, project_code=project_code, joint_id=joint_id)


def list_project_alerts(session: Session, filters: dict, department: str | None,
                        limit: int = 500) -> tuple[list[dict], int]:
    """The alerts of projects and joint cases (`filters`: column → value, None for any), newest first."""
    alerts = core.alerts
    conds = [alerts.c.subject.in_(("project", "joint_approval"))]
    conds += [alerts.c[k] == v for k, v in filters.items() if v is not None]
    if department is not None:
        conds.append(alerts.c.department == department)
    q = select(alerts).where(and_(*conds))
    rows = session.execute(q.order_by(alerts.c.id.desc()).limit(limit)).mappings().all()
    total = session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    return [dict(r) for r in rows], total


# -- joint cases ----------------------------------------------------------------------------------------


def find_joint_id(session: Session, external_ref: str) -> int | None:
    return session.execute(select(joint_approvals.c.id).where(
        joint_approvals.c.external_ref == external_ref)).scalar_one_or_none()


def insert_joint(session: Session, values: dict) -> int:
    return session.execute(insert(joint_approvals).values(**values)).inserted_primary_key[0]


def add_members(session: Session, joint_id: int, members: list[tuple[str, int, str]]) -> None:
    """(item code, application id, department) of each sub-application."""
    session.execute(insert(joint_members), [{"joint_id": joint_id, "item_code": c, "application_id": i,
                                             "department": d} for c, i, d in members])


def schedule_joint(session: Session, joint_id: int, moments: list[tuple[str, datetime]]) -> None:
    rows = [{"joint_id": joint_id, "kind": kind, "fire_at": at} for kind, at in moments]
    if rows:
        session.execute(insert(joint_alarms), rows)


def get_joint(session: Session, joint_id: int) -> dict | None:
    row = session.execute(select(joint_approvals).where(joint_approvals.c.id == joint_id)).mappings().first()
    return dict(row) if row is not None else None


def members_of(session: Session, joint_id: int) -> list[dict]:
    return [dict(r) for r in session.execute(select(joint_members).where(joint_members.c.joint_id == joint_id)
                                             .order_by(joint_members.c.item_code)).mappings()]


def list_joints(session: Session, *, project_code: str | None = None, state: str | None = None,
                department: str | None = None, item_code: str | None = None, page: int = 1,
                per_page: int = 50) -> tuple[list[dict], int]:
    """A page of joint cases, newest first: of a project, in a state, with a part in `department`, with an item."""
    conds = []
    if project_code is not None:
        conds.append(joint_approvals.c.project_code == project_code)
    if state is not None:
        conds.append(joint_approvals.c.state == state)
    for column, value in ((joint_members.c.department, department), (joint_members.c.item_code, item_code)):
        if value is not None:
            conds.append(exists().where(joint_members.c.joint_id == joint_approvals.c.id, column == value))
    return paged(session, [joint_approvals], joint_approvals, conds, page, per_page, joint_approvals.c.id.desc())


def members_of_many(session: Session, joint_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {i: [] for i in joint_ids}
    if joint_ids:
        for r in session.execute(select(joint_members).where(joint_members.c.joint_id.in_(joint_ids))
                                 .order_by(joint_members.c.item_code)).mappings():
            out[r["joint_id"]].append(dict(r))
    return out


# -- accountability procedures ----------------------------------------------------------------------------


def insert_procedure(session: Session, values: dict) -> int:
    return session.execute(insert(procedures).values(**values)).inserted_primary_key[0]


def get_procedure(session: Session, procedure_id: int, *, lock: bool = False) -> dict | None:
    q = select(procedures).where(procedures.c.id == procedure_id)
    row = session.execute(q.with_for_update() if lock else q).mappings().first()
    return dict(row) if row is not None else None


def procedure_of_alert(session: Session, alert_id: int) -> dict | None:
    row = session.execute(select(procedures).where(procedures.c.alert_id == alert_id)).mappings().first()
    return dict(row) if row is not None else None


def update_procedure(session: Session, procedure_id: int, values: dict) -> None:
    session.execute(update(procedures).where(procedures.c.id == procedure_id).values(**values))


def list_procedures(session: Session, *, department: str | None = None, state: str | None = None,
                    project_code: str | None = None, joint_id: int | None = None, outcome: str | None = None,
                    alert_id: int | None = None, page: int = 1, per_page: int = 50) -> tuple[list[dict], int]:
    """A page of procedures, newest first (`department`: the unit held responsible)."""
    filters = {"responsible_department": department, "state": state, "project_code": project_code,
               "joint_id": joint_id, "outcome": outcome, "alert_id": alert_id}
    conds = [procedures.c[k] == v for k, v in filters.items() if v is not None]
    return paged(session, [procedures], procedures, conds, page, per_page, procedures.c.id.desc())


# -- the projects' timer --------------------------------------------------------------------------------

# whether each check of the timer has anything to do (one row, or none)
_NOW = bindparam("now", type_=Moment())
_DUE = {
    "milestones": select(milestones.c.id).where(milestones.c.checked_at.is_(None),
                                                milestones.c.check_at <= _NOW).limit(1),
    "self_checks": select(projects.c.code).where(projects.c.state == "active",
                                                 projects.c.next_self_check_at <= _NOW).limit(1),
    "inspections": select(projects.c.code).where(projects.c.state == "active",
                                                 projects.c.next_inspection_at <= _NOW).limit(1),
    "joint_alarms": select(joint_alarms.c.id).where(joint_alarms.c.fired_at.is_(None),
                                                    joint_alarms.c.fire_at <= _NOW).limit(1),
    "joint_completions": select(joint_approvals.c.id).where(
        joint_approvals.c.state == "open",
        ~select(joint_members.c.application_id).join(core.applications,
                                                     core.applications.c.id == joint_members.c.application_id)
        .where(joint_members.c.joint_id == joint_approvals.c.id, core.applications.c.state.not_in(CONCLUDED))
        .exists()).limit(1),
}


def due_checks(session: Session, now: datetime) -> list[str]:
    """The timer's checks with something to do (one indexed query each: an idle tick asks them in a reader)."""
    return [name for name, query in _DUE.items() if session.execute(query, {"now": now}).first() is not None]


def claim_due_milestones(session: Session, now: datetime, limit: int = BATCH) -> list[dict]:
    rows = session.execute(select(milestones).where(milestones.c.checked_at.is_(None), milestones.c.check_at <= now)
                           .order_by(milestones.c.check_at).limit(limit).with_for_update(skip_locked=True))
    return [dict(r) for r in rows.mappings()]


def claim_due_projects(session: Session, now: datetime, limit: int = BATCH) -> list[dict]:
    rows = session.execute(select(projects).where(projects.c.state == "active", projects.c.next_self_check_at <= now)
                           .limit(limit).with_for_update(skip_locked=True))
    return [dict(r) for r in rows.mappings()]


def claim_inspection_due(session: Session, now: datetime, limit: int = BATCH) -> list[dict]:
    """Active projects whose quarter to check ended."""
    rows = session.execute(select(projects).where(projects.c.state == "active", projects.c.next_inspection_at <= now)
                           .limit(limit).with_for_update(skip_locked=True))
    return [dict(r) for r in rows.mappings()]


def has_self_check(session: Session, code: str, period: str) -> bool:
    return session.execute(select(self_checks.c.id).where(
        self_checks.c.project_code == code, self_checks.c.period == period)).first() is not None


def claim_due_joint_alarms(session: Session, now: datetime, limit: int = BATCH) -> list[dict]:
    rows = session.execute(select(joint_alarms).where(joint_alarms.c.fired_at.is_(None),
                                                      joint_alarms.c.fire_at <= now)
                           .order_by(joint_alarms.c.fire_at).limit(limit).with_for_update(skip_locked=True))
    return [dict(r) for r in rows.mappings()]


def mark_joint_alarm_fired(session: Session, alarm_id: int, now: datetime) -> None:
    session.execute(update(joint_alarms).where(joint_alarms.c.id == alarm_id).values(fired_at=now))


def claim_open_joints(session: Session, limit: int = BATCH) -> list[dict]:
    rows = session.execute(select(joint_approvals).where(joint_approvals.c.state == "open").limit(limit)
                           .with_for_update(skip_locked=True))
    return [dict(r) for r in rows.mappings()]


def member_outcomes(session: Session, joint_id: int) -> list[dict]:
    """Each sub-application's state, approved, decided_at, refused_at and ended_at."""
    apps = core.applications
    rows = session.execute(select(apps.c.state, apps.c.approved, apps.c.decided_at, apps.c.refused_at,
                                  apps.c.ended_at)
                           .join(joint_members, joint_members.c.application_id == apps.c.id)
                           .where(joint_members.c.joint_id == joint_id)).mappings()
    return [dict(r) for r in rows]


def complete_joint(session: Session, joint_id: int, completed_at: datetime, approved: bool) -> None:
    session.execute(update(joint_approvals).where(joint_approvals.c.id == joint_id).values(
        state="completed", completed_at=completed_at, approved=approved))
