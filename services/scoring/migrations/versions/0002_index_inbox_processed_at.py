"""index inbox.processed_at: the relay prunes consumed-event records older than INBOX.RETENTION_DAYS by it

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 14:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_inbox_processed', 'inbox', ['processed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbox_processed', table_name='inbox')
