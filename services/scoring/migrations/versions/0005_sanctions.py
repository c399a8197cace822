"""the sanctions register (#16): one row per measure (效能问责) with its source, document number, review window and
how its cost is kept in the ledger; and its history (recorded, review asked for, decided)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'sanctions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('target', sa.String(length=10), nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('person_name', sa.String(length=100), nullable=True),
        sa.Column('post', sa.String(length=100), nullable=True),
        sa.Column('source', sa.String(length=30), nullable=False),
        sa.Column('source_ref', sa.String(length=100), nullable=True),
        sa.Column('origin', sa.String(length=120), nullable=True),
        sa.Column('deciding_body', sa.String(length=200), nullable=True),
        sa.Column('document_no', sa.String(length=100), nullable=True),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('review_due_on', sa.Date(), nullable=True),
        sa.Column('review_clock_error', sa.String(length=300), nullable=True),
        sa.Column('ledger', sa.String(length=10), nullable=False),
        sa.Column('ledger_ref', sa.String(length=100), nullable=True),
        sa.Column('criticism_id', sa.Integer(), nullable=True),
        sa.Column('recorded_by', sa.String(length=100), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'document_no', name='uq_sanctions_kind_document'),
        sa.UniqueConstraint('origin'),
    )
    op.create_index('ix_sanctions_department', 'sanctions', ['department', 'decided_on'], unique=False)
    op.create_table(
        'sanction_history',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('sanction_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('by', sa.String(length=100), nullable=False),
        sa.Column('on_behalf', sa.Boolean(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_sanction_history_sanction_id', 'sanction_history', ['sanction_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sanction_history_sanction_id', table_name='sanction_history')
    op.drop_table('sanction_history')
    op.drop_index('ix_sanctions_department', table_name='sanctions')
    op.drop_table('sanctions')
