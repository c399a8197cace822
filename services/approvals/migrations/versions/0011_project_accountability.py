"""key projects: quarterly inspections, the accountability procedure (#16): projects.state, closed_at, the quarter
whose inspection is checked next (inspection_quarter, next_inspection_at), project_inspections.findings_count, and
the accountability_procedures table

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:10:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from services.kernel import clock
from services.kernel.db import Moment

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False, server_default='active'))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('inspection_quarter', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('next_inspection_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_projects_next_inspection', ['next_inspection_at'], unique=False)
    # projects from before are checked from the quarter of the upgrade on: no alert for a quarter before the rule
    today = clock.now().astimezone(clock.TZ).date()
    q = (today.month - 1) // 3 + 1
    ends = datetime(today.year + q // 4, (q % 4) * 3 + 1, 1, tzinfo=clock.TZ)
    table = sa.table('projects', sa.column('inspection_quarter', sa.String()),
                     sa.column('next_inspection_at', Moment()))
    op.get_bind().execute(table.update().values(inspection_quarter=f"{today.year}-Q{q}", next_inspection_at=ends))

    with op.batch_alter_table('project_inspections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('findings_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_project_inspections_quarter', ['project_code', 'quarter'], unique=False)

    op.create_table('accountability_procedures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=16), nullable=False),
    sa.Column('project_code', sa.String(length=64), nullable=True),
    sa.Column('joint_id', sa.Integer(), nullable=True),
    sa.Column('responsible_department', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('started_by', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('measure', sa.String(length=32), nullable=True),
    sa.Column('target', sa.String(length=16), nullable=True),
    sa.Column('post', sa.String(length=100), nullable=True),
    sa.Column('deciding_body', sa.String(length=200), nullable=True),
    sa.Column('document_no', sa.String(length=100), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('conclusion_reason', sa.Text(), nullable=True),
    sa.Column('concluded_by', sa.String(length=100), nullable=True),
    sa.Column('concluded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id')
    )
    with op.batch_alter_table('accountability_procedures', schema=None) as batch_op:
        batch_op.create_index('ix_accountability_procedures_state', ['state', 'responsible_department'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('accountability_procedures', schema=None) as batch_op:
        batch_op.drop_index('ix_accountability_procedures_state')
    op.drop_table('accountability_procedures')
    with op.batch_alter_table('project_inspections', schema=None) as batch_op:
        batch_op.drop_index('ix_project_inspections_quarter')
        batch_op.drop_column('findings_count')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index('ix_projects_next_inspection')
        batch_op.drop_column('next_inspection_at')
        batch_op.drop_column('inspection_quarter')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('state')
