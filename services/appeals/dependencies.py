"""Dependencies of the appeals service: its rules and working-day calendar, and the demo catalogue seed."""

from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider

from services.kernel.seed import read_list, seed_empty
from services.kernel.service import Platform
from services.kernel.workcal import WorkCalendar

from .domain import Rules

log = logging.getLogger(__name__)


class Settings:
    def __init__(self, rules: Rules, calendar: WorkCalendar):
        from .store import CatalogueCache

        self.rules = rules
        self.calendar = calendar
        self.catalogue = CatalogueCache()
        self.recalculated_for: tuple[int, ...] | None = None  # the calendar years the monitor recalculated for


class AppealSettings(DependencyProvider):
    """Reads `APPEALS` (rules) and `CALENDAR_FILE` once per container."""

    def setup(self):
        cfg = self.container.config
        self.settings = Settings(Rules.from_config(cfg.get("APPEALS")), WorkCalendar.load(cfg.get("CALENDAR_FILE")))

    def start(self):
        # Dependencies start before entrypoints: the catalogue is there before the first request.
        path = self.container.config.get("SEED_CATALOGUE")
        if path:
            seed_catalogue(Platform.of(self.container).db, path)

    def get_dependency(self, worker_ctx):
        return self.settings


def seed_catalogue(db, path: str) -> int:
    """Load a catalogue file into an empty catalogue; an edited catalogue is never touched."""
    from . import store

    return seed_empty(db, path, what="dispatch catalogue", has_rows=store.list_rules, upsert=store.upsert_rule)


def load_catalogue(path: str) -> list[dict]:
    """A catalogue seed file: a list of {category, category_name, department, town_street?, description?}."""
    return read_list(path, "dispatch catalogue")
