"""The approvals service's use cases, as plain functions of a unit of work, the settings and the command's data:
an HTTP endpoint, an event consumer and a timer that mean the same thing call the same function (issue 12 moves
the rest of the service's use cases here, one at a time)."""

from __future__ import annotations

from datetime import datetime

from services.kernel import clock
from services.kernel.errors import NotFound

from . import store
from .domain import Application, IllegalTransition

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
