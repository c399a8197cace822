"""The use cases of key projects and joint approval, as plain functions of a unit of work, the settings and the
command's data (`settings`: the approvals' — items, rules, calendar; `project_settings`: the projects' own due
day; `actor`: who acts, name and role). Each command returns what its endpoint answers with.

- key projects: registration, changes to the project and its plan after registration (each recorded in the
  project's history and published), milestones reached, monthly self-checks and quarterly inspections;
- joint approval (联合审批): one case per project that runs one sub-application per item in parallel under one
  joint limit — its submission, the alerts of its own clock, its completion once every sub-application
  concluded;
- the projects' timer: which check runs by the name the store gives a due one, and the accountability checks
  (milestones missed, monthly self-checks missing, quarters without an inspection);
- the accountability procedure (责任追究程序) started on an accountability alert, and its conclusion."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.contracts.scoring import SANCTION_KIND_ZH
from services.kernel.errors import BadRequest, NotFound

from .. import handlers
from .. import store as core
from ..domain import IllegalTransition
from . import domain, store
from .views import joint_summary, procedure_view, project_summary, project_view, sub_view, visible_project

# -- key projects -----------------------------------------------------------------------------------------


def create_project(uow, project_settings, data: dict, now: datetime) -> dict:
    """A key project (重点项目) with its units, agent (代办员) and milestone plan; 409 when the code is taken."""
    s = uow.session
    period = domain.period_of(now)
    quarter = domain.first_inspected_quarter(now)
    try:
        store.insert_project(s, {
            "code": data["code"], "name": data["name"], "responsible_units": list(data["responsible_units"]),
            "agent_name": data["agent"]["name"], "agent_phone": data["agent"]["phone"],
            "self_check_period": period,
            "next_self_check_at": domain.self_check_due(period, project_settings.due_day),
            "inspection_quarter": quarter, "next_inspection_at": domain.inspection_due(quarter),
            "state": "active", "created_at": now, "updated_at": now})
    except IntegrityError:
        raise IllegalTransition(f"project {data['code']} exists", "重点项目编号已存在") from None
    for m in data["milestones"]:
        store.insert_milestone(s, {
            "project_code": data["code"], "name": m["name"], "deadline": m["deadline"],
            "responsible_unit": m["responsible_unit"], "check_at": domain.milestone_check_at(m["deadline"])})
    return project_view(s, store.get_project(s, data["code"]), project_settings.due_day)


def show_project(session, project_settings, code: str, scope: str | None) -> dict:
    return project_view(session, visible_project(session, code, scope=scope), project_settings.due_day)


def list_projects(session, project_settings, query: dict) -> tuple[list[dict], int]:
    """A page of projects (`query`: the filters, a department handler's confined to its own department)."""
    query = dict(query)
    year = query.pop("year", None)
    if year is not None:
        query["year_span"] = (datetime(year, 1, 1, tzinfo=clock.TZ), datetime(year + 1, 1, 1, tzinfo=clock.TZ))
    rows, total = store.list_projects(session, **query)
    counts = store.open_alert_counts(session, [r["code"] for r in rows])
    return [project_summary(r, counts.get(r["code"], 0), project_settings.due_day) for r in rows], total


def close_project(uow, project_settings, code: str, reason: str, actor, now: datetime) -> dict:
    """A project ended (建成投产, or dropped): no longer checked — its open milestones, self-checks and inspections;
    409 when closed already."""
    s = uow.session
    project = visible_project(s, code, lock=True)
    domain.require_active(project)
    store.update_project(s, code, {"state": "closed", "closed_at": now, "updated_at": now})
    store.close_open_milestones(s, code, now)
    project = {**project, "state": "closed", "closed_at": now, "updated_at": now}
    record_change(uow, project, actor, "project_closed", {"state": {"from": "active", "to": "closed"}}, reason, now)
    return project_view(s, project, project_settings.due_day)


def update_project(uow, project_settings, code: str, data: dict, actor, now: datetime) -> dict:
    """Change the project's own fields (`data`: those given, and the `reason`); a new due day or first month
    reschedules its self-checks. Only what differs is changed, recorded and published."""
    patch = dict(data)
    reason = patch.pop("reason", None)
    s = uow.session
    old = visible_project(s, code, lock=True)
    if "self_check_from" in patch and patch["self_check_from"] < domain.period_of(old["created_at"]):
        raise BadRequest({"self_check_from": ["cannot be before the month the project was registered"]})
    values, changes = domain.project_change(old, patch, project_settings.due_day)
    if changes:
        store.update_project(s, code, {**values, "updated_at": now})
        new = {**old, **values, "updated_at": now}
        record_change(uow, new, actor, "project_changed", changes, reason, now)
    else:
        new = old
    return project_view(s, new, project_settings.due_day)


def add_milestone(uow, project_settings, code: str, data: dict, actor, now: datetime) -> dict:
    s = uow.session
    project = visible_project(s, code, lock=True)
    values = {k: data[k] for k in ("name", "deadline", "responsible_unit")}
    milestone_id = store.insert_milestone(s, {
        "project_code": code, "check_at": domain.milestone_check_at(data["deadline"]), **values})
    record_change(uow, project, actor, "milestone_added", {k: {"from": None, "to": v} for k, v in values.items()},
                  data["reason"], now, milestone_id)
    return project_view(s, project, project_settings.due_day)


def update_milestone(uow, project_settings, code: str, milestone_id: int, data: dict, actor, now: datetime) -> dict:
    """Change a milestone not yet done (409 when done or cancelled); a new deadline reschedules its check."""
    patch = dict(data)
    reason = patch.pop("reason", None)
    s = uow.session
    project = visible_project(s, code, lock=True)
    old = _milestone(s, code, milestone_id)
    domain.require_open_milestone(old)
    values, changes = domain.milestone_change(old, patch)
    if changes:
        store.update_milestone(s, milestone_id, values)
        record_change(uow, project, actor, "milestone_changed", changes, reason, now, milestone_id)
    return project_view(s, project, project_settings.due_day)


def cancel_milestone(uow, project_settings, code: str, milestone_id: int, reason: str, actor,
                     now: datetime) -> dict:
    """Take a milestone not yet done out of the plan: kept on record, never checked again."""
    s = uow.session
    project = visible_project(s, code, lock=True)
    m = _milestone(s, code, milestone_id)
    domain.require_open_milestone(m)
    store.update_milestone(s, milestone_id, {"cancelled_at": now, "cancelled_by": actor.name,
                                             "checked_at": m["checked_at"] or now})
    record_change(uow, project, actor, "milestone_cancelled", {"cancelled_at": {"from": None, "to": now}}, reason,
                  now, milestone_id)
    return project_view(s, project, project_settings.due_day)


def milestone_done(uow, project_settings, code: str, milestone_id: int, at: datetime | None, actor,
                   scope: str | None, now: datetime) -> dict:
    """A milestone reached, reported by its responsible unit (another department: 404, as for none)."""
    s = uow.session
    m = _milestone(s, code, milestone_id)
    if scope is not None and m["responsible_unit"] != scope:
        raise _no_milestone(code, milestone_id)
    domain.require_not_cancelled(m)
    store.update_milestone(s, milestone_id, {"done_at": at or now, "done_by": actor.name})
    return project_view(s, visible_project(s, code), project_settings.due_day)


def submit_self_check(uow, project_settings, code: str, data: dict, actor, scope: str | None,
                      now: datetime) -> dict:
    """The monthly self-check report (月度自查) of a month; 409 when that month's is in already."""
    s = uow.session
    project = visible_project(s, code, scope=scope)
    try:
        store.insert_self_check(s, {"project_code": code, "period": data["period"], "summary": data["summary"],
                                    "submitted_by": actor.name, "submitted_at": now})
    except IntegrityError:
        raise IllegalTransition("this month's self-check is in already", "该月自查报告已提交") from None
    return project_view(s, project, project_settings.due_day)


def record_inspection(uow, project_settings, code: str, data: dict, actor, now: datetime) -> dict:
    """A quarterly inspection record (重点督察) of an active project (409 when closed), published with its findings
    count as `project.inspection_recorded` (what scoring counts). 400 for a quarter not begun, or a moment outside
    the quarter or in the future."""
    s = uow.session
    project = visible_project(s, code)
    domain.require_active(project)
    inspected_at = data["at"] or now
    errors = domain.check_inspection(data["quarter"], inspected_at, now)
    if errors:
        raise BadRequest(errors)
    inspection_id = store.insert_inspection(s, {
        "project_code": code, "quarter": data["quarter"], "inspector": actor.name, "findings": data["findings"],
        "findings_count": data["findings_count"], "rectification": data["rectification"],
        "inspected_at": inspected_at})
    lead = (project["responsible_units"] or [None])[0]
    uow.publish("project.inspection_recorded", {
        "inspection_id": str(inspection_id), "project_code": code, "project_name": project["name"],
        "department": lead, "responsible_units": list(project["responsible_units"]), "quarter": data["quarter"],
        "findings_count": data["findings_count"], "inspected_at": inspected_at,
        "inspected_on": inspected_at.astimezone(clock.TZ).date(), "by": actor.name, "recorded_at": now},
        department=lead)
    return project_view(s, project, project_settings.due_day)


def project_applications(settings, session, code: str, scope: str | None, now: datetime) -> dict:
    """A project's applications (a department's own only), green channel first, each green-channel one with the
    project's agent (代办员)."""
    project = visible_project(session, code)
    agent = {"name": project["agent_name"], "phone": project["agent_phone"]}
    items: dict = {}
    out = [sub_view(settings, session, row, now, items, agent if row["green_channel"] else None)
           for row in store.project_applications(session, code, scope)]
    return {"items": out, "total": len(out)}


def list_project_alerts(session, filters: dict, scope: str | None) -> dict:
    rows, total = store.list_project_alerts(session, filters, scope)
    return {"items": rows, "total": total}


def record_change(uow, project: dict, actor, action: str, changes: dict, reason, now: datetime,
                  milestone_id: int | None = None) -> None:
    """One line of the project's history and one `project.plan_changed` event, in the change's own unit of
    work. `project`: as it is after the change."""
    changes = core.jsonable(changes)
    store.add_history(uow.session, {
        "project_code": project["code"], "at": now, "actor": actor.name, "role": actor.role, "action": action,
        "milestone_id": milestone_id, "changes": changes, "reason": reason})
    uow.publish("project.plan_changed", {
        "project_code": project["code"], "project_name": project["name"], "action": action,
        "milestone_id": None if milestone_id is None else str(milestone_id), "changes": changes,
        "reason": reason, "by": actor.name, "changed_at": now,
        "responsible_units": list(project["responsible_units"])},
        department=(project["responsible_units"] or [None])[0])


def _milestone(session, code: str, milestone_id: int) -> dict:
    m = store.get_milestone(session, code, milestone_id)
    if m is None:
        raise _no_milestone(code, milestone_id)
    return m


def _no_milestone(code: str, milestone_id: int) -> NotFound:
    return NotFound(f"no milestone {milestone_id} in project {code}", message_zh="节点不存在")

# -- joint approval ---------------------------------------------------------------------------------------


def list_joints(settings, session, query: dict, now: datetime) -> tuple[list[dict], int]:
    """A page of joint cases (`query`: the filters, a department handler's confined to cases with a part in its
    department), each with its clock."""
    rows, total = store.list_joints(session, **query)
    members = store.members_of_many(session, [r["id"] for r in rows])
    return [joint_summary(settings, r, members[r["id"]], now) for r in rows], total


def submit_joint(uow, settings, data: dict, actor, now: datetime) -> tuple[int, bool]:
    """The case, its sub-applications (each through the window contract's own submission), their membership,
    the joint clock's alarms and the events, all in `uow`, so a crash leaves either all or nothing: (its id,
    True), or (the existing case's id, False) for an `external_ref` submitted before. 400 for an unknown project
    or item; SubmissionRefused (409) when a submission is refused as irregular (dated in the future): the
    caller alerts it on the submission it stopped at, in a unit of work of its own."""
    at = data["at"] or now
    s = uow.session
    existing = store.find_joint_id(s, data["external_ref"])
    if existing is not None:
        return existing, False
    project = store.get_project(s, data["project_code"])
    if project is None:  # a field of the body, as an unknown item code is: 400, not 404
        raise BadRequest({"project_code": [f"no key project {data['project_code']}"]})
    unknown = [c for c in data["item_codes"] if settings.items.get(s, c) is None]
    if unknown:
        raise BadRequest({"item_codes": [f"unknown approval items: {', '.join(unknown)}"]})
    joint = {"external_ref": data["external_ref"], "project_code": project["code"],
             "item_codes": data["item_codes"], "state": "open", "started_at": at,
             "limit_days": settings.rules.joint_limit, "created_at": now}
    joint.update(domain.joint_due(joint, settings.calendar))
    joint["id"] = store.insert_joint(s, joint)
    subs = []
    for code in data["item_codes"]:
        submission = {
            "external_ref": f"{data['external_ref']}/{code}", "item_code": code, "applicant": data["applicant"],
            "materials": data["materials"].get(code, []), "service_point": data["service_point"],
            "green_channel": data["green_channel"], "project_code": project["code"], "at": at}
        try:
            _, app = handlers.submit(uow, settings, submission, actor, now)
        except IllegalTransition as exc:
            raise domain.SubmissionRefused(submission, exc) from exc
        subs.append((code, app.row["id"], app.row["department"]))
    store.add_members(s, joint["id"], subs)
    store.schedule_joint(s, joint["id"], domain.joint_moments(settings.rules, joint, settings.calendar))
    uow.publish("joint_approval.created", {
        "joint_id": str(joint["id"]), "project_code": project["code"], "item_codes": data["item_codes"],
        "departments": sorted({d for _, _, d in subs}),
        "application_ids": [str(i) for _, i, _ in subs], "limit_days": joint["limit_days"],
        "started_at": joint["started_at"], "due_at": joint["due_at"],
        "clock_error": joint["clock_error"]})
    return joint["id"], True


def fire_joint_alarms(uow, settings, now: datetime) -> None:
    """The joint clocks' due alarms: a warning or card of an open case is an alert and
    `joint_approval.alert_raised` (once per case and kind)."""
    s = uow.session
    for alarm in store.claim_due_joint_alarms(s, now):
        store.mark_joint_alarm_fired(s, alarm["id"], now)
        joint = store.get_joint(s, alarm["joint_id"])
        if joint["state"] != "open" or alarm["kind"] not in domain.JOINT_CARDS:
            continue
        level = domain.JOINT_CARDS[alarm["kind"]]
        view = domain.joint_clock_view(joint, now, settings.calendar, settings.rules)
        alert_id = store.raise_project_alert(s, "joint_approval", str(joint["id"]), None, level, alarm["kind"], now,
                                             {"due_at": joint["due_at"], "remaining_days": view.get("remaining")},
                                             project_code=joint["project_code"], joint_id=joint["id"])
        if alert_id is not None:
            uow.publish("joint_approval.alert_raised", {
                "joint_id": str(joint["id"]), "project_code": joint["project_code"],
                "alert_id": str(alert_id), "level": level, "rule": alarm["kind"], "raised_at": now,
                "limit_days": joint["limit_days"], "due_at": joint["due_at"],
                "elapsed_days": view.get("elapsed"), "remaining_days": view.get("remaining")})


def complete_joints(uow, now: datetime) -> None:
    """Open cases whose sub-applications all concluded are completed (approved when all were), and published
    as `joint_approval.completed`, in time or not."""
    s = uow.session
    for joint in store.claim_open_joints(s):
        outcome = domain.joint_outcome(store.member_outcomes(s, joint["id"]))
        if outcome is None:
            continue
        completed_at, approved = outcome
        store.complete_joint(s, joint["id"], completed_at, approved)
        uow.publish("joint_approval.completed", {
            "joint_id": str(joint["id"]), "project_code": joint["project_code"],
            "completed_at": completed_at, "approved": approved, "in_time": domain.in_time(joint, completed_at),
            "limit_days": joint["limit_days"], "due_at": joint["due_at"]})

# -- the projects' timer ----------------------------------------------------------------------------------


def run_check(name: str, uow, settings, project_settings, now: datetime) -> None:
    """One of the checks `store.due_checks` names."""
    if name == "milestones":
        check_milestones(uow, now)
    elif name == "self_checks":
        check_self_checks(uow, project_settings, now)
    elif name == "inspections":
        check_inspections(uow, now)
    elif name == "joint_alarms":
        fire_joint_alarms(uow, settings, now)
    elif name == "joint_completions":
        complete_joints(uow, now)
    else:
        raise ValueError(f"no project check {name}")


def check_milestones(uow, now: datetime) -> None:
    """Milestones whose deadline day ended: one not done by then is an accountability alert on its responsible
    unit and `project.milestone_missed` (once per milestone and deadline)."""
    s = uow.session
    for m in store.claim_due_milestones(s, now):
        store.update_milestone(s, m["id"], {"checked_at": now})
        if not domain.milestone_missed(m):
            continue
        project = store.get_project(s, m["project_code"])
        rule = domain.milestone_rule(m)
        alert_id = store.raise_project_alert(s, "project", m["project_code"], m["responsible_unit"],
                                             domain.ACCOUNTABILITY, rule, now,
                                             {"milestone": m["name"], "deadline": m["deadline"]},
                                             project_code=m["project_code"])
        if alert_id is not None:
            uow.publish("project.milestone_missed", {
                "project_code": m["project_code"], "project_name": project["name"],
                "milestone_id": str(m["id"]), "milestone": m["name"], "deadline": m["deadline"],
                "responsible_unit": m["responsible_unit"], "alert_id": str(alert_id),
                "level": domain.ACCOUNTABILITY, "rule": rule, "raised_at": now}, department=m["responsible_unit"])


def check_self_checks(uow, project_settings, now: datetime) -> None:
    """Projects whose next self-check moment passed: each month with no report is an accountability alert on the
    lead unit and `project.self_check_missing`; the project is checked next for the month after."""
    s = uow.session
    for p in store.claim_due_projects(s, now):
        day = domain.due_day(p, project_settings.due_day)
        due, period, check_at = domain.due_periods(p["self_check_period"], p["next_self_check_at"], day, now)
        for month, missing_from in due:
            if not store.has_self_check(s, p["code"], month):
                _self_check_missing(uow, p, month, missing_from, now)
        store.update_project(s, p["code"], {"self_check_period": period, "next_self_check_at": check_at})


def _self_check_missing(uow, project: dict, period: str, missing_from: datetime, now: datetime) -> None:
    _missing(uow, project, "project.self_check_missing", domain.self_check_rule(period), "period", period,
             missing_from, now)


def _missing(uow, project: dict, event_type: str, rule: str, key: str, value: str, missing_from: datetime,
             now: datetime) -> None:
    """A report a project owes for a month or a quarter (`key`: period or quarter) is missing: one accountability
    alert on the lead unit and one `event_type`, unless the alert was raised already."""
    lead = (project["responsible_units"] or [None])[0]
    due_by = domain.due_by(missing_from)
    alert_id = store.raise_project_alert(uow.session, "project", project["code"], lead, domain.ACCOUNTABILITY, rule,
                                         now, {key: value, "due_by": due_by}, project_code=project["code"])
    if alert_id is not None:
        uow.publish(event_type, {
            "project_code": project["code"], "project_name": project["name"], key: value,
            "due_by": due_by, "responsible_units": list(project["responsible_units"]),
            "alert_id": str(alert_id), "level": domain.ACCOUNTABILITY, "rule": rule, "raised_at": now},
            department=lead)


def check_inspections(uow, now: datetime) -> None:
    """Active projects whose quarter ended: each quarter with no inspection recorded (每季度开展1次重点督察) is an
    accountability alert on the lead unit and `project.inspection_missing`; the project is checked next for the
    quarter after."""
    s = uow.session
    for p in store.claim_inspection_due(s, now):
        due, quarter, check_at = domain.due_quarters(p["inspection_quarter"], p["next_inspection_at"], now)
        for q, missing_from in due:
            if not store.has_inspection(s, p["code"], q):
                _inspection_missing(uow, p, q, missing_from, now)
        store.update_project(s, p["code"], {"inspection_quarter": quarter, "next_inspection_at": check_at})


def _inspection_missing(uow, project: dict, quarter: str, missing_from: datetime, now: datetime) -> None:
    _missing(uow, project, "project.inspection_missing", domain.inspection_rule(quarter), "quarter", quarter,
             missing_from, now)

# -- the accountability procedure (责任追究程序) ------------------------------------------------------------


def start_procedure(uow, alert_id: int, data: dict, actor, now: datetime) -> dict:
    """Start the procedure on an alert: 404 for none; 409 for an alert that is not an accountability alert (a
    project's, or a joint case's yellow or red card) or has a procedure already; 400 without a responsible
    department (a joint case's alert has none of its own)."""
    s = uow.session
    alert = core.get_alert(s, alert_id, lock=True)
    if alert is None:
        raise NotFound(f"no alert {alert_id}", message_zh="告警不存在")
    domain.require_procedure_subject(alert)
    if store.procedure_of_alert(s, alert_id) is not None:
        raise _has_procedure(alert_id)
    department = data["responsible_department"] or alert["department"]
    if department is None:
        raise BadRequest({"responsible_department": ["required: the alert names no department / 须指定责任单位"]})
    values = {"alert_id": alert_id, "subject": alert["subject"], "project_code": alert["project_code"],
              "joint_id": alert["joint_id"], "responsible_department": department, "reason": data["reason"],
              "started_by": actor.name, "started_at": now, "state": "open"}
    # the alert's row is locked: two monitors starting at once wait for each other, the second finds this one
    values["id"] = store.insert_procedure(s, values)
    uow.publish("accountability.started", {
        "procedure_id": str(values["id"]), "alert_id": str(alert_id), "project_code": alert["project_code"],
        "joint_id": None if alert["joint_id"] is None else str(alert["joint_id"]), "department": department,
        "rule": alert["rule"], "reason": data["reason"], "by": actor.name, "started_at": now},
        department=department)
    return procedure_view(store.get_procedure(s, values["id"]))


def _has_procedure(alert_id: int) -> IllegalTransition:
    return IllegalTransition(f"alert {alert_id} has an accountability procedure", "该告警已启动责任追究程序")


def show_procedure(session, procedure_id: int, scope: str | None) -> dict:
    return procedure_view(_procedure(session, procedure_id, scope))


def list_procedures(session, query: dict) -> tuple[list[dict], int]:
    rows, total = store.list_procedures(session, **query)
    return [procedure_view(r) for r in rows], total


def conclude_procedure(uow, settings, procedure_id: int, data: dict, actor, now: datetime) -> tuple[int, dict]:
    """End the procedure with a measure or a decision that none is due: `accountability.concluded` (scoring's
    sanctions register takes a measure in) and the alert resolved (`monitor.alert_resolved`, unless it was
    resolved already), in `uow`. The same conclusion again: (200, the procedure) and nothing more; another one
    for a concluded procedure: 409."""
    s = uow.session
    procedure = _procedure(s, procedure_id, None, lock=True)
    if procedure["state"] == "concluded" and domain.same_conclusion(procedure, data):
        return 200, procedure_view(procedure)
    domain.require_open_procedure(procedure)
    values = {**domain.conclusion(data), "concluded_by": actor.name, "concluded_at": now}
    store.update_procedure(s, procedure_id, values)
    procedure = {**procedure, **values}
    uow.publish("accountability.concluded", {
        "procedure_id": str(procedure_id), "alert_id": str(procedure["alert_id"]),
        "project_code": procedure["project_code"],
        "joint_id": None if procedure["joint_id"] is None else str(procedure["joint_id"]),
        "department": procedure["responsible_department"], "outcome": data["outcome"], "measure": data["measure"],
        "target": data["target"], "post": data["post"], "deciding_body": data["deciding_body"],
        "document_no": data["document_no"], "decided_on": data["decided_on"], "reason": data["reason"],
        "by": actor.name, "concluded_at": now}, department=procedure["responsible_department"])
    alert = core.get_alert(s, procedure["alert_id"])
    if alert["state"] != "resolved":
        note = domain.resolution_note(data, SANCTION_KIND_ZH.get(data["measure"]))
        handlers.act_on_alert(uow, settings, alert["id"], "resolve", actor.name, note, now)
    return 200, procedure_view(procedure)


def _procedure(session, procedure_id: int, scope: str | None, *, lock: bool = False) -> dict:
    row = store.get_procedure(session, procedure_id, lock=lock)
    if row is None or (scope is not None and row["responsible_department"] != scope):
        raise NotFound(f"no accountability procedure {procedure_id}", message_zh="责任追究程序不存在")
    return row
