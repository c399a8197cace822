"""Alembic environment of the notify service: its revisions are versions/, its version table
alembic_version_notify (services/kernel/migrate.py does the work)."""

from services.kernel.migrate import run_env
from services.notify.service import NotifyService

run_env("notify", NotifyService.platform.metadata)
