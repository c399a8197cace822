"""public cases: appeals.public (shown by the Open311 facade), public_address (the citizen agreed to show the
exact address) and public_id (the opaque id the facade shows instead of the sequential case number). Cases
taken in before are not public.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite takes it with a constant default): a batch copy of the table would reorder the
    # columns of a database created by an earlier version and fail on the cycle it finds.
    op.add_column('appeals', sa.Column('public', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('appeals', sa.Column('public_address', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('appeals', sa.Column('public_id', sa.String(length=32), nullable=True))
    op.create_index('ix_appeals_public_id', 'appeals', ['public_id'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_appeals_public_id', table_name='appeals')
    with op.batch_alter_table('appeals') as batch:
        batch.drop_column('public_id')
        batch.drop_column('public_address')
        batch.drop_column('public')
