"""Where the register of windows is kept: its table (on the approvals' metadata) and its queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, String, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from services.kernel.db import Moment

from .. import store as core

windows = Table(
    "windows", core.metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    # None: a comprehensive window (综合窗口) serving every department
    Column("department", String(64)),
    Column("service_point", String(32), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_at", Moment(), nullable=False),
)

_GET = select(windows).where(windows.c.code == bindparam("code"))


def get(session: Session, code: str) -> dict | None:
    row = session.execute(_GET, {"code": code}).mappings().first()
    return None if row is None else dict(row)


def list_windows(session: Session, *, department=None, active=None, service_point=None) -> list[dict]:
    """Windows by code; `department`: that department's and the comprehensive ones."""
    q = select(windows).order_by(windows.c.code)
    if department is not None:
        q = q.where((windows.c.department == department) | windows.c.department.is_(None))
    if active is not None:
        q = q.where(windows.c.active == active)
    if service_point is not None:
        q = q.where(windows.c.service_point == service_point)
    return [dict(r) for r in session.execute(q).mappings()]


def any_window(session: Session) -> bool:
    return session.execute(select(windows.c.code).limit(1)).first() is not None


def names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(windows.c.code, windows.c.name)).all())


def upsert(session: Session, data: dict, at: datetime) -> dict:
    """Create or change the window of `data["code"]`; the row as it now is."""
    values = {"name": data["name"], "department": data.get("department"), "service_point": data["service_point"],
              "active": bool(data.get("active", True)), "updated_at": at}
    if get(session, data["code"]) is None:
        session.execute(insert(windows).values(code=data["code"], **values))
    else:
        session.execute(update(windows).where(windows.c.code == data["code"]).values(**values))
    return get(session, data["code"])
