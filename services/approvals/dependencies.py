"""Dependencies of the approvals service: its rules and working-day calendar, and the demo item seed."""

from __future__ import annotations

import logging
import time

import yaml
from nameko.extensions import DependencyProvider

from services.kernel.workcal import WorkCalendar

from .domain import Item, Rules

log = logging.getLogger(__name__)

# How long an instance trusts the items it read: every action needs its item, which changes rarely; an edit
# made through this instance applies at once, one made through another instance within this many seconds.
ITEM_CACHE_SECONDS = 2.0


class ItemCache:
    """The catalogue items this instance read lately (known ones only: an unknown code is asked again)."""

    def __init__(self, ttl: float = ITEM_CACHE_SECONDS):
        self.ttl = ttl
        self._items: dict[str, tuple[Item, float]] = {}

    def get(self, session, code: str) -> Item | None:
        from . import store

        hit = self._items.get(code)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        row = store.get_item(session, code)
        if row is None:
            return None
        item = store.item_of(row)
        self._items[code] = (item, now + self.ttl)
        return item

    def forget(self) -> None:
        self._items.clear()


class Settings:
    def __init__(self, rules: Rules, calendar: WorkCalendar):
        self.rules = rules
        self.calendar = calendar
        self.items = ItemCache()


class ApprovalSettings(DependencyProvider):
    """Reads `APPROVALS` (rules) and `CALENDAR_FILE` once per container."""

    def setup(self):
        cfg = self.container.config
        self.settings = Settings(Rules.from_config(cfg.get("APPROVALS")), WorkCalendar.load(cfg.get("CALENDAR_FILE")))

    def start(self):
        # Dependencies start before entrypoints: the catalogue is there before the first request.
        path = self.container.config.get("SEED_ITEMS")
        if path:
            seed_items(self._database(), path)

    def _database(self):
        from services.kernel.service import Platform

        return next(d for d in self.container.dependencies if isinstance(d, Platform)).db

    def get_dependency(self, worker_ctx):
        return self.settings


def seed_items(db, path: str) -> int:
    """Load an item file into an empty catalogue; an edited catalogue is never touched."""
    from services.kernel import clock

    from . import store
    from .schemas import ItemIn

    with db.unit_of_work() as uow:
        if store.list_items(uow.session):
            return 0
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or []
        if not isinstance(data, list):
            raise ValueError(f"{path}: the item catalogue is a list of items")
        loaded = ItemIn(many=True).load(data)
        for item in loaded:
            store.upsert_item(uow.session, item, clock.now())
    log.info("approval item catalogue seeded with %d items from %s", len(loaded), path)
    return len(loaded)
