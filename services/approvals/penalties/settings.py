"""The settings of penalties: `PENALTIES` in the approvals config (filing limit, what is major), read and checked once
per container; and the seed of an empty catalogue of bases at start (SEED_PENALTY_BASES)."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from services.kernel.service import Platform

from . import usecases
from .domain import PenaltyRules


class PenaltyRulesProvider(DependencyProvider):
    def setup(self):
        self.rules = PenaltyRules.from_config(self.container.config.get("PENALTIES"))

    def get_dependency(self, worker_ctx):
        return self.rules


class PenaltyBasesSeed(DependencyProvider):
    """Loads SEED_PENALTY_BASES (a YAML list of bases) into an empty catalogue at start (make run: the demo bases).
    Dependencies start before entrypoints: the catalogue is there before the first request."""

    def start(self):
        path = self.container.config.get("SEED_PENALTY_BASES")
        if path:
            usecases.seed(Platform.of(self.container).db, path)

    def get_dependency(self, worker_ctx):
        return None
