"""`make migrate` / the container entry point: upgrade each service's database to the head revision."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def services_with_migrations() -> list[str]:
    return sorted(p.parent.parent.name for p in (ROOT / "services").glob("*/migrations/env.py"))


def service_metadata(service: str):
    module = importlib.import_module(f"services.{service}.service")
    for value in vars(module).values():
        platform = getattr(value, "platform", None)
        if isinstance(value, type) and getattr(value, "name", None) == service and hasattr(platform, "metadata"):
            return platform.metadata
    raise SystemExit(f"services.{service}.service has no service class named {service!r} with a platform")


def migrate_services(services: list[str] | None, *, config_dir: str | None = None,
                     config_paths: dict[str, str] | None = None) -> int:
    from services.kernel import migrate
    from services.kernel.config import ConfigError, load_config

    services = services or services_with_migrations()
    for service in services:
        path = (config_paths or {}).get(service) or (
            Path(config_dir) / f"{service}.yaml" if config_dir else ROOT / "services" / service / "config.yaml")
        try:
            url = load_config(path).get("DATABASE_URL")
        except ConfigError as exc:
            print(f"{service}: {exc}", file=sys.stderr)
            return 2
        if not url:
            print(f"{service}: no DATABASE_URL in {path}", file=sys.stderr)
            return 2
        try:
            outcome = migrate.upgrade(url, service_metadata(service), service)
        except migrate.SchemaError as exc:
            print(f"{service}: {exc}", file=sys.stderr)
            return 1
        print(f"{service}: {outcome}")
    return 0


def new_revision(service: str, message: str, rev_id: str | None = None) -> None:
    """Write the next revision of `service` by comparing its metadata with a scratch SQLite database at the
    current head (`make migration SERVICE=x MESSAGE="..."`). Read it before committing: Alembic cannot see
    renames, and data migrations are yours to write."""
    import tempfile

    from alembic import command

    from services.kernel import migrate
    from services.kernel.db import create_db_engine

    metadata = migrate._with_kernel_tables(service_metadata(service))
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(f"sqlite:///{tmp}/scratch.db")
        with engine.connect() as conn, conn.begin():
            cfg = migrate.alembic_config(service, conn, metadata)
            if migrate.head(service):
                command.upgrade(cfg, "head")
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
