"""Where the scheduled publications of the hot-issue brief are recorded: their table (on the appeals' metadata),
whose unique key (kind, first day) lets one publication of a period commit, however many instances try."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Date, Integer, String, Table, UniqueConstraint, insert, select
from sqlalchemy.orm import Session

from services.kernel.db import Moment

from .. import store as core
from .domain import Period

hot_issue_publications = Table(
    "hot_issue_publications", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # weekly, monthly
    Column("period_from", Date, nullable=False),
    Column("period_to", Date, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("total", Integer, nullable=False),
    Column("published_at", Moment(), nullable=False),
    UniqueConstraint("kind", "period_from", name="uq_hot_issue_publications_period"),
)
_p = hot_issue_publications


def published(session: Session, kind: str, period: Period) -> dict | None:
    row = session.execute(select(_p).where(_p.c.kind == kind, _p.c.period_from == period.first)).first()
    return None if row is None else dict(row._mapping)


def record(session: Session, kind: str, period: Period, event_id: str, total: int, at: datetime) -> None:
    """Raises IntegrityError when the period's publication exists (another instance committed it first)."""
    session.execute(insert(_p).values(kind=kind, period_from=period.first, period_to=period.last, event_id=event_id,
                                      total=total, published_at=at))

