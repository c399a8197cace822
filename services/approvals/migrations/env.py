"""Alembic environment of the approvals service: its revisions are versions/, its version table
alembic_version_approvals (services/kernel/migrate.py does the work)."""

from services.approvals.service import ApprovalsService
from services.kernel.migrate import run_env

run_env("approvals", ApprovalsService.platform.metadata)
