"""The settings of enforcement inspections: `ENFORCEMENT` in the approvals config (MAX_PER_ENTERPRISE, PERIOD,
RESULT_DAYS, MATCH_DAYS, DEPARTMENTS), read and checked once per container (a bad value stops the start); and the
seed of an empty register of certificates (SEED_CERTIFICATES) at start."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from services.kernel.service import Platform

from . import usecases
from .domain import EnforcementRules


class EnforcementRulesProvider(DependencyProvider):
    def setup(self):
        self.rules = EnforcementRules.from_config(self.container.config.get("ENFORCEMENT"))

    def start(self):
        # dependencies start before entrypoints: the certificates are there before the first request
        path = self.container.config.get("SEED_CERTIFICATES")
        if path:
            usecases.seed_certificates(Platform.of(self.container).db, path)

    def get_dependency(self, worker_ctx):
        return self.rules
