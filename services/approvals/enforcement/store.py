"""Where enforcement inspections are kept: the enforcement certificates (执法证), the inspections with their
history, the enterprises' reports through the desk, and the once-per-enterprise-and-period mark of 扰企 (tables on
the approvals' metadata), with their queries."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import DueRows, Moment, paged

from .. import store as core

certificates = Table(
    "enforcement_certificates", core.metadata,
    Column("number", String(32), primary_key=True),
    # the holder's name: shown to the API's readers only, never in events or logs
    Column("holder", String(100), nullable=False),
    Column("department", String(64), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("updated_at", Moment(), nullable=False),
)

inspections = Table(
    "inspections", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference_no", String(48)),
    Column("department", String(64), nullable=False),
    Column("enterprise", String(200), nullable=False),
    Column("enterprise_code", String(32)),
    # the enterprise as counted for 扰企: its code, else its name (domain.enterprise_key)
    Column("enterprise_key", String(220), nullable=False),
    Column("basis", Text),
    Column("inspectors", JSON, nullable=False, default=list),
    Column("planned_on", Date),
    # the department's reference of its registration (retry-safe); None for an unregistered one
    Column("external_ref", String(100)),
    Column("state", String(16), nullable=False),
    Column("registered_by", String(100), nullable=False),
    Column("registered_at", Moment(), nullable=False),
    Column("decided_by", String(100)),
    Column("decided_at", Moment()),
    Column("decision_note", Text),
    Column("approved", Boolean),
    Column("carried_out_on", Date),
    Column("result", String(32)),
    Column("findings", Text),
    Column("actual_inspectors", JSON),
    Column("reported_by", String(100)),
    Column("reported_at", Moment()),
    # the result's due time, and the timer's next look (None: nothing to check)
    Column("result_due_at", Moment()),
    Column("check_at", Moment()),
    Column("overdue_at", Moment()),
    Column("updated_at", Moment(), nullable=False),
    UniqueConstraint("department", "external_ref", name="uq_inspections_department_ref"),
)
Index("ix_inspections_check", inspections.c.check_at)
Index("ix_inspections_enterprise", inspections.c.enterprise_key, inspections.c.planned_on)
Index("ix_inspections_department", inspections.c.department, inspections.c.id)

inspection_history = Table(
    "inspection_history", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("inspection_id", Integer, ForeignKey("inspections.id"), nullable=False, index=True),
    Column("at", Moment(), nullable=False),
    Column("action", String(32), nullable=False),
    Column("by", String(100), nullable=False),
    Column("note", Text),
)

inspection_reports = Table(
    "inspection_reports", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("department", String(64), nullable=False),
    Column("enterprise", String(200), nullable=False),
    Column("enterprise_code", String(32)),
    Column("enterprise_key", String(220), nullable=False),
    Column("inspected_on", Date, nullable=False),
    Column("note", Text),
    Column("inspection_id", Integer, ForeignKey("inspections.id"), nullable=False),
    Column("matched", Boolean, nullable=False),
    Column("reported_by", String(100), nullable=False),
    Column("reported_at", Moment(), nullable=False),
    # the same enterprise reporting the same department's inspection of the same day again: the first report
    UniqueConstraint("department", "enterprise_key", "inspected_on", name="uq_inspection_reports_day"),
)

# 扰企 is raised once per enterprise and period: the first inspection over the limit claims the row
inspection_crowding = Table(
    "inspection_crowding", core.metadata,
    Column("enterprise_key", String(220), primary_key=True),
    Column("period", String(8), primary_key=True),
    Column("inspection_id", Integer, nullable=False),
    Column("at", Moment(), nullable=False),
)

# as core's alerts: the same SQL on SQLite and PostgreSQL
_CLAIM_CROWDING = text(
    "INSERT INTO inspection_crowding (enterprise_key, period, inspection_id, at) "
    "VALUES (:enterprise_key, :period, :inspection_id, :at) "
    "ON CONFLICT (enterprise_key, period) DO NOTHING RETURNING inspection_id"
).bindparams(bindparam("at", type_=Moment()))


# -- certificates ------------------------------------------------------------------------------------------------


def upsert_certificate(session: Session, entry: dict, now: datetime) -> None:
    values = {k: entry[k] for k in ("holder", "department", "valid_from", "valid_until")}
    values.update(revoked=bool(entry.get("revoked", False)), updated_at=now)
    if session.execute(select(certificates.c.number).where(certificates.c.number == entry["number"])).first():
        session.execute(update(certificates).where(certificates.c.number == entry["number"]).values(**values))
    else:
        session.execute(insert(certificates).values(number=entry["number"], **values))


def get_certificate(session: Session, number: str) -> dict | None:
    row = session.execute(select(certificates).where(certificates.c.number == number)).mappings().first()
    return None if row is None else dict(row)


def any_certificate(session: Session) -> bool:
    return session.execute(select(certificates.c.number).limit(1)).first() is not None


def certificates_of(session: Session, numbers: list[str]) -> dict[str, dict]:
    rows = session.execute(select(certificates).where(certificates.c.number.in_(numbers))).mappings()
    return {r["number"]: dict(r) for r in rows}


def list_certificates(session: Session, *, department=None, number=None, page=1, per_page=50
                      ) -> tuple[list[dict], int]:
    c = certificates.c
    conds = []
    if department is not None:
        conds.append(c.department == department)
    if number is not None:
        conds.append(c.number == number)
    return paged(session, (certificates,), certificates, conds, page, per_page, c.number)


# -- inspections -------------------------------------------------------------------------------------------------


def add(session: Session, values: dict) -> int:
    return session.execute(insert(inspections), values).inserted_primary_key[0]


def get(session: Session, inspection_id: int, *, lock: bool = False) -> dict | None:
    q = select(inspections).where(inspections.c.id == inspection_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def by_ref(session: Session, department: str, external_ref: str) -> dict | None:
    row = session.execute(select(inspections).where(inspections.c.department == department,
                                                    inspections.c.external_ref == external_ref)).mappings().first()
    return None if row is None else dict(row)


def change(session: Session, inspection_id: int, **values) -> None:
    session.execute(update(inspections).where(inspections.c.id == inspection_id).values(**values))


def note(session: Session, inspection_id: int, at: datetime, action: str, by: str, text_: str | None = None) -> None:
    session.execute(insert(inspection_history).values(inspection_id=inspection_id, at=at, action=action, by=by,
                                                      note=text_))


def history(session: Session, inspection_id: int) -> list[dict]:
    rows = session.execute(select(inspection_history).where(inspection_history.c.inspection_id == inspection_id)
                           .order_by(inspection_history.c.id)).mappings()
    return [dict(r) for r in rows]


def count_in_period(session: Session, key: str, since: date, until: date) -> int:
    """Inspections of the enterprise `key` by any department on days in [since, until), refused ones not
    counted (they did not happen); a day is the one carried out, else planned."""
    c = inspections.c
    day = func.coalesce(c.carried_out_on, c.planned_on)
    return session.execute(select(func.count()).where(c.enterprise_key == key, c.state != "refused", day >= since,
                                                      day < until)).scalar_one()


def claim_crowding(session: Session, key: str, period: str, inspection_id: int, at: datetime) -> bool:
    """Whether this inspection is the first to exceed the limit for the enterprise in the period."""
    return session.execute(_CLAIM_CROWDING, {"enterprise_key": key, "period": period, "inspection_id": inspection_id,
                                             "at": at}).scalar_one_or_none() is not None


def candidates(session: Session, department: str, key: str, name: str, since: date, until: date) -> list[dict]:
    """A department's registered inspections of the enterprise (by its key, or its name) planned or carried out
    on days in [since, until], oldest first."""
    c = inspections.c
    rows = session.execute(
        select(inspections).where(
            c.department == department, c.state != "unregistered", or_(c.enterprise_key == key, c.enterprise == name),
            or_(c.planned_on.between(since, until), c.carried_out_on.between(since, until)))
        .order_by(c.id)).mappings()
    return [dict(r) for r in rows]


def list_inspections(session: Session, *, department=None, state=None, enterprise=None, enterprise_code=None,
                     since=None, until=None, page=1, per_page=50) -> tuple[list[dict], int]:
    """Inspections newest first; `since` / `until`: planned days, both included."""
    c = inspections.c
    conds = []
    if department is not None:
        conds.append(c.department == department)
    if state is not None:
        conds.append(c.state == state)
    if enterprise is not None:
        conds.append(c.enterprise.contains(enterprise, autoescape=True))
    if enterprise_code is not None:
        conds.append(c.enterprise_code == enterprise_code)
    if since is not None:
        conds.append(c.planned_on >= since)
    if until is not None:
        conds.append(c.planned_on <= until)
    return paged(session, (inspections,), inspections, conds, page, per_page, c.id.desc())


# inspections whose moment has come (any_due: one indexed query; claim_due: claimed for the transaction)
_due = DueRows(inspections, inspections.c.check_at)
any_due, claim_due = _due.any, _due.claim


# -- the enterprises' reports ------------------------------------------------------------------------------------


def add_report(session: Session, values: dict) -> int:
    return session.execute(insert(inspection_reports), values).inserted_primary_key[0]


def find_report(session: Session, department: str, key: str, day: date) -> dict | None:
    c = inspection_reports.c
    row = session.execute(select(inspection_reports).where(c.department == department, c.enterprise_key == key,
                                                           c.inspected_on == day)).mappings().first()
    return None if row is None else dict(row)
