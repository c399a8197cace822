"""the assessment year: half-year, groups, corrections, stationed units (#16)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # 驻莱单位: a nullable column (plain ADD COLUMN, SQLite takes it)
    op.add_column('departments', sa.Column('superior', sa.String(length=200), nullable=True))
    op.create_table(
        'corrections',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=10), nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('department_after', sa.String(length=64), nullable=True),
        sa.Column('periods', sa.String(length=200), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('by', sa.String(length=100), nullable=False),
        sa.Column('assessor', sa.String(length=100), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('before', sa.Text(), nullable=False),
        sa.Column('after', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'item_id', 'revision', name='uq_correction_revision'),
    )
    op.create_index('ix_corrections_item', 'corrections', ['kind', 'item_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_corrections_item', table_name='corrections')
    op.drop_table('corrections')
    with op.batch_alter_table('departments') as batch:
        batch.drop_column('superior')
