"""The use cases of the public face, as plain functions of a session and the settings: the service guide, one
application's progress for its number and query code, and the disclosed results. Read-only; what they answer is
all a keyless caller sees, so each builds its answer field by field from fixed vocabularies and public facts."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from services.kernel import clock, privacy
from services.kernel.errors import NotFound

from .. import handlers
from .. import store as core
from ..domain import STATE_ZH
from . import domain, store

GUIDE_NOT_FOUND = "没有该办事事项"


def _guide_item(settings, row: dict) -> dict:
    return {"code": row["code"], "name": row["name"], "department": row["department"],
            "department_name": settings.departments.name(row["department"]), "kind": row["kind"],
            "kind_zh": domain.KIND_ZH.get(row["kind"], row["kind"]),
            "materials": [{"code": m["code"], "name": m["name"]} for m in row["materials"] or ()],
            "statutory_limit": row["statutory_limit"], "committed_limit": row["committed_limit"],
            "handling_place": row["handling_place"], "window_decides": bool(row["fully_authorised"]),
            "joint": bool(row["joint"]), "public_results": bool(row["public_results"])}


def guide(session, settings, department: str | None = None, keyword: str | None = None) -> dict:
    rows = store.guide(session, department, keyword)
    return {"items": [_guide_item(settings, r) for r in rows], "total": len(rows)}


def guide_item(session, settings, code: str) -> dict:
    row = store.guide_item(session, code)
    if row is None:
        raise NotFound(f"no item {code}", message_zh=GUIDE_NOT_FOUND)
    return _guide_item(settings, row)


def progress(session, settings, access, application_no: str, query_code: str, address: str | None,
             now: datetime) -> dict:
    """One application's progress for its number and the receipt's query code (`access`: PublicAccess, which
    answers one 404 for an unknown number and a wrong code, and 429 to an address that failed too often). Never
    the applicant, the materials, the reasons, the notes or who did what."""
    row = access.application(session, application_no, query_code, address)
    item = settings.items.get(session, row["item_code"])
    clock_status = None
    if item is not None:
        clock_status = handlers.load_application(settings, session, row, now).clock_status(now)
    clock_status = clock_status or {}
    return {
        "application_no": row["application_no"], "item_code": row["item_code"],
        "item_name": item.name if item is not None else None, "department": row["department"],
        "department_name": settings.departments.name(row["department"]), "state": row["state"],
        "state_zh": STATE_ZH.get(row["state"], row["state"]), "received_at": row["received_at"],
        "accepted_at": row["accepted_at"], "due_at": clock_status.get("due_at") or row["due_at"],
        "light": clock_status.get("light"), "days_left": clock_status.get("days_left"),
        "days_overdue": clock_status.get("days_overdue"), "decision_zh": domain.decision_zh(row["approved"]),
        "decided_at": row["decided_at"],
        "steps": domain.public_steps(core.history_of(session, row["id"])),
    }


def _day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clock.TZ)


def results(session, settings, query: dict) -> dict:
    """The decided applications of the items whose results are disclosed, decided within the query's days, newest
    first: an enterprise applicant by its name (scrubbed of any number typed into it), a person never."""
    start, end = query["from_"], query["to"]
    rows, total = store.results(session, _day_start(start), _day_start(end + timedelta(days=1)),
                                query.get("department"), query["page"], query["per_page"])
    out = [{"application_no": r["application_no"], "item_code": r["item_code"], "item_name": r["item_name"],
            "department": r["department"], "department_name": settings.departments.name(r["department"]),
            "applicant": privacy.scrub(domain.shown_applicant(r["applicant_kind"], r["applicant_name"])),
            "approved": bool(r["approved"]), "decision_zh": domain.decision_zh(r["approved"]),
            "decided_at": r["decided_at"]} for r in rows]
    return {"items": out, "page": query["page"], "per_page": query["per_page"], "total": total, "from_": start,
            "to": end}
