"""The kernel's apply_outcome: changes, one history line, the alarm plan and the events, in the caller's unit of
work, the same for every service (each says how in its OutcomeStore)."""

from datetime import datetime, timedelta

import pytest

from services.kernel.clock import TZ
from services.kernel.outcome import CANCEL, KEEP, Event, Outcome, add_alarms, apply_outcome, replace_alarms

AT = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
NOW = AT + timedelta(minutes=5)


class Recorder:
    """A unit of work, an alarm table and an OutcomeStore that write down what they are asked."""

    state_column = "state"

    def __init__(self):
        self.session = object()
        self.calls = []
        self.alarms = self

    def publish(self, event_type, payload, **route):
        self.calls.append(("publish", event_type, payload, route))

    def update(self, session, record_id, changes):
        self.calls.append(("update", record_id, changes))

    def add_history(self, session, record_id, **line):
        self.calls.append(("history", record_id, line))

    def cancel(self, session, owner_id):
        self.calls.append(("cancel", owner_id))

    def schedule(self, session, owner_id, moments):
        self.calls.append(("schedule", owner_id, tuple(moments)))

    def add(self, session, entries):
        self.calls.append(("add", tuple(entries)))

    def event(self, session, new_row, event, at):
        return {**event.payload, "state": new_row["state"]}, {"department": new_row["department"], "occurred_at": at}


@pytest.mark.parametrize(("plan", "alarm_calls"), [
    (KEEP, []),
    (CANCEL, [("cancel", 7)]),
    (replace_alarms([("due", AT)]), [("schedule", 7, (("due", AT),))]),
    (replace_alarms([]), [("cancel", 7)]),
    (add_alarms([("escalation", AT)]), [("add", ((7, "escalation", AT),))]),
])
def test_an_outcome_is_written_in_order_with_its_alarm_plan(plan, alarm_calls):
    uow = Recorder()
    row = {"id": 7, "state": "open", "department": "ZJJ"}
    outcome = Outcome("close", {"state": "closed"}, [Event("thing.closed", {"by": "x"})], {"note": "n"}, plan)
    new = apply_outcome(uow, uow, row, outcome, "actor", AT, NOW)
    assert new == {"id": 7, "state": "closed", "department": "ZJJ", "updated_at": NOW}
    assert uow.calls[0] == ("update", 7, {"state": "closed", "updated_at": NOW})
    assert uow.calls[1] == ("history", 7, {"at": AT, "now": NOW, "actor": "actor", "action": "close",
                                           "from_state": "open", "to_state": "closed", "details": {"note": "n"}})
    assert uow.calls[2:-1] == alarm_calls
    assert uow.calls[-1] == ("publish", "thing.closed", {"by": "x", "state": "closed"},
                             {"department": "ZJJ", "occurred_at": AT})
