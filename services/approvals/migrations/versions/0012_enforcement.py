"""enforcement inspections (#17): enforcement_certificates, inspections, inspection_history, inspection_reports,
inspection_crowding

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('enforcement_certificates',
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=100), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('number')
    )
    op.create_table('inspections',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('reference_no', sa.String(length=48), nullable=True),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('enterprise', sa.String(length=200), nullable=False),
    sa.Column('enterprise_code', sa.String(length=32), nullable=True),
    sa.Column('enterprise_key', sa.String(length=220), nullable=False),
    sa.Column('basis', sa.Text(), nullable=True),
    sa.Column('inspectors', sa.JSON(), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=True),
    sa.Column('external_ref', sa.String(length=100), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('registered_by', sa.String(length=100), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('approved', sa.Boolean(), nullable=True),
    sa.Column('carried_out_on', sa.Date(), nullable=True),
    sa.Column('result', sa.String(length=32), nullable=True),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('actual_inspectors', sa.JSON(), nullable=True),
    sa.Column('reported_by', sa.String(length=100), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('department', 'external_ref', name='uq_inspections_department_ref')
    )
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index('ix_inspections_check', ['check_at'], unique=False)
        batch_op.create_index('ix_inspections_enterprise', ['enterprise_key', 'planned_on'], unique=False)
        batch_op.create_index('ix_inspections_department', ['department', 'id'], unique=False)
    op.create_table('inspection_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('by', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inspection_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_history_inspection_id'), ['inspection_id'], unique=False)
    op.create_table('inspection_reports',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('enterprise', sa.String(length=200), nullable=False),
    sa.Column('enterprise_code', sa.String(length=32), nullable=True),
    sa.Column('enterprise_key', sa.String(length=220), nullable=False),
    sa.Column('inspected_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('matched', sa.Boolean(), nullable=False),
    sa.Column('reported_by', sa.String(length=100), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('department', 'enterprise_key', 'inspected_on', name='uq_inspection_reports_day')
    )
    op.create_table('inspection_crowding',
    sa.Column('enterprise_key', sa.String(length=220), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('enterprise_key', 'period')
    )


def downgrade() -> None:
    op.drop_table('inspection_crowding')
    op.drop_table('inspection_reports')
    with op.batch_alter_table('inspection_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_history_inspection_id'))
    op.drop_table('inspection_history')
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index('ix_inspections_department')
        batch_op.drop_index('ix_inspections_enterprise')
        batch_op.drop_index('ix_inspections_check')
    op.drop_table('inspections')
    op.drop_table('enforcement_certificates')
