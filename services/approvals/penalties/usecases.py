"""The use cases of penalties, as plain functions of a unit of work (or a session), the settings and the command's
data: a basis of the catalogue put, a penalty decision filed (its irregularities alerted and published once each),
the timer's look at a major penalty whose limit waited for the calendar, the seed, and the reads."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from services.kernel.errors import BadRequest, NotFound
from services.kernel.seed import seed_empty
from services.kernel.workcal import CalendarUnavailable, local_date

from .. import store as core
from ..schemas import CODE
from . import domain, store
from .schemas import PenaltyBaseSeed

log = logging.getLogger(__name__)

CHECK_BATCH = 200
# how long the timer waits before asking again for a limit the calendar could not give (a year not loaded)
CALENDAR_RETRY = timedelta(hours=1)


def present_basis(row: dict) -> dict:
    return {**row, "kinds_zh": [domain.KIND_ZH.get(k, k) for k in row["kinds"]]}


def present(row: dict, departments, basis_names: dict[str, str] | None = None) -> dict:
    """A penalty as the keyed API shows it (the party as kept: a person masked)."""
    return {**row, "department_name": departments.name(row["department"]),
            "basis_name": (basis_names or {}).get(row["basis_code"]),
            "kinds_zh": [domain.KIND_ZH.get(k, k) for k in row["kinds"]],
            "circumstance_zh": domain.CIRCUMSTANCE_ZH.get(row["circumstance"]) if row["circumstance"] else None,
            "irregularities_zh": [domain.RULE_ZH.get(c, c) for c in row["irregularities"]]}


def basis_names(session) -> dict[str, str]:
    return {b["code"]: b["name"] for b in store.list_bases(session)}


def put_basis(uow, code: str, data: dict, by: str, now: datetime) -> tuple[bool, dict]:
    """A basis of the catalogue created or replaced: (created, the basis). 400 for a code that is not one."""
    try:
        CODE(code)
    except Exception:  # noqa: BLE001  marshmallow's ValidationError, worded for the path
        raise BadRequest({"code": ["letters, digits, _ . - (at most 64) / 依据编码为字母、数字、_ . -"]}) from None
    values = {"name": data["name"].strip(), "law": data["law"].strip(), "article": data["article"].strip(),
              "kinds": list(data["kinds"]), "bands": {k: dict(v) for k, v in (data.get("bands") or {}).items()},
              "updated_at": now, "updated_by": by}
    created = store.put_basis(uow.session, code, values)
    return created, store.get_basis(uow.session, code)


def seed(db, path: str) -> int:
    """Load a catalogue of bases into an empty catalogue; an edited catalogue is never touched."""

    def upsert(session, entry, now):
        store.put_basis(session, entry["code"], {
            "name": entry["name"], "law": entry["law"], "article": entry["article"], "kinds": list(entry["kinds"]),
            "bands": {k: dict(v) for k, v in (entry.get("bands") or {}).items()}, "updated_at": now,
            "updated_by": "seed"})

    return seed_empty(db, path, what="catalogue of penalty bases", has_rows=store.any_basis, upsert=upsert,
                      schema=PenaltyBaseSeed)


def file_penalty(uow, settings, rules: domain.PenaltyRules, data: dict, department: str, by: str,
                 now: datetime) -> tuple[bool, dict]:
    """A penalty decision filed by its department: (True, the penalty) once stored, published as `penalty.filed`
    and its irregularities alerted, each once; (False, the stored one) for a retry of the same case number with the
    same content. 409 for the case number filed with other content; 400 for an unknown basis, a circumstance the
    basis has no band for, a decision in the future."""
    s = uow.session
    values = {"department": department, "case_no": data["case_no"], "party_kind": data["party_kind"],
              "party_name": domain.party(data["party_kind"], data["party_name"]),
              "basis_code": data["basis_code"], "kinds": list(data["kinds"]), "amount": data.get("amount"),
              "circumstance": data.get("circumstance"), "decided_on": data["decided_on"],
              "hearing_held": bool(data.get("hearing_held"))}
    existing = store.by_case(s, department, data["case_no"])
    if existing is not None:
        if domain.same_filing(existing, values):
            return False, existing
        raise domain.conflict(data["case_no"])
    basis = store.get_basis(s, data["basis_code"])
    if basis is None:
        raise BadRequest({"basis_code": ["not in the catalogue of penalty bases / 处罚依据不在目录中"]})
    if values["decided_on"] > local_date(now):
        raise BadRequest({"decided_on": ["cannot be in the future / 决定日期不能晚于今天"]})
    circumstance = values["circumstance"]
    if circumstance and basis["bands"] and circumstance not in basis["bands"]:
        raise BadRequest({"circumstance": [f"basis {basis['code']} has no band {circumstance} / 该依据的裁量基准无"
                                           f"“{domain.CIRCUMSTANCE_ZH[circumstance]}”情节"]})
    reasons = domain.major_reasons(rules, values["party_kind"], values["kinds"], values["amount"])
    found = domain.discretion_irregularities(basis, values["kinds"], values["amount"], circumstance)
    values.update(filed_at=now, filed_by=by, major=bool(reasons), major_reasons=reasons, filing_due_at=None,
                  late=False if not reasons else None, check_at=None)
    if reasons:
        limit = _limit(settings, rules, values["decided_on"], now)
        values.update(limit)
        if limit["filing_due_at"] is not None:
            values["late"] = now > limit["filing_due_at"]
            late = domain.late_filing(now, limit["filing_due_at"], values["decided_on"], rules.filing_days)
            if late is not None:
                found.append(late)
    values.update(irregularities=[i.code for i in found], irregular=bool(found))
    penalty_id = store.add(s, values)
    row = store.get(s, penalty_id)
    uow.publish(domain.FILED_EVENT, {
        "penalty_id": str(penalty_id), "case_no": row["case_no"], "department": department,
        "party_kind": row["party_kind"], "party": domain.party_in_events(row["party_kind"], row["party_name"]),
        "basis_code": row["basis_code"], "kinds": row["kinds"], "amount": row["amount"],
        "circumstance": row["circumstance"], "decided_on": row["decided_on"], "hearing_held": row["hearing_held"],
        "filed_at": now, "major": row["major"], "filing_due_at": row["filing_due_at"], "late": row["late"],
        "irregularities": row["irregularities"]}, department=department)
    for irregularity in found:
        raise_irregularity(uow, row, irregularity, now)
    return True, row


def _limit(settings, rules: domain.PenaltyRules, decided_on, now: datetime) -> dict:
    """A major penalty's filing limit, or the timer's next look when the calendar does not know the year yet."""
    try:
        return {"filing_due_at": domain.filing_due(settings.calendar, decided_on, rules.filing_days),
                "check_at": None}
    except CalendarUnavailable as exc:
        log.warning("a major penalty's filing limit waits for the calendar: %s", exc)
        return {"filing_due_at": None, "check_at": now + CALENDAR_RETRY}


def raise_irregularity(uow, row: dict, irregularity: domain.Irregularity, now: datetime) -> int | None:
    """The alert (subject penalty, rule = the code; once per penalty and code) and `enforcement.irregularity`;
    nothing when the alert existed. The case number rides in the alert's details as `reference_no`."""
    details = {"reference_no": row["case_no"], "code": irregularity.code,
               "description_zh": irregularity.description_zh, "severity": irregularity.severity,
               "basis_code": row["basis_code"], "party_kind": row["party_kind"], **irregularity.facts}
    alert_id = core.raise_subject_alert(uow.session, domain.SUBJECT, str(row["id"]), department=row["department"],
                                        level="irregularity", rule=irregularity.code, at=now, details=details)
    if alert_id is None:
        return None
    uow.publish(domain.EVENT, {
        "alert_id": str(alert_id), "level": "irregularity", "rule": irregularity.code, "subject": domain.SUBJECT,
        "subject_ref": str(row["id"]), "reference_no": row["case_no"], "department": row["department"],
        "code": irregularity.code, "description_zh": irregularity.description_zh,
        "severity": irregularity.severity, "raised_at": now}, department=row["department"])
    return alert_id


def check_due(uow, settings, rules: domain.PenaltyRules, now: datetime, limit: int = CHECK_BATCH) -> int:
    """Claim up to `limit` major penalties whose limit waited for the calendar: the limit once the calendar knows
    the year (then a late filing is alerted, once), else another look later. Returns how many were claimed."""
    s = uow.session
    claimed = store.claim_due(s, now, limit)
    for row in claimed:
        found = _limit(settings, rules, row["decided_on"], now)
        due = found["filing_due_at"]
        if due is None:
            store.change(s, row["id"], check_at=found["check_at"])
            continue
        late = domain.late_filing(row["filed_at"], due, row["decided_on"], rules.filing_days)
        codes = list(row["irregularities"]) + ([late.code] if late is not None else [])
        store.change(s, row["id"], filing_due_at=due, late=late is not None, check_at=None, irregularities=codes,
                     irregular=bool(codes))
        if late is not None:
            raise_irregularity(uow, {**row, "irregularities": codes}, late, now)
    return len(claimed)


def get(session, penalty_id: int, scope: str | None = None) -> dict:
    """One penalty (404 when missing or, for a caller confined to `scope`, another department's: the same)."""
    row = store.get(session, penalty_id)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no penalty {penalty_id}", message_zh="处罚备案不存在")
    return row


def list_penalties(session, query: dict) -> tuple[list[dict], int]:
    query = dict(query)
    return store.list_penalties(session, since=query.pop("from_", None), until=query.pop("to", None), **query)
