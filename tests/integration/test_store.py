"""The database layer on both backends: moments keep their time zone, a unit of work commits state,
outbox and inbox together or not at all, and a second handling of an event is refused."""

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from services.kernel.contracts import parse_event
from services.kernel.db import Database, Moment, kernel_tables
from services.kernel.messaging import AlreadyProcessed

PAYLOAD = {"appeal_id": "1", "case_no": "MY1", "channel": "web", "type": "help", "urgency": "normal",
           "category": "c", "received_at": "2026-11-25T10:00:00+08:00"}


def _metadata():
    md = MetaData()
    kernel_tables(md)
    Table("things", md, Column("id", Integer, primary_key=True), Column("name", String(50)),
          Column("at", Moment()))
    return md


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/store.db"
    else:
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url

        pg_url = request.getfixturevalue("pg_url")
        name = f"xiaoneng_store_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        request.addfinalizer(lambda: _drop(admin, name))
    database = Database(url, _metadata(), service="appeals")
    database.create_all()
    yield database
    database.dispose()


def _drop(admin, name):
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _count(db, table):
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_moments_keep_their_instant_and_come_back_in_shanghai(db):
    things = db.metadata.tables["things"]
    at = datetime(2026, 9, 30, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    with db.unit_of_work() as uow:
        uow.session.execute(insert(things).values(name="x", at=at))
    with db.session() as s:
        back = s.execute(select(things.c.at)).scalar_one()
    assert back == at and back.utcoffset() == timedelta(hours=8)
    with pytest.raises(Exception, match="naive"), db.unit_of_work() as uow:
        uow.session.execute(insert(things).values(name="y", at=datetime(2026, 1, 1)))


def test_state_and_events_commit_together_or_not_at_all(db):
    things = db.metadata.tables["things"]
    with pytest.raises(RuntimeError), db.unit_of_work() as uow:
        uow.session.execute(insert(things).values(name="lost"))
        uow.publish("appeal.received", PAYLOAD)
        raise RuntimeError("crash before commit")
    assert (_count(db, things), _count(db, db.outbox)) == (0, 0)
    woken = []
    db.on_commit_with_events(lambda: woken.append(1))
    with db.unit_of_work() as uow:
        uow.session.execute(insert(things).values(name="kept"))
        uow.publish("appeal.received", PAYLOAD)
    assert (_count(db, things), _count(db, db.outbox), woken) == (1, 1, [1])


def test_a_consumer_handles_an_event_once(db):
    things = db.metadata.tables["things"]
    with db.unit_of_work() as uow:
        event = parse_event(uow.publish("appeal.received", PAYLOAD))
    with db.unit_of_work(consumed=event, consumer="svc.handler") as uow:
        uow.session.execute(insert(things).values(name="effect"))
    with pytest.raises(AlreadyProcessed), db.unit_of_work(consumed=event, consumer="svc.handler") as uow:
        uow.session.execute(insert(things).values(name="again"))
    # another consumer of the same event is a different handling
    with db.unit_of_work(consumed=event, consumer="svc.other") as uow:
        uow.session.execute(insert(things).values(name="other"))
    assert _count(db, things) == 2
    assert _count(db, db.inbox) == 2
