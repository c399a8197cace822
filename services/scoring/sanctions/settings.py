"""The settings of the sanctions register: `SANCTIONS` in scoring's config (REVIEW_DAYS, default 15; EFFECTS_FILE,
default effects.yaml beside this module), read and checked once per container (domain.SanctionRules)."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from .domain import SanctionRules


class SanctionRulesProvider(DependencyProvider):
    def setup(self):
        self.rules = SanctionRules.from_config(self.container.config.get("SANCTIONS"))

    def get_dependency(self, worker_ctx):
        return self.rules
