"""Seed files: a YAML list (a demo or first-install catalogue, register, …) loaded into an empty table, never over
data someone has edited through the API since."""

from __future__ import annotations

import logging
from collections.abc import Callable

import yaml

from . import clock

log = logging.getLogger(__name__)


def read_list(path: str, what: str) -> list:
    """The YAML list in `path`; a clear error naming the file when it holds something else."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or []
    if not isinstance(data, list):
        raise ValueError(f"{path}: the {what} is a list of entries")
    return data


def seed_empty(db, path: str, *, what: str, has_rows: Callable, upsert: Callable, schema=None) -> int:
    """Load the list in `path` with `upsert(session, entry, now)` when `has_rows(session)` finds the table empty,
    each entry validated by the marshmallow `schema` class when one is given, all in one unit of work. Returns how
    many entries were loaded (0 when the table already had data)."""
    with db.unit_of_work() as uow:
        if has_rows(uow.session):
            return 0
        entries = read_list(path, what)
        if schema is not None:
            entries = schema(many=True).load(entries)
        now = clock.now()
        for entry in entries:
            upsert(uow.session, entry, now)
    log.info("%s seeded with %d entries from %s", what, len(entries), path)
    return len(entries)
