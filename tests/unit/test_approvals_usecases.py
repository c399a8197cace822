"""The approvals use cases (handlers.py) on a real SQLite unit of work, without nameko or a broker: a window
action, a refusal's irregularity, a due alarm firing a card into the outbox, and the domain's reaction to each
alarm. `Driver` (used by test_approvals_domain.py too) drives one application through the same use cases as the
service's entrypoints."""

import atexit
import functools
import json
import shutil
import tempfile
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from services.approvals import handlers, store
from services.approvals.dependencies import Settings
from services.approvals.domain import (
    CALENDAR_UNAVAILABLE,
    DEEMED_ACCEPTANCE,
    RED_CARD,
    SPECIAL_PROCEDURE_OVERRUN,
    YELLOW_CARD,
    ActionOutcome,
    Actor,
    Alert,
    Irregularity,
    Item,
    Rules,
)
from services.kernel.clock import TZ
from services.kernel.db import Database
from services.kernel.domain import IllegalTransition
from services.kernel.errors import Conflict, NotFound
from services.kernel.workcal import WorkCalendar

CAL = WorkCalendar.load(None)
# every action below reaches the server at NOW, months after its `at`: late reports (迟报) are off here and tested in
# tests/unit/test_approvals_late_reports.py
RULES = Rules(late_report_after=None)
NOW = datetime(2026, 12, 31, 12, tzinfo=TZ)  # the server's clock: after every action below
WINDOW = Actor("w1", "window", "SCJ")
ITEM = Item("SCJ-001", "食品经营许可", "SCJ", statutory_limit=20, committed_limit=5, materials=("M1", "M2", "M3"))


def t(month, day, hour=10, minute=0, year=2026):
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def midnight(month, day, year=2026):
    return datetime(year, month, day, tzinfo=TZ)


@functools.cache
def _folder() -> str:
    folder = tempfile.mkdtemp(prefix="approvals-usecases-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def database() -> Database:
    """A SQLite database of its own (the monitor's tick fires every due alarm of a database)."""
    db = Database(f"sqlite:///{_folder()}/{uuid.uuid4().hex}.db", store.metadata, service="approvals")
    db.create_all()
    atexit.register(db.dispose)
    return db


class Catalogue:
    """The catalogue a Driver's settings read its one item from (as `ItemCache` reads the items table)."""

    def __init__(self, *items: Item):
        self.items = {item.code: item for item in items}

    def get(self, session, code: str) -> Item | None:
        return self.items.get(code)


class Driver:
    """One application driven through the use cases, as the service's entrypoints drive them: submitted with
    `handlers.submit`, then each window action (any `Application` command, called with its arguments, `at` and
    the actor) with `handlers.run_action`. Each answers the outcome written; `row` and `app` are read back from
    the database, `published` from its outbox."""

    def __init__(self, item=ITEM, received_at=None, calendar=CAL, rules=RULES, now=NOW):
        self.db, self.now = database(), now
        self.settings = Settings(rules, calendar)
        self.settings.items = Catalogue(item)
        self.outcomes: list[ActionOutcome] = []
        data = {"external_ref": f"T-{uuid.uuid4().hex[:12]}", "item_code": item.code,
                "at": received_at or t(9, 28, 9), "materials": ["M1"], "service_point": "city_center",
                "applicant": {"name": "张三", "kind": "person", "id_number": "330102199001011234"},
                "green_channel": False, "project_code": None}
        with self.db.unit_of_work() as uow:
            created, app = handlers.submit(uow, self.settings, data, WINDOW, now)
        assert created
        self.id = app.row["id"]

    @property
    def row(self) -> dict:
        with self.db.session() as s:
            return store.get(s, self.id)

    @property
    def app(self):
        with self.db.session() as s:
            return handlers.load_application(self.settings, s, store.get(s, self.id), self.now)

    @property
    def published(self) -> list[dict]:
        """The events in the outbox, in order."""
        with self.db.session() as s:
            bodies = s.execute(select(store.metadata.tables["outbox"].c.body).order_by("id")).scalars()
            return [json.loads(body) for body in bodies]

    def alarms(self) -> list[tuple[str, datetime]]:
        """The alarms scheduled and not yet fired, in order."""
        a = store.alarms.c
        with self.db.session() as s:
            rows = s.execute(select(a.kind, a.fire_at).where(a.application_id == self.id, a.fired_at.is_(None),
                                                             a.cancelled.is_(False)).order_by(a.fire_at, a.id))
            return [tuple(r) for r in rows]

    def alerts(self) -> list[dict]:
        with self.db.session() as s:
            return store.list_alerts(s, application_id=self.id, per_page=100)[0]

    def fire(self, now) -> int:
        """The monitor's tick at `now`."""
        return handlers.fire_due_alarms(self.db, self.settings, now)

    def __getattr__(self, command):
        if command not in handlers.ACTIONS:
            raise AttributeError(command)

        def run(*args):
            *values, at, actor = args
            data = {**dict(zip(handlers.ACTIONS[command], values, strict=True)), "at": at}
            done = handlers.run_action(self.db, self.settings, self.id, command, data, actor, self.now)
            self.outcomes.append(done.outcome)
            return done.outcome
        return run


def accepted(at, item=ITEM, **kw):
    d = Driver(item, received_at=at - timedelta(hours=1), **kw)
    d.accept(at, WINDOW)
    return d


# -- run_action ---------------------------------------------------------------------------------------------


def test_a_window_action_writes_state_history_alarms_and_its_event_in_one_unit_of_work():
    d = Driver(received_at=t(9, 30, 9))
    out = d.accept(t(9, 30), WINDOW)
    assert isinstance(out, ActionOutcome) and d.row["state"] == "accepted"
    assert d.alarms() == list(out.alarms.moments) and (YELLOW_CARD, midnight(10, 14)) in d.alarms()
    with d.db.session() as s:
        assert [h["action"] for h in store.history_of(s, d.id)] == ["submit", "accept"]
    accepted_event = d.published[-1]
    assert accepted_event["event_type"] == "application.accepted"
    assert accepted_event["payload"]["application_no"] == d.row["application_no"]
    assert accepted_event["payload"]["limit_days"] == 5 and accepted_event["source"]["department"] == "SCJ"


def test_a_window_action_on_another_departments_application_is_not_found():
    d = Driver()
    with pytest.raises(NotFound):
        handlers.run_action(d.db, d.settings, d.id, "accept", {"at": t(9, 28, 10)}, WINDOW, d.now, scope="ZJJ")
    assert d.row["state"] == "submitted"


def test_a_refused_action_stores_its_irregularity_all_the_same():
    d = Driver()
    with pytest.raises(IllegalTransition):
        d.decide(True, None, t(9, 28, 11), WINDOW)
    assert d.row["state"] == "submitted"
    [alert] = d.alerts()
    assert alert["level"] == "irregularity" and alert["details"]["refused"] is True
    assert alert["rule"].startswith("decision_without_acceptance@")
    irregular = d.published[-1]
    assert irregular["event_type"] == "monitor.irregularity" and irregular["payload"]["refused"] is True


# -- the monitor ----------------------------------------------------------------------------------------------


def test_a_due_yellow_card_becomes_one_alert_and_one_event_in_the_outbox():
    d = accepted(t(9, 30))
    assert d.fire(midnight(10, 14)) >= 2  # the warning of 13 October and the yellow card
    levels = sorted(a["level"] for a in d.alerts())
    assert levels == ["yellow"]  # the warning found the application overdue already: only the card is true
    cards = [e for e in d.published if e["event_type"] == "monitor.yellow_card"]
    assert len(cards) == 1 and cards[0]["payload"]["rule"] == YELLOW_CARD
    assert cards[0]["payload"]["due_at"] == "2026-10-13T23:59:59.999999+08:00"
    assert d.alarms() == [(RED_CARD, midnight(10, 21))]
    d.fire(midnight(10, 14))  # nothing due any more: nothing new
    assert len([e for e in d.published if e["event_type"] == "monitor.yellow_card"]) == 1


def test_a_due_deemed_acceptance_accepts_the_application_by_law():
    d = Driver(Item("B", "b", "SCJ", statutory_limit=20), received_at=t(11, 2))
    assert d.alarms() == [(DEEMED_ACCEPTANCE, midnight(11, 10))]
    d.fire(midnight(11, 10))
    row = d.row
    assert row["state"] == "accepted" and row["deemed_accepted"] is True and row["clock_started_at"] == t(11, 2)
    assert d.published[-1]["event_type"] == "application.accepted"
    assert (YELLOW_CARD, midnight(12, 1)) in d.alarms()


def test_what_the_domain_makes_of_each_alarm():
    d = Driver(Item("B", "b", "SCJ", statutory_limit=20), received_at=t(11, 2))
    submitted = d.app
    assert submitted.on_alarm(YELLOW_CARD, midnight(12, 1)) is None  # no clock yet
    assert submitted.on_alarm(DEEMED_ACCEPTANCE, t(11, 9, 20)) is None  # the notice period has not ended
    deemed = submitted.on_alarm(DEEMED_ACCEPTANCE, midnight(11, 10))
    assert isinstance(deemed, ActionOutcome) and deemed.changes["deemed_accepted"] is True
    a = accepted(t(9, 28, 9))
    a.start_special_procedure("hearing", t(9, 29, 10), WINDOW)
    app = a.app
    assert app.on_alarm(YELLOW_CARD, midnight(10, 14)) == Alert("yellow", "monitor.yellow_card", YELLOW_CARD)
    overrun = app.on_alarm(SPECIAL_PROCEDURE_OVERRUN, t(11, 28, 10, 1))
    assert isinstance(overrun, Irregularity) and overrun.code == SPECIAL_PROCEDURE_OVERRUN
    calendar = app.on_alarm(CALENDAR_UNAVAILABLE, t(11, 28))
    assert calendar.level == "warning" and calendar.rule == CALENDAR_UNAVAILABLE and "2027" in calendar.details["error"]
    with pytest.raises(ValueError):
        app.on_alarm("lunch_break", t(11, 28))
    a.end_special_procedure(t(10, 9, 15), WINDOW)
    a.decide(True, None, t(10, 9, 16), WINDOW)
    assert a.app.on_alarm(RED_CARD, midnight(10, 21)) is None  # decided: the monitor has nothing to say
    assert deemed.alarms.replaces  # the clock's moments instead of the deemed acceptance


def test_a_submission_dated_in_the_future_is_refused_and_alerted_about_the_submission():
    d = Driver(now=t(11, 2, 10))
    data = {"external_ref": "F-1", "item_code": ITEM.code, "at": t(11, 3), "materials": [], "green_channel": False,
            "service_point": "city_center", "project_code": None,
            "applicant": {"name": "李四", "kind": "person", "id_number": "330102199001011234"}}
    with pytest.raises(IllegalTransition):
        handlers.receive_application(d.db, d.settings, data, WINDOW, d.now)
    with d.db.session() as s:
        assert store.find_by_ref(s, "F-1") is None
        [alert] = store.list_alerts(s, subject="submission")[0]
    assert alert["subject_ref"] == "F-1" and alert["rule"] == "future_time"  # one per submission
    assert d.published[-1]["event_type"] == "monitor.irregularity"
    assert d.published[-1]["payload"]["external_ref"] == "F-1"
    data["at"] = t(11, 2, 9)
    assert handlers.receive_application(d.db, d.settings, data, WINDOW, d.now)[0] is True
    assert handlers.receive_application(d.db, d.settings, data, WINDOW, d.now)[0] is False  # the same ref again


def test_the_list_filters_by_the_computed_light():
    d = accepted(t(9, 30))
    query = {"department": None, "state": None, "page": 1, "per_page": 10}
    views, total = handlers.list_applications(d.db, d.settings, {**query, "light": "yellow"}, t(10, 13, 9))
    assert total == 1 and views[0]["id"] == d.id and views[0]["clock"]["light"] == "yellow"
    assert handlers.list_applications(d.db, d.settings, {**query, "light": "green"}, t(10, 13, 9)) == ([], 0)
    assert handlers.list_applications(d.db, d.settings, {**query, "light": None}, t(10, 13, 9))[1] == 1


# -- the window system's references of its actions -----------------------------------------------------------


def _history(d) -> list[str]:
    with d.db.session() as s:
        return [h["action"] for h in store.history_of(s, d.id)]


def test_an_action_ref_digests_the_content_not_its_spelling():
    from datetime import UTC

    same = handlers.ActionRef.of("R", 1, "accept", {"at": t(9, 30), "action_ref": "R"})
    assert handlers.ActionRef.of("R", 1, "accept", {"at": t(9, 30).astimezone(UTC)}) == same  # the same instant
    assert handlers.ActionRef.of("R", 1, "accept", {"at": None}) == handlers.ActionRef.of("R", 1, "accept", {})
    assert handlers.ActionRef.of("R", 1, "accept", {"at": t(9, 30, 11)}) != same
    assert handlers.ActionRef.of("R", 2, "accept", {"at": t(9, 30)}) != same
    assert handlers.ActionRef.of("R", 1, "deliver", {"at": t(9, 30)}) != same


def test_a_referenced_action_retried_answers_the_first_result_and_records_nothing():
    d = Driver(received_at=t(9, 30, 9))
    data = {"missing": ["M4"], "note": None, "at": t(9, 30)}
    ref = handlers.ActionRef.of("W-1", d.id, "request_supplement", data)
    first = handlers.run_action(d.db, d.settings, d.id, "request_supplement", data, WINDOW, d.now, ref=ref,
                                shape=lambda app: {"state": app.row["state"]})
    assert first.answer == {"state": "supplement_requested"}
    published = len(d.published)
    again = handlers.run_action(d.db, d.settings, d.id, "request_supplement", data, WINDOW, d.now, ref=ref,
                                shape=lambda app: {"state": "never asked"})
    assert again == handlers.Replay(200, {"state": "supplement_requested"})
    assert _history(d) == ["submit", "request_supplement"] and len(d.published) == published
    assert d.alerts() == [] and d.row["supplement_count"] == 1
    other = handlers.ActionRef.of("W-1", d.id, "request_supplement", {**data, "missing": ["M5"]})
    with pytest.raises(Conflict):
        handlers.run_action(d.db, d.settings, d.id, "request_supplement", data, WINDOW, d.now, ref=other)
    assert _history(d) == ["submit", "request_supplement"] and d.alerts() == []


def test_a_refusal_is_stored_under_its_reference_only_when_it_recorded_an_irregularity():
    d = Driver()
    data = {"at": t(9, 28, 11)}
    ref = handlers.ActionRef.of("W-1", d.id, "deliver", data)
    with pytest.raises(IllegalTransition):  # nothing to deliver: refused, nothing recorded
        handlers.run_action(d.db, d.settings, d.id, "deliver", data, WINDOW, d.now, ref=ref)
    with d.db.session() as s:
        assert store.find_action_ref(s, "W-1") is None
    data = {"approved": True, "reason": None, "at": t(9, 28, 11)}
    ref = handlers.ActionRef.of("W-2", d.id, "decide", data)
    with pytest.raises(IllegalTransition):  # a decision before acceptance: refused and recorded
        handlers.run_action(d.db, d.settings, d.id, "decide", data, WINDOW, d.now, ref=ref)
    with d.db.session() as s:
        stored = store.find_action_ref(s, "W-2")
    assert stored["status"] == 409 and stored["response"]["error"]["code"] == "conflict"
    again = handlers.run_action(d.db, d.settings, d.id, "decide", data, WINDOW, d.now, ref=ref)
    assert again == handlers.Replay(409, stored["response"])


def test_a_reference_stored_meanwhile_is_answered_as_a_replay(monkeypatch):
    """The unique constraint is the last line of defence: the lookup missed, the insert collided."""
    d = Driver(received_at=t(9, 30, 9))
    data = {"at": t(9, 30)}
    ref = handlers.ActionRef.of("W-3", d.id, "accept", data)
    with d.db.unit_of_work() as uow:
        store.add_action_ref(uow.session, "W-3", d.id, "accept", ref.digest, 200, {"state": "accepted"}, d.now)
    monkeypatch.setattr(store, "find_action_ref", _missing_once(store.find_action_ref))
    out = handlers.run_action(d.db, d.settings, d.id, "accept", data, WINDOW, d.now, ref=ref, shape=lambda app: {})
    assert out == handlers.Replay(200, {"state": "accepted"}) and d.row["state"] == "submitted"


def _missing_once(find):
    calls = []

    def lookup(session, ref):
        calls.append(ref)
        return None if len(calls) == 1 else find(session, ref)
    return lookup


def test_old_references_are_purged():
    d = Driver()
    with d.db.unit_of_work() as uow:
        store.add_action_ref(uow.session, "old", d.id, "accept", "x", 200, {}, d.now - timedelta(days=8))
        store.add_action_ref(uow.session, "new", d.id, "accept", "y", 200, {}, d.now - timedelta(days=6))
    assert d.settings.action_refs_keep_days == 7
    assert handlers.purge_action_refs(d.db, d.settings, d.now) == 1
    with d.db.session() as s:
        assert store.find_action_ref(s, "old") is None and store.find_action_ref(s, "new") is not None


def test_the_list_filters_by_external_ref():
    d = Driver()
    query = {"department": None, "state": None, "page": 1, "per_page": 10}
    views, total = handlers.list_applications(d.db, d.settings, {**query, "light": None,
                                                                 "external_ref": d.row["external_ref"]}, d.now)
    assert total == 1 and views[0]["id"] == d.id
    assert handlers.list_applications(d.db, d.settings, {**query, "light": None, "external_ref": "none"},
                                      d.now) == ([], 0)
