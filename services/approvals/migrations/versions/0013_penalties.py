"""major penalties and discretion (#17): the catalogue of penalty bases (penalty_bases, with the discretion
bands) and the filed penalty decisions (penalties)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('penalty_bases',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('law', sa.String(length=200), nullable=False),
    sa.Column('article', sa.String(length=100), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('bands', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('penalties',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('case_no', sa.String(length=64), nullable=False),
    sa.Column('party_kind', sa.String(length=16), nullable=False),
    sa.Column('party_name', sa.String(length=200), nullable=False),
    sa.Column('basis_code', sa.String(length=64), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
    sa.Column('circumstance', sa.String(length=16), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('hearing_held', sa.Boolean(), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('filed_by', sa.String(length=100), nullable=False),
    sa.Column('major', sa.Boolean(), nullable=False),
    sa.Column('major_reasons', sa.JSON(), nullable=False),
    sa.Column('filing_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=True),
    sa.Column('check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('irregularities', sa.JSON(), nullable=False),
    sa.Column('irregular', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('department', 'case_no', name='uq_penalties_case')
    )
    with op.batch_alter_table('penalties', schema=None) as batch_op:
        batch_op.create_index('ix_penalties_check_at', ['check_at'], unique=False)
        batch_op.create_index('ix_penalties_department_decided', ['department', 'decided_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('penalties', schema=None) as batch_op:
        batch_op.drop_index('ix_penalties_department_decided')
        batch_op.drop_index('ix_penalties_check_at')
    op.drop_table('penalties')
    op.drop_table('penalty_bases')
