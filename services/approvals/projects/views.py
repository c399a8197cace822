"""How key projects and joint cases are shown: the views their endpoints answer with, and who may see a
project."""

from __future__ import annotations

from services.kernel.contracts.scoring import SANCTION_KIND_ZH
from services.kernel.errors import NotFound

from .. import handlers
from .. import store as core
from ..domain import STATE_ZH
from . import domain, store


def jsonable(row: dict) -> dict:
    return core.jsonable(dict(row))


def visible_project(session, code: str, *, scope: str | None = None, lock: bool = False) -> dict:
    """The project, or 404; with a department `scope`, also 404 when that department is not one of its
    responsible units (the plan names the agent and his phone), as for a project that does not exist."""
    row = store.get_project(session, code, lock=lock)
    if row is None or (scope is not None and scope not in (row["responsible_units"] or ())):
        raise NotFound(f"no project {code}", message_zh="重点项目不存在")
    return row


def project_view(session, row: dict, default_due_day: int) -> dict:
    """A project with its plan, reports, inspections and history."""
    out = {k: row[k] for k in ("code", "name", "responsible_units", "state", "closed_at", "created_at",
                               "updated_at")}
    out["agent"] = {"name": row["agent_name"], "phone": row["agent_phone"]}
    out.update(_next_checks(row, default_due_day))
    records = store.records_of(session, row["code"])
    out["milestones"] = [
        {k: m[k] for k in ("id", "name", "deadline", "responsible_unit", "done_at", "done_by", "cancelled_at",
                           "cancelled_by")}
        for m in records["milestones"]]
    out["self_checks"] = records["self_checks"]
    out["inspections"] = records["inspections"]
    out["history"] = [{k: h[k] for k in ("at", "actor", "role", "action", "milestone_id", "changes", "reason")}
                      for h in records["history"]]
    return jsonable(out)


def _next_checks(row: dict, default_due_day: int) -> dict:
    return {"next_self_check": {"period": row["self_check_period"], "missing_from": row["next_self_check_at"],
                                "due_day": domain.due_day(row, default_due_day)},
            "next_inspection": {"quarter": row["inspection_quarter"], "missing_from": row["next_inspection_at"]}}


def project_summary(row: dict, open_alerts: int, default_due_day: int) -> dict:
    """A project as listed: no plan, no records, no agent."""
    out = {k: row[k] for k in ("code", "name", "responsible_units", "state", "created_at", "closed_at")}
    out["lead_unit"] = (row["responsible_units"] or [None])[0]
    out["open_alerts"] = open_alerts
    out.update(_next_checks(row, default_due_day))
    return jsonable(out)


def joint_summary(settings, joint: dict, members: list[dict], now) -> dict:
    """A joint case as listed: its items, departments, state and clock (no sub-applications)."""
    out = {k: joint[k] for k in ("id", "external_ref", "project_code", "item_codes", "state", "started_at",
                                 "completed_at", "approved")}
    out["departments"] = sorted({m["department"] for m in members})
    out["clock"] = domain.joint_clock_view(joint, now, settings.calendar, settings.rules)
    return jsonable(out)


def procedure_view(row: dict) -> dict:
    return {**row, "measure_zh": SANCTION_KIND_ZH.get(row["measure"])}


def sub_view(settings, session, row: dict, now, items: dict, agent: dict | None = None) -> dict:
    """A project's application (or a joint case's sub-application) in brief, with its light."""
    app = handlers.load_application(settings, session, row, now, items)
    status = app.clock_status(now)
    return jsonable({
        "id": row["id"], "application_no": row["application_no"], "item_code": row["item_code"],
        "department": row["department"], "state": row["state"], "state_zh": STATE_ZH.get(row["state"]),
        "green_channel": row["green_channel"], "project_code": row["project_code"], "agent": agent,
        "due_at": row["due_at"], "light": status["light"] if status else None})


def joint_view(settings, session, joint_id: int, scope: str | None, now) -> dict:
    """A joint case: its sub-applications, the joint clock and state. 404 for a department (`scope`) with no
    part in it; another department's part is shown as how far it got, nothing more."""
    not_found = NotFound(f"no joint approval {joint_id}", message_zh="联合审批不存在")
    joint = store.get_joint(session, joint_id)
    if joint is None:
        raise not_found
    members = store.members_of(session, joint_id)
    if scope is not None and scope not in {m["department"] for m in members}:
        raise not_found
    subs, items = [], {}
    for m in members:
        row = core.get(session, m["application_id"])
        if scope is not None and m["department"] != scope:
            subs.append({"item_code": m["item_code"], "department": m["department"], "state": row["state"],
                         "state_zh": STATE_ZH.get(row["state"])})
        else:
            subs.append(sub_view(settings, session, row, now, items))
    out = {k: joint[k] for k in ("id", "external_ref", "project_code", "item_codes", "state", "completed_at",
                                 "approved")}
    out["clock"] = domain.joint_clock_view(joint, now, settings.calendar, settings.rules)
    out["sub_applications"] = subs
    out["decided"] = sum(1 for x in subs if x["state"] in domain.CONCLUDED)
    return jsonable(out)
