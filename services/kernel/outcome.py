"""What a domain command decides, and the one way it is written.

A command of an aggregate (an appeal's reply, an application's acceptance, an alarm's reaction) returns an
`Outcome`: the column changes, the events, one history line, and what becomes of the record's alarms. It
decides and writes nothing. `apply_outcome` writes an outcome in the caller's unit of work: the changes, the
history line, the alarms and the events commit together (the outbox) or not at all.

A service describes its tables once, in an `OutcomeStore`; appeals and approvals use the same
`apply_outcome` and differ only there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol


class Event(NamedTuple):
    """An event a command causes: its type and the command's part of the payload (the service adds the
    figures every event of its record carries, in one place: `OutcomeStore.event`)."""

    type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class AlarmPlan:
    """What becomes of a record's unfired alarms: kept (the default), kept with `moments` added, cancelled, or
    replaced by `moments` (each (kind, moment); moments already past fire at the monitor's next tick)."""

    cancel: bool = False
    moments: tuple[tuple[str, datetime | None], ...] = ()

    @property
    def replaces(self) -> bool:
        return self.cancel and bool(self.moments)


KEEP = AlarmPlan()
CANCEL = AlarmPlan(cancel=True)


def replace_alarms(moments: Iterable[tuple[str, datetime | None]]) -> AlarmPlan:
    """Cancel the unfired alarms and schedule these instead."""
    return AlarmPlan(cancel=True, moments=tuple(moments))


def add_alarms(moments: Iterable[tuple[str, datetime | None]]) -> AlarmPlan:
    """Keep the unfired alarms and schedule these as well."""
    return AlarmPlan(cancel=False, moments=tuple(moments))


@dataclass
class Outcome:
    """What a command does. `action` names the history line, `details` is its content."""

    action: str
    changes: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    alarms: AlarmPlan = KEEP


class AlarmTable(Protocol):
    """A record's alarms (the kernel's `alarms.Alarms`; the domain needs no database to name it)."""

    def cancel(self, session, owner_id: int) -> None: ...

    def add(self, session, entries: Iterable[tuple[int, str, datetime | None]]) -> None: ...

    def schedule(self, session, owner_id: int, moments: Iterable[tuple[str, datetime | None]]) -> None: ...


class OutcomeStore(Protocol):
    """How one service's records take an outcome."""

    alarms: AlarmTable
    state_column: str

    def update(self, session, record_id: int, changes: dict[str, Any]) -> None: ...

    def add_history(self, session, record_id: int, *, at: datetime, now: datetime, actor, action: str,
                    from_state: str | None, to_state: str | None, details: dict[str, Any]) -> None: ...

    def event(self, session, new_row: dict[str, Any], event: Event,
              at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        """The full payload of `event` for the record as it now is, and the keyword arguments of
        `uow.publish` (the department, the moment it occurred)."""
        ...


def apply_outcome(uow, store: OutcomeStore, row: dict[str, Any], outcome: Outcome, actor, at: datetime,
                  now: datetime) -> dict[str, Any]:
    """Write `outcome` of a command on the record `row` in `uow`: the changes (and `updated_at`), one history
    line at `at` (when it happened; `now` when it was recorded), the alarm plan, and the events. Returns the
    record's row as it now is."""
    session = uow.session
    changes = {**outcome.changes, "updated_at": now}
    store.update(session, row["id"], changes)
    new = {**row, **changes}
    store.add_history(session, row["id"], at=at, now=now, actor=actor, action=outcome.action,
                      from_state=row[store.state_column], to_state=new[store.state_column],
                      details=outcome.details)
    plan = outcome.alarms
    if plan.replaces:
        store.alarms.schedule(session, row["id"], plan.moments)
    elif plan.cancel:
        store.alarms.cancel(session, row["id"])
    elif plan.moments:
        store.alarms.add(session, [(row["id"], kind, moment) for kind, moment in plan.moments])
    for event in outcome.events:
        payload, route = store.event(session, new, event, at)
        uow.publish(event.type, payload, **route)
    return new
