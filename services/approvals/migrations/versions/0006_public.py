"""The public face (#15): applications.query_code (the receipt's code for the progress query and the review),
items.handling_place (办理地点) and items.public_results (its decisions are disclosed)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # applications from before have no code: their applicants ask at the window, as before
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('query_code', sa.String(length=16), nullable=True))
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handling_place', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('public_results', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('public_results')
        batch_op.drop_column('handling_place')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_column('query_code')
