"""Each service's Alembic revisions build exactly the tables of its metadata, on SQLite and PostgreSQL; a fresh
database is created and stamped at start, an old create_all database is adopted, one behind the head is refused
until `make migrate` upgrades it."""

import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

from deploy.migrations import service_metadata, services_with_migrations
from services.kernel import migrate
from services.kernel.db import create_db_engine

SERVICES = services_with_migrations()


def test_every_service_has_migrations():
    assert SERVICES == ["appeals", "approvals", "notify", "scoring"]


def _upgrade_and_compare(engine, service):
    metadata = migrate._with_kernel_tables(service_metadata(service))
    with engine.connect() as conn, conn.begin():
        command.upgrade(migrate.alembic_config(service, conn, metadata), "head")
    with engine.connect() as conn:
        assert migrate.current(conn, service) == migrate.head(service)
        tables = set(sa.inspect(conn).get_table_names())
        assert tables - migrate.outside_metadata(metadata) == set(metadata.tables) | {migrate.version_table(service)}
        diffs = migrate.differences(conn, service, metadata)
    assert diffs == [], (f"{service}: its revisions do not build its metadata; write a revision "
                         f"(python -m deploy revision {service} -m '...'): {diffs}")


@pytest.mark.parametrize("service", SERVICES)
def test_revisions_build_the_metadata_on_sqlite(service, tmp_path):
    assert migrate.head(service), f"{service} has no revision"
    engine = create_db_engine(f"sqlite:///{tmp_path}/{service}.db")
    try:
        _upgrade_and_compare(engine, service)
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("service", SERVICES)
def test_revisions_build_the_metadata_on_postgresql(service, pg_admin, pg_url):
    name = f"xiaoneng_test_mig_{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_db_engine(make_url(pg_url).set(database=name).render_as_string(hide_password=False))
    try:
        _upgrade_and_compare(engine, service)
    finally:
        engine.dispose()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def approvals_db(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path}/approvals.db")
    yield engine, migrate._with_kernel_tables(service_metadata("approvals"))
    engine.dispose()


def test_a_fresh_database_is_created_and_stamped_at_start(approvals_db):
    engine, metadata = approvals_db
    assert migrate.ensure_schema(engine, metadata, "approvals").startswith("created the tables")
    with engine.connect() as conn:
        assert migrate.current(conn, "approvals") == migrate.head("approvals")
        assert migrate.differences(conn, "approvals", metadata) == []
    assert migrate.ensure_schema(engine, metadata, "approvals") == f"at revision {migrate.head('approvals')}"


def test_a_database_made_by_create_all_before_migrations_is_adopted(approvals_db):
    engine, metadata = approvals_db
    metadata.create_all(engine)
    assert migrate.ensure_schema(engine, metadata, "approvals").startswith("adopted")
    with engine.connect() as conn:
        assert migrate.current(conn, "approvals") == migrate.head("approvals")


def test_a_database_behind_the_head_is_refused_until_migrated(approvals_db):
    engine, metadata = approvals_db
    with engine.connect() as conn, conn.begin():
        command.upgrade(migrate.alembic_config("approvals", conn, metadata), "head")
        command.downgrade(migrate.alembic_config("approvals", conn, metadata), "base")
    with pytest.raises(migrate.SchemaError, match="run `make migrate`"):
        migrate.ensure_schema(engine, metadata, "approvals")
    assert migrate.upgrade(engine, metadata, "approvals").startswith("upgraded from None")
    assert migrate.ensure_schema(engine, metadata, "approvals") == f"at revision {migrate.head('approvals')}"


def test_a_database_whose_tables_differ_is_not_adopted(approvals_db):
    engine, metadata = approvals_db
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE outbox ADD COLUMN stray TEXT")
    with pytest.raises(migrate.SchemaError, match="differ from the code"):
        migrate.ensure_schema(engine, metadata, "approvals")


def test_make_migrate_creates_then_finds_nothing_to_do(tmp_path, monkeypatch, capsys):
    from deploy.__main__ import main as deploy_main

    for service in SERVICES:
        monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", f"sqlite:///{tmp_path}/{service}.db")
    assert deploy_main(["migrate"]) == 0
    first = capsys.readouterr().out
    assert deploy_main(["migrate"]) == 0
    second = capsys.readouterr().out
    for service in SERVICES:
        assert f"{service}: created the tables at revision {migrate.head(service)}" in first
        assert f"{service}: at revision {migrate.head(service)}, nothing to do" in second


def test_the_container_entry_point_reads_secrets_from_files(tmp_path):
    from deploy.entrypoint import secrets_from_files

    (tmp_path / "mq").write_text("s3cr3t\n")
    env = {"XIAONENG_MQ_PASSWORD_FILE": str(tmp_path / "mq"), "XIAONENG_DB_PASSWORD": "given", "OTHER_FILE": "x"}
    secrets_from_files(env)
    assert env["XIAONENG_MQ_PASSWORD"] == "s3cr3t" and env["XIAONENG_DB_PASSWORD"] == "given"
    assert "OTHER" not in env


def test_a_service_refuses_to_start_on_a_database_behind_the_code(service_config, container_factory):
    from services.scoring.service import ScoringService

    cfg = service_config("scoring")
    engine = create_db_engine(cfg["DATABASE_URL"])
    metadata = migrate._with_kernel_tables(service_metadata("scoring"))
    with engine.connect() as conn, conn.begin():
        command.upgrade(migrate.alembic_config("scoring", conn, metadata), "head")
        command.downgrade(migrate.alembic_config("scoring", conn, metadata), "base")
    engine.dispose()
    container = container_factory(ScoringService, cfg)
    with pytest.raises(migrate.SchemaError, match=r"scoring database is at revision none .* run `make migrate`"):
        container.start()


def test_the_appeals_search_index_follows_the_cases_after_a_downgrade_on_sqlite(tmp_path):
    """A downgrade that rebuilds `appeals` on SQLite (a batch) drops its triggers with the old table: revision
    0007's downgrade restores the search index's."""
    from services.appeals import store as appeals_store

    engine = sa.create_engine(f"sqlite:///{tmp_path}/appeals.db")
    metadata = appeals_store.metadata
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config("appeals", conn, metadata), "head")
        command.downgrade(migrate.alembic_config("appeals", conn, metadata), "0006")
    with engine.connect() as conn:
        triggers = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
    engine.dispose()
    assert {"appeals_search_ai", "appeals_search_ad", "appeals_search_au"} <= triggers
