"""console_calendar: the latest calendar.waiting of each service node (records waiting for a calendar year)

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
    op.create_table('console_calendar',
    sa.Column('service', sa.String(length=16), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('waiting', sa.Integer(), nullable=False),
    sa.Column('missing_years', sa.String(length=200), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('service', 'department')
    )


def downgrade() -> None:
    op.drop_table('console_calendar')
