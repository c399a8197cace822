"""The settings of 好差评: `REVIEWS` in the approvals config (FOLLOW_UP_DAYS, default 15), read and checked once per
container."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from .domain import ReviewRules


class ReviewRulesProvider(DependencyProvider):
    def setup(self):
        self.rules = ReviewRules.from_config(self.container.config.get("REVIEWS"))

    def get_dependency(self, worker_ctx):
        return self.rules
