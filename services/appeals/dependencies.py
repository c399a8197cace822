"""Dependencies of the appeals service: its rules and working-day calendar, and the demo catalogue seed."""

from __future__ import annotations

import logging

from eventlet.event import Event
from nameko.extensions import DependencyProvider

from services.kernel.departments import DepartmentRegister
from services.kernel.seed import read_list, seed_empty
from services.kernel.service import Platform
from services.kernel.workcal import WorkCalendar

from .domain import AppealRules

log = logging.getLogger(__name__)

# how long a request that arrives while the service starts waits for the catalogue
READY_TIMEOUT = 30.0


class Settings:
    def __init__(self, rules: AppealRules, calendar: WorkCalendar, departments: DepartmentRegister | None = None):
        from .store import CatalogueCache

        self.rules = rules
        self.calendar = calendar
        self.departments = departments or DepartmentRegister(None)
        self.catalogue = CatalogueCache()
        self.recalculated_for: tuple[int, ...] | None = None  # the calendar years the monitor recalculated for

    def labels(self, platform: Platform):
        """The Chinese names an answer shows beside the codes: the catalogue's categories, the register's
        departments and town-streets (views.Labels)."""
        from .views import Labels

        with platform.session() as s:
            catalogue = self.catalogue.current(s)
        return Labels(catalogue, self.departments)


class AppealSettings(DependencyProvider):
    """Reads `APPEALS` (rules), `CALENDAR_FILE` and `DEPARTMENTS_FILE` (the department register) once per
    container."""

    def setup(self):
        cfg = self.container.config
        self.settings = Settings(AppealRules.from_config(cfg.get("APPEALS")),
                                 WorkCalendar.load(cfg.get("CALENDAR_FILE")),
                                 DepartmentRegister.load(cfg.get("DEPARTMENTS_FILE"), service="appeals"))
        self.ready = Event()

    def start(self):
        # nameko starts every extension at once: the web server may take requests before the catalogue is
        # seeded. Workers wait for `ready` (get_dependency), so an intake at start-up is not refused as an
        # unknown category.
        try:
            self._start()
        finally:
            self.ready.send(True)

    def _start(self):
        path = self.container.config.get("SEED_CATALOGUE")
        if path:
            seed_catalogue(Platform.of(self.container).db, path)
        register = self.settings.departments
        rules = self.settings.rules
        if register.codes is not None:
            from . import store

            with Platform.of(self.container).db.session() as s:
                unknown = sorted({r["department"] for r in store.list_rules(s)} - register.codes)
            if unknown:  # rules from before the register was set: shown, not deleted (an operator decides)
                log.warning("dispatch rules name departments not in the register %s: %s", register.source,
                            ", ".join(unknown))
        if register.codes is not None and not register.knows(rules.discipline_office):
            log.warning("the discipline office %s is not in the department register %s: efficiency complaints "
                        "go to it all the same", rules.discipline_office, register.source)

    def get_dependency(self, worker_ctx):
        # Not an exception here: nameko would lose the worker (and an HTTP caller would wait for ever). A start
        # that fails stops the container anyway.
        if not self.ready.ready():
            self.ready.wait(READY_TIMEOUT)
        return self.settings


def seed_catalogue(db, path: str) -> int:
    """Load a catalogue file into an empty catalogue; an edited catalogue is never touched."""
    from . import store

    return seed_empty(db, path, what="dispatch catalogue", has_rows=store.list_rules, upsert=store.upsert_rule)


def load_catalogue(path: str) -> list[dict]:
    """A catalogue seed file: a list of {category, category_name, department, town_street?, description?}."""
    return read_list(path, "dispatch catalogue")
