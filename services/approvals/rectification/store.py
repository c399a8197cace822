"""Where rectifications are kept: their table (on the approvals' metadata, one row per alert) and its queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import DueRows, Moment, paged

from .. import store as core
from .domain import OPEN_STATES, RECTIFIED_LEVELS

rectifications = Table(
    "rectifications", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("department", String(64), nullable=False),
    Column("level", String(16), nullable=False),
    Column("raised_at", Moment(), nullable=False),
    # the end of the last working day for it (None: not monitored, or not computed yet)
    Column("due_at", Moment()),
    # the next moment the timer looks at it (None: nothing left to check)
    Column("check_at", Moment()),
    Column("state", String(16), nullable=False, default="pending"),
    Column("overdue_at", Moment()),
    # how many reports were submitted; the current (latest) report's fields follow
    Column("round", Integer, nullable=False, default=0),
    Column("corrected", Text),
    Column("corrected_by", String(100)),
    Column("attachments", JSON, nullable=False, default=list),
    Column("submitted_by", String(100)),
    Column("submitted_at", Moment()),
    Column("reviewed_by", String(100)),
    Column("reviewed_at", Moment()),
    Column("review_note", Text),
    # every report and its review, oldest first
    Column("history", JSON, nullable=False, default=list),
    Column("updated_at", Moment(), nullable=False),
    UniqueConstraint("alert_id", name="uq_rectifications_alert"),
)
Index("ix_rectifications_check", rectifications.c.check_at)
Index("ix_rectifications_department_state", rectifications.c.department, rectifications.c.state)

_alerts = core.alerts
_columns = (*rectifications.c, _alerts.c.rule, _alerts.c.subject, _alerts.c.subject_ref, _alerts.c.application_id,
            _alerts.c.state.label("alert_state"))
_joined = rectifications.join(_alerts, _alerts.c.id == rectifications.c.alert_id)
_EXPECT = insert(rectifications)


def expect(session: Session, alert_id: int, department: str | None, level: str, raised_at: datetime) -> None:
    """A new alert's rectification, when its level calls for one and it has a department: checked at once by the
    timer (which computes its due time with the calendar)."""
    if level not in RECTIFIED_LEVELS or department is None:
        return
    session.execute(_EXPECT, {"alert_id": alert_id, "department": department, "level": level,
                              "raised_at": raised_at, "check_at": raised_at, "state": "pending", "round": 0,
                              "attachments": [], "history": [], "updated_at": raised_at})


def ensure(session: Session, alert: dict, now: datetime) -> dict:
    """The alert's rectification, created (not monitored) for an alert that has none: one of a level without a
    deadline, or raised before rectifications existed. Locked."""
    row = get_for_alert(session, alert["id"], lock=True)
    if row is not None:
        return row
    session.execute(_EXPECT, {"alert_id": alert["id"], "department": alert["department"], "level": alert["level"],
                              "raised_at": alert["raised_at"], "check_at": None, "state": "pending", "round": 0,
                              "attachments": [], "history": [], "updated_at": now})
    return get_for_alert(session, alert["id"], lock=True)


def get_for_alert(session: Session, alert_id: int, *, lock: bool = False) -> dict | None:
    q = select(rectifications).where(rectifications.c.alert_id == alert_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def view(session: Session, rectification_id: int) -> dict:
    """A rectification with its alert's rule, subject and state."""
    q = select(*_columns).select_from(_joined).where(rectifications.c.id == rectification_id)
    return dict(session.execute(q).mappings().one())


def find(session: Session, rectification_id: int) -> dict | None:
    q = select(*_columns).select_from(_joined).where(rectifications.c.id == rectification_id)
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def change(session: Session, rectification_id: int, **values) -> None:
    session.execute(update(rectifications).where(rectifications.c.id == rectification_id).values(**values))


def close_for_alert(session: Session, alert_id: int, now: datetime) -> None:
    """The alert was resolved otherwise (a monitor's resolve, the application ended): an open rectification of it
    is closed, and no longer checked."""
    session.execute(update(rectifications).where(rectifications.c.alert_id == alert_id,
                                                 rectifications.c.state.in_(OPEN_STATES))
                    .values(state="closed", check_at=None, updated_at=now))


def list_rectifications(session: Session, *, state=None, department=None, level=None, alert_id=None, page=1,
                        per_page=50) -> tuple[list[dict], int]:
    conds = []
    if state == "overdue":
        conds += [rectifications.c.overdue_at.is_not(None), rectifications.c.state.in_(OPEN_STATES)]
    elif state is not None:
        conds.append(rectifications.c.state == state)
    if department is not None:
        conds.append(rectifications.c.department == department)
    if level is not None:
        conds.append(rectifications.c.level == level)
    if alert_id is not None:
        conds.append(rectifications.c.alert_id == alert_id)
    return paged(session, _columns, _joined, conds, page, per_page, rectifications.c.id.desc())


# rectifications whose moment has come (any_due: one indexed query; claim_due: claimed for the transaction)
_due = DueRows(rectifications, rectifications.c.check_at)
any_due, claim_due = _due.any, _due.claim
