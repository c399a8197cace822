"""Tables of the appeals service and the queries on them."""

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, UniqueConstraint, select
from sqlalchemy.orm import Session

from services.kernel.db import Moment, kernel_tables

metadata = MetaData()
kernel_tables(metadata)


appeals = Table(
    "appeals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_no", String(32), unique=True),
    Column("channel", String(32), nullable=False),
    Column("external_ref", String(128)),
    Column("type", String(32), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("category", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("appellant_name", String(100)),
    Column("appellant_phone", String(32)),
    Column("address", String(300)),
    Column("town_street", String(64)),
    Column("department", String(64)),
    Column("status", String(32), nullable=False),
    Column("received_at", Moment(), nullable=False),
    Column("created_at", Moment(), nullable=False),
    UniqueConstraint("channel", "external_ref", name="uq_appeals_channel_ref"),
)


def find_by_ref(session: Session, channel: str, external_ref: str):
    return session.execute(
        select(appeals).where(appeals.c.channel == channel, appeals.c.external_ref == external_ref)
    ).mappings().first()


def get(session: Session, appeal_id: int):
    return session.execute(select(appeals).where(appeals.c.id == appeal_id)).mappings().first()
