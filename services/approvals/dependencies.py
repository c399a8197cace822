"""Dependencies of the approvals service: its rules and working-day calendar, and the demo item seed."""

from __future__ import annotations

import logging
import time

from nameko.extensions import DependencyProvider

from services.kernel.departments import DepartmentRegister
from services.kernel.seed import seed_empty
from services.kernel.service import Platform
from services.kernel.workcal import WorkCalendar

from .domain import Item, Rules
from .rectification.domain import RectificationRules

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


# How long the window system's references of its actions are kept (days) when ACTION_REFS.KEEP_DAYS is not set.
ACTION_REFS_KEEP_DAYS = 7.0


class Settings:
    def __init__(self, rules: Rules, calendar: WorkCalendar, action_refs_keep_days: float = ACTION_REFS_KEEP_DAYS,
                 rectification: RectificationRules | None = None, departments: DepartmentRegister | None = None):
        self.rules = rules
        # the register of organisations (DEPARTMENTS_FILE): the departments' names in the answers
        self.departments = departments or DepartmentRegister(None)
        self.rectification = rectification or RectificationRules()
        self.calendar = calendar
        self.action_refs_keep_days = action_refs_keep_days
        self.items = ItemCache()
        self.recalculated_for: tuple[int, ...] | None = None  # the calendar years the monitor recalculated for


class ApprovalSettings(DependencyProvider):
    """Reads `APPROVALS` (rules), `CALENDAR_FILE`, `ACTION_REFS`, `RECTIFICATION` and `DEPARTMENTS_FILE` (the
    register of organisations, for names) once per container."""

    def setup(self):
        cfg = self.container.config
        self.settings = Settings(Rules.from_config(cfg.get("APPROVALS")), WorkCalendar.load(cfg.get("CALENDAR_FILE")),
                                 action_refs_keep_days(cfg.get("ACTION_REFS")),
                                 RectificationRules.from_config(cfg.get("RECTIFICATION")),
                                 DepartmentRegister.load(cfg.get("DEPARTMENTS_FILE"), service="approvals", quiet=True))

    def start(self):
        # Dependencies start before entrypoints: the catalogue is there before the first request.
        path = self.container.config.get("SEED_ITEMS")
        if path:
            seed_items(Platform.of(self.container).db, path)

    def get_dependency(self, worker_ctx):
        return self.settings


def action_refs_keep_days(cfg: dict | None) -> float:
    """`ACTION_REFS.KEEP_DAYS`: a positive number of days (absent or empty: the default). A window system retries
    within minutes; a week covers an outage over a holiday weekend."""
    value = (cfg or {}).get("KEEP_DAYS")
    if value is None or value == "":
        return ACTION_REFS_KEEP_DAYS
    try:
        days = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"ACTION_REFS.KEEP_DAYS must be a number of days, not {value!r}") from None
    if not days > 0:
        raise ValueError(f"ACTION_REFS.KEEP_DAYS must be more than 0, not {value!r}")
    return days


def seed_items(db, path: str) -> int:
    """Load an item file into an empty catalogue; an edited catalogue is never touched."""
    from . import store
    from .schemas import ItemIn

    return seed_empty(db, path, what="approval item catalogue", has_rows=store.list_items, upsert=store.upsert_item,
                      schema=ItemIn)
