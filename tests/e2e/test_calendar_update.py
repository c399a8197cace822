"""Next year's holiday schedule arrives (CALENDAR_FILE, then a restart): what waited for it gets its clock. On the
real broker with a frozen clock. An application accepted in late December 2026 could not be given a due time
(the package's calendar ends with 2026); after the restart with a 2027 schedule it has one, its calendar alert
is resolved by the system, and the monitor's warning fires on the right day."""

from datetime import datetime

import pytest

from services.approvals.service import ApprovalsService
from services.kernel import clock
from tests.conftest import free_port, wait_for
from tests.e2e.approvals_client import ApprovalsApi
from tests.support import Tap

TZ = clock.TZ
END_OF_DAY = "T23:59:59.999999+08:00"
# a 2027 schedule for the test (the shape of the State Council's notice; not the official one)
CALENDAR_2027 = """\
years:
  2027:
    holidays: [2027-01-01, 2027-02-06..2027-02-12, 2027-10-01..2027-10-07]
    workdays: [2027-02-20, 2027-10-09]
"""
ITEM = {"code": "GTJ-001", "name": "建设用地规划许可", "department": "GTJ", "statutory_limit": 20,
        "materials": [{"code": "M1", "name": "申请表"}]}


def at(*parts):
    return datetime(*parts, tzinfo=TZ)


@pytest.fixture
def approvals(service_config, start_service, api_keys, fresh_amqp_uri, tmp_path):
    cfg = service_config("approvals", AMQP_URI=fresh_amqp_uri)
    tap = Tap(fresh_amqp_uri, "approvals")
    first = start_service(ApprovalsService, cfg)

    def restart_with_next_year():
        first.stop()
        path = tmp_path / "calendar.yaml"
        path.write_text(CALENDAR_2027, encoding="utf-8")
        port = free_port()
        again = {**cfg, "CALENDAR_FILE": str(path), "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                 "base_url": f"http://127.0.0.1:{port}"}
        start_service(ApprovalsService, again)
        return ApprovalsApi(again["base_url"], api_keys)

    return ApprovalsApi(cfg["base_url"], api_keys), tap, restart_with_next_year


def test_an_application_waiting_for_next_years_calendar_gets_its_clock_after_the_restart(approvals, frozen):
    api, tap, restart = approvals
    frozen(at(2026, 12, 21, 10, 0))
    api.ok("PUT", "/api/v1/items", "operator", ITEM)
    waiting = api.submit(item_code="GTJ-001", materials=["M1"])
    assert api.act(waiting["id"], "accept")["clock"]["due_at"] is None
    done = api.submit(item_code="GTJ-001", materials=["M1"])
    api.act(done["id"], "refuse", {"reason": "材料不全且申请人撤回"})
    alert = wait_for(lambda: api.alerts(application_id=waiting["id"]), message="the calendar alert")[0]
    assert (alert["rule"], alert["state"]) == ("calendar_unavailable", "open")

    api = restart()
    # 20 working days from Dec 22: 8 left in 2026, New Year's Day off, then Jan 4 to Jan 19
    clock_view = wait_for(lambda: (c := api.get(waiting["id"])["clock"])["due_at"] and c,
                          message="the clock computed with the 2027 schedule")
    assert clock_view["due_at"] == "2027-01-19" + END_OF_DAY and clock_view["error"] is None
    view = api.get(waiting["id"])
    assert view["history"][-1]["action"] == "recalculate" and view["history"][-1]["actor"] == "system"
    resolved = api.alerts(application_id=waiting["id"])
    assert [(x["rule"], x["state"], x["resolved_by"]) for x in resolved] == \
        [("calendar_unavailable", "resolved", "system")]
    api.drained()
    events = [m for m in tap.drain() if m["event_type"] == "monitor.alert_resolved"]
    assert [(e["payload"]["alert_id"], e["payload"]["by"]) for e in events] == [(str(alert["id"]), "system")]
    assert [h["action"] for h in api.get(done["id"])["history"]][-1] == "refuse"  # a closed one is left alone

    # the monitor now watches it: one working day left on Jan 18 (the warning), overdue after Jan 19
    frozen(at(2027, 1, 18, 9, 0))
    warned = wait_for(lambda: [x for x in api.alerts(application_id=waiting["id"]) if x["level"] == "warning"
                               and x["rule"] != "calendar_unavailable"], message="the warning of the last day")
    assert warned[0]["state"] == "open"
    frozen(at(2027, 1, 20, 9, 0))
    wait_for(lambda: any(x["level"] == "yellow" for x in api.alerts(application_id=waiting["id"])),
             message="the yellow card after the due time")
