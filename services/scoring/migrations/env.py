"""Alembic environment of the scoring service: its revisions are versions/, its version table
alembic_version_scoring (services/kernel/migrate.py does the work)."""

from services.kernel.migrate import run_env
from services.scoring.service import ScoringService

run_env("scoring", ScoringService.platform.metadata)
