"""The desk's use cases (reading only): search the appeals, a caller's history with repeat counts, and the rows of
an export. Who may filter by what is decided here; who sees which case (a department handler: its department's)
comes with the query (`Call.scoped_query`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from services.kernel.errors import BadRequest, Forbidden

from ..handlers import AppealRecord
from . import domain, store


def check_allowed(query: dict, role: str | None) -> None:
    """403 for a phone look-up by a role that sees phones masked (a keyword that is a phone number included)."""
    if role not in domain.PHONE_ROLES and (query.get("phone") or domain.looks_like_phone(query.get("keyword"))):
        raise Forbidden("only an operator may look a caller up by phone number",
                        message_zh="只有话务员可以按来电号码查询")


def _filters(query: dict, role: str | None) -> dict:
    """The store's filters of a search query, or the refusal: 403 (`check_allowed`), 400 for a keyword the index
    cannot serve unbounded or an `involvement` without a department. A department handler's query comes scoped
    (its own department in `department`), so its default involvement is `any`: the cases it assists on too."""
    check_allowed(query, role)
    try:
        terms = domain.keyword_terms(query.get("keyword"))
        domain.check_short_terms(terms, received_from=query.get("received_from"),
                                 received_to=query.get("received_to"), case_no=query.get("case_no"),
                                 phone=query.get("phone"))
        involvement = domain.involvement(query.get("involvement"), query.get("department"),
                                         confined=role == "department_handler")
    except domain.SearchRefused as exc:
        raise BadRequest({exc.field: [exc.message]}) from None
    return {**query, "terms": terms, "involvement": involvement}


def _records(session: Session, rows: list[dict]) -> list[AppealRecord]:
    """The rows as records, each with its original's case number and its assisting departments (two queries for
    the whole page, none per row)."""
    originals = store.case_nos(session, (r["duplicate_of"] for r in rows))
    assisting = store.assisting_of(session, (r["id"] for r in rows))
    return [AppealRecord({**r, "assisting": assisting[r["id"]]}, originals.get(r["duplicate_of"])) for r in rows]


def search(session: Session, query: dict, role: str | None) -> tuple[list[AppealRecord], int]:
    """A page of the appeals matching `query` (AppealsQuery) and how many match."""
    f = _filters(query, role)
    rows, total = store.search(session, f, sort=query.get("sort"), limit=query["per_page"],
                               offset=(query["page"] - 1) * query["per_page"])
    return _records(session, rows), total


def export_rows(session: Session, query: dict, role: str | None) -> list[AppealRecord]:
    """Every appeal matching `query` (ExportQuery), at most EXPORT_LIMIT of them: more is a 400 that says to
    narrow the filters (an export is read whole, and a bigger one belongs to the reports)."""
    f = _filters(query, role)
    total = store.count(session, f)
    if total > domain.EXPORT_LIMIT:
        raise BadRequest({"_query": [
            f"{total} appeals match; an export holds at most {domain.EXPORT_LIMIT}: narrow the filters / "
            f"符合条件的诉求共 {total} 件，超过导出上限 {domain.EXPORT_LIMIT} 件，请缩小筛选范围"]})
    rows, _ = store.search(session, f, sort=query.get("sort"), limit=domain.EXPORT_LIMIT, with_total=False)
    return _records(session, rows)


def caller_history(session: Session, phone: str, page: int, per_page: int, now: datetime) -> dict:
    """All cases of one caller (by the normalised number), newest first, with the repeat counts the operator on
    the call needs: all, open, in the last REPEAT_WINDOW_DAYS days, per category."""
    if not domain.valid_phone(phone):
        raise BadRequest({"phone": ["not a phone number / 不是有效的电话号码"]})
    key = domain.phone_keys(phone)[0]
    counts = store.caller_counts(session, phone, now - timedelta(days=domain.REPEAT_WINDOW_DAYS))
    names = store.category_names(session)
    rows, total = store.search(session, {"phone": phone}, sort="-received_at", limit=per_page,
                               offset=(page - 1) * per_page)
    return {
        "phone": key,
        "counts": {"total": counts["total"], "open": counts["open"], "last_30_days": counts["recent"],
                   "by_category": [{**c, "category_name": names.get(c["category"], c["category"])}
                                   for c in counts["by_category"]]},
        "records": _records(session, rows), "total": total, "page": page, "per_page": per_page,
    }
