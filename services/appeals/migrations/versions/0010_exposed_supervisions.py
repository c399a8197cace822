"""The exposure board's supervision orders (#15): exposed_supervisions keeps the latest public view of each
supervision order the approvals monitor exposed (its monitor.supervision_exposure events)

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
    op.create_table('exposed_supervisions',
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('item_name', sa.String(length=200), nullable=True),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('exposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('act_by', sa.Date(), nullable=False),
    sa.Column('rectified', sa.Boolean(), nullable=False),
    sa.Column('rectification', sa.Text(), nullable=True),
    sa.Column('rectified_on', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('public_id')
    )
    with op.batch_alter_table('exposed_supervisions', schema=None) as batch_op:
        batch_op.create_index('ix_exposed_supervisions_exposed_at', ['exposed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('exposed_supervisions', schema=None) as batch_op:
        batch_op.drop_index('ix_exposed_supervisions_exposed_at')
    op.drop_table('exposed_supervisions')
