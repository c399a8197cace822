"""The exposure board's queries: which cases are on it, and a page of them newest exposure first, each with the
moment it was exposed read from its history (the first supervision order that exposed it) in the same query."""

from __future__ import annotations

from sqlalchemy import func, or_, select, true

from services.kernel.db import paged

from .. import store
from . import domain

a = store.appeals
h = store.history
# the main case a merged case joined (合并): its state and reply are the merged case's rectification
main = store.appeals.alias("main")

# The first supervision order that exposed the case (domain.Appeal.supervise writes `exposed` into its history
# line). `exposed` stays set once set, so the first such line is when the case went on the board; a case exposed
# before its history said so (none today) falls back to its last change.
EXPOSED_AT = func.coalesce(
    select(func.min(h.c.at)).where(h.c.appeal_id == a.c.id, h.c.action == "supervise",
                                   h.c.details["exposed"].as_boolean() == true()).scalar_subquery(),
    a.c.updated_at).label("exposed_at")

# the only columns the board reads: a whitelist, so that nothing else of a case can reach an answer
COLUMNS = (a.c.public_id, a.c.category, a.c.town_street, a.c.department, a.c.content, a.c.appellant_name,
           a.c.address, a.c.status, a.c.reply, a.c.closed_at, a.c.supervised_until, EXPOSED_AT,
           main.c.status.label("main_status"), main.c.reply.label("main_reply"),
           main.c.closed_at.label("main_closed_at"), main.c.appellant_name.label("main_appellant_name"),
           main.c.address.label("main_address"))
SOURCE = a.outerjoin(main, main.c.id == a.c.merged_into)


def shown(session, discipline_office: str) -> list:
    """What puts a case on the board: exposed by a supervision order, with a public id; and — whatever was asked
    — never an efficiency complaint, a category of the discipline office or a case with it (complaints about
    officials are never public), never a case voided (invalid or withdrawn)."""
    hidden = store.confidential_categories(session, discipline_office) or {""}
    return [a.c.exposed.is_(True), a.c.public_id.is_not(None), a.c.type.notin_(domain.NEVER_SHOWN_TYPES),
            a.c.status.notin_(domain.NEVER_SHOWN_STATUSES), a.c.category.notin_(hidden),
            or_(a.c.department.is_(None), a.c.department != discipline_office)]


def board(session, discipline_office: str, page: int, per_page: int) -> tuple[list[dict], int]:
    """A page of the board, newest exposure first, and how many cases are on it."""
    return paged(session, COLUMNS, SOURCE, shown(session, discipline_office), page, per_page,
                 EXPOSED_AT.desc(), a.c.id.desc())


def one(session, discipline_office: str, public_id: str) -> dict | None:
    """The case on the board with this public id; None when there is none (unknown, not exposed, confidential)."""
    q = select(*COLUMNS).select_from(SOURCE).where(a.c.public_id == public_id, *shown(session, discipline_office))
    row = session.execute(q).mappings().first()
    return dict(row) if row is not None else None
