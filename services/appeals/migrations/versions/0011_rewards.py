"""rewarded reports (#16): complaint_rewards keeps the reward of an upheld efficiency complaint (one per case:
amount in fen, who approved it and when, when it was paid)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('complaint_rewards',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('appeal_id', sa.Integer(), nullable=False),
    sa.Column('subject_department', sa.String(length=64), nullable=True),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('approved_by', sa.String(length=100), nullable=False),
    sa.Column('approved_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('paid_recorded_by', sa.String(length=100), nullable=True),
    sa.Column('paid_recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['appeal_id'], ['appeals.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('appeal_id')
    )
    with op.batch_alter_table('complaint_rewards', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_rewards_approved_on', ['approved_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaint_rewards', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_rewards_approved_on')
    op.drop_table('complaint_rewards')
