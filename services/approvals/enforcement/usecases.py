"""The use cases of enforcement inspections, as plain functions of a unit of work (or a session), the settings and
the command's data: certificates kept and seeded, an inspection registered, decided by the legal office, its result
reported, an enterprise's report matched (or registered as unregistered), the timer's check of the results' due
times; each irregularity stored once as an alert and published once as `enforcement.irregularity`."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.seed import seed_empty
from services.kernel.workcal import CalendarUnavailable, local_date

from .. import store as core
from . import domain, store
from .domain import EnforcementRules
from .schemas import CertificateSeed

log = logging.getLogger(__name__)

CHECK_BATCH = 200
SUBJECT = "inspection"


# -- certificates ------------------------------------------------------------------------------------------------


def put_certificate(uow, number: str, data: dict, now: datetime) -> dict:
    store.upsert_certificate(uow.session, {**data, "number": number}, now)
    return store.get_certificate(uow.session, number)


def seed_certificates(db, path: str) -> int:
    return seed_empty(db, path, what="enforcement certificates", has_rows=store.any_certificate,
                      upsert=store.upsert_certificate, schema=CertificateSeed)


def present_certificate(row: dict, departments) -> dict:
    return {**row, "department_name": departments.name(row["department"])}


# -- reading -----------------------------------------------------------------------------------------------------


def present(session, row: dict, departments, *, with_history: bool = False) -> dict:
    out = {**row, "department_name": departments.name(row["department"]),
           "state_zh": domain.STATE_ZH.get(row["state"], row["state"]),
           "result_zh": domain.RESULT_ZH.get(row["result"]) if row["result"] else None,
           "overdue": row["overdue_at"] is not None}
    if with_history:
        out["history"] = store.history(session, row["id"])
    return out


def get(session, inspection_id: int, scope: str | None = None, *, lock: bool = False) -> dict:
    """One inspection (404 when missing or, for a caller confined to `scope`, another department's: the same)."""
    row = store.get(session, inspection_id, lock=lock)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no inspection {inspection_id}", message_zh="执法检查不存在")
    return row


def list_inspections(session, query: dict) -> tuple[list[dict], int]:
    query = dict(query)
    since, until = query.pop("from_", None), query.pop("to", None)
    return store.list_inspections(session, since=since, until=until, **query)


# -- irregularities ----------------------------------------------------------------------------------------------


def _irregularity(uow, row: dict, rule: str, at: datetime, description_zh: str, details: dict) -> int | None:
    """Store the alert of `rule` on the inspection `row` unless it has one, and publish it: its id, or None when
    it was raised before (then nothing is published)."""
    details = {"reference_no": row["reference_no"], "enterprise": row["enterprise"],
               "enterprise_code": row["enterprise_code"], "description_zh": description_zh, **details}
    alert_id = core.raise_subject_alert(uow.session, SUBJECT, str(row["id"]), department=row["department"],
                                        level=domain.LEVEL, rule=rule, at=at, details=details)
    if alert_id is None:
        return None
    uow.publish("enforcement.irregularity", {
        "alert_id": str(alert_id), "level": domain.LEVEL, "rule": rule, "subject": SUBJECT,
        "subject_ref": str(row["id"]), "reference_no": row["reference_no"], "department": row["department"],
        "code": rule, "description_zh": description_zh, "severity": domain.SEVERITY[rule], "raised_at": at},
        department=row["department"])
    log.info("enforcement irregularity %s on inspection %s (alert %s)", rule, row["id"], alert_id)
    return alert_id


def _check_certificates(uow, row: dict, numbers: list[str], day: date, at: datetime, when_zh: str) -> None:
    found = store.certificates_of(uow.session, numbers)
    certs = {n: domain.Certificate(n, c["department"], c["valid_from"], c["valid_until"], c["revoked"])
             for n, c in found.items()}
    problems = domain.uncertified(certs, numbers, row["department"], day)
    if problems:
        listed = "，".join(f"{n}（{domain.PROBLEM_ZH[p]}）" for n, p in problems.items())
        _irregularity(uow, row, domain.UNCERTIFIED, at,
                      f"{row['reference_no']} {when_zh}执法人员无有效执法证：{listed}",
                      {"inspectors": problems, "day": day})


def _check_crowding(uow, rules: EnforcementRules, row: dict, day: date, at: datetime) -> None:
    label, since, until = domain.period_of(day, rules.period)
    count = store.count_in_period(uow.session, row["enterprise_key"], since, until)
    if not domain.too_many(count, rules):
        return
    if not store.claim_crowding(uow.session, row["enterprise_key"], label, row["id"], at):
        return
    _irregularity(uow, row, domain.TOO_MANY, at,
                  f"{row['enterprise']}在{label}内被检查{count}次，超过{rules.max_per_enterprise}次的上限（扰企）",
                  {"period": label, "count": count, "limit": rules.max_per_enterprise})


def _check_without_approval(uow, row: dict, day: date, at: datetime, source: str) -> None:
    approved_on = local_date(row["decided_at"]) if row["approved"] and row["decided_at"] else None
    why = domain.without_approval(row["state"], approved_on, day)
    if why is not None:
        _irregularity(uow, row, domain.WITHOUT_APPROVAL, at,
                      f"{row['reference_no']} {domain.WITHOUT_APPROVAL_ZH[why]}（实施日 {day:%Y-%m-%d}）",
                      {"why": why, "carried_out_on": day, "source": source})


# -- registration, decision, result ------------------------------------------------------------------------------


def _content(data: dict) -> tuple:
    return (data["enterprise"], data.get("enterprise_code"), data["basis"], list(data["inspectors"]),
            data["planned_on"])


def register(uow, settings, rules: EnforcementRules, department: str, data: dict, by: str, now: datetime
             ) -> tuple[bool, dict]:
    """A planned inspection registered by its department: (True, it) once stored and published as
    `inspection.registered`; (False, it) for a retry of the same `external_ref` (409 when its content differs).
    Inspectors without a valid certificate on the planned day, and an enterprise inspected too often in the period,
    are irregularities (the registration stands: it is the fact the monitor watches)."""
    s = uow.session
    data = {**data, "enterprise": data["enterprise"].strip()}
    earlier = store.by_ref(s, department, data["external_ref"])
    if earlier is not None:
        if _content(data) != (earlier["enterprise"], earlier["enterprise_code"], earlier["basis"],
                              list(earlier["inspectors"]), earlier["planned_on"]):
            raise Conflict(f"external_ref {data['external_ref']} names another registration",
                           message_zh="该登记编号已用于另一次检查登记")
        return False, earlier
    values = {"department": department, "enterprise": data["enterprise"],
              "enterprise_code": data.get("enterprise_code"),
              "enterprise_key": domain.enterprise_key(data["enterprise"], data.get("enterprise_code")),
              "basis": data["basis"], "inspectors": list(data["inspectors"]), "planned_on": data["planned_on"],
              "external_ref": data["external_ref"], "state": "registered", "registered_by": by,
              "registered_at": now, "updated_at": now}
    inspection_id = store.add(s, values)
    store.change(s, inspection_id, reference_no=domain.reference_no(department, inspection_id, data["planned_on"]))
    store.note(s, inspection_id, now, "registered", by)
    row = store.get(s, inspection_id)
    uow.publish("inspection.registered", {**_figures(row), "basis": row["basis"],
                                          "inspectors_count": len(row["inspectors"]), "registered_at": now},
                department=department)
    _check_certificates(uow, row, row["inspectors"], row["planned_on"], now, "登记的")
    _check_crowding(uow, rules, row, row["planned_on"], now)
    return True, row


def _figures(row: dict) -> dict:
    return {"inspection_id": str(row["id"]), "reference_no": row["reference_no"], "department": row["department"],
            "enterprise": row["enterprise"], "enterprise_code": row["enterprise_code"],
            "planned_on": row["planned_on"], "state": row["state"]}


def decide(uow, settings, rules: EnforcementRules, inspection_id: int, approved: bool, note_: str | None, by: str,
           now: datetime, *, scope: str | None) -> tuple[bool, dict]:
    """The legal office's approval or refusal of a registered inspection: (True, it) once published as
    `inspection.decided`; (False, it) for the same decision again; 409 for another decision or a reported one.
    An approved inspection's result is then due RESULT_DAYS working days after the planned day."""
    s = uow.session
    row = get(s, inspection_id, scope, lock=True)
    if row["approved"] is not None and row["approved"] == approved and row["state"] in ("approved", "refused"):
        return False, row
    domain.require_decidable(row["state"])
    values = {"state": "approved" if approved else "refused", "approved": approved, "decided_by": by,
              "decided_at": now, "decision_note": note_, "updated_at": now}
    if approved:
        values.update(_due(settings, rules, row["planned_on"], now))
    store.change(s, inspection_id, **values)
    store.note(s, inspection_id, now, "approved" if approved else "refused", by, note_)
    row = store.get(s, inspection_id)
    uow.publish("inspection.decided", {**_figures(row), "approved": approved, "decided_at": now},
                department=row["department"])
    return True, row


def _due(settings, rules: EnforcementRules, planned_on: date, now: datetime) -> dict:
    try:
        due = domain.result_due(settings.calendar, planned_on, rules.result_days)
    except CalendarUnavailable as exc:
        log.warning("an inspection's result due time waits for the calendar: %s", exc)
        return {"result_due_at": None, "check_at": now + domain.CALENDAR_RETRY}
    return {"result_due_at": due, "check_at": domain.check_after(due)}


def report_result(uow, settings, rules: EnforcementRules, inspection_id: int, data: dict, by: str, now: datetime,
                  *, scope: str | None) -> tuple[bool, dict]:
    """The department's report of an inspection's result: (True, it) once published as
    `inspection.result_reported`; (False, it) for the same report again; 409 for another one or an unregistered
    inspection. Carried out without approval (not approved, refused, or before the approval's day), or by an
    inspector without a valid certificate on the day: irregularities."""
    s = uow.session
    row = get(s, inspection_id, scope, lock=True)
    if data["carried_out_on"] > local_date(now):
        raise BadRequest({"carried_out_on": ["cannot be in the future / 实施日期不能晚于今天"]})
    if row["state"] == "reported" and (
            row["carried_out_on"], row["result"], row["findings"], list(row["actual_inspectors"] or ())) == (
            data["carried_out_on"], data["result"], data.get("findings"), list(data["inspectors"])):
        return False, row
    domain.require_reportable(row["state"])
    day = data["carried_out_on"]
    _check_without_approval(uow, row, day, now, "result")
    approved_before = row["state"] == "approved" and row["decided_at"] is not None and local_date(
        row["decided_at"]) <= day
    store.change(s, inspection_id, state="reported", carried_out_on=day, result=data["result"],
                 findings=data.get("findings"), actual_inspectors=list(data["inspectors"]), reported_by=by,
                 reported_at=now, check_at=None, updated_at=now)
    store.note(s, inspection_id, now, "result_reported", by, domain.RESULT_ZH[data["result"]])
    row = store.get(s, inspection_id)
    uow.publish("inspection.result_reported", {
        **_figures(row), "carried_out_on": day, "result": data["result"], "approved_before": approved_before,
        "reported_at": now}, department=row["department"])
    _check_certificates(uow, row, row["actual_inspectors"], day, now, "实施检查的")
    return True, row


# -- the enterprise's report -------------------------------------------------------------------------------------


def enterprise_report(uow, settings, rules: EnforcementRules, data: dict, by: str, now: datetime
                      ) -> tuple[bool, dict]:
    """An enterprise's report, through the desk, of an inspection it received: matched to that department's
    registered inspection of it planned or carried out within MATCH_DAYS of the day; else registered as an
    unregistered inspection, alerted (`unregistered_inspection`) and counted for 扰企. A report matched to an
    inspection not approved is an inspection carried out without approval. The same report again (department,
    enterprise, day): (False, the first)."""
    s = uow.session
    name = data["enterprise"].strip()
    key = domain.enterprise_key(name, data.get("enterprise_code"))
    day, department = data["inspected_on"], data["department"]
    if day > local_date(now):
        raise BadRequest({"inspected_on": ["cannot be in the future / 检查日期不能晚于今天"]})
    earlier = store.find_report(s, department, key, day)
    if earlier is not None:
        return False, _report_answer(s, earlier)
    window = timedelta(days=rules.match_days)
    found = [r for r in store.candidates(s, department, key, name, day - window, day + window)
             if domain.matches(r["carried_out_on"] or r["planned_on"], day, rules.match_days)]
    found.sort(key=lambda r: (r["state"] == "refused", abs(((r["carried_out_on"] or r["planned_on"]) - day).days)))
    if found:
        row = found[0]
        store.note(s, row["id"], now, "reported_by_enterprise", by, data.get("note"))
        if row["state"] != "reported":
            _check_without_approval(uow, row, day, now, "enterprise_report")
    else:
        inspection_id = store.add(s, {
            "department": department, "enterprise": name, "enterprise_code": data.get("enterprise_code"),
            "enterprise_key": key, "basis": None, "inspectors": [], "planned_on": None, "carried_out_on": day,
            "external_ref": None, "state": "unregistered", "registered_by": by, "registered_at": now,
            "updated_at": now})
        store.change(s, inspection_id, reference_no=domain.reference_no(department, inspection_id, day))
        store.note(s, inspection_id, now, "reported_by_enterprise", by, data.get("note"))
        row = store.get(s, inspection_id)
        _irregularity(uow, row, domain.UNREGISTERED, now,
                      f"{name}反映{day:%Y-%m-%d}接受的执法检查未经登记（{row['reference_no']}）",
                      {"inspected_on": day, "source": "enterprise_report"})
        _check_crowding(uow, rules, row, day, now)
    report_id = store.add_report(s, {
        "department": department, "enterprise": name, "enterprise_code": data.get("enterprise_code"),
        "enterprise_key": key, "inspected_on": day, "note": data.get("note"), "inspection_id": row["id"],
        "matched": bool(found), "reported_by": by, "reported_at": now})
    uow.publish("inspection.reported_by_enterprise", {
        "report_id": str(report_id), "department": department, "enterprise": name,
        "enterprise_code": data.get("enterprise_code"), "inspected_on": day, "matched": bool(found),
        "inspection_id": str(row["id"]), "reference_no": row["reference_no"], "reported_at": now},
        department=department)
    return True, _report_answer(s, {"id": report_id, "matched": bool(found), "inspection_id": row["id"],
                                    "department": department, "inspected_on": day})


def _report_answer(session, report: dict) -> dict:
    row = store.get(session, report["inspection_id"])
    message = (f"已与登记的执法检查{row['reference_no']}核对一致" if report["matched"]
               else f"未找到该检查的登记，已作为未登记检查{row['reference_no']}转电子监察")
    return {"report_id": report["id"], "matched": report["matched"], "inspection_id": row["id"],
            "reference_no": row["reference_no"], "department": report["department"],
            "inspected_on": report["inspected_on"], "message_zh": message}


# -- the timer ---------------------------------------------------------------------------------------------------


def check_due(uow, settings, rules: EnforcementRules, now: datetime, limit: int = CHECK_BATCH) -> int:
    """Claim up to `limit` approved inspections whose moment has come: one without a due time gets it (the
    calendar); one past it without a result is the `result_not_reported` irregularity, once."""
    s = uow.session
    claimed = store.claim_due(s, now, limit)
    for row in claimed:
        if row["state"] != "approved":
            store.change(s, row["id"], check_at=None)
            continue
        due = row["result_due_at"]
        if due is None:
            found = _due(settings, rules, row["planned_on"], now)
            store.change(s, row["id"], **found)
            due = found["result_due_at"]
            if due is None or now <= due:
                continue
        if now <= due:
            store.change(s, row["id"], check_at=domain.check_after(due))
            continue
        store.change(s, row["id"], check_at=None, overdue_at=now, updated_at=now)
        _irregularity(uow, row, domain.NOT_REPORTED, now,
                      f"{row['reference_no']} 检查结果未在计划检查日后{rules.result_days}个工作日内报告",
                      {"planned_on": row["planned_on"], "result_due_at": due, "result_days": rules.result_days})
    return len(claimed)
