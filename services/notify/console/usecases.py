"""The console's use cases, as plain functions of a unit of work (or its session), the data and the moment:
taking an event in, issuing and redeeming a stream token, sending a monitor's command to the alert's owner, and
the services' counts of records waiting for a calendar year. The endpoints and consumers (endpoints.py) only
translate."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from services.kernel.errors import NotFound
from services.kernel.privacy import scrub

from ..messages import department_label
from . import store
from .domain import (
    APPEAL_KINDS,
    LEVEL_ZH,
    RECTIFICATION_EVENTS,
    SUBJECT_KINDS,
    alert_title,
    alert_view,
    check_command,
    check_review,
    rectification_view,
    subject_department,
    subject_refs,
    subject_title,
)

TOKEN_TTL = timedelta(seconds=60)


# the events that end one of the hotline centre's waits → (the rules of its console alerts, what the feed says)
WAIT_ENDS = {
    "appeal.return_reviewed": (("return_review_overdue", "return_review_escalated"), "退单已审核"),
    "appeal.dispatched": (("dispatch_overdue", "dispatch_escalated"), "已派单"),
    "appeal.callback_recorded": (("callback_overdue", "callback_escalated"), "已回访"),
}


def record_event(session, event, now, names: dict[str, str] | None = None) -> int | None:
    """Take one event into the console: the alert it raises or moves, and a feed line (naming the department
    by its name where `names` knows it). Returns the feed id, or None when the event concerns nothing the
    console shows."""
    p, t = event.payload, event.event_type
    dept = department_label(names, p.get("department")) or "—"
    if t in RECTIFICATION_EVENTS:
        return record_rectification(session, event, now, dept)
    # free text typed by citizens, operators and monitors: every open console page shows it, so no phone or id
    # number goes into the console's tables whatever the producer sent
    note_text = scrub(p.get("note"))
    if t.startswith("monitor.") or t in SUBJECT_KINDS:
        ref_no, ref_id = subject_refs(SUBJECT_KINDS.get(t) or p.get("subject"), p)
        department = subject_department(p)
        if department != p.get("department"):  # a project's unit: the feed names it too
            dept = department_label(names, department) or "—"
        values = {"kind": t, "level": p["level"], "department": department, "ref_no": ref_no,
                  "ref_id": ref_id, "rule": p.get("rule"), "raised_at": p["raised_at"],
                  "title_zh": subject_title(t, p) if t in SUBJECT_KINDS else alert_title(t, p)}
        if t == "monitor.alert_acknowledged":
            state, verb = "acknowledged", "已确认"
            values.update(acknowledged_by=p.get("by"), note=note_text, title_zh=p.get("rule") or t)
        elif t == "monitor.alert_resolved":
            state, verb = "resolved", "已办结"
            values.update(resolved_by=p.get("by"), note=note_text, title_zh=p.get("rule") or t)
            if not p.get("rectification_id"):  # resolved otherwise: no report is reviewed any more
                store.close_rectification(session, "approvals", str(p["alert_id"]), now)
        else:
            state, verb = "open", None
        item = store.upsert_alert(session, "approvals", str(p["alert_id"]), values, state, now)
        level_zh = LEVEL_ZH.get(p["level"], p["level"])
        where = f"{dept} {ref_no or ''}".strip()
        if verb:
            note = f"：{note_text}" if note_text else ""
            text = f"{verb}【{level_zh}】{where}（{p.get('by') or '—'}{note}）"
        else:
            text = f"【{level_zh}】{where}：{values['title_zh']}"
    elif t in APPEAL_KINDS:
        level, suffix, title = APPEAL_KINDS[t]
        if t == "appeal.emergency" and p.get("summary"):
            title = f"{title}：{scrub(p['summary'])}"
        raised = p.get("urged_at") if t == "appeal.escalated" else None
        values = {"kind": t, "level": level, "department": p.get("department"), "ref_no": p["case_no"],
                  "ref_id": p["appeal_id"], "rule": suffix, "raised_at": raised or event.occurred_at,
                  "title_zh": title}
        item = store.upsert_alert(session, "appeals", f"{p['appeal_id']}:{suffix}", values, "open", now)
        text = f"【{LEVEL_ZH[level]}】{dept} {p['case_no']}：{title}"
    elif t == "appeal.closed":
        # the case is closed: its console alerts are done with
        resolved = store.resolve_appeal_alerts(session, p["appeal_id"], now)
        if not resolved:
            return None
        item = resolved[0]
        text = f"已办结 {dept} {p['case_no']}：诉求已办结"
    elif t in WAIT_ENDS:
        # the hotline centre acted at last: the alerts of that wait are done with (the case's others stay)
        rules, done = WAIT_ENDS[t]
        resolved = store.resolve_appeal_alerts(session, p["appeal_id"], now, rules)
        if not resolved:
            return None
        item = resolved[0]
        text = f"已处理 {dept} {p['case_no']}：{done}"
    else:
        return None
    return store.add_feed_line(session, event, item, text)


# what the feed says of each rectification event
RECTIFICATION_VERBS = {
    "monitor.rectification_submitted": "提交整改报告",
    "monitor.rectification_accepted": "整改报告已采纳",
    "monitor.rectification_returned": "整改报告已退回",
    "monitor.rectification_overdue": "整改逾期未报",
}


def record_rectification(session, event, now, dept: str) -> int | None:
    """A rectification event into the alert's rectification row; a feed line on the alert's console line when the
    console shows that alert (the open pages then reload their review queue)."""
    p, t = event.payload, event.event_type
    store.upsert_rectification(session, t, p, now)
    item = store.console_alert_id(session, "approvals", str(p["alert_id"]))
    if item is None:
        return None
    ref_no = p.get("application_no") or p.get("external_ref") or p.get("project_code") or ""
    level_zh = LEVEL_ZH.get(p["level"], p["level"])
    extra = ""
    if t == "monitor.rectification_returned":
        extra = f"：{scrub(p.get('reason'))}"
    elif t == "monitor.rectification_submitted":
        extra = f"（第 {p.get('round')} 次）"
    text = f"{RECTIFICATION_VERBS[t]}【{level_zh}】{dept} {ref_no}".strip() + extra
    if t in ("monitor.rectification_accepted", "monitor.rectification_returned"):
        text += f"（{p.get('by') or '—'}）"
    return store.add_feed_line(session, event, item, text)


def request_review(uow, item_id: int, decision: str, note: str | None, principal, now,
                   names: dict[str, str] | None = None) -> dict:
    """Send a monitor's accept or send back of a rectification report to its owner (`alert.action_requested`,
    action accept_rectification / return_rectification), never done here; the row shows the decision pending
    until the owner's event answers. The rectification's view."""
    row = store.rectification_for_update(uow.session, item_id)
    if row is None:
        raise NotFound(f"no console rectification {item_id}", message_zh="整改记录不存在")
    check_review(row)
    p = principal
    uow.publish("alert.action_requested", {
        "owner": row["owner"], "alert_id": row["alert_id"], "department": row["department"],
        "action": f"{decision}_rectification", "note": note,
        "actor": {"name": p.name, "role": p.role, "department": p.department}}, department=row["department"])
    store.mark_decision_pending(uow.session, item_id, decision, now)
    return rectification_view(dict(row, pending_decision=decision), names)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_stream_token(uow, key_id: str, name: str, now) -> dict:
    """A token to open one live stream with, valid TOKEN_TTL (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    expires = now + TOKEN_TTL
    store.save_stream_token(uow.session, digest(token), key_id, name, expires, now)
    return {"token": token, "expires_at": expires}


def redeem_stream_token(uow, token: str, now) -> dict | None:
    """The grant (key_id, name) of a stream token, used up (even an expired one); None when unknown, already
    used or expired."""
    grant = store.take_stream_token(uow.session, digest(token))
    return grant if grant is not None and grant["expires_at"] >= now else None


def request_action(uow, item_id: int, action: str, note: str | None, principal, now,
                   names: dict[str, str] | None = None) -> dict:
    """Send a monitor's acknowledge or resolve of a console alert to its owner (`alert.action_requested`),
    never done here; the alert shows the command pending until the owner's event answers. The alert's view."""
    row = store.alert_for_update(uow.session, item_id)
    if row is None:
        raise NotFound(f"no console alert {item_id}", message_zh="告警不存在")
    check_command(row, action)
    p = principal
    uow.publish("alert.action_requested", {
        "owner": row["owner"], "alert_id": row["alert_id"], "department": row["department"], "action": action,
        "note": note, "actor": {"name": p.name, "role": p.role, "department": p.department}},
        department=row["department"])
    store.mark_pending(uow.session, item_id, action, now)
    return alert_view(dict(row, pending_action=action), names)


# -- records waiting for a calendar year ------------------------------------------------------------------------

# what each service's records are called in the console's sentence
CALENDAR_NOUNS = (("appeals", "件诉求"), ("approvals", "件审批"))


def record_calendar_waiting(session, event, now) -> bool:
    """Take a `calendar.waiting` in: the service node's count, unless a newer one is kept (late events never go
    back). True when it changed what the console shows."""
    p = event.payload
    return store.save_calendar_waiting(session, p["service"], p.get("department"), p["waiting"],
                                       p.get("missing_years") or [], p["at"], now)


def calendar_waiting(session, names: dict[str, str] | None = None) -> list[dict]:
    """Per department (service node): how many cases and applications wait for which calendar year, with the
    sentence the console shows ("2 件诉求、1 件审批等待 2027 年工作日历，请导入国务院放假通知"); only where any wait."""
    by_dept: dict[str, dict] = {}
    for row in store.calendar_waiting(session):
        entry = by_dept.setdefault(row["department"], {
            "department": row["department"] or None, "department_name": department_label(names, row["department"])
            or None, "counts": {}, "missing_years": set(), "updated_at": row["updated_at"]})
        entry["counts"][row["service"]] = row["waiting"]
        entry["missing_years"].update(row["missing_years"])
        entry["updated_at"] = max(entry["updated_at"], row["updated_at"])
    out = []
    for entry in by_dept.values():
        years = sorted(entry["missing_years"])
        entry["missing_years"] = years
        entry["waiting"] = sum(entry["counts"].values())
        parts = [f"{entry['counts'][service]} {noun}" for service, noun in CALENDAR_NOUNS
                 if entry["counts"].get(service)]
        which = f"{'、'.join(map(str, years))} 年" if years else "下一年度"
        entry["text_zh"] = f"{'、'.join(parts)}等待 {which}工作日历，请导入国务院放假通知"
        out.append(entry)
    return out
