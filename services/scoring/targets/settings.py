"""The settings of target management: `TARGETS` in scoring's config (PLAN_DUE "MM-DD", default 02-28;
LATE_PLAN_DAYS, default 10; DUE_SOON_DAYS, default 7), read and checked once per container."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from services.kernel.config import ConfigError

from .domain import TargetConfigError, TargetRules


class TargetRulesProvider(DependencyProvider):
    def setup(self):
        try:
            self.rules = TargetRules.from_config(self.container.config.get("TARGETS"))
        except TargetConfigError as exc:
            raise ConfigError(str(exc)) from None

    def get_dependency(self, worker_ctx):
        return self.rules
