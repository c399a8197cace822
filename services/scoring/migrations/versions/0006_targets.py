"""target management (#16): the year's key tasks with their units, milestones, plans, progress reports and history

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'targets',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('standard', sa.Text(), nullable=False),
        sa.Column('lead_unit', sa.String(length=64), nullable=False),
        sa.Column('co_units', sa.JSON(), nullable=False),
        sa.Column('steps', sa.JSON(), nullable=False),
        sa.Column('assessment', sa.Text(), nullable=False),
        sa.Column('weight', sa.Float(), nullable=True),
        sa.Column('points', sa.Float(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('plan_due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('plan_check_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('plan_submitted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('plan_late', sa.Boolean(), nullable=True),
        sa.Column('plan_overdue_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('plan_revision', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_targets_year_state', 'targets', ['year', 'state'], unique=False)
    op.create_index('ix_targets_plan_check', 'targets', ['plan_check_at'], unique=False)
    op.create_table(
        'target_units',
        sa.Column('target_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint('target_id', 'department'),
    )
    op.create_index('ix_target_units_department', 'target_units', ['department'], unique=False)
    op.create_table(
        'target_milestones',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('what', sa.Text(), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('check_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('done_late', sa.Boolean(), nullable=True),
        sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_target_milestones_target', 'target_milestones', ['target_id'], unique=False)
    op.create_index('ix_target_milestones_check', 'target_milestones', ['check_at'], unique=False)
    op.create_table(
        'target_plans',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('plan', sa.Text(), nullable=False),
        sa.Column('assessment_rules', sa.Text(), nullable=False),
        sa.Column('attachments', sa.JSON(), nullable=False),
        sa.Column('submitted_by', sa.String(length=100), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('target_id', 'revision', name='uq_target_plans_revision'),
    )
    op.create_table(
        'target_reports',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('milestone_id', sa.Integer(), nullable=False),
        sa.Column('done', sa.Boolean(), nullable=False),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('reported_by', sa.String(length=100), nullable=False),
        sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_target_reports_target', 'target_reports', ['target_id'], unique=False)
    op.create_table(
        'target_history',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=24), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('by', sa.String(length=100), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_target_history_target', 'target_history', ['target_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_target_history_target', table_name='target_history')
    op.drop_table('target_history')
    op.drop_index('ix_target_reports_target', table_name='target_reports')
    op.drop_table('target_reports')
    op.drop_table('target_plans')
    op.drop_index('ix_target_milestones_check', table_name='target_milestones')
    op.drop_index('ix_target_milestones_target', table_name='target_milestones')
    op.drop_table('target_milestones')
    op.drop_index('ix_target_units_department', table_name='target_units')
    op.drop_table('target_units')
    op.drop_index('ix_targets_plan_check', table_name='targets')
    op.drop_index('ix_targets_year_state', table_name='targets')
    op.drop_table('targets')
