"""The monitor's claim of due alarms on PostgreSQL, against a command on the same record: a command locks its
record first and its alarms after; a claim that took the alarm and then waited for the record deadlocked
with it (seen in CI: a late reply and the monitor on the same appeal). The claim locks the alarm and its
record in one statement and skips what a command holds."""

import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.engine import make_url

from services.kernel import clock
from services.kernel.alarms import Alarms

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=clock.TZ)


@pytest.fixture
def pg(pg_url):
    name = f"xiaoneng_alarms_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    md = MetaData()
    records = Table("records", md, Column("id", Integer, primary_key=True), Column("state", String(20)))
    alarms = Alarms(md, records, "record_id")
    engine = sa.create_engine(make_url(pg_url).set(database=name))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(records), [{"id": 1, "state": "open"}, {"id": 2, "state": "open"}])
        for rid in (1, 2):
            conn.execute(insert(alarms.table).values(record_id=rid, kind="overdue", fire_at=NOW - timedelta(hours=1),
                                                     cancelled=False))
    yield engine, records, alarms
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.mark.postgres
def test_a_claim_skips_the_alarms_of_a_record_a_command_holds_and_never_waits(pg):
    engine, records, alarms = pg
    command = sa.orm.Session(engine)
    monitor = sa.orm.Session(engine)
    try:
        command.execute(select(records).where(records.c.id == 1).with_for_update())  # the command's lock
        monitor.execute(sa.text("SET LOCAL lock_timeout = '2s'"))  # a wait would fail the test, not hang it
        claimed = alarms.claim(monitor, NOW, 10, (records.c.state,))
        assert [r["record_id"] for r in claimed] == [2]
        monitor.execute(update(records).where(records.c.id == 2).values(state="overdue"))
        monitor.commit()
        # the command's own alarm (record 1) is still due, and its to fire
        command.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        pending = command.execute(select(alarms.table.c.id).where(alarms.table.c.record_id == 1,
                                                                   alarms.table.c.fired_at.is_(None))
                                  .with_for_update()).all()
        assert len(pending) == 1
        command.execute(update(alarms.table).where(alarms.table.c.record_id == 1).values(fired_at=NOW))
        command.commit()
    finally:
        command.close()
        monitor.close()
    with engine.connect() as conn:
        fired = conn.execute(select(alarms.table.c.record_id, alarms.table.c.fired_at)).all()
    assert sorted(r.record_id for r in fired if r.fired_at is not None) == [1, 2]


@pytest.mark.postgres
def test_a_command_waits_for_a_record_the_monitor_claimed_and_finds_its_alarm_fired(pg):
    engine, records, alarms = pg
    monitor = sa.orm.Session(engine)
    command = sa.orm.Session(engine)
    try:
        claimed = alarms.claim(monitor, NOW, 10, (records.c.state,))
        assert sorted(r["record_id"] for r in claimed) == [1, 2]
        command.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):  # it waits on the record itself
            command.execute(select(records).where(records.c.id == 1).with_for_update())
        command.rollback()
        monitor.commit()
        command.execute(select(records).where(records.c.id == 1).with_for_update())
        left = command.execute(select(alarms.table.c.id).where(alarms.table.c.record_id == 1,
                                                                alarms.table.c.fired_at.is_(None))).all()
        assert left == []
    finally:
        command.close()
        monitor.close()
