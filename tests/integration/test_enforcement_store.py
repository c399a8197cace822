"""Enforcement inspections' guarantees at the database, on both backends: 扰企 is claimed once per enterprise and
period whoever asks, an inspection's alert is stored once per rule, the enterprise's inspections are counted across
departments (refused ones not), and two instances' timers never claim the same due inspection (PostgreSQL)."""

from datetime import date, datetime, timedelta

import pytest

from services.approvals import store as core
from services.approvals.enforcement import store
from services.kernel.clock import TZ
from tests.integration.test_approvals_store import db  # noqa: F401  the sqlite / postgresql fixture

NOW = datetime(2026, 11, 10, 9, 0, tzinfo=TZ)


def _inspection(db, department="SCJGJ", key="code:X", day=date(2026, 11, 3), state="approved",  # noqa: F811
                check_at=None) -> int:
    with db.unit_of_work() as uow:
        return store.add(uow.session, {
            "department": department, "enterprise": "某公司", "enterprise_key": key, "inspectors": ["A-01", "A-02"],
            "planned_on": day, "state": state, "registered_by": "t", "registered_at": NOW, "updated_at": NOW,
            "check_at": check_at, "external_ref": None})


def test_crowding_is_claimed_once_per_enterprise_and_period(db):  # noqa: F811
    first = _inspection(db)
    with db.unit_of_work() as uow:
        assert store.claim_crowding(uow.session, "code:X", "2026-11", first, NOW) is True
    with db.unit_of_work() as uow:
        assert store.claim_crowding(uow.session, "code:X", "2026-11", first + 1, NOW) is False
        assert store.claim_crowding(uow.session, "code:X", "2026-12", first, NOW) is True
    with db.unit_of_work() as uow:
        a = core.raise_subject_alert(uow.session, "inspection", str(first), department="SCJGJ",
                                     level="irregularity", rule="too_many_inspections", at=NOW, details={})
        b = core.raise_subject_alert(uow.session, "inspection", str(first), department="SCJGJ",
                                     level="irregularity", rule="too_many_inspections", at=NOW, details={})
    assert a is not None and b is None


def test_the_count_spans_departments_and_leaves_refused_out(db):  # noqa: F811
    _inspection(db)
    _inspection(db, department="ZJJ", day=date(2026, 11, 30))
    _inspection(db, state="refused")
    _inspection(db, day=date(2026, 12, 1))
    _inspection(db, key="name:别家")
    with db.session() as s:
        assert store.count_in_period(s, "code:X", date(2026, 11, 1), date(2026, 12, 1)) == 2


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite serialises writers: no second claimer
def test_due_inspections_are_claimed_by_one_timer_only(db):  # noqa: F811
    assert db.engine.dialect.name == "postgresql"
    ids = {_inspection(db, check_at=NOW - timedelta(minutes=1)) for _ in range(2)}
    _inspection(db, check_at=NOW + timedelta(days=1))
    with db.unit_of_work() as first:
        assert store.any_due(first.session, NOW)
        claimed = store.claim_due(first.session, NOW, 10)
        with db.unit_of_work() as second:
            assert store.claim_due(second.session, NOW, 10) == []
    assert {r["id"] for r in claimed} == ids
