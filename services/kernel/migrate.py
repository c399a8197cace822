"""Each service's database schema under Alembic: its revisions live in `services/<service>/migrations/`, its
version table is `alembic_version_<service>`.

At start (`ensure_schema`): a fresh database gets the tables of the service's metadata and is stamped at the
head revision (zero set-up for SQLite development); a database at the head starts; a database behind the head
is refused with a message saying to run `make migrate` (`upgrade`), because several instances upgrading at
once on start would race and a failed upgrade is better seen by an operator than in a crash loop.
"""

from __future__ import annotations

import logging
import zlib
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection, Engine

from .db import Moment, create_db_engine, kernel_tables

log = logging.getLogger(__name__)

SERVICES_DIR = Path(__file__).resolve().parent.parent


class SchemaError(Exception):
    """The database cannot be used by this code as it is; the message says what to run."""


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def script_location(service: str) -> Path:
    return SERVICES_DIR / service / "migrations"


def alembic_config(service: str, connection: Connection | None = None, metadata: MetaData | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location(service)))
    cfg.attributes["service"] = service
    if connection is not None:
        cfg.attributes["connection"] = connection
    if metadata is not None:
        cfg.attributes["metadata"] = metadata
    return cfg


def head(service: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(service)).get_current_head()


def _with_kernel_tables(metadata: MetaData) -> MetaData:
    if "outbox" not in metadata.tables:
        kernel_tables(metadata)
    return metadata


def render_item(type_, obj, autogen_context):
    # Revisions must not depend on the kernel's Python types: a Moment is a timezone-aware DateTime on disk.
    if type_ == "type" and isinstance(obj, Moment):
        return "sa.DateTime(timezone=True)"
    return False


def outside_metadata(metadata: MetaData) -> set[str]:
    """Tables and indexes a service builds with its own DDL (a full-text search index), named in
    `metadata.info["outside_metadata"]`: the schema comparison passes over them."""
    return set(metadata.info.get("outside_metadata", ()))


def context_options(service: str, metadata: MetaData) -> dict:
    outside = outside_metadata(metadata)
    return {"target_metadata": metadata, "version_table": version_table(service), "render_item": render_item,
            "compare_type": True, "render_as_batch": True,
            "include_name": lambda name, type_, parent_names: name not in outside}


def differences(connection: Connection, service: str, metadata: MetaData) -> list:
    """What Alembic's autogenerate sees between the database and the metadata (empty: they match)."""
    opts = context_options(service, _with_kernel_tables(metadata))
    mc = MigrationContext.configure(connection, opts={k: v for k, v in opts.items() if k != "render_as_batch"})
    return compare_metadata(mc, metadata)


def current(connection: Connection, service: str) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": version_table(service)}) \
        .get_current_revision()


@contextmanager
def _locked(engine: Engine, service: str):
    """One connection in a transaction; on PostgreSQL it holds an advisory lock per service, so that
    instances starting together do not create or upgrade the same schema twice."""
    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({zlib.crc32(service.encode())})")
        yield conn


def _stamp(conn: Connection, service: str, metadata: MetaData) -> None:
    command.stamp(alembic_config(service, conn, metadata), "head")


def _adopt_or_create(conn: Connection, service: str, metadata: MetaData) -> str:
    tables = set(inspect(conn).get_table_names())
    ours = set(metadata.tables) & tables
    if ours:
        # Created by create_all before this service had migrations: take it over if it matches the code.
        metadata.create_all(conn, checkfirst=True)
        diffs = differences(conn, service, metadata)
        if diffs:
            raise SchemaError(
                f"the {service} database has tables but no {version_table(service)} table, and they differ from "
                f"the code ({len(diffs)} differences, first: {diffs[0]!r}); migrate it by hand or start from a "
                "fresh database (development: `make clean`)")
        _stamp(conn, service, metadata)
        return f"adopted the existing tables at revision {head(service)}"
    metadata.create_all(conn)
    _stamp(conn, service, metadata)
    return f"created the tables at revision {head(service)}"


def ensure_schema(engine: Engine, metadata: MetaData, service: str) -> str:
    """Called at start. Returns what it did; raises SchemaError when the database must be migrated first."""
    metadata = _with_kernel_tables(metadata)
    want = head(service) if (script_location(service) / "env.py").exists() else None
    if want is None:
        metadata.create_all(engine)  # a service without revisions yet
        return "created the tables (no revisions)"
    with _locked(engine, service) as conn:
        if version_table(service) not in inspect(conn).get_table_names():
            return _adopt_or_create(conn, service, metadata)
        have = current(conn, service)
    if have == want:
        return f"at revision {want}"
    raise SchemaError(
        f"the {service} database is at revision {have or 'none'} but this code needs {want}: run `make migrate` "
        f"(or `python -m deploy migrate {service}`) before starting {service}")


def upgrade(url_or_engine: str | Engine, metadata: MetaData, service: str) -> str:
    """`make migrate`: a fresh database is created and stamped, one behind the head is upgraded to it."""
    engine = create_db_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    metadata = _with_kernel_tables(metadata)
    try:
        want = head(service)
        with _locked(engine, service) as conn:
            if version_table(service) not in inspect(conn).get_table_names():
                return _adopt_or_create(conn, service, metadata)
            have = current(conn, service)
            if have == want:
                return f"at revision {want}, nothing to do"
            command.upgrade(alembic_config(service, conn, metadata), "head")
            return f"upgraded from {have} to {want}"
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def run_env(service: str, metadata: MetaData) -> None:
    """The body of every `services/<service>/migrations/env.py` (online mode only: a connection is needed)."""
    from alembic import context

    cfg = context.config
    metadata = cfg.attributes.get("metadata") or _with_kernel_tables(metadata)
    connection = cfg.attributes.get("connection")
    if connection is None:
        import os

        url = os.environ.get("XIAONENG_MIGRATE_URL") or cfg.get_main_option("sqlalchemy.url")
        if not url:
            raise SchemaError("set XIAONENG_MIGRATE_URL (the database to compare with or migrate)")
        engine = create_db_engine(url)
        with engine.connect() as conn:
            context.configure(connection=conn, **context_options(service, metadata))
            with context.begin_transaction():
                context.run_migrations()
        engine.dispose()
        return
    context.configure(connection=connection, **context_options(service, metadata))
    with context.begin_transaction():
        context.run_migrations()
