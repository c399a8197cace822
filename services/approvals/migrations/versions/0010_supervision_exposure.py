"""Supervision orders on the exposure board (#15): supervision_orders.exposed, public_id, exposed_at, and what the
board was last told (published, revision)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # orders from before were given without the choice: none of them is exposed
    with op.batch_alter_table('supervision_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exposed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('exposed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('published', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_supervision_orders_public_id', ['public_id'], unique=True)
        batch_op.create_index('ix_supervision_orders_published', ['published'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('supervision_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_orders_published')
        batch_op.drop_index('ix_supervision_orders_public_id')
        batch_op.drop_column('revision')
        batch_op.drop_column('published')
        batch_op.drop_column('exposed_at')
        batch_op.drop_column('public_id')
        batch_op.drop_column('exposed')
