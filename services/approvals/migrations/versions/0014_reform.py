"""the catalogue's history (reform figures) (#17): items' life (status, ended_on, merged_into) and item_changes; every
item already in the catalogue gets its "initial" entry, dated the day of the upgrade

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 12:45:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACKED = ("name", "department", "kind", "statutory_limit", "committed_limit", "joint")


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='active'))
        batch_op.add_column(sa.Column('ended_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('merged_into', sa.String(length=64), nullable=True))
    changes = op.create_table('item_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('document', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('statutory_limit', sa.Integer(), nullable=True),
    sa.Column('committed_limit', sa.Integer(), nullable=True),
    sa.Column('joint', sa.Boolean(), nullable=False),
    sa.Column('merged_into', sa.String(length=64), nullable=True),
    sa.Column('previous', sa.JSON(), nullable=True),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('item_changes', schema=None) as batch_op:
        batch_op.create_index('ix_item_changes_effective', ['effective_on'], unique=False)
        batch_op.create_index('ix_item_changes_item', ['item_code', 'id'], unique=False)
    # the catalogue as found: the baseline of the reform figures
    bind = op.get_bind()
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    now = datetime.now(UTC)  # as the Moment type stores it: UTC, naive on SQLite
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    items = sa.table('items', *(sa.column(c) for c in ('code', *TRACKED)))
    rows = bind.execute(sa.select(items)).mappings().all()
    if rows:
        op.bulk_insert(changes, [{"item_code": r["code"], "change": "initial", "effective_on": today,
                                  "recorded_by": "migration", "recorded_at": now, "joint": bool(r["joint"]),
                                  **{k: r[k] for k in TRACKED if k != "joint"}} for r in rows])


def downgrade() -> None:
    with op.batch_alter_table('item_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_item_changes_item')
        batch_op.drop_index('ix_item_changes_effective')
    op.drop_table('item_changes')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('merged_into')
        batch_op.drop_column('ended_on')
        batch_op.drop_column('status')
