"""The key projects' own configuration, read once per container."""

from __future__ import annotations

from nameko.extensions import DependencyProvider


class ProjectSettings(DependencyProvider):
    """`PROJECTS.SELF_CHECK_DUE_DAY`: last monthly self-check report day of the following month (default 5)."""

    def setup(self):
        cfg = self.container.config.get("PROJECTS") or {}
        day = int(cfg.get("SELF_CHECK_DUE_DAY") or 5)
        if not 1 <= day <= 28:
            raise ValueError("PROJECTS.SELF_CHECK_DUE_DAY must be a day from 1 to 28")
        self.due_day = day

    def get_dependency(self, worker_ctx):
        return self
