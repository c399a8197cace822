"""Indexed next-check times of a service's records (deadline alarms): scheduled with each state change,
claimed by a monitor when due (several instances never claim the same), fired once, cancelled when moot.
No periodic scan: the monitor's idle tick is one search on the covering index of due alarms."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from . import clock
from .db import Moment
from .direct import Direct


class Alarms:
    """The `alarms` table of a service whose records live in `owner` (e.g. appeals), keyed by `owner_key`."""

    def __init__(self, metadata: MetaData, owner: Table, owner_key: str):
        self.owner = owner
        self.owner_key = owner_key
        # A late report (a case or an action sent in with a past time) schedules alarms whose moment has
        # passed; they fire this long after instead of at once, so that the rest of the late report (the
        # reply, the decision) can arrive first. Set from LATE_REPORT_GRACE_SECONDS by the Platform.
        self.late_grace = timedelta(0)
        # called with the claimed rows and the moment of claiming (the Platform's alarm-latency metric)
        self.on_claim = None
        metadata.info.setdefault("alarms", []).append(self)
        t = self.table = Table(
            "alarms", metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column(owner_key, Integer, ForeignKey(f"{owner.name}.id"), nullable=False),
            Column("kind", String(40), nullable=False),
            Column("fire_at", Moment(), nullable=False),
            Column("fired_at", Moment()),
            Column("cancelled", Boolean, nullable=False, default=False),
        )
        Index("ix_alarms_due", t.c.fired_at, t.c.cancelled, t.c.fire_at)
        Index(f"ix_alarms_{owner_key.removesuffix('_id')}", t.c[owner_key])
        # built once: building a SQLAlchemy construct costs more than running it
        self._insert = Direct(insert(t))  # the intake adds alarms to every case
        self._cancel = update(t).where(t.c[owner_key] == bindparam("owner"), t.c.fired_at.is_(None),
                                       t.c.cancelled.is_(False)).values(cancelled=True)

    def cancel(self, session: Session, owner_id: int) -> None:
        """Cancel the unfired alarms of a record (its clock stopped or ended)."""
        session.execute(self._cancel, {"owner": owner_id})

    def add(self, session: Session, entries: Iterable[tuple[int, str, datetime | None]]) -> None:
        """Add alarms, each (record id, kind, moment); entries without a moment are left out."""
        rows = [{self.owner_key: owner_id, "kind": kind, "fire_at": at, "cancelled": False}
                for owner_id, kind, at in entries if at is not None]
        if rows and self.late_grace:
            now = clock.now()
            for row in rows:
                if row["fire_at"] < now:
                    row["fire_at"] = now + self.late_grace
        if rows:
            self._insert.run_many(session, rows)

    def schedule(self, session: Session, owner_id: int, moments: Iterable[tuple[str, datetime | None]]) -> None:
        """Replace the unfired alarms of a record with these moments (past ones fire at the next tick)."""
        self.cancel(session, owner_id)
        self.add(session, [(owner_id, kind, at) for kind, at in moments])

    def claim(self, session: Session, now: datetime, limit: int, columns: tuple = ()) -> list[dict]:
        """Alarms whose moment has come, oldest first, claimed for this transaction (other instances skip
        them) and marked fired in it: one query and one update however many. Each row has `alarm_id`, the
        owner key, `kind`, `fire_at`, and the owner's `columns` if asked for (read in the same query)."""
        t = self.table
        q = select(t.c.id.label("alarm_id"), t.c[self.owner_key], t.c.kind, t.c.fire_at, *columns)
        if columns:
            q = q.join(self.owner, self.owner.c.id == t.c[self.owner_key])
        # With the owner's columns the owner's rows are locked too, in the same statement, and alarms whose
        # record a command holds are skipped: a command locks its record first and its alarms after, so a
        # monitor that took the alarm and then waited for the record would deadlock with it (PostgreSQL).
        # The command fires what it finds due itself (a late report), or the next tick does.
        locked = (t, self.owner) if columns else t
        q = (q.where(t.c.fired_at.is_(None), t.c.cancelled.is_(False), t.c.fire_at <= now)
             .order_by(t.c.fire_at).limit(limit).with_for_update(skip_locked=True, of=locked))
        rows = [dict(r) for r in session.execute(q).mappings()]
        if rows:
            session.execute(update(t).where(t.c.id.in_([r["alarm_id"] for r in rows])).values(fired_at=now))
            if self.on_claim is not None:
                self.on_claim(rows, now)
        return rows

    def unclaim(self, session: Session, alarm_ids: list[int]) -> None:
        """Give claimed alarms back, unfired (their record was busy): the next tick takes them."""
        if alarm_ids:
            session.execute(update(self.table).where(self.table.c.id.in_(alarm_ids)).values(fired_at=None))
