"""The exposure board's store of approvals' exposed supervision orders, on SQLite and PostgreSQL: the latest
revision of an order wins whatever order its snapshots arrive in (a redelivered or late older one changes
nothing), and the board pages appeals and orders as one list, newest exposure first."""

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.appeals import store as appeals_store
from services.appeals.exposure import store
from services.kernel import clock

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=clock.TZ)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, database_url):
    engine = sa.create_engine(database_url(request.param, "exposure"))
    appeals_store.metadata.create_all(engine)
    yield engine
    engine.dispose()


def snapshot(public_id: str, revision: int, exposed_hours_ago: int = 1, **changes) -> dict:
    return {"public_id": public_id, "revision": revision, "department": "SCJGJ", "item_code": "SCJ-001",
            "item_name": "食品经营许可", "problem": "请于11月28日前办结", "act_by": date(2026, 11, 28),
            "exposed_at": NOW - timedelta(hours=exposed_hours_ago), "rectified": False, "rectification": None,
            "rectified_on": None, "updated_at": NOW, **changes}


def test_the_latest_revision_wins_whatever_order_the_snapshots_arrive_in(engine):
    done = snapshot("a" * 20, 2, rectified=True, rectification="已办结", rectified_on=date(2026, 11, 27))
    with Session(engine) as s, s.begin():
        assert store.keep_supervision(s, snapshot("a" * 20, 1)) is True
        assert store.keep_supervision(s, done) is True
        assert store.keep_supervision(s, snapshot("a" * 20, 1)) is False  # late: the older one changes nothing
        assert store.keep_supervision(s, done) is False  # redelivered
        assert store.keep_supervision(s, snapshot("b" * 20, 2, rectified=True)) is True  # first seen: its 2nd
    with Session(engine) as s:
        [kind, row] = store.one(s, "JW", "a" * 20)
        assert (kind, row["revision"], row["rectified"], row["rectification"]) == (
            store.SUPERVISION, 2, True, "已办结")
        assert store.one(s, "JW", "c" * 20) is None


def test_the_board_pages_orders_newest_exposure_first_and_hides_the_discipline_offices(engine):
    with Session(engine) as s, s.begin():
        for i, hours in enumerate((5, 1, 3)):
            store.keep_supervision(s, snapshot(f"{i}" * 20, 1, exposed_hours_ago=hours))
        store.keep_supervision(s, snapshot("j" * 20, 1, exposed_hours_ago=0, department="JW"))
    with Session(engine) as s:
        first, total = store.board(s, "JW", 1, 2)
        second, _ = store.board(s, "JW", 2, 2)
        assert total == 3 and store.one(s, "JW", "j" * 20) is None
    assert [(k, r["public_id"]) for k, r in first + second] == [
        (store.SUPERVISION, "1" * 20), (store.SUPERVISION, "2" * 20), (store.SUPERVISION, "0" * 20)]
