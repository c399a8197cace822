"""Where penalties are kept: the catalogue of penalty bases (处罚依据 with their discretion bands) and the filed
penalty decisions (on the approvals' metadata), and their queries."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import DueRows, Moment, paged

from .. import store as core

penalty_bases = Table(
    "penalty_bases", core.metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("law", String(200), nullable=False),
    Column("article", String(100), nullable=False),
    # the penalty kinds the basis allows (domain.KINDS)
    Column("kinds", JSON, nullable=False, default=list),
    # the discretion standard: circumstance (minor/general/serious) → {"min": yuan, "max": yuan}; {}: none
    Column("bands", JSON, nullable=False, default=dict),
    Column("updated_at", Moment(), nullable=False),
    Column("updated_by", String(100), nullable=False),
)

penalties = Table(
    "penalties", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("department", String(64), nullable=False),
    Column("case_no", String(64), nullable=False),
    Column("party_kind", String(16), nullable=False),
    # an enterprise's name; a person's masked (张*): the full name is never stored
    Column("party_name", String(200), nullable=False),
    Column("basis_code", String(64), nullable=False),
    Column("kinds", JSON, nullable=False, default=list),
    Column("amount", Numeric(14, 2, asdecimal=False)),
    Column("circumstance", String(16)),
    Column("decided_on", Date, nullable=False),
    Column("hearing_held", Boolean, nullable=False, default=False),
    Column("filed_at", Moment(), nullable=False),
    Column("filed_by", String(100), nullable=False),
    Column("major", Boolean, nullable=False, default=False),
    Column("major_reasons", JSON, nullable=False, default=list),
    # a major one's limit (None: not major, or the calendar did not know the year yet: see check_at)
    Column("filing_due_at", Moment()),
    Column("late", Boolean),
    # the timer's next look (a major penalty whose limit waits for the calendar)
    Column("check_at", Moment()),
    # the codes of the irregularities found (domain.RULE_ZH)
    Column("irregularities", JSON, nullable=False, default=list),
    Column("irregular", Boolean, nullable=False, default=False),
    UniqueConstraint("department", "case_no", name="uq_penalties_case"),
    Index("ix_penalties_check_at", "check_at"),
    Index("ix_penalties_department_decided", "department", "decided_on"),
)


def any_basis(session: Session) -> bool:
    return session.execute(select(penalty_bases.c.code).limit(1)).first() is not None


def get_basis(session: Session, code: str) -> dict | None:
    row = session.execute(select(penalty_bases).where(penalty_bases.c.code == code)).mappings().first()
    return dict(row) if row is not None else None


def list_bases(session: Session) -> list[dict]:
    return [dict(r) for r in session.execute(select(penalty_bases).order_by(penalty_bases.c.code)).mappings()]


def put_basis(session: Session, code: str, values: dict) -> bool:
    """Insert or replace a basis; True when it was new."""
    if get_basis(session, code) is None:
        session.execute(insert(penalty_bases).values(code=code, **values))
        return True
    session.execute(update(penalty_bases).where(penalty_bases.c.code == code).values(**values))
    return False


def add(session: Session, values: dict) -> int:
    return session.execute(insert(penalties).values(**values)).inserted_primary_key[0]


def get(session: Session, penalty_id: int, *, lock: bool = False) -> dict | None:
    q = select(penalties).where(penalties.c.id == penalty_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return dict(row) if row is not None else None


def by_case(session: Session, department: str, case_no: str) -> dict | None:
    row = session.execute(select(penalties).where(penalties.c.department == department,
                                                  penalties.c.case_no == case_no)).mappings().first()
    return dict(row) if row is not None else None


def change(session: Session, penalty_id: int, **values) -> None:
    session.execute(update(penalties).where(penalties.c.id == penalty_id).values(**values))


def list_penalties(session: Session, *, department: str | None = None, basis_code: str | None = None,
                   party_kind: str | None = None, major: bool | None = None, late: bool | None = None,
                   irregular: bool | None = None, since: date | None = None, until: date | None = None,
                   page: int = 1, per_page: int = 50) -> tuple[list[dict], int]:
    """Penalties, the latest decided first; `since`/`until`: decision days, both included."""
    c = penalties.c
    conds = []
    for column, value in ((c.department, department), (c.basis_code, basis_code), (c.party_kind, party_kind),
                          (c.major, major)):
        if value is not None:
            conds.append(column == value)
    if late is not None:
        conds.append(c.late.is_(True) if late else c.late.is_not(True))
    if irregular is not None:
        conds.append(c.irregular == irregular)
    if since is not None:
        conds.append(c.decided_on >= since)
    if until is not None:
        conds.append(c.decided_on <= until)
    return paged(session, [penalties], penalties, conds, page, per_page, c.decided_on.desc(), c.id.desc())


# penalties whose filing limit is to be worked out (any_due: one indexed query; claim_due: claimed for the
# transaction)
_due = DueRows(penalties, penalties.c.check_at)
any_due, claim_due = _due.any, _due.claim
