"""Dependencies of the appeals service: its rules and working-day calendar, and the demo catalogue seed."""

from __future__ import annotations

import logging

import yaml
from nameko.extensions import DependencyProvider

from services.kernel.workcal import WorkCalendar

from .domain import Rules

log = logging.getLogger(__name__)


class Settings:
    def __init__(self, rules: Rules, calendar: WorkCalendar):
        from .store import CatalogueCache

        self.rules = rules
        self.calendar = calendar
        self.catalogue = CatalogueCache()


class AppealSettings(DependencyProvider):
    """Reads `APPEALS` (rules) and `CALENDAR_FILE` once per container."""

    def setup(self):
        cfg = self.container.config
        self.settings = Settings(Rules.from_config(cfg.get("APPEALS")), WorkCalendar.load(cfg.get("CALENDAR_FILE")))

    def start(self):
        # Dependencies start before entrypoints: the catalogue is there before the first request.
        path = self.container.config.get("SEED_CATALOGUE")
        if path:
            seed_catalogue(self._database(), path)

    def _database(self):
        from services.kernel.service import Platform

        return next(d for d in self.container.dependencies if isinstance(d, Platform)).db

    def get_dependency(self, worker_ctx):
        return self.settings


def seed_catalogue(db, path: str) -> int:
    """Load a catalogue file into an empty catalogue; an edited catalogue is never touched."""
    from services.kernel import clock

    from . import store

    with db.unit_of_work() as uow:
        if store.list_rules(uow.session):
            return 0
        rules = load_catalogue(path)
        for rule in rules:
            store.upsert_rule(uow.session, rule, clock.now())
    log.info("dispatch catalogue seeded with %d rules from %s", len(rules), path)
    return len(rules)


def load_catalogue(path: str) -> list[dict]:
    """A catalogue seed file: a list of {category, category_name, department, town_street?, description?}."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or []
    if not isinstance(data, list):
        raise ValueError(f"{path}: the catalogue is a list of rules")
    return data
