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


def _restartable(service_cls, service, service_config, start_service, amqp_uri, tmp_path):
    """Start the service; and a function that stops it and starts it again with the 2027 calendar file (on
    the same database), returning the new base URL."""
    cfg = service_config(service, AMQP_URI=amqp_uri)
    first = start_service(service_cls, cfg)

    def restart_with_next_year():
        first.stop()
        path = tmp_path / "calendar.yaml"
        path.write_text(CALENDAR_2027, encoding="utf-8")
        port = free_port()
        again = {**cfg, "CALENDAR_FILE": str(path), "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                 "base_url": f"http://127.0.0.1:{port}"}
        start_service(service_cls, again)
        return again["base_url"]

    return cfg["base_url"], restart_with_next_year


@pytest.fixture
def approvals(service_config, start_service, api_keys, fresh_amqp_uri, tmp_path):
    tap = Tap(fresh_amqp_uri, "approvals")
    base, restart = _restartable(ApprovalsService, "approvals", service_config, start_service, fresh_amqp_uri,
                                 tmp_path)
    return ApprovalsApi(base, api_keys), tap, lambda: ApprovalsApi(restart(), api_keys)


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


@pytest.fixture
def appeals(service_config, start_service, api_keys, fresh_amqp_uri, tmp_path):
    from services.appeals.service import AppealsService
    from tests.e2e.test_appeal_lifecycle import Api

    tap = Tap(fresh_amqp_uri, "appeals")
    base, restart = _restartable(AppealsService, "appeals", service_config, start_service, fresh_amqp_uri, tmp_path)
    return Api(base, api_keys), tap, lambda: Api(restart(), api_keys)


def _events(tap, event_type, appeal_id):
    return [m for m in tap.drain() if m["event_type"] == event_type and m["payload"]["appeal_id"] == str(appeal_id)]


def test_cases_waiting_for_next_years_calendar_get_their_moments_after_the_restart(appeals, frozen):
    api, tap, restart = appeals
    frozen(at(2026, 12, 21, 10, 0))
    # a complaint has 13 working days: 8 left in 2026, the rest in a year the package has no schedule for
    case = api.intake(category="road", type="complaint")
    assert case["clock"]["due_at"] is None and "2027" in case["clock"]["error"]
    frozen(at(2026, 12, 22, 10, 0))
    urged = api.intake(category="road", type="help", appellant={"name": "李四", "phone": "13900000000"})
    assert urged["clock"]["due_at"] == "2026-12-25" + END_OF_DAY  # within 2026: a due time at once
    frozen(at(2026, 12, 28, 9, 0))  # overdue and urged; escalation 5 working days later runs into 2027
    wait_for(lambda: _events(tap, "appeal.urged", urged["id"]), message="the urging")

    api = restart()
    view = wait_for(lambda: (v := api.ok("GET", f"/api/v1/appeals/{case['id']}", "operator"))["clock"]["due_at"]
                    and v, message="the due time computed with the 2027 schedule")
    # Dec 22–31 are 8 working days, New Year's Day is off, Jan 4–8 the other 5
    assert view["clock"]["due_at"] == "2027-01-08" + END_OF_DAY and view["clock"]["error"] is None
    assert [(h["action"], h["actor"]) for h in view["history"]][-1] == ("recalculate", "system")
    last = api.ok("GET", f"/api/v1/appeals/{urged['id']}", "operator")["history"][-1]
    assert (last["action"], last["actor"]) == ("recalculate", "system") and "escalation_at" in last["details"]

    # the monitor now watches both: the complaint overdue after Jan 8, the urged case escalated
    frozen(at(2027, 1, 11, 9, 0))
    wait_for(lambda: _events(tap, "appeal.overdue", case["id"]), message="the complaint's overdue notice")
    wait_for(lambda: _events(tap, "appeal.escalated", urged["id"]), message="the escalation")
    assert len(_events(tap, "appeal.overdue", case["id"])) == 1
    assert len(_events(tap, "appeal.escalated", urged["id"])) == 1
