"""Revision 0006 builds exactly the tables of target management (services/scoring/targets/store.py), on SQLite and
PostgreSQL, and its downgrade removes them; the claims of the monitor run on both."""

import uuid
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

from deploy.migrations import service_metadata
from services.kernel import migrate
from services.kernel.clock import TZ
from services.kernel.db import create_db_engine

TABLES = {"targets", "target_units", "target_milestones", "target_plans", "target_reports", "target_history"}


def _ours(diff) -> bool:
    """A difference that concerns a table of target management (the other revisions are not this test's)."""
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item if isinstance(item, tuple) else (item,):
            table = getattr(part, "table", None)
            name = getattr(part, "name", None) if isinstance(part, sa.Table) else getattr(table, "name", None)
            if name in TABLES or (isinstance(part, str) and part in TABLES):
                return True
    return False


def _upgrade_check_downgrade(engine):
    metadata = migrate._with_kernel_tables(service_metadata("scoring"))
    with engine.connect() as conn, conn.begin():
        command.upgrade(migrate.alembic_config("scoring", conn, metadata), "0006")
    with engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) >= TABLES
        assert [d for d in migrate.differences(conn, "scoring", metadata) if _ours(d)] == []
    _claims(engine)
    with engine.connect() as conn, conn.begin():
        command.downgrade(migrate.alembic_config("scoring", conn, metadata), "0005")
    with engine.connect() as conn:
        assert not TABLES & set(sa.inspect(conn).get_table_names())


def _claims(engine):
    """The monitor's queries on the real dialect: one due plan and one due milestone are found and claimed."""
    from sqlalchemy.orm import Session

    from services.scoring.targets import store

    due = datetime(2026, 3, 1, tzinfo=TZ)
    now = due + timedelta(hours=1)
    with Session(engine) as s, s.begin():
        tid = store.add(s, store.targets, dict(
            year=2026, title="任务", standard="标准", lead_unit="D1", co_units=[], steps=["措施"], assessment="考核",
            weight=None, points=None, state="plan_pending", plan_due_at=due, plan_check_at=due,
            plan_submitted_at=None, plan_late=None, plan_overdue_at=None, plan_revision=0, created_by="t",
            created_at=due, updated_at=due))
        store.add(s, store.target_milestones, dict(target_id=tid, due_on=date(2026, 2, 28), what="节点", due_at=due,
                                                  check_at=due, done_at=None, done_late=None, overdue_at=None,
                                                  updated_at=due))
        store.set_units(s, tid, "D1", ["D2"])
    with Session(engine) as s, s.begin():
        assert store.any_due(s, now) and not store.any_due(s, due - timedelta(seconds=1))
        assert [t["id"] for t in store.claim_plans(s, now, 10)] == [tid]
        assert len(store.claim_milestones(s, now, 10)) == 1
        assert store.list_targets(s, department="D2")[1] == 1 and store.list_targets(s, department="D3")[1] == 0


def test_revision_0006_builds_the_target_tables_on_sqlite(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path}/scoring.db")
    try:
        _upgrade_check_downgrade(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_revision_0006_builds_the_target_tables_on_postgresql(pg_admin, pg_url):
    name = f"xiaoneng_test_tgt_{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_db_engine(make_url(pg_url).set(database=name).render_as_string(hide_password=False))
    try:
        _upgrade_check_downgrade(engine)
    finally:
        engine.dispose()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
