"""The use cases of the register of windows: put and list windows, check the window and badge a step names
(`check_step`, for the core's submission and window actions), and the windows' names every answer shows
(`names_of`: a short-lived cache per service instance)."""

from __future__ import annotations

import time
import weakref
from datetime import datetime

from services.kernel.errors import BadRequest
from services.kernel.seed import seed_empty

from . import domain, store
from .schemas import WindowIn

COMPREHENSIVE_ZH = "综合窗口"
# How long an instance trusts the windows' names it read (a rename through another instance shows within this)
NAMES_SECONDS = 2.0


class WindowNames:
    """The registered windows' names, read whole (a register is small) when older than `ttl` seconds."""

    def __init__(self, ttl: float = NAMES_SECONDS):
        self.ttl = ttl
        self._names: dict[str, str] = {}
        self._until = 0.0

    def warm(self, session) -> WindowNames:
        if time.monotonic() >= self._until:
            self._names = store.names(session)
            self._until = time.monotonic() + self.ttl
        return self

    def name(self, code: str) -> str | None:
        return self._names.get(code)

    def forget(self) -> None:
        self._until = 0.0


_NAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def names_of(settings) -> WindowNames:
    """The names cache of this service instance (one per settings object)."""
    names = _NAMES.get(settings)
    if names is None:
        names = _NAMES[settings] = WindowNames()
    return names


def present(row: dict, departments) -> dict:
    department = row["department"]
    return {**row, "comprehensive": department is None,
            "department_name": COMPREHENSIVE_ZH if department is None else departments.name(department)}


def put_window(db, settings, data: dict, now: datetime) -> dict:
    """Create or change a window by its code; this instance forgets the names it cached."""
    with db.unit_of_work() as uow:
        row = store.upsert(uow.session, data, now)
    names_of(settings).forget()
    return present(row, settings.departments)


def list_windows(session, settings, query: dict) -> list[dict]:
    return [present(r, settings.departments) for r in store.list_windows(session, **query)]


def check_step(session, data: dict, department: str) -> tuple[str | None, str | None]:
    """The window and badge a step names (each may be absent): 400 on `window` unless it is a registered, active
    window of `department` or a comprehensive one (the badge's form is the schema's)."""
    window, badge = data.get("window"), data.get("badge")
    if window is not None:
        why = domain.refusal(store.get(session, window), department)
        if why is not None:
            raise BadRequest({"window": [why]})
    return window, badge


def seed(db, path: str) -> int:
    """Load a window file into an empty register; an edited register is never touched."""
    return seed_empty(db, path, what="register of windows", has_rows=store.any_window, upsert=store.upsert,
                      schema=WindowIn)
