"""The exposure board's queries: which cases are on it, and a page of them newest exposure first, each with the
moment it was exposed read from its history (the first supervision order that exposed it) in the same query."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import Moment

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


# Supervision orders of the approvals service that a monitor exposed (its `monitor.supervision_exposure`
# snapshots, desensitised there): the latest revision of each, kept here so that the board is one list.
supervisions = Table(
    "exposed_supervisions", store.metadata,
    Column("public_id", String(32), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("department", String(64), nullable=False),
    Column("item_code", String(64), nullable=False),
    Column("item_name", String(200)),
    Column("problem", Text, nullable=False),
    Column("exposed_at", Moment(), nullable=False),
    Column("act_by", Date, nullable=False),
    Column("rectified", Boolean, nullable=False),
    Column("rectification", Text),
    Column("rectified_on", Date),
    Column("updated_at", Moment(), nullable=False),
)
Index("ix_exposed_supervisions_exposed_at", supervisions.c.exposed_at)
sv = supervisions
APPEAL, SUPERVISION = domain.APPEAL, domain.SUPERVISION


def keep_supervision(session: Session, values: dict) -> bool:
    """Keep a supervision order's snapshot unless a later revision of it is here already: whether it was kept."""
    changed = session.execute(update(sv).where(sv.c.public_id == values["public_id"],
                                               sv.c.revision < values["revision"]).values(**values)).rowcount
    if changed:
        return True
    if session.execute(select(sv.c.revision).where(sv.c.public_id == values["public_id"])).first() is not None:
        return False  # this revision or a later one came first
    session.execute(sv.insert().values(**values))
    return True


def shown(session, discipline_office: str) -> list:
    """What puts a case on the board: exposed by a supervision order, with a public id; and — whatever was asked
    — never an efficiency complaint, a category of the discipline office or a case with it (complaints about
    officials are never public), never a case voided (invalid or withdrawn)."""
    hidden = store.confidential_categories(session, discipline_office) or {""}
    return [a.c.exposed.is_(True), a.c.public_id.is_not(None), a.c.type.notin_(domain.NEVER_SHOWN_TYPES),
            a.c.status.notin_(domain.NEVER_SHOWN_STATUSES), a.c.category.notin_(hidden),
            or_(a.c.department.is_(None), a.c.department != discipline_office)]


def _supervisions_shown(discipline_office: str) -> list:
    # the discipline office's own orders are never public (complaints about officials never are)
    return [sv.c.department != discipline_office]


def board(session, discipline_office: str, page: int, per_page: int) -> tuple[list[tuple[str, dict]], int]:
    """A page of the board, newest exposure first — appeals and supervision orders in one list —, each as (kind,
    row), and how many are on it."""
    keys = union_all(
        select(literal(APPEAL).label("kind"), a.c.id.label("num"), cast(a.c.id, String).label("ref"),
               EXPOSED_AT.label("at")).where(*shown(session, discipline_office)),
        select(literal(SUPERVISION), literal(0), sv.c.public_id, sv.c.exposed_at)
        .where(*_supervisions_shown(discipline_office)),
    ).subquery()
    total = session.execute(select(func.count()).select_from(keys)).scalar_one()
    page_keys = session.execute(select(keys.c.kind, keys.c.ref).order_by(
        keys.c.at.desc(), keys.c.num.desc(), keys.c.ref.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    appeal_ids = [int(ref) for kind, ref in page_keys if kind == APPEAL]
    public_ids = [ref for kind, ref in page_keys if kind == SUPERVISION]
    appeals = {row["id"]: dict(row) for row in session.execute(
        select(a.c.id, *COLUMNS).select_from(SOURCE).where(a.c.id.in_(appeal_ids))).mappings()} if appeal_ids else {}
    orders = {row["public_id"]: dict(row) for row in session.execute(
        select(sv).where(sv.c.public_id.in_(public_ids))).mappings()} if public_ids else {}
    rows = [(APPEAL, appeals[int(ref)]) if kind == APPEAL else (SUPERVISION, orders[ref]) for kind, ref in page_keys]
    return rows, total


def one(session, discipline_office: str, public_id: str) -> tuple[str, dict] | None:
    """The case on the board with this public id, as (kind, row); None when there is none (unknown, not exposed,
    confidential)."""
    q = select(*COLUMNS).select_from(SOURCE).where(a.c.public_id == public_id, *shown(session, discipline_office))
    row = session.execute(q).mappings().first()
    if row is not None:
        return APPEAL, dict(row)
    q = select(sv).where(sv.c.public_id == public_id, *_supervisions_shown(discipline_office))
    row = session.execute(q).mappings().first()
    return (SUPERVISION, dict(row)) if row is not None else None
