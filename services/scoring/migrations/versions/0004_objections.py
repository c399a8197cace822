"""departments in the loop (#14): objections (申诉) to facts, the voiding entries of facts (an objection upheld)
and the voided appeals (appeal.voided: their facts no longer count), the index facts(ref) the voiding of an
appeal reads by, and the rectification (整改) of visit findings with its reports (rounds)

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
    op.create_index('ix_facts_ref', 'facts', ['ref'], unique=False)
    op.create_table(
        'fact_voids',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('fact_id', sa.Integer(), nullable=False),
        sa.Column('cause', sa.String(length=20), nullable=False),
        sa.Column('ref', sa.String(length=100), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('by', sa.String(length=100), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('fact_id'),
    )
    op.create_table(
        'voided_appeals',
        sa.Column('appeal_id', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('invalid_kind', sa.String(length=20), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('by', sa.String(length=100), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source_event_id', sa.String(length=36), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('appeal_id'),
    )
    op.create_table(
        'objections',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('fact_id', sa.Integer(), nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('metric', sa.String(length=64), nullable=False),
        sa.Column('reasons', sa.Text(), nullable=False),
        sa.Column('lodged_by', sa.String(length=100), nullable=False),
        sa.Column('on_behalf', sa.Boolean(), nullable=False),
        sa.Column('lodged_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('decision_reasons', sa.Text(), nullable=True),
        sa.Column('decided_by', sa.String(length=100), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('fact_id'),
    )
    op.create_index('ix_objections_department', 'objections', ['department', 'state'], unique=False)
    op.create_table(
        'visit_rectifications',
        sa.Column('visit_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('clock_error', sa.String(length=300), nullable=True),
        sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('check_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('visit_id'),
    )
    op.create_index('ix_visit_rectifications_check', 'visit_rectifications', ['check_at'], unique=False)
    op.create_index('ix_visit_rectifications_department', 'visit_rectifications', ['department', 'state'],
                    unique=False)
    op.create_table(
        'rectification_rounds',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('visit_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('corrected', sa.Text(), nullable=False),
        sa.Column('corrected_by', sa.String(length=100), nullable=False),
        sa.Column('attachments', sa.Text(), nullable=False),
        sa.Column('submitted_by', sa.String(length=100), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decision', sa.String(length=10), nullable=True),
        sa.Column('reviewed_by', sa.String(length=100), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('visit_id', 'round', name='uq_rectification_round'),
    )
    op.create_index('ix_rectification_rounds_visit_id', 'rectification_rounds', ['visit_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_rectification_rounds_visit_id', table_name='rectification_rounds')
    op.drop_table('rectification_rounds')
    op.drop_index('ix_visit_rectifications_department', table_name='visit_rectifications')
    op.drop_index('ix_visit_rectifications_check', table_name='visit_rectifications')
    op.drop_table('visit_rectifications')
    op.drop_index('ix_objections_department', table_name='objections')
    op.drop_table('objections')
    op.drop_table('voided_appeals')
    op.drop_table('fact_voids')
    op.drop_index('ix_facts_ref', table_name='facts')
