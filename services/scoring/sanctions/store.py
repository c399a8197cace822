"""Where the sanctions register is kept: its tables (on the scoring metadata: one row per measure, and its history)
and their queries."""

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
    UniqueConstraint,
    extract,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import Moment, paged

from .. import store as core

# One measure (处分/问责措施). The person's name is internal: kept here, never in events, logs or another unit's
# answers. `origin` makes the entries that events bring one per thing they came from (a warning id, a procedure).
sanctions = Table(
    "sanctions", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("target", String(10), nullable=False),  # unit | person
    Column("department", String(64), nullable=False),  # the sanctioned unit (or the person's unit)
    Column("person_name", String(100)),
    Column("post", String(100)),
    Column("source", String(30), nullable=False),
    Column("source_ref", String(100)),
    Column("origin", String(120), unique=True),
    Column("deciding_body", String(200)),
    Column("document_no", String(100)),
    Column("decided_on", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("state", String(12), nullable=False),  # in_force | under_review | upheld | withdrawn
    # the last day a review may be asked for (NULL: the calendar could not say, review_clock_error why)
    Column("review_due_on", Date),
    Column("review_clock_error", String(300)),
    # its cost in the ledger: own (facts whose source is `sanction-<id>`), core (the efficiency_warnings fact of
    # efficiency_warning.issued whose ref is `ledger_ref`), none
    Column("ledger", String(10), nullable=False),
    Column("ledger_ref", String(100)),
    Column("criticism_id", Integer),  # the criticism (通报批评) it made, where its kind disqualifies
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
    # one measure per kind and document number (文号); entries without one (from an event) are not compared
    UniqueConstraint("kind", "document_no", name="uq_sanctions_kind_document"),
)
Index("ix_sanctions_department", sanctions.c.department, sanctions.c.decided_on)

# The audit trail of a measure: recorded, review requested, review decided (who, when, why).
sanction_history = Table(
    "sanction_history", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sanction_id", Integer, nullable=False, index=True),
    Column("action", String(20), nullable=False),  # recorded | review_requested | upheld | withdrawn
    Column("by", String(100), nullable=False),
    Column("on_behalf", Boolean),  # a review asked for by the assessment office for the unit
    Column("note", Text),
    Column("at", Moment(), nullable=False),
)


def get(session: Session, sanction_id: int, lock: bool = False) -> dict | None:
    q = select(sanctions).where(sanctions.c.id == sanction_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def by_document(session: Session, kind: str, document_no: str) -> dict | None:
    q = select(sanctions).where(sanctions.c.kind == kind, sanctions.c.document_no == document_no)
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def by_origin(session: Session, origin: str) -> dict | None:
    row = session.execute(select(sanctions).where(sanctions.c.origin == origin)).mappings().first()
    return None if row is None else dict(row)


def insert_sanction(session: Session, values: dict) -> dict:
    return core.insert_row(session, sanctions, values)


def save(session: Session, sanction_id: int, values: dict) -> None:
    session.execute(update(sanctions).where(sanctions.c.id == sanction_id).values(**values))


def change_state(session: Session, sanction_id: int, expected: str, values: dict) -> bool:
    """Only from `expected` (the WHERE makes a concurrent second change a no-op)."""
    r = session.execute(update(sanctions).where(sanctions.c.id == sanction_id, sanctions.c.state == expected)
                        .values(**values))
    return r.rowcount == 1


def add_history(session: Session, values: dict) -> None:
    session.execute(insert(sanction_history).values(**values))


def history_of(session: Session, sanction_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {i: [] for i in sanction_ids}
    if not sanction_ids:
        return out
    h = sanction_history
    q = select(h).where(h.c.sanction_id.in_(sanction_ids)).order_by(h.c.id)
    for r in session.execute(q).mappings():
        out[r["sanction_id"]].append(dict(r))
    return out


def facts_of_input(session: Session, source: str) -> list[dict]:
    """The facts an own input brought (`source`, e.g. criticism-7) and those of its corrections (criticism-7-r1,
    ... : the core's corrections of an input entered wrongly)."""
    f = core.facts
    q = (select(f).where(or_(f.c.source_event_id == source, f.c.source_event_id.startswith(f"{source}-r")))
         .order_by(f.c.id))
    return [dict(r) for r in session.execute(q).mappings()]


def page(session: Session, *, department=None, kind=None, state=None, year=None, source=None, page=1,
         per_page=50) -> tuple[list[dict], int]:
    t = sanctions
    conditions = []
    for column, value in ((t.c.department, department), (t.c.kind, kind), (t.c.state, state),
                          (t.c.source, source)):
        if value is not None:
            conditions.append(column == value)
    if year is not None:
        conditions.append(extract("year", t.c.decided_on) == year)
    return paged(session, [t], t, conditions, page, per_page, t.c.decided_on.desc(), t.c.id.desc())
