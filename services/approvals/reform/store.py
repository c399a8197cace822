"""The reform report's query on the approvals' tables (the catalogue's history lives with the items in
../store.py): the applications decided within a span, with their clock's start."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import store as core

_a = core.applications


def decided_between(session: Session, start: datetime, end: datetime) -> list[dict]:
    """Applications decided in [start, end): item, department, when the clock started (acceptance, or the deemed
    acceptance) and when decided."""
    q = (select(_a.c.item_code, _a.c.department, _a.c.clock_started_at, _a.c.accepted_at, _a.c.decided_at)
         .where(_a.c.decided_at >= start, _a.c.decided_at < end)
         .order_by(_a.c.id))
    return [dict(r) for r in session.execute(q).mappings()]
