"""The settings of the sanctions register: `SANCTIONS` in scoring's config (REVIEW_DAYS, default 15) and what each
kind of measure costs, from the rule file's `sanctions:` section (RULES_FILE, default services/scoring/rules.yaml:
versioned with the rest of the rules), read and checked once per container (domain.SanctionRules)."""

from __future__ import annotations

import yaml
from nameko.extensions import DependencyProvider

from services.kernel.config import ConfigError

from ..domain import rules_path
from .domain import SanctionRules


class SanctionRulesProvider(DependencyProvider):
    def setup(self):
        cfg = self.container.config
        path = rules_path(cfg)
        try:
            with open(path, encoding="utf-8") as fh:
                rules = yaml.safe_load(fh) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"RULES_FILE {path}: {exc}") from None
        if not isinstance(rules, dict):
            raise ConfigError(f"RULES_FILE {path}: not a mapping")
        self.rules = SanctionRules.from_config(cfg.get("SANCTIONS"), rules)

    def get_dependency(self, worker_ctx):
        return self.rules
