"""console_rectifications: the console's per-alert state of the departments' rectification reports (整改), for the
review queue

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('console_rectifications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('owner', sa.String(length=16), nullable=False),
    sa.Column('alert_id', sa.String(length=80), nullable=False),
    sa.Column('rectification_id', sa.String(length=80), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('ref_no', sa.String(length=100), nullable=True),
    sa.Column('rule', sa.String(length=300), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_by', sa.String(length=100), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attachments_count', sa.Integer(), nullable=True),
    sa.Column('reviewed_by', sa.String(length=100), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('pending_decision', sa.String(length=16), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner', 'alert_id', name='uq_console_rectifications_owner_alert')
    )
    with op.batch_alter_table('console_rectifications', schema=None) as batch_op:
        batch_op.create_index('ix_console_rectifications_state', ['state', 'department'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_rectifications', schema=None) as batch_op:
        batch_op.drop_index('ix_console_rectifications_state')
    op.drop_table('console_rectifications')
