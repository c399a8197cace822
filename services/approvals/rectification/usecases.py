"""The use cases of rectifications (整改), as plain functions of a unit of work, the settings and the command's
data: a department submits a report, a monitor or assessor accepts it (the alert resolved with it) or sends it
back, and the timer checks the due ones. The HTTP endpoints and the console's commands call the same functions."""

from __future__ import annotations

import logging
from datetime import datetime

from services.kernel.errors import NotFound
from services.kernel.workcal import CalendarUnavailable

from .. import handlers
from .. import store as core
from . import domain, store
from .domain import IllegalTransition

log = logging.getLogger(__name__)

CHECK_BATCH = 200


def _alert(uow, alert_id: int, scope: str | None) -> dict:
    """The alert, locked, if a caller confined to the department `scope` may see it (one 404 for missing and
    another department's)."""
    alert = core.get_alert(uow.session, alert_id, lock=True)
    if alert is None or (scope is not None and alert["department"] != scope):
        raise NotFound(f"no alert {alert_id}", message_zh="告警不存在")
    return alert


def present(row: dict) -> dict:
    return {**row, "state_zh": domain.STATE_ZH.get(row["state"], row["state"]),
            "overdue": row["overdue_at"] is not None}


def _payload(settings, uow, alert: dict, row: dict, now: datetime) -> dict:
    """What every rectification event says: the alert's subject and figures, the rectification and its round.
    Never who corrected it, what the report says or its links: those are for the API."""
    return {**handlers.alert_figures(settings, uow.session, alert, now), "alert_id": str(alert["id"]),
            "level": alert["level"], "rule": alert["rule"], "raised_at": alert["raised_at"],
            "department": alert["department"], "rectification_id": str(row["id"]), "round": row["round"],
            "rectification_due_at": row["due_at"]}


def get(session, rectification_id: int, scope: str | None = None) -> dict:
    """One rectification (404 when missing or, for a caller confined to `scope`, another department's)."""
    row = store.find(session, rectification_id)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no rectification {rectification_id}", message_zh="整改记录不存在")
    return present(row)


def submit(uow, settings, alert_id: int, data: dict, by: str, now: datetime, *, scope: str | None) -> tuple[bool,
                                                                                                            dict]:
    """A department's rectification report for an alert of its own: (True, the rectification) once submitted and
    published as `monitor.rectification_submitted`; (False, it) for a retry of the report waiting for review (same
    content: nothing done). 409 while another report waits for review, or once the alert is resolved."""
    alert = _alert(uow, alert_id, scope)
    if alert["department"] is None:
        raise IllegalTransition("the alert belongs to no department: nothing to rectify",
                                "该告警不属于任何单位，无需整改")
    s = uow.session
    row = store.ensure(s, alert, now)
    report = {"corrected": data["corrected"], "corrected_by": data["corrected_by"],
              "attachments": list(data["attachments"])}
    if row["state"] == "submitted" and {k: row[k] for k in report} == report:
        return False, present(store.view(s, row["id"]))
    domain.require_submittable(alert["state"], row["state"])
    rnd = row["round"] + 1
    history = [*row["history"], {**report, "round": rnd, "submitted_by": by, "submitted_at": now.isoformat(),
                                 "decision": None, "reviewed_by": None, "reviewed_at": None, "note": None}]
    store.change(s, row["id"], state="submitted", round=rnd, submitted_by=by, submitted_at=now, reviewed_by=None,
                 reviewed_at=None, review_note=None, history=history, updated_at=now, **report)
    row = store.view(s, row["id"])
    uow.publish("monitor.rectification_submitted", {
        **_payload(settings, uow, alert, row, now), "by": by, "submitted_at": now,
        "attachments_count": len(report["attachments"]), "overdue": row["overdue_at"] is not None},
        department=alert["department"])
    return True, present(row)


def review(uow, settings, alert_id: int, decision: str, note: str | None, by: str, now: datetime, *,
           scope: str | None = None, department: str | None = None) -> dict:
    """A monitor's or assessor's decision on the report waiting for review: `accept` resolves the alert with it
    (`monitor.alert_resolved` naming the rectification, then `monitor.rectification_accepted`); `return` sends it
    back with the reason `note` (`monitor.rectification_returned`; the department may submit again). The same
    decision by the same reviewer again: the rectification as it is, nothing done. `department` (a console
    command): an alert of another department is not this node's."""
    alert = _alert(uow, alert_id, scope)
    if department is not None and alert["department"] != department:
        raise IllegalTransition(f"alert {alert_id} of {department} is not this node's", "告警不属于本节点")
    s = uow.session
    row = store.get_for_alert(s, alert_id, lock=True)
    if row is None:
        raise IllegalTransition("no rectification report waits for review", "没有待审核的整改报告")
    done = "accepted" if decision == "accept" else "returned"
    if row["state"] == done and row["reviewed_by"] == by and (decision == "accept" or row["review_note"] == note):
        return present(store.view(s, row["id"]))
    domain.require_reviewable(alert["state"], row["state"])
    history = [dict(h) for h in row["history"]]
    if history:
        history[-1].update(decision=done, reviewed_by=by, reviewed_at=now.isoformat(), note=note)
    values = {"state": done, "reviewed_by": by, "reviewed_at": now, "review_note": note, "history": history,
              "updated_at": now}
    if decision == "accept":
        values["check_at"] = None
    elif row["overdue_at"] is None and row["due_at"] is not None:
        # sent back: due as before; once past the due time the timer finds it overdue at its next look
        values["check_at"] = max(domain.check_after(row["due_at"]), now)
    store.change(s, row["id"], **values)
    row = store.view(s, row["id"])
    payload = _payload(settings, uow, alert, row, now)
    if decision == "accept":
        remark = f"；审核意见：{note}" if note else ""
        handlers.change_alert(uow, settings, alert, {
            "state": "resolved", "resolved_by": by, "resolved_at": now,
            "note": f"整改报告（第 {row['round']} 次）已采纳：{row['corrected']}{remark}"},
            "monitor.alert_resolved", by, extra={"rectification_id": str(row["id"])})
        uow.publish("monitor.rectification_accepted", {**payload, "by": by, "note": note, "accepted_at": now},
                    department=alert["department"])
    else:
        uow.publish("monitor.rectification_returned", {**payload, "by": by, "reason": note, "returned_at": now},
                    department=alert["department"])
    return present(store.view(s, row["id"]))  # with the alert as it now is


def check_due(uow, settings, now: datetime, limit: int = CHECK_BATCH) -> int:
    """Claim up to `limit` rectifications whose moment has come: a new one gets its due time (the calendar; a year
    not loaded is asked again later); one past its due time with no report waiting or accepted is announced
    overdue, once (`monitor.rectification_overdue`). Returns how many were claimed (the caller runs another batch
    while it is `limit`)."""
    s = uow.session
    rules = settings.rectification
    claimed = store.claim_due(s, now, limit)
    for row in claimed:
        alert = core.get_alert(s, row["alert_id"])
        if alert is None or alert["state"] == "resolved" or row["state"] not in domain.OPEN_STATES:
            store.change(s, row["id"], check_at=None,
                         **({"state": "closed", "updated_at": now} if row["state"] in domain.OPEN_STATES else {}))
            continue
        due = row["due_at"]
        if due is None:
            days = rules.days_for(row["level"])
            if days is None:
                store.change(s, row["id"], check_at=None)
                continue
            try:
                due = domain.due_at(settings.calendar, row["raised_at"], days)
            except CalendarUnavailable as exc:
                log.warning("rectification %s of alert %s waits for the calendar: %s", row["id"], row["alert_id"],
                            exc)
                store.change(s, row["id"], check_at=now + domain.CALENDAR_RETRY)
                continue
            store.change(s, row["id"], due_at=due)
            row = {**row, "due_at": due}
        if now <= due:
            store.change(s, row["id"], check_at=domain.check_after(due))
            continue
        store.change(s, row["id"], check_at=None)
        if row["overdue_at"] is not None or not domain.is_overdue(row["state"], alert["state"], due, now):
            continue  # a report waits for review: a return re-arms the check
        store.change(s, row["id"], overdue_at=now, updated_at=now)
        days = rules.days_for(row["level"])
        uow.publish(domain.OVERDUE_EVENT, {
            **_payload(settings, uow, alert, {**row, "due_at": due}, now), "rectification_state": row["state"],
            "rectification_days": days, "overdue_at": now}, department=alert["department"])
    return len(claimed)
