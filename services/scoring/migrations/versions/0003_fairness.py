"""fair scores (#13): departments.assessed (false: listed as not assessed, never ranked; every department
registered before is assessed) and the index facts(metric, ref) the acceptance-overdue pairing reads by

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN with a constant default (SQLite takes it; no batch copy of the table)
    op.add_column('departments', sa.Column('assessed', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_index('ix_facts_metric_ref', 'facts', ['metric', 'ref'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_facts_metric_ref', table_name='facts')
    with op.batch_alter_table('departments') as batch:
        batch.drop_column('assessed')
