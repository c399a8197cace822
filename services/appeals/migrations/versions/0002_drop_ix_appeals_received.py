"""drop ix_appeals_received: ix_appeals_caller (received_at, appellant_phone) serves the same look-ups, and
every intake paid for one more index

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 14:04:35
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_appeals_received', table_name='appeals')


def downgrade() -> None:
    op.create_index('ix_appeals_received', 'appeals', ['received_at'], unique=False)
