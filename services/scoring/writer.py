"""Group commit of consumed events: the handlers running at the same moment (up to max_workers) write their
facts and inbox records in one transaction instead of one each, which is what lets the service keep up with
a city's event stream on SQLite. Each handler still returns (and its message is acknowledged) only after
the transaction holding its event committed; an event already in the inbox adds nothing (idempotent). The kernel's
Batched bounds each handler's wait to the batch in progress and its own, however long the stream lasts."""

from __future__ import annotations

import logging

from sqlalchemy import insert, select

from services.kernel import clock
from services.kernel.db import Batched

from . import store

log = logging.getLogger(__name__)

inbox = store.metadata.tables["inbox"]


class FactWriter(Batched):
    def __init__(self, db, consumer: str):
        super().__init__()
        self.db = db
        self.consumer = consumer

    def write(self, event, rows: list[dict]) -> bool:
        """Record `event` as consumed with its fact rows; False when it had been consumed before."""
        return self.submit(event, rows)

    def commit(self, batch: list[tuple]) -> None:
        try:
            results = self._transaction(batch)
        except Exception:
            log.warning("a batch of %d events failed; writing them one by one", len(batch), exc_info=True)
            for one in batch:
                try:
                    one[2].send(self._transaction([one])[0])
                except Exception as exc:  # this event's handler fails: retried, then parked, by the kernel
                    one[2].send_exception(exc)
            return
        for (_, _, done), result in zip(batch, results, strict=True):
            done.send(result)

    def _transaction(self, batch: list[tuple]) -> list[bool]:
        now = clock.now()
        ids = [event.event_id for event, _, _ in batch]
        with self.db.engine.begin() as conn:
            # SQLite: BEGIN IMMEDIATE holds the write lock, so nothing comes in between the look-up and the
            # insert; PostgreSQL: a concurrent instance's insert makes this batch fail, and one by one it passes
            seen = {r[0] for r in conn.execute(select(inbox.c.event_id).where(
                inbox.c.consumer == self.consumer, inbox.c.event_id.in_(ids)))}
            results, records, facts = [], [], []
            for event, rows, _ in batch:
                new = event.event_id not in seen
                seen.add(event.event_id)  # the same event twice in one batch (a redelivery) counts once
                results.append(new)
                if new:
                    records.append({"consumer": self.consumer, "event_id": event.event_id,
                                    "event_type": event.event_type, "processed_at": now})
                    facts += [{**r, "recorded_at": now} for r in rows]
            if records:
                conn.execute(insert(inbox), records)
            if facts:
                conn.execute(insert(store.facts), facts)
        return results
