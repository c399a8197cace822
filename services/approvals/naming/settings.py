"""The rule file of the satisfied windows (NAMING_RULES_FILE, default services/approvals/naming.yaml): the standard,
read and checked once per container at start (a broken file stops the service from starting)."""

from __future__ import annotations

from pathlib import Path

import yaml
from nameko.extensions import DependencyProvider

from .domain import RulesError, Standard

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "naming.yaml"


def load(path: str | Path | None) -> Standard:
    path = Path(path or DEFAULT_FILE)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"NAMING_RULES_FILE {path}: {exc}") from None
    if not isinstance(doc, dict) or set(doc) - {"standard"}:
        raise RulesError(f"NAMING_RULES_FILE {path}: one key, standard")
    try:
        return Standard.from_config(doc.get("standard"))
    except RulesError as exc:
        raise RulesError(f"NAMING_RULES_FILE {path}: {exc}") from None


class NamingRulesProvider(DependencyProvider):
    def setup(self):
        self.standard = load(self.container.config.get("NAMING_RULES_FILE"))

    def get_dependency(self, worker_ctx):
        return self.standard
