"""action_refs: the window system's reference of each action (Idempotency-Key / action_ref) and its answer

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('action_refs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ref', name='uq_action_refs_ref')
    )
    with op.batch_alter_table('action_refs', schema=None) as batch_op:
        batch_op.create_index('ix_action_refs_created', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('action_refs', schema=None) as batch_op:
        batch_op.drop_index('ix_action_refs_created')
    op.drop_table('action_refs')
