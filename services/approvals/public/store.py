"""The public face's queries on the approvals tables: the catalogue as the service guide lists it, and the decided
applications of the items whose results are disclosed (only the columns the disclosure shows are read)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from services.kernel.db import paged

from ..store import applications, items

GUIDE_COLUMNS = (items.c.code, items.c.name, items.c.department, items.c.kind, items.c.statutory_limit,
                 items.c.committed_limit, items.c.materials, items.c.handling_place, items.c.fully_authorised,
                 items.c.joint, items.c.public_results)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def guide(session: Session, department: str | None = None, keyword: str | None = None) -> list[dict]:
    """The catalogue's items (of `department`; whose name holds `keyword`), by code."""
    q = select(*GUIDE_COLUMNS)
    if department:
        q = q.where(items.c.department == department)
    if keyword:
        q = q.where(items.c.name.ilike(_like(keyword), escape="\\"))
    return [dict(r) for r in session.execute(q.order_by(items.c.code)).mappings()]


def guide_item(session: Session, code: str) -> dict | None:
    row = session.execute(select(*GUIDE_COLUMNS).where(items.c.code == code)).mappings().first()
    return dict(row) if row is not None else None


# what the disclosure reads of an application: never its id number, materials, reasons or anything else
RESULT_COLUMNS = (applications.c.application_no, applications.c.item_code, items.c.name.label("item_name"),
                  applications.c.department, applications.c.applicant_kind, applications.c.applicant_name,
                  applications.c.approved, applications.c.decided_at)


def results(session: Session, start: datetime, end: datetime, department: str | None, page: int,
            per_page: int) -> tuple[list[dict], int]:
    """Decided applications of the items whose results are public, decided in [start, end), newest first."""
    source = applications.join(items, items.c.code == applications.c.item_code)
    conditions = [items.c.public_results.is_(True), applications.c.decided_at.is_not(None),
                  applications.c.approved.is_not(None), applications.c.decided_at >= start,
                  applications.c.decided_at < end]
    if department:
        conditions.append(applications.c.department == department)
    return paged(session, RESULT_COLUMNS, source, [and_(*conditions)], page, per_page,
                 applications.c.decided_at.desc(), applications.c.id.desc())
