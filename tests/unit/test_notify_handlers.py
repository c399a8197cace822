"""notify's use cases driven directly, with a SQLite unit of work and no nameko: an event's deliveries planned
once, the routing behind the API, a retry refused for a delivery that is not parked, and a console command
refused for an alert whose owner takes none."""

from datetime import datetime
from types import SimpleNamespace

import pytest

from services.kernel.clock import TZ
from services.kernel.contracts import make_event, parse_event
from services.kernel.db import Database
from services.kernel.domain import IllegalTransition
from services.kernel.errors import BadRequest, Conflict
from services.notify import handlers, store
from services.notify.console import usecases as console
from services.notify.delivery import Settings
from services.notify.destinations import Destinations

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=TZ)  # a Tuesday morning: no quiet hours


@pytest.fixture
def db(tmp_path):
    store.forget_routing()
    database = Database(f"sqlite:///{tmp_path}/notify.db", store.metadata, service="notify")
    database.create_all()
    yield database
    database.dispose()
    store.forget_routing()


def yellow_card():
    return parse_event(make_event("monitor.yellow_card", {
        "application_id": "7", "application_no": "SP-7", "item_code": "SCJ-001", "department": "SCJGJ",
        "alert_id": "7", "level": "yellow", "rule": "overdue", "raised_at": NOW}, service="approvals"))


def test_an_event_is_planned_once_per_recipient_and_channel(db):
    settings = Settings.from_config({})
    with db.unit_of_work() as uow:
        handlers.add_recipient(uow, Destinations(), {"code": "li", "name": "李监察", "kind": "person",
                                                     "department": None, "role": None, "addresses": {},
                                                     "active": True}, NOW)
        with pytest.raises(BadRequest):
            handlers.add_subscription(uow, {"recipient": "li", "event_types": ["monitor.*"],
                                            "min_severity": "info", "departments": [], "channel": "email"}, NOW)
        handlers.add_subscription(uow, {"recipient": "li", "event_types": ["monitor.*"], "min_severity": "info",
                                        "departments": [], "channel": "log"}, NOW)
    event = yellow_card()
    for _ in range(2):  # a redelivery plans the same row, which is there already
        with db.unit_of_work() as uow:
            assert handlers.take_in(uow, settings, event, NOW) == 1
    with db.reader() as s:
        rows, total = store.list_deliveries(s)
    assert total == 1 and rows[0]["recipient"] == "li" and rows[0]["status"] == "pending"
    with pytest.raises(Conflict), db.unit_of_work() as uow:
        handlers.retry_delivery(uow, rows[0]["id"], NOW)
    with pytest.raises(Conflict), db.unit_of_work() as uow:
        handlers.remove_recipient(uow, "li")


def test_the_console_sends_no_command_to_an_owner_that_takes_none(db):
    emergency = parse_event(make_event("appeal.emergency", {
        "appeal_id": "9", "case_no": "MY2026-0009", "department": "ZJJ", "type": "help", "urgency": "emergency",
        "category": "water", "summary": "小区停水", "due_at": NOW}, service="appeals", occurred_at=NOW))
    with db.unit_of_work() as uow:
        assert console.record_event(uow.session, emergency, NOW)
    monitor = SimpleNamespace(name="李监察", role="monitor", department=None)
    with pytest.raises(IllegalTransition), db.unit_of_work() as uow:
        console.request_action(uow, 1, "acknowledge", None, monitor, NOW)
    with db.unit_of_work() as uow:
        assert console.record_event(uow.session, yellow_card(), NOW)
        view = console.request_action(uow, 2, "acknowledge", "在办", monitor, NOW)
        assert [e["event_type"] for e in uow.published] == ["alert.action_requested"]
    assert view["pending_action"] == "acknowledge" and view["actionable"] is True
