"""the hot-issue brief on a schedule (#14): hot_issue_publications, one row per scheduled publication (weekly,
monthly), unique on (kind, period_from) so that one instance's publication of a period commits.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'hot_issue_publications',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('period_from', sa.Date(), nullable=False),
        sa.Column('period_to', sa.Date(), nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'period_from', name='uq_hot_issue_publications_period'),
    )


def downgrade() -> None:
    op.drop_table('hot_issue_publications')
