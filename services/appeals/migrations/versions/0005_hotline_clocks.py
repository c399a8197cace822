"""the hotline centre's clocks and monitored supervision orders (#13): appeals.returned_by (the return waiting for
review, 退单审核), waiting_since / wait_due_at (the clock of a case waiting for the hotline centre: review,
dispatch, call-back), acceptance_overdue; supervision_orders.department and the order's moments (warn_at,
check_at, warned_at, checked_at, overdue_at, fulfilled_at, next_at).

Existing data: cases waiting for dispatch or a call-back get `waiting_since` (the case's last change; the reply)
and no due time, so that the service's calendar pass at start gives them their clocks (`recalculate`); existing
orders get their department, their check moment (the end of act_by) and, when the case was answered after the
order or closed, `fulfilled_at`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 06:00:00
"""

from collections.abc import Sequence
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from alembic import op

from services.kernel.clock import TZ
from services.kernel.db import Moment

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDER_COLUMNS = ('warn_at', 'check_at', 'warned_at', 'checked_at', 'overdue_at', 'fulfilled_at', 'next_at')


def upgrade() -> None:
    # plain ADD COLUMN, as 0004 (a batch copy would reorder the columns of an old create_all database)
    op.add_column('appeals', sa.Column('returned_by', sa.String(length=64), nullable=True))
    op.add_column('appeals', sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True))
    op.add_column('appeals', sa.Column('wait_due_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('appeals', sa.Column('acceptance_overdue', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))
    op.add_column('supervision_orders', sa.Column('department', sa.String(length=64), nullable=True))
    for name in ORDER_COLUMNS:
        op.add_column('supervision_orders', sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_supervision_orders_next', 'supervision_orders', ['next_at'], unique=False)
    op.create_index('ix_supervision_orders_department', 'supervision_orders', ['department'], unique=False)

    conn = op.get_bind()
    appeals = sa.table('appeals', sa.column('id', sa.Integer), sa.column('status', sa.String),
                       sa.column('department', sa.String), sa.column('updated_at', Moment()),
                       sa.column('replied_at', Moment()), sa.column('closed_at', Moment()),
                       sa.column('waiting_since', Moment()))
    conn.execute(appeals.update().where(appeals.c.status == 'replied')
                 .values(waiting_since=appeals.c.replied_at))
    conn.execute(appeals.update().where(appeals.c.status == 'awaiting_dispatch')
                 .values(waiting_since=appeals.c.updated_at))

    orders = sa.table('supervision_orders', sa.column('id', sa.Integer), sa.column('appeal_id', sa.Integer),
                      sa.column('act_by', sa.Date), sa.column('ordered_at', Moment()),
                      sa.column('department', sa.String), sa.column('check_at', Moment()),
                      sa.column('fulfilled_at', Moment()), sa.column('next_at', Moment()))
    rows = conn.execute(sa.select(orders.c.id, orders.c.act_by, orders.c.ordered_at, appeals.c.status,
                                  appeals.c.department, appeals.c.replied_at, appeals.c.closed_at)
                        .select_from(orders.join(appeals, appeals.c.id == orders.c.appeal_id))).all()
    for r in rows:
        check_at = datetime.combine(r.act_by + timedelta(days=1), time(0), tzinfo=TZ)
        fulfilled = next((m for m in (r.replied_at, r.closed_at) if m is not None and m >= r.ordered_at), None)
        conn.execute(orders.update().where(orders.c.id == r.id).values(
            department=r.department, check_at=check_at, fulfilled_at=fulfilled,
            next_at=None if fulfilled is not None or r.status in ('closed', 'duplicate') else check_at))


def downgrade() -> None:
    op.drop_index('ix_supervision_orders_department', table_name='supervision_orders')
    op.drop_index('ix_supervision_orders_next', table_name='supervision_orders')
    with op.batch_alter_table('supervision_orders') as batch:
        for name in reversed(ORDER_COLUMNS):
            batch.drop_column(name)
        batch.drop_column('department')
    with op.batch_alter_table('appeals') as batch:
        batch.drop_column('acceptance_overdue')
        batch.drop_column('wait_due_at')
        batch.drop_column('waiting_since')
        batch.drop_column('returned_by')
