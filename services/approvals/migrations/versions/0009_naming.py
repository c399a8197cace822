"""naming (群众满意窗口, #15): the leading group's decisions, the titles they gave (one per period and window), the
quarterly re-checks (one per title and quarter) and the upheld efficiency complaints learnt from appeals

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('naming_decisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('document_no', sa.String(length=100), nullable=True),
    sa.Column('windows', sa.JSON(), nullable=False),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('naming_titles',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('window', sa.String(length=64), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=True),
    sa.Column('named_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('named_on', sa.Date(), nullable=False),
    sa.Column('met', sa.Boolean(), nullable=False),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=200), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.Column('revoke_recorded_by', sa.String(length=100), nullable=True),
    sa.Column('recheck_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['naming_decisions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('period', 'window', name='uq_naming_titles_period_window')
    )
    with op.batch_alter_table('naming_titles', schema=None) as batch_op:
        batch_op.create_index('ix_naming_titles_state', ['state', 'named_at'], unique=False)
    op.create_table('naming_rechecks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('title_id', sa.Integer(), nullable=False),
    sa.Column('window', sa.String(length=64), nullable=False),
    sa.Column('quarter', sa.String(length=8), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('failing', sa.JSON(), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['title_id'], ['naming_titles.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('title_id', 'quarter', name='uq_naming_rechecks_title_quarter')
    )
    with op.batch_alter_table('naming_rechecks', schema=None) as batch_op:
        batch_op.create_index('ix_naming_rechecks_quarter', ['quarter'], unique=False)
    op.create_table('upheld_complaints',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('appeal_id', sa.String(length=64), nullable=False),
    sa.Column('case_no', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', name='uq_upheld_complaints_event')
    )
    with op.batch_alter_table('upheld_complaints', schema=None) as batch_op:
        batch_op.create_index('ix_upheld_complaints_department_day', ['department', 'day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('upheld_complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_upheld_complaints_department_day')
    op.drop_table('upheld_complaints')
    with op.batch_alter_table('naming_rechecks', schema=None) as batch_op:
        batch_op.drop_index('ix_naming_rechecks_quarter')
    op.drop_table('naming_rechecks')
    with op.batch_alter_table('naming_titles', schema=None) as batch_op:
        batch_op.drop_index('ix_naming_titles_state')
    op.drop_table('naming_titles')
    op.drop_table('naming_decisions')
