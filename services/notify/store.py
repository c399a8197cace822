"""Tables of the notify service: the delivery log."""

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, UniqueConstraint, select
from sqlalchemy.orm import Session

from services.kernel.db import Moment, kernel_tables

metadata = MetaData()
kernel_tables(metadata)

deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("recipient", String(100), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("department", String(64)),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", Moment(), nullable=False),
    Column("sent_at", Moment()),
    # exactly one delivery per event, recipient and channel
    UniqueConstraint("event_id", "recipient", "channel", name="uq_deliveries_once"),
)


def list_deliveries(session: Session, *, event_type=None, status=None, limit=100):
    q = select(deliveries).order_by(deliveries.c.id.desc())
    if event_type is not None:
        q = q.where(deliveries.c.event_type == event_type)
    if status is not None:
        q = q.where(deliveries.c.status == status)
    return [dict(r) for r in session.execute(q.limit(limit)).mappings()]
