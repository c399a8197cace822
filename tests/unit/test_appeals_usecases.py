"""The appeals use cases without a broker or a web server: an appeal's alarm reaction as the domain decides it,
and the use cases (handlers.py) run on a SQLite file in a unit of work, the way the entrypoints call them."""

from datetime import datetime, timedelta

import pytest

from services.appeals import handlers, store
from services.appeals.dependencies import Settings
from services.appeals.domain import (
    ALARM_ESCALATION,
    ALARM_LAST_DAY,
    ALARM_OVERDUE,
    ALARM_WAIT_ESCALATION,
    ALARM_WAIT_OVERDUE,
    ALARM_WAIT_WARNING,
    Appeal,
    AppealRules,
    escalation_moment,
)
from services.kernel.clock import TZ
from services.kernel.db import Database
from services.kernel.domain import SYSTEM, Actor
from services.kernel.outcome import KEEP, Event, add_alarms
from services.kernel.workcal import WorkCalendar

CAL = WorkCalendar.load(None)
RULES = AppealRules()
NOW = datetime(2026, 11, 20, 10, tzinfo=TZ)
OPERATOR = Actor("op", "operator", None)
HANDLER = Actor("h", "department_handler", "ZJJ")


def _row(**kw):
    row = dict(id=1, case_no="MY1", type="help", urgency="normal", category="road", department="ZJJ",
               status="dispatched", clock_started_at=datetime(2026, 11, 4, 10, tzinfo=TZ), limit_days=3,
               due_at=datetime(2026, 11, 9, 23, 59, 59, 999999, tzinfo=TZ), overdue=False, urged_at=None)
    row.update(kw)
    return row


# -- the alarm reaction (domain) ----------------------------------------------------------------------

def test_a_warning_only_tells():
    out = Appeal(_row(), CAL, RULES).on_alarm(ALARM_LAST_DAY, NOW)
    assert out.changes == {} and out.events == [Event("appeal.deadline_warning", {"kind": "last_day"})]
    assert out.alarms == KEEP


def test_overdue_urges_and_schedules_the_escalation():
    moment = datetime(2026, 11, 10, tzinfo=TZ)
    out = Appeal(_row(), CAL, RULES).on_alarm(ALARM_OVERDUE, moment)
    assert out.action == "overdue_urged" and out.changes == {"overdue": True, "urged_at": moment}
    assert [e.type for e in out.events] == ["appeal.overdue", "appeal.urged"]
    # the escalation is added; the warnings still unfired stay (they happened before, as their moments say)
    assert out.alarms == add_alarms([(ALARM_ESCALATION, escalation_moment(CAL, RULES, moment))])


def test_escalation_only_of_an_overdue_case_and_nothing_once_the_clock_stopped():
    urged = datetime(2026, 11, 10, tzinfo=TZ)
    out = Appeal(_row(overdue=True, urged_at=urged), CAL, RULES).on_alarm(ALARM_ESCALATION, NOW)
    assert out.changes == {"escalated_at": NOW} and out.events == [Event("appeal.escalated", {"urged_at": urged})]
    assert Appeal(_row(), CAL, RULES).on_alarm(ALARM_ESCALATION, NOW) is None
    assert Appeal(_row(status="replied"), CAL, RULES).on_alarm(ALARM_OVERDUE, NOW) is None


def test_the_monitor_dates_an_overdue_alarm_at_the_due_time_also_after_a_grace():
    appeal = Appeal(_row(), CAL, RULES)
    late = NOW + timedelta(days=3)
    assert appeal.claimed_alarm_moment(ALARM_OVERDUE, late, late) == _row()["due_at"] + timedelta(microseconds=1)
    assert appeal.claimed_alarm_moment(ALARM_LAST_DAY, late, late) == late


def test_an_efficiency_warning_carries_only_the_case_it_came_from():
    row = {**_row(), "id": 7}
    payload, route = store.OUTCOMES.event(None, row, Event("efficiency_warning.issued", {"unit": "ZJJ"}), NOW)
    assert payload == {"appeal_id": "7", "case_no": "MY1", "unit": "ZJJ"}
    assert route == {"department": "ZJJ", "occurred_at": NOW}


# -- the use cases on a database ----------------------------------------------------------------------

@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/appeals.db", store.metadata, service="appeals")
    database.create_all()
    with database.unit_of_work() as uow:
        store.upsert_rule(uow.session, {"category": "road", "department": "ZJJ", "category_name": "道路"}, NOW)
    yield database
    database.dispose()


@pytest.fixture
def settings():
    return Settings(RULES, CAL)


def _intake(**kw):
    data = dict(channel="hotline", external_ref=None, type="help", urgency="normal", category="road",
                content="路灯坏了", appellant={"name": "王小明", "phone": "13812345678"}, location={},
                attachments=[], subject_department=None, received_at=None, public=None, public_address=False)
    data.update(kw)
    return data


def test_intake_dispatches_by_the_catalogue_and_links_a_repeat_call(db, settings):
    with db.unit_of_work() as uow:
        created, first = handlers.take_in(uow, settings, _intake(), OPERATOR, NOW)
        assert [e["event_type"] for e in uow.published] == ["appeal.received", "appeal.dispatched"]
    assert created and first.row["status"] == "dispatched" and first.row["department"] == "ZJJ"
    with db.unit_of_work() as uow:
        created, again = handlers.take_in(uow, settings, _intake(), OPERATOR, NOW + timedelta(hours=1))
        assert [e["event_type"] for e in uow.published] == ["appeal.duplicate_linked"]
    assert created and again.row["status"] == "duplicate" and again.duplicate_case_no == first.row["case_no"]


def test_a_late_reply_fires_the_alarms_it_came_after_first(db, settings):
    received = datetime(2026, 11, 2, 10, tzinfo=TZ)  # 3 working days: due 5 November
    with db.unit_of_work() as uow:
        _, record = handlers.take_in(uow, settings, _intake(received_at=received), OPERATOR, NOW)
    aid = record.row["id"]
    with db.unit_of_work() as uow:
        handlers.run_command(uow, settings, aid, lambda a, at, who: a.accept(at, who), HANDLER, "ZJJ",
                             received + timedelta(days=1), NOW)
    with db.unit_of_work() as uow:
        record = handlers.run_command(uow, settings, aid, lambda a, at, who: a.reply("已修复", at, who), HANDLER,
                                      "ZJJ", datetime(2026, 11, 9, 10, tzinfo=TZ), NOW)
        types = [e["event_type"] for e in uow.published]
    assert types == ["appeal.deadline_warning", "appeal.deadline_warning", "appeal.overdue", "appeal.urged",
                     "appeal.replied"]
    assert record.row["overdue"] is True and record.row["status"] == "replied"
    with db.session() as s:
        history = store.history_of(s, aid)
        assert [h["action"] for h in history][-2:] == ["overdue_urged", "reply"]
        # the reply cancelled the escalation; the hotline centre's call-back clock runs now
        assert sorted(kind for _, kind in store.pending_alarms(s, aid)) == [
            ALARM_WAIT_ESCALATION, ALARM_WAIT_OVERDUE, ALARM_WAIT_WARNING]


def test_the_monitor_writes_a_burst_of_alarms_as_one_alarm_would(db, settings):
    received = datetime(2026, 11, 2, 10, tzinfo=TZ)
    ids = []
    for n in range(3):
        with db.unit_of_work() as uow:
            _, record = handlers.take_in(uow, settings, _intake(appellant={"phone": f"1390000000{n}"},
                                                               received_at=received), OPERATOR, NOW)
        ids.append(record.row["id"])
    with db.unit_of_work() as uow:
        claimed = handlers.fire_due_alarms(uow, settings, NOW)
        types = [e["event_type"] for e in uow.published]
    # each: its acceptance limit missed, two warnings, overdue (never signed for)
    assert claimed == 12 and types.count("appeal.overdue") == 3 and types.count("appeal.deadline_warning") == 6
    assert types.count("appeal.acceptance_overdue") == 3
    with db.session() as s:
        for aid in ids:
            row = store.get(s, aid)
            assert row["overdue"] is True and row["urged_at"] == row["due_at"] + timedelta(microseconds=1)
            assert row["acceptance_overdue"] is True
            assert [kind for _, kind in store.pending_alarms(s, aid)] == [ALARM_ESCALATION]
            lines = [(h["action"], h["at"], h["actor"]) for h in store.history_of(s, aid)]
            assert lines[-1] == ("overdue_urged", NOW, SYSTEM.name)
    with db.unit_of_work() as uow:  # five working days after the urging, also long past
        assert handlers.fire_due_alarms(uow, settings, NOW) == 3
        assert [e["event_type"] for e in uow.published] == ["appeal.escalated"] * 3
    with db.unit_of_work() as uow:
        assert handlers.fire_due_alarms(uow, settings, NOW) == 0


# -- the hotline centre's clocks and supervision orders on a database (#13) --------------------------------

CAL_2027 = WorkCalendar.from_dict(
    {"years": {2027: {"holidays": ["2027-01-01", "2027-02-06..2027-02-12"], "workdays": ["2027-02-20"]}}})


def test_a_wait_that_ran_into_a_year_without_schedule_gets_its_clock_when_the_year_comes(db, settings):
    replied_at = datetime(2026, 12, 30, 10, tzinfo=TZ)  # the call-back's three working days run into 2027
    with db.unit_of_work() as uow:
        _, record = handlers.take_in(uow, settings, _intake(received_at=replied_at - timedelta(days=1)), OPERATOR,
                                     replied_at)
    aid = record.row["id"]
    with db.unit_of_work() as uow:
        handlers.run_command(uow, settings, aid, lambda a, at, who: a.accept(at, who), HANDLER, "ZJJ", None,
                             replied_at - timedelta(hours=1))
        row = handlers.run_command(uow, settings, aid, lambda a, at, who: a.reply("已修复", at, who), HANDLER, "ZJJ",
                                   None, replied_at).row
    assert row["waiting_since"] == replied_at and row["wait_due_at"] is None
    with db.session() as s:
        assert aid in store.calendar_pending(s)
        assert store.pending_alarms(s, aid) == []
        assert store.calendar_waiting(s) == [(None, 1)]  # counted on /health and the console (the year after 2026)
    with db.unit_of_work() as uow:  # still no 2027: nothing to do, nothing written
        assert handlers.recalculate(uow, settings, [aid], replied_at) == (0, 0)
    later = Settings(RULES, CAL_2027)
    with db.unit_of_work() as uow:
        assert handlers.recalculate(uow, later, [aid], replied_at) == (1, 0)
    with db.session() as s:
        row = store.get(s, aid)
        assert row["wait_due_at"] == datetime(2027, 1, 5, 23, 59, 59, 999999, tzinfo=TZ)  # 31 Dec, 4 Jan, 5 Jan
        assert sorted(kind for _, kind in store.pending_alarms(s, aid)) == [
            ALARM_WAIT_ESCALATION, ALARM_WAIT_OVERDUE, ALARM_WAIT_WARNING]
        assert store.history_of(s, aid)[-1]["action"] == "recalculate"
        assert aid not in store.calendar_pending(s)
        assert store.calendar_waiting(s) == [(None, 0)]


def test_a_case_no_rule_dispatches_waits_for_an_operator_on_the_redispatch_clock(db, settings):
    with db.unit_of_work() as uow:
        store.upsert_rule(uow.session, {"category": "parks", "town_street": "WCJD", "department": "WCJD",
                                        "category_name": "园林"}, NOW)
    with db.unit_of_work() as uow:
        _, record = handlers.take_in(uow, settings, _intake(category="parks"), OPERATOR, NOW)  # no town-street
    row = record.row
    assert row["status"] == "awaiting_dispatch" and row["waiting_since"] == NOW
    with db.session() as s:
        assert sorted(kind for _, kind in store.pending_alarms(s, row["id"])) == [
            ALARM_WAIT_ESCALATION, ALARM_WAIT_OVERDUE, ALARM_WAIT_WARNING]
    with db.unit_of_work() as uow:  # the monitor, a week later: warned, overdue, escalated, once each
        handlers.fire_due_alarms(uow, settings, NOW + timedelta(days=7))
        types = [e["event_type"] for e in uow.published]
        assert all(e["payload"]["department"] is None for e in uow.published)
    assert types == ["appeal.dispatch_warning", "appeal.dispatch_overdue", "appeal.dispatch_escalated"]
    with db.unit_of_work() as uow:
        assert handlers.fire_due_alarms(uow, settings, NOW + timedelta(days=8)) == 0


def test_an_order_is_checked_once_by_the_timer_or_by_the_step_reported_after_it(db, settings):
    from services.appeals.supervision import usecases as orders

    monitor = Actor("m", "monitor", None)
    with db.unit_of_work() as uow:
        _, record = handlers.take_in(uow, settings, _intake(type="complaint"), OPERATOR, NOW)
    aid = record.row["id"]
    order = {"act_by": datetime(2026, 11, 24).date(), "note": "限期办结", "exposed": False}
    with db.unit_of_work() as uow:
        handlers.record_supervision_order(uow, settings, aid, order, monitor, None, None, NOW)
    with db.unit_of_work() as uow:  # the day before: nothing
        assert orders.check_due_orders(uow, settings, datetime(2026, 11, 23, 23, tzinfo=TZ)) == 0
    with db.unit_of_work() as uow:  # its last working day (Tuesday 24th, act_by itself) begins: the warning
        assert orders.check_due_orders(uow, settings, datetime(2026, 11, 24, 0, 1, tzinfo=TZ)) == 1
        assert [e["event_type"] for e in uow.published] == ["appeal.supervision_warning"]
    with db.unit_of_work() as uow:  # nothing due until the end of act_by
        assert orders.check_due_orders(uow, settings, datetime(2026, 11, 24, 23, tzinfo=TZ)) == 0
    with db.unit_of_work() as uow:  # a reply reported after act_by: the overdue notice first, at its moment
        handlers.run_command(uow, settings, aid, lambda a, at, who: a.accept(at, who), HANDLER, "ZJJ", None,
                             datetime(2026, 11, 25, 9, tzinfo=TZ))
        published = [(e["event_type"], e["occurred_at"]) for e in uow.published]
    assert published[0] == ("appeal.supervision_overdue", "2026-11-25T00:00:00+08:00")
    with db.unit_of_work() as uow:
        assert orders.check_due_orders(uow, settings, datetime(2026, 11, 30, tzinfo=TZ)) == 0
    with db.session() as s:
        (listed,), total = orders.find_orders(s, {"state": "overdue"})
        assert total == 1 and listed["overdue_at"] == datetime(2026, 11, 25, tzinfo=TZ)
