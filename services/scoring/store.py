"""Tables of the scoring service: the append-only ledger of facts."""

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, UniqueConstraint, select
from sqlalchemy.orm import Session

from services.kernel.db import Moment, kernel_tables

metadata = MetaData()
kernel_tables(metadata)

facts = Table(
    "facts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("department", String(64)),
    Column("period", String(7), nullable=False),  # the month the fact belongs to, YYYY-MM
    Column("metric", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("source_event_id", String(36), nullable=False),
    Column("source_event_type", String(100), nullable=False),
    Column("occurred_at", Moment(), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
    # one fact per metric per source event: the ledger never counts an event twice
    UniqueConstraint("source_event_id", "metric", name="uq_facts_source_metric"),
)


def list_facts(session: Session, *, department=None, period=None, limit=500):
    q = select(facts).order_by(facts.c.id)
    if department is not None:
        q = q.where(facts.c.department == department)
    if period is not None:
        q = q.where(facts.c.period.startswith(period))
    return [dict(r) for r in session.execute(q.limit(limit)).mappings()]
