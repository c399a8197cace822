"""The use cases of target management, plain functions of a unit of work (or a session), the rules and the command's
data: a key task set and changed (its history kept), the lead unit's plan, progress against the schedule, the
monitor's tick (a plan or a milestone overdue, once), and the reads that hold logic (one task, the list, the board)."""

from __future__ import annotations

import logging
from datetime import datetime

from services.kernel.errors import BadRequest, NotFound
from services.kernel.workcal import CalendarUnavailable, local_date

from .. import store as core
from . import domain, store
from .domain import IllegalTransition, TargetRules

log = logging.getLogger(__name__)

CHECK_BATCH = 200
SYSTEM = "system"
UNKNOWN_UNIT = "unknown department; see GET /api/v1/departments / 未登记的部门"
_LIGHT_ORDER = {light: i for i, light in enumerate(("red", "yellow", "green", "grey"))}


def _names(session) -> dict[str, str]:
    return {d["code"]: d["name"] for d in core.list_departments(session)}


def _figures(t: dict) -> dict:
    """What every target event carries: ids, year and units, nothing else."""
    return {"target_id": str(t["id"]), "year": t["year"], "lead_unit": t["lead_unit"],
            "co_units": list(t["co_units"] or ())}


def present(t: dict, milestones: list[dict], names: dict[str, str], rules: TargetRules, now: datetime,
            detail: dict | None = None) -> dict:
    """A task as the API shows it; `detail` (plans, reports, history) for the one-task view."""
    soon = rules.due_soon_days
    plan = domain.plan_status(t, now)
    return {**t, **(detail or {}), "lead_unit_name": names.get(t["lead_unit"], t["lead_unit"]),
            "state_zh": domain.STATE_ZH[t["state"]], "plan_due_on": domain.due_day(t["plan_due_at"]),
            "plan_status": plan, "plan_status_zh": domain.PLAN_ZH[plan],
            "light": domain.light(t, milestones, now, soon)[0],
            "milestones": [{**m, "status": (s := domain.milestone_status(m, now, soon)),
                            "status_zh": domain.MILESTONE_ZH[s]} for m in milestones]}


def get(session, target_id: int, scope: str | None = None, *, lock: bool = False) -> dict:
    """One task (404 when missing or, for a handler confined to `scope`, one its unit neither leads nor co-leads:
    the same answer)."""
    t = store.get(session, target_id, lock=lock)
    if t is None or (scope is not None and scope != t["lead_unit"] and scope not in (t["co_units"] or ())):
        raise NotFound(f"no target {target_id}", message_zh="目标任务不存在")
    return t


def view(session, rules: TargetRules, target_id: int, scope: str | None, now: datetime) -> dict:
    t = get(session, target_id, scope)
    detail = {"plans": store.rows_of(session, store.target_plans, target_id),
              "reports": store.rows_of(session, store.target_reports, target_id),
              "history": store.rows_of(session, store.target_history, target_id)}
    return present(t, store.milestones_of(session, [target_id])[target_id], _names(session), rules, now, detail)


def list_targets(session, rules: TargetRules, query: dict, now: datetime) -> tuple[list[dict], int]:
    rows, total = store.list_targets(session, **query)
    ms = store.milestones_of(session, [t["id"] for t in rows])
    names = _names(session)
    return [present(t, ms[t["id"]], names, rules, now) for t in rows], total


def _require_units(session, lead: str, co_units: list[str]) -> None:
    errors = {}
    if core.get_department(session, lead) is None:
        errors["lead_unit"] = [UNKNOWN_UNIT]
    unknown = [d for d in co_units if core.get_department(session, d) is None]
    if unknown:
        errors["co_units"] = [f"{', '.join(unknown)}: {UNKNOWN_UNIT}"]
    if lead in co_units:
        errors.setdefault("co_units", []).append("the lead unit is not its own co-unit / 牵头单位不能同时为配合单位")
    if errors:
        raise BadRequest(errors)


def _history(session, target_id: int, action: str, changes: dict, by: str, now: datetime,
             reason: str | None = None) -> None:
    store.add(session, store.target_history, {"target_id": target_id, "action": action, "changes": changes,
                                              "reason": reason, "by": by, "at": now})


def _milestone(target_id: int, m: dict, now: datetime) -> dict:
    due_at = domain.due_moment(m["due_on"])
    return {"target_id": target_id, "due_on": m["due_on"], "what": m["what"], "due_at": due_at, "check_at": due_at,
            "done_at": None, "done_late": None, "overdue_at": None, "updated_at": now}


def _plan_due(settings, rules: TargetRules, year: int, given, now: datetime) -> datetime:
    """The plan's due moment: the day given, else the rules' (409 when the working-day calendar of the year it
    falls in is not loaded: no guess)."""
    if given is not None:
        if given.year != year and given.year != year - 1:
            raise BadRequest({"plan_due": [f"must fall in {year - 1} or {year} / 方案报送期限须在 {year - 1} 或 "
                                           f"{year} 年内"]})
        return domain.due_moment(given)
    try:
        return domain.due_moment(domain.plan_due(rules, settings.calendar, year, now))
    except CalendarUnavailable as exc:
        raise IllegalTransition(f"the plan's due day needs a working-day calendar not loaded ({exc}); give plan_due",
                                "工作日历尚未载入，无法计算方案报送期限，请指定 plan_due") from None


def create(uow, settings, rules: TargetRules, data: dict, by: str, now: datetime) -> dict:
    """A key task of the year with its 六定; its plan is due by the year's day (TARGETS.PLAN_DUE) unless given;
    published as `target.created`."""
    s = uow.session
    _require_units(s, data["lead_unit"], data["co_units"])
    if errors := domain.check_milestones(data["year"], data["milestones"], local_date(now)):
        raise BadRequest(errors)
    plan_due_at = _plan_due(settings, rules, data["year"], data["plan_due"], now)
    values = {k: data[k] for k in ("year", "title", "standard", "lead_unit", "co_units", "steps", "assessment",
                                   "weight", "points")}
    target_id = store.add(s, store.targets, {
        **values, "state": "plan_pending", "plan_due_at": plan_due_at, "plan_check_at": plan_due_at,
        "plan_submitted_at": None, "plan_late": None, "plan_overdue_at": None, "plan_revision": 0,
        "created_by": by, "created_at": now, "updated_at": now})
    store.set_units(s, target_id, data["lead_unit"], data["co_units"])
    for m in data["milestones"]:
        store.add(s, store.target_milestones, _milestone(target_id, m, now))
    _history(s, target_id, "created", {}, by, now)
    t = store.get(s, target_id)
    uow.publish("target.created", {**_figures(t), "title": t["title"], "plan_due_at": plan_due_at,
                                   "milestones": len(data["milestones"]), "at": now}, department=t["lead_unit"])
    return view(s, rules, target_id, None, now)


def _schedule_text(milestones: list[dict]) -> list[str]:
    return [f"{m['due_on'].isoformat()} {m['what']}" for m in milestones]


def _change_milestones(s, t: dict, wanted: list[dict], now: datetime) -> list | None:
    """Apply the schedule `wanted` (ids: existing milestones kept or changed; none: new ones; the rest removed);
    [before, after] for the history, or None when nothing changed."""
    old = {m["id"]: m for m in store.milestones_of(s, [t["id"]])[t["id"]]}
    fresh = [m for m in wanted if m.get("id") not in old or old[m["id"]]["due_on"] != m["due_on"]]
    if errors := domain.check_milestones(t["year"], wanted, local_date(now), fresh):
        raise BadRequest(errors)
    given = [m["id"] for m in wanted if m.get("id") is not None]
    if unknown := [i for i in given if i not in old]:
        raise BadRequest({"milestones": [f"no milestone {', '.join(map(str, unknown))} in this task / 本任务无此"
                                         f"进度节点"]})
    if len(set(given)) != len(given):
        raise BadRequest({"milestones": ["each milestone once / 每个进度节点只能出现一次"]})
    before = _schedule_text(sorted(old.values(), key=lambda m: (m["due_on"], m["id"])))
    by_id = {m["id"]: m for m in wanted if m.get("id") is not None}
    for mid, m in old.items():
        domain.require_milestone_change(m, by_id.get(mid))
    for mid, m in old.items():
        if mid not in by_id:
            store.remove_milestone(s, mid)
        elif by_id[mid]["due_on"] != m["due_on"]:
            # moved: its new day is watched (and announced overdue again if it passes too)
            due_at = domain.due_moment(by_id[mid]["due_on"])
            store.change_milestone(s, mid, due_on=by_id[mid]["due_on"], what=by_id[mid]["what"], due_at=due_at,
                                   check_at=due_at, overdue_at=None, updated_at=now)
        elif by_id[mid]["what"] != m["what"]:
            store.change_milestone(s, mid, what=by_id[mid]["what"], updated_at=now)
    for m in wanted:
        if m.get("id") is None:
            store.add(s, store.target_milestones, _milestone(t["id"], m, now))
    after = _schedule_text(store.milestones_of(s, [t["id"]])[t["id"]])
    return None if after == before else [before, after]


def change(uow, settings, rules: TargetRules, target_id: int, data: dict, by: str, now: datetime) -> dict:
    """Change a task (the assessment office's): each change recorded in its history with the reason. 409 for a
    cancelled task (but its resumption), a lead unit changed after its plan, a due day changed after the plan, a
    milestone reported done removed or changed."""
    s = uow.session
    t = get(s, target_id, lock=True)
    data = dict(data)
    reason = data.pop("reason")
    state = data.pop("state", None)
    if t["state"] == "cancelled" and state != "active" and data:
        raise IllegalTransition("the task is cancelled: resume it first (state: active)",
                                "该任务已撤销，请先恢复（state: active）再修改")
    changes: dict[str, list] = {}
    values: dict = {}
    for key in ("title", "standard", "steps", "assessment", "weight", "points"):
        if key in data and data[key] != t[key]:
            if key in ("title", "standard", "assessment", "steps") and data[key] is None:
                raise BadRequest({key: ["may not be null / 不能为空"]})
            changes[key], values[key] = [t[key], data[key]], data[key]
    lead = data.get("lead_unit") or t["lead_unit"]
    # a co-unit named the lead unit leaves the co-units unless they are given
    co_units = data["co_units"] if data.get("co_units") is not None else [d for d in t["co_units"] or () if d != lead]
    if (lead, co_units) != (t["lead_unit"], list(t["co_units"] or ())):
        domain.require_lead_change(t, lead)
        _require_units(s, lead, co_units)
        if lead != t["lead_unit"]:
            changes["lead_unit"], values["lead_unit"] = [t["lead_unit"], lead], lead
        if co_units != list(t["co_units"] or ()):
            changes["co_units"], values["co_units"] = [list(t["co_units"] or ()), co_units], co_units
        store.set_units(s, target_id, lead, co_units)
    if data.get("plan_due") is not None and domain.due_moment(data["plan_due"]) != t["plan_due_at"]:
        if t["plan_submitted_at"] is not None:
            raise IllegalTransition("the plan was submitted: its due day no longer changes",
                                    "实施方案已报送，不能修改报送期限")
        due_at = _plan_due(settings, rules, t["year"], data["plan_due"], now)
        changes["plan_due"] = [domain.due_day(t["plan_due_at"]).isoformat(), data["plan_due"].isoformat()]
        # a new due day is watched again: announced overdue again if it passes too
        values.update(plan_due_at=due_at, plan_check_at=due_at, plan_overdue_at=None)
    if data.get("milestones") is not None and (diff := _change_milestones(s, t, data["milestones"], now)):
        changes["milestones"] = diff
    if state is not None and (state == "cancelled") != (t["state"] == "cancelled"):
        changes["state"] = [t["state"], state]
        if state == "cancelled":
            values["state"] = "cancelled"
        else:
            values["state"] = "plan_pending"  # settled below from the plan and milestones
            # what the monitor skipped while it was cancelled is looked at again
            if t["plan_submitted_at"] is None and t["plan_overdue_at"] is None:
                values.setdefault("plan_check_at", t["plan_due_at"])
            for m in store.milestones_of(s, [target_id])[target_id]:
                if m["done_at"] is None and m["overdue_at"] is None:
                    store.change_milestone(s, m["id"], check_at=m["due_at"])
    if not changes:
        return view(s, rules, target_id, None, now)
    current = {**t, **values}
    values["state"] = domain.state_of(current, store.milestones_of(s, [target_id])[target_id])
    if values["state"] != t["state"] and "state" not in changes:
        changes["state"] = [t["state"], values["state"]]
    store.change(s, target_id, **values, updated_at=now)
    _history(s, target_id, "changed", changes, by, now, reason)
    return view(s, rules, target_id, None, now)


def _require_lead(t: dict, scope: str | None, what_zh: str) -> None:
    domain.require_open(t, what_zh)
    domain.require_lead(t, scope, what_zh)


def submit_plan(uow, rules: TargetRules, target_id: int, data: dict, by: str, scope: str | None,
                now: datetime) -> tuple[bool, dict]:
    """The lead unit's implementation plan and assessment rules: (True, the task) once recorded and published as
    `target.plan_submitted` (late when the first comes after its due day); (False, it) for a retry of the latest.
    A later one revises it. 404 for a unit neither leading nor co-leading; 409 for a co-unit or a cancelled task."""
    s = uow.session
    t = get(s, target_id, scope, lock=True)
    plans = store.rows_of(s, store.target_plans, target_id)
    content = {"plan": data["plan"], "assessment_rules": data["assessment_rules"],
               "attachments": list(data["attachments"])}
    if plans and {k: plans[-1][k] for k in content} == content and scope == t["lead_unit"]:
        return False, view(s, rules, target_id, None, now)
    _require_lead(t, scope, "报送实施方案")
    late = domain.is_late(now, t["plan_due_at"])
    revision = t["plan_revision"] + 1
    store.add(s, store.target_plans, {**content, "target_id": target_id, "revision": revision, "submitted_by": by,
                                      "submitted_at": now, "late": late})
    values = {"plan_revision": revision, "plan_check_at": None}
    if t["plan_submitted_at"] is None:
        values.update(plan_submitted_at=now, plan_late=late)
    current = {**t, **values}
    values["state"] = domain.state_of(current, store.milestones_of(s, [target_id])[target_id])
    store.change(s, target_id, **values, updated_at=now)
    _history(s, target_id, "plan_submitted", {"revision": [t["plan_revision"], revision], "late": [None, late]},
             by, now)
    uow.publish("target.plan_submitted", {**_figures(t), "revision": revision, "late": late,
                                          "plan_due_at": t["plan_due_at"], "at": now}, department=t["lead_unit"])
    return True, view(s, rules, target_id, None, now)


def report_progress(uow, rules: TargetRules, target_id: int, data: dict, by: str, scope: str | None,
                    now: datetime) -> tuple[bool, dict]:
    """The lead unit's progress on a milestone: done (late when after its day) or not yet; published as
    `target.progress_reported`. (False, the task) for a retry of the milestone's latest report. 400 for a milestone
    of another task, 409 for one reported done already being reported not done."""
    s = uow.session
    t = get(s, target_id, scope, lock=True)
    m = store.get_milestone(s, data["milestone_id"])
    if m is None or m["target_id"] != target_id:
        raise BadRequest({"milestone_id": ["not a milestone of this task / 不是本任务的进度节点"]})
    reports = [r for r in store.rows_of(s, store.target_reports, target_id) if r["milestone_id"] == m["id"]]
    if reports and scope == t["lead_unit"] and (reports[-1]["done"], reports[-1]["note"]) == (data["done"],
                                                                                              data["note"]):
        return False, view(s, rules, target_id, None, now)
    _require_lead(t, scope, "报告进度")
    if m["done_at"] is not None:
        raise IllegalTransition(f"milestone {m['id']} was reported done already", "该进度节点已报告完成")
    late = data["done"] and domain.is_late(now, m["due_at"])
    store.add(s, store.target_reports, {"target_id": target_id, "milestone_id": m["id"], "done": data["done"],
                                        "late": late, "note": data["note"], "reported_by": by, "reported_at": now})
    if data["done"]:
        store.change_milestone(s, m["id"], done_at=now, done_late=late, check_at=None, updated_at=now)
    state = domain.state_of(t, store.milestones_of(s, [target_id])[target_id])
    if state != t["state"]:
        store.change(s, target_id, state=state, updated_at=now)
        _history(s, target_id, "state", {"state": [t["state"], state]}, by, now)
    uow.publish("target.progress_reported", {**_figures(t), "milestone_id": str(m["id"]), "done": data["done"],
                                             "late": late, "due_at": m["due_at"], "at": now},
                department=t["lead_unit"])
    return True, view(s, rules, target_id, None, now)


def check_due(uow, now: datetime, limit: int = CHECK_BATCH) -> int:
    """The monitor's tick: claim the plans and milestones whose moment has come; a plan not submitted by its due
    moment is announced overdue once (`target.plan_overdue`), a milestone not reported done by its day's end too
    (`target.milestone_overdue`), at the moment each became overdue. Returns the larger of the two claims."""
    s = uow.session
    plans = store.claim_plans(s, now, limit)
    for t in plans:
        if t["state"] == "cancelled" or t["plan_submitted_at"] is not None or t["plan_overdue_at"] is not None:
            store.change(s, t["id"], plan_check_at=None)
            continue
        if now < t["plan_due_at"]:
            store.change(s, t["id"], plan_check_at=t["plan_due_at"])
            continue
        store.change(s, t["id"], plan_check_at=None, plan_overdue_at=t["plan_due_at"])
        _history(s, t["id"], "plan_overdue", {}, SYSTEM, now)
        uow.publish("target.plan_overdue", {**_figures(t), "plan_due_at": t["plan_due_at"], "at": t["plan_due_at"]},
                    department=t["lead_unit"], occurred_at=t["plan_due_at"])
    milestones = store.claim_milestones(s, now, limit)
    for m in milestones:
        t = store.get(s, m["target_id"])
        if t is None or t["state"] == "cancelled" or m["done_at"] is not None or m["overdue_at"] is not None:
            store.change_milestone(s, m["id"], check_at=None)
            continue
        if now < m["due_at"]:
            store.change_milestone(s, m["id"], check_at=m["due_at"])
            continue
        store.change_milestone(s, m["id"], check_at=None, overdue_at=m["due_at"], updated_at=now)
        _history(s, t["id"], "milestone_overdue", {"milestone": [None, m["id"]]}, SYSTEM, now)
        uow.publish("target.milestone_overdue", {**_figures(t), "milestone_id": str(m["id"]), "due_at": m["due_at"],
                                                 "at": m["due_at"]}, department=t["lead_unit"],
                    occurred_at=m["due_at"])
    return max(len(plans), len(milestones))


def board(session, rules: TargetRules, year: int, now: datetime) -> dict:
    """Every task of `year` on one page: lead unit, plan status, milestones done / overdue / upcoming, the light
    and why; red first."""
    targets = store.of_year(session, year)
    ms = store.milestones_of(session, [t["id"] for t in targets])
    names = _names(session)
    soon = rules.due_soon_days
    rows = []
    for t in targets:
        milestones = ms[t["id"]]
        statuses = [domain.milestone_status(m, now, soon) for m in milestones]
        light, reasons = domain.light(t, milestones, now, soon)
        plan = domain.plan_status(t, now)
        upcoming = [m for m, st in zip(milestones, statuses, strict=True) if st in ("due_soon", "upcoming")]
        rows.append({
            "target_id": t["id"], "title": t["title"], "lead_unit": t["lead_unit"],
            "lead_unit_name": names.get(t["lead_unit"], t["lead_unit"]), "co_units": list(t["co_units"] or ()),
            "co_unit_names": [names.get(d, d) for d in t["co_units"] or ()],
            "state": t["state"], "state_zh": domain.STATE_ZH[t["state"]], "plan_status": plan,
            "plan_status_zh": domain.PLAN_ZH[plan], "plan_due_on": domain.due_day(t["plan_due_at"]),
            "plan_submitted_at": t["plan_submitted_at"],
            "milestones": {"total": len(milestones), "done": statuses.count("done") + statuses.count("done_late"),
                           "done_late": statuses.count("done_late"), "overdue": statuses.count("overdue"),
                           "due_soon": statuses.count("due_soon"), "upcoming": len(upcoming),
                           "next_due_on": upcoming[0]["due_on"] if upcoming else None,
                           "next_what": upcoming[0]["what"] if upcoming else None},
            "light": light, "light_zh": domain.LIGHT_ZH[light], "reasons_zh": reasons})
    rows.sort(key=lambda r: (_LIGHT_ORDER[r["light"]], r["lead_unit"], r["target_id"]))
    counts = {light: sum(r["light"] == light for r in rows) for light in domain.LIGHTS}
    plans = {p: sum(r["plan_status"] == p for r in rows) for p in domain.PLAN_ZH}
    return {"year": year, "as_of": now, "counts": counts, "plans": plans, "rows": rows}
