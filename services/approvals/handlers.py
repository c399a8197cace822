"""The approvals service's use cases, as plain functions of a unit of work, the settings and the command's data:
an HTTP endpoint, an event consumer and a timer that mean the same thing call the same function (issue 12 moves
the rest of the service's use cases here, one at a time)."""

from __future__ import annotations

from datetime import datetime

from services.kernel import clock
from services.kernel.errors import BadRequest, NotFound

from . import store
from .domain import Application, IllegalTransition, Irregularity
from .domain import submit as domain_submit
from .views import mask_id_number

# an alert action: the states it may start from, and the event it publishes
ALERT_ACTIONS = {
    "acknowledge": (("open",), "monitor.alert_acknowledged"),
    "resolve": (("open", "acknowledged"), "monitor.alert_resolved"),
}


def event_figures(app, at) -> dict:
    """The application and clock figures every event carries (scoring needs them)."""
    row = app.row
    figures = {"application_id": str(row["id"]), "application_no": row["application_no"],
               "item_code": row["item_code"], "department": row["department"],
               "green_channel": row["green_channel"], "at": at}
    status = app.clock_status(at)
    if status is not None:
        figures.update(limit_days=status["limit_days"], clock_started_at=status["started_at"],
                       due_at=status["due_at"], clock_error=status["error"], paused=status["paused"],
                       elapsed_days=status["elapsed"], remaining_days=status["remaining"])
    return figures


def load_application(settings, session, row: dict, now: datetime, items: dict | None = None) -> Application:
    """The aggregate of a stored application (`items`: a cache of catalogue items shared by a batch)."""
    items = {} if items is None else items
    if row["item_code"] not in items:
        items[row["item_code"]] = settings.items.get(session, row["item_code"])
    return Application(row, items[row["item_code"]], settings.calendar, settings.rules, now)


def alert_figures(settings, session, alert: dict, now: datetime) -> dict:
    """What an alert's events say about its subject: an application's figures, or the project, joint case or
    refused submission it names."""
    if alert["application_id"] is not None:
        row = store.get(session, alert["application_id"])
        return event_figures(load_application(settings, session, row, now), now)
    figures = {"subject": alert["subject"], "department": alert["department"],
               "project_code": alert["project_code"],
               "joint_id": None if alert["joint_id"] is None else str(alert["joint_id"])}
    if alert["subject"] == "submission":
        figures.update(external_ref=alert["subject_ref"], item_code=alert["details"].get("item_code"))
    return figures


def change_alert(uow, settings, alert: dict, values: dict, event_type: str, by: str) -> dict:
    """Change a stored alert and publish `event_type` (who, the note, the subject's figures) in `uow`."""
    now = values.get("resolved_at") or values.get("acknowledged_at") or clock.now()
    out = store.update_alert(uow.session, alert["id"], **values)
    uow.publish(event_type, {
        **alert_figures(settings, uow.session, alert, now), "alert_id": str(alert["id"]), "level": out["level"],
        "rule": out["rule"], "raised_at": out["raised_at"], "by": by, "note": out["note"],
        **{k: values[k] for k in ("resolved_at", "acknowledged_at") if k in values}},
        department=alert["department"])
    return out


def act_on_alert(uow, settings, alert_id: int, action: str, by: str, note: str | None, now: datetime) -> dict:
    """A monitor's acknowledge or resolve (纠错) of an alert, from the HTTP API or the console alike: 404 for an
    unknown alert, 409 (IllegalTransition) when its state does not allow the action."""
    allowed, event_type = ALERT_ACTIONS[action]
    alert = store.get_alert(uow.session, alert_id, lock=True)
    if alert is None:
        raise NotFound(f"no alert {alert_id}", message_zh="告警不存在")
    if alert["state"] not in allowed:
        raise IllegalTransition(f"the alert is {alert['state']}", "告警当前状态不允许此操作")
    if action == "resolve":
        values = {"state": "resolved", "resolved_by": by, "resolved_at": now, "note": note}
    else:
        values = {"state": "acknowledged", "acknowledged_by": by, "acknowledged_at": now}
        if note:
            values["note"] = note
    return change_alert(uow, settings, alert, values, event_type, by)


def submit(uow, settings, data: dict, actor, now: datetime) -> tuple[bool, Application]:
    """An application received at a window, in the caller's unit of work (a joint approval submits several in
    one): (True, the new application), or (False, the existing one of this external_ref). 400 for an unknown
    item; IllegalTransition (409) for a submission dated in the future."""
    at = data["at"] or now
    s = uow.session
    existing = store.find_by_ref(s, data["external_ref"])
    if existing is not None:
        return False, load_application(settings, s, existing, now)
    item = settings.items.get(s, data["item_code"])
    if item is None:
        raise BadRequest({"item_code": ["unknown approval item; see GET /api/v1/items"]})
    outcome = domain_submit(item, at, actor, settings.calendar, settings.rules, materials=data["materials"], now=now)
    applicant = data["applicant"]
    row = store.insert_application(s, {
        **outcome.changes, "external_ref": data["external_ref"], "applicant_name": applicant["name"],
        "applicant_kind": applicant["kind"], "applicant_id_masked": mask_id_number(applicant["id_number"]),
        "service_point": data["service_point"], "green_channel": data["green_channel"],
        "project_code": data["project_code"], "created_at": now, "updated_at": now})
    app = Application(row, item, settings.calendar, settings.rules, now)
    store.add_history(s, row["id"], at, now, actor, "submit", None, row["state"], outcome.details)
    store.schedule_new(s, row["id"], outcome.alarms or [])
    for event_type, payload in outcome.events:
        uow.publish(event_type, {**payload, **event_figures(app, at), "service_point": row["service_point"]},
                    department=row["department"])
    return True, app


def alert_refused_submission(uow, settings, data: dict, exc: IllegalTransition, now: datetime) -> None:
    """A submission refused as irregular (dated in the future) never became an application; the irregularity is
    the monitors' business all the same: an alert about the submission (its external_ref; the item's
    department) and `monitor.irregularity`. The caller gives a unit of work of its own (the refused one rolled
    back)."""
    if not exc.irregularities:
        return
    item = settings.items.get(uow.session, data["item_code"])
    if item is None:
        return
    for irregularity in exc.irregularities:
        rule = f"{irregularity.code}@{irregularity.at.isoformat()}"
        submission = {"external_ref": data["external_ref"], "item_code": item.code, "department": item.department}
        alert_id = store.raise_subject_alert(
            uow.session, "submission", data["external_ref"], department=item.department, level="irregularity",
            rule=rule, at=now, details={**irregularity.as_dict(), "refused": True, **submission,
                                        "service_point": data["service_point"]})
        if alert_id is not None:
            uow.publish("monitor.irregularity", {
                **submission, "subject": "submission", "alert_id": str(alert_id), "level": "irregularity",
                "rule": rule, "raised_at": now, "code": irregularity.code,
                "description_zh": irregularity.description_zh, "severity": irregularity.severity,
                "at": irregularity.at, "refused": True}, department=item.department)


def apply(uow, app: Application, outcome, actor, at: datetime, now: datetime) -> Application:
    """Write an outcome: the changes, one history line, the alarms, the events and the irregularities' alerts —
    one transaction. Returns the application as it now is."""
    s = uow.session
    row = app.row
    changes = {**outcome.changes, "updated_at": now}
    store.update_application(s, row["id"], changes)
    new = Application({**row, **changes}, app.item, app.calendar, app.rules, now)
    store.add_history(s, row["id"], at, now, actor, outcome.action, row["state"], new.row["state"], outcome.details)
    if outcome.alarms == "cancel":
        store.cancel_alarms(s, row["id"])
    elif isinstance(outcome.alarms, list):
        store.schedule(s, row["id"], outcome.alarms)
    figures = event_figures(new, at)
    for event_type, payload in outcome.events:
        uow.publish(event_type, {**payload, **figures}, department=row["department"])
    for irregularity in outcome.irregularities:
        alert_irregularity(uow, new, irregularity, now, refused=False)
    return new


def alert_irregularity(uow, app: Application, irregularity: Irregularity, now: datetime, *, refused: bool) -> None:
    """An irregularity of an application as an alert and `monitor.irregularity`; (application, code, at)
    identifies it, so the same one reported twice is one alert."""
    rule = f"{irregularity.code}@{irregularity.at.isoformat()}"
    details = {**irregularity.as_dict(), "refused": refused}
    alert_id = store.raise_alert(uow.session, app.row["id"], app.row["department"], "irregularity", rule, now,
                                 details)
    if alert_id is None:
        return
    uow.publish("monitor.irregularity", {
        **event_figures(app, now), "alert_id": str(alert_id), "level": "irregularity", "rule": rule,
        "raised_at": now, "code": irregularity.code, "description_zh": irregularity.description_zh,
        "severity": irregularity.severity, "at": irregularity.at, "refused": refused},
        department=app.row["department"])
