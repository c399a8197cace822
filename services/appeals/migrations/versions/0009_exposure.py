"""the exposure board (#15): a public id for every case that is or may still be exposed. Cases taken in before
0004 have none, and only an open case can be supervised: each open or exposed case without one gets a random one
(as the intake gives every case), so that the board never shows a case number. No schema change.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# domain.OPEN as of this revision (a revision does not import the code it migrates for)
OPEN = ('awaiting_dispatch', 'return_pending', 'dispatched', 'accepted', 'replied')
BATCH = 1000

appeals = sa.table('appeals', sa.column('id', sa.Integer()), sa.column('public_id', sa.String(32)),
                   sa.column('status', sa.String(32)), sa.column('exposed', sa.Boolean()))


def upgrade() -> None:
    bind = op.get_bind()
    ids = bind.execute(sa.select(appeals.c.id).where(
        appeals.c.public_id.is_(None), sa.or_(appeals.c.exposed.is_(True), appeals.c.status.in_(OPEN)))
        .order_by(appeals.c.id)).scalars().all()
    give = sa.update(appeals).where(appeals.c.id == sa.bindparam('aid')).values(public_id=sa.bindparam('pid'))
    for start in range(0, len(ids), BATCH):
        # random, not derived from the id: the board's ids cannot be counted through
        bind.execute(give, [{'aid': aid, 'pid': secrets.token_hex(10)} for aid in ids[start:start + BATCH]])


def downgrade() -> None:
    # the ids handed out stay: opaque, harmless, and a link someone kept still finds its case after an upgrade
    pass
