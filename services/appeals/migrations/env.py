"""Alembic environment of the appeals service: its revisions are versions/, its version table
alembic_version_appeals (services/kernel/migrate.py does the work)."""

from services.appeals.service import AppealsService
from services.kernel.migrate import run_env

run_env("appeals", AppealsService.platform.metadata)
