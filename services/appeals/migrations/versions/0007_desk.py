"""the operator's desk (#14): appeals.closed_on_call (answered and closed on the call, 直接办结), invalid_kind and
void_reason (a case ended as invalid 无效 or withdrawn 撤诉: the status says which), merged_into (the main case a
case was merged into, 合并) and split_from (the case a part was split off, 拆分); the table appeal_assists (the
assisting departments of a dispatch, 协办). Existing cases: none of these.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN, as 0004 (a batch copy would reorder the columns of an old create_all database)
    op.add_column('appeals', sa.Column('closed_on_call', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('appeals', sa.Column('invalid_kind', sa.String(length=16), nullable=True))
    op.add_column('appeals', sa.Column('void_reason', sa.Text(), nullable=True))
    op.add_column('appeals', sa.Column('merged_into', sa.Integer(), nullable=True))
    op.add_column('appeals', sa.Column('split_from', sa.Integer(), nullable=True))
    op.create_index('ix_appeals_split_from', 'appeals', ['split_from'], unique=False)
    op.create_table(
        'appeal_assists',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('appeal_id', sa.Integer(), nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('part', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['appeal_id'], ['appeals.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('appeal_id', 'department', name='uq_appeal_assists'),
    )
    op.create_index('ix_appeal_assists_appeal_id', 'appeal_assists', ['appeal_id'], unique=False)
    op.create_index('ix_appeal_assists_department', 'appeal_assists', ['department', 'appeal_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_appeal_assists_department', table_name='appeal_assists')
    op.drop_index('ix_appeal_assists_appeal_id', table_name='appeal_assists')
    op.drop_table('appeal_assists')
    op.drop_index('ix_appeals_split_from', table_name='appeals')
    with op.batch_alter_table('appeals') as batch:
        batch.drop_column('split_from')
        batch.drop_column('merged_into')
        batch.drop_column('void_reason')
        batch.drop_column('invalid_kind')
        batch.drop_column('closed_on_call')
    if op.get_bind().dialect.name == "sqlite":
        # the batch rebuilt `appeals` on SQLite, and its triggers went with the old table: the search index's
        # (0006) come back, so the index keeps following the cases
        for statement in _search_revision().SQLITE_UP[1:4]:
            op.execute(statement)


def _search_revision():
    """Revision 0006, whose statements build the search index (a revision's module is not importable by name)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("appeals_0006_search", Path(__file__).with_name("0006_search.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
