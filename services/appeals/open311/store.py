"""The Open311 facade's queries: what makes a case public, the catalogue it offers, and the spec's filters of
GET requests as SQL conditions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from .. import store
from ..domain import CLOSED, CONFIDENTIAL_TYPES, DUPLICATE, MERGED, VOIDED

a = store.appeals
# Efficiency complaints (投诉举报) name officials and are confidential to the discipline office: never public.
PRIVATE_TYPES = CONFIDENTIAL_TYPES
# "closed" in the spec's sense (a case merged into its main case is done with, as a repeat call is)
CLOSED_STATUSES = (CLOSED, DUPLICATE, MERGED)
# the most requests one answer lists
MAX_RESULTS = 1000


def catalogue(session, discipline_office: str) -> dict[str, dict]:
    """One entry per category: the general rule where there is one (else a town-street rule). The discipline
    office's categories are not offered: their cases name officials and complainants and are never public
    (they are filed on the hotline or the JSON API)."""
    hidden = store.confidential_categories(session, discipline_office)
    out: dict[str, dict] = {}
    for rule in store.list_rules(session):
        if rule["category"] in hidden:
            continue
        if rule["category"] not in out or rule["town_street"] is None:
            out[rule["category"]] = rule
    return out


@dataclass(frozen=True)
class RequestFilters:
    """The spec's filters of GET requests, parsed (format.parse_filters): public ids (which override the rest),
    or service codes, "open"/"closed", and the range of receipt."""

    ids: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    statuses: frozenset[str] = frozenset()
    start: datetime | None = None
    end: datetime | None = None


def conditions(filters: RequestFilters) -> list:
    """The filters as SQL conditions."""
    if filters.ids:
        return [a.c.public_id.in_(filters.ids)]
    conds = []
    if filters.codes:
        conds.append(a.c.category.in_(filters.codes))
    if filters.statuses == {"open"}:
        conds.append(a.c.status.notin_(CLOSED_STATUSES))
    elif filters.statuses == {"closed"}:
        conds.append(a.c.status.in_(CLOSED_STATUSES))
    if filters.end is not None:
        conds.append(a.c.received_at <= filters.end)
    if filters.start is not None:
        conds.append(a.c.received_at >= filters.start)
    return conds


def public(session, discipline_office: str) -> list:
    """What makes a case public: its flag (set at intake, domain.is_public), and — checked again here, since
    the catalogue and the case's department may have changed since — never an efficiency complaint, a
    category of the discipline office or a case with it, and never a case voided (invalid or withdrawn)."""
    # an invalid or withdrawn case (a prank, a test, withdrawn by its caller) is not shown at all
    return [a.c.public.is_(True), a.c.type.notin_(PRIVATE_TYPES), a.c.status.notin_(VOIDED),
            a.c.category.notin_(store.confidential_categories(session, discipline_office) or {""}),
            or_(a.c.department.is_(None), a.c.department != discipline_office)]


def public_requests(session, discipline_office: str, conds: list, limit: int) -> tuple[list[dict], dict[int, str]]:
    """The public cases that meet `conds`, newest first, and the public ids of the public cases they repeat."""
    shown = public(session, discipline_office)
    rows = [dict(r) for r in session.execute(
        select(a).where(*shown, *conds).order_by(a.c.received_at.desc(), a.c.id.desc()).limit(limit)).mappings()]
    originals = {r["duplicate_of"] for r in rows if r["duplicate_of"] is not None}
    numbers = dict(session.execute(select(a.c.id, a.c.public_id).where(a.c.id.in_(originals), *shown))
                   .all()) if originals else {}
    return rows, numbers


def public_id_of_token(session, token: str) -> str | None:
    """The public id of the case filed with this token (a token is the filer's: it resolves also while the case
    is not shown in public; never an efficiency complaint's)."""
    return session.execute(select(a.c.public_id).where(a.c.open311_token == token,
                                                       a.c.type.notin_(PRIVATE_TYPES))).scalar_one_or_none()
