"""The hot-issue brief on a schedule (#14): weekly (Monday 00:05, for the week before) and monthly (the 1st, for the
month before), each period published once — also by two appeals instances on one PostgreSQL database, whose timers
both find the period due at the same moment; nothing before its moment, nothing long past it, nothing when the
schedule is off, and a bad schedule stops the start."""

import logging
import uuid
from datetime import date, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from services.appeals.reports.domain import Period, Schedule, latest_whole
from services.appeals.service import AppealsService
from services.kernel import clock
from tests.conftest import wait_for
from tests.e2e.test_appeal_lifecycle import Api
from tests.support import Tap

TZ = clock.TZ
SUNDAY = datetime(2026, 11, 29, 10, 0, tzinfo=TZ)
WEEK = Period(date(2026, 11, 23), date(2026, 11, 29))
MONTH = Period(date(2026, 11, 1), date(2026, 11, 30))
FAST = {"HOT_ISSUES_SCHEDULE": ["weekly", "monthly"], "HOT_ISSUES_CHECK_SECONDS": 0.05}
LOGGER = "services.appeals.reports.usecases"


def at(month, day, hour=0, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


# -- the rule, without a broker ----------------------------------------------------------------------

def test_the_periods_due_and_their_moments():
    s = Schedule()
    assert s.due(at(11, 30, 0, 4)) == []  # Monday, before 00:05
    assert s.due(at(11, 30, 0, 5)) == [("weekly", WEEK)]
    assert s.due(at(12, 1, 0, 5)) == [("weekly", WEEK), ("monthly", MONTH)]
    assert s.due(at(12, 2, 0, 5)) == [("weekly", WEEK), ("monthly", MONTH)]  # 48 h to catch up
    assert s.due(at(12, 3, 0, 6)) == []  # longer ago: left to the publish endpoint
    assert latest_whole("monthly", date(2027, 1, 1)) == Period(date(2026, 12, 1), date(2026, 12, 31))
    assert latest_whole("weekly", date(2027, 1, 3)) == Period(date(2026, 12, 21), date(2026, 12, 27))  # a Sunday
    assert Schedule(kinds=("monthly",)).due(at(12, 1, 8)) == [("monthly", MONTH)]


@pytest.mark.parametrize("raw, kinds", [
    (None, ()), ([], ()), ("off", ()), (False, ()), ("", ()), ("weekly", ("weekly",)),
    ("monthly, weekly", ("monthly", "weekly")), (["weekly", "weekly"], ("weekly",)),
])
def test_the_schedule_setting(raw, kinds):
    assert Schedule.from_config({"HOT_ISSUES_SCHEDULE": raw}).kinds == kinds


@pytest.mark.parametrize("cfg, message", [
    ({"HOT_ISSUES_SCHEDULE": ["daily"]}, "unknown 'daily'"),
    ({"HOT_ISSUES_SCHEDULE": 7}, "must be a list"),
    ({"HOT_ISSUES_DELAY_MINUTES": "soon"}, "HOT_ISSUES_DELAY_MINUTES must be a number"),
    ({"HOT_ISSUES_CHECK_SECONDS": 0}, "HOT_ISSUES_CHECK_SECONDS must be at least"),
])
def test_a_bad_schedule_setting_names_itself(cfg, message):
    with pytest.raises(ValueError, match=message):
        Schedule.from_config(cfg)


# -- on the broker -----------------------------------------------------------------------------------

def briefs(tap):
    return [m for m in tap.drain() if m["event_type"] == "report.hot_issues_published"]


def checks_after(caplog, kind):
    return sum(1 for r in caplog.records if r.name == LOGGER and "already published" in r.getMessage()
               and f" {kind} " in r.getMessage())


@pytest.mark.postgres
def test_two_instances_publish_each_period_once(pg_admin, pg_url, service_config, start_service, fresh_amqp_uri,
                                                api_keys, frozen, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    name = f"xiaoneng_test_hot_{uuid.uuid4().hex[:8]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    containers, engine = [], sa.create_engine(url)
    try:
        frozen(SUNDAY)  # last week's and last month's moments are long past: nothing to publish at start
        tap = Tap(fresh_amqp_uri, "appeals")
        cfgs = [service_config("appeals", AMQP_URI=fresh_amqp_uri, DATABASE_URL=url, REPORTS=FAST) for _ in range(2)]
        for cfg in cfgs:
            containers.append(start_service(AppealsService, cfg))
            wait_for(lambda cfg=cfg: requests.get(cfg["base_url"] + "/health", timeout=5).status_code == 200,
                     message="appeals healthy")
        api = Api(cfgs[0]["base_url"], api_keys)
        for content in ("停水", "水压低", "水管爆裂"):  # this week
            api.intake(content=content, appellant={"anonymous": True})
        api.intake(content="自来水发黄", appellant={"anonymous": True}, received_at="2026-11-10T09:00:00+08:00")
        api.intake(content="路灯不亮", category="road", appellant={"anonymous": True},
                   received_at="2026-10-30T09:00:00+08:00")  # October: in neither

        frozen(at(11, 30, 0, 6))
        weekly = wait_for(lambda: briefs(tap), message="the weekly brief")
        wait_for(lambda: checks_after(caplog, "weekly") >= 20, message="both instances checked again")
        frozen(at(12, 1, 0, 6))  # Tuesday the 1st: November's
        wait_for(lambda: len(briefs(tap)) >= 2, message="the monthly brief")
        wait_for(lambda: checks_after(caplog, "monthly") >= 20, message="both instances checked again")
        for cfg in cfgs:
            wait_for(lambda cfg=cfg: requests.get(cfg["base_url"] + "/health", timeout=5).json()["outbox"]["pending"]
                     == 0, message="outbox drained")

        found = briefs(tap)
        assert len(found) == 2, found
        weekly, monthly = found
        assert (weekly["payload"]["period_from"], weekly["payload"]["period_to"], weekly["payload"]["total"]) == (
            "2026-11-23", "2026-11-29", 3)
        assert (monthly["payload"]["period_from"], monthly["payload"]["period_to"], monthly["payload"]["total"]) == (
            "2026-11-01", "2026-11-30", 4)
        assert weekly["payload"]["top_categories"] == ["water"]
        # not before its moment
        assert datetime.fromisoformat(weekly["occurred_at"]) >= at(11, 30, 0, 5)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT kind, period_from, period_to, event_id, total "
                                        "FROM hot_issue_publications ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [
            ("weekly", WEEK.first, WEEK.last, weekly["event_id"], 3),
            ("monthly", MONTH.first, MONTH.last, monthly["event_id"], 4)]
    finally:
        for container in containers:
            container.kill()
        engine.dispose()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_off_publishes_nothing_and_the_publish_endpoint_still_works(service_config, start_service, fresh_amqp_uri,
                                                                     api_keys, frozen, caplog):
    frozen(at(11, 30, 0, 6))  # the weekly moment has come
    tap = Tap(fresh_amqp_uri, "appeals")
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri,
                         REPORTS={"HOT_ISSUES_SCHEDULE": [], "HOT_ISSUES_CHECK_SECONDS": 0.05})
    start_service(AppealsService, cfg)
    api = Api(cfg["base_url"], api_keys)
    published = api.ok("POST", "/api/v1/reports/hot-issues/publish", "operator",
                       {"from": "2026-11-23", "to": "2026-11-29"}, status=201)
    found = wait_for(lambda: briefs(tap), message="the brief published by hand")
    assert [m["event_id"] for m in found] == [published["event_id"]]
    frozen(at(12, 1, 0, 6))
    wait_for(lambda: api.ok("GET", "/health", "operator")["outbox"]["pending"] == 0, message="outbox drained")
    assert len(briefs(tap)) == 1


def test_a_bad_schedule_stops_the_start(service_config, container_factory, fresh_amqp_uri):
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri, REPORTS={"HOT_ISSUES_SCHEDULE": ["daily"]})
    container = container_factory(AppealsService, cfg)
    with pytest.raises(ValueError, match="HOT_ISSUES_SCHEDULE"):
        container.start()


def test_one_instance_on_sqlite_publishes_the_week_once_at_its_moment(service_config, start_service, fresh_amqp_uri,
                                                                    api_keys, frozen, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    frozen(SUNDAY)
    tap = Tap(fresh_amqp_uri, "appeals")
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri,
                         REPORTS={**FAST, "HOT_ISSUES_SCHEDULE": "weekly"})
    start_service(AppealsService, cfg)
    api = Api(cfg["base_url"], api_keys)
    api.intake(appellant={"anonymous": True})
    frozen(at(11, 30, 0, 5) + timedelta(seconds=1))
    found = wait_for(lambda: briefs(tap), message="the weekly brief")
    wait_for(lambda: checks_after(caplog, "weekly") >= 10, message="checked again")
    frozen(at(12, 1, 0, 6))  # monthly is not scheduled here
    wait_for(lambda: checks_after(caplog, "weekly") >= 20, message="checked again")
    wait_for(lambda: api.ok("GET", "/health", "operator")["outbox"]["pending"] == 0, message="outbox drained")
    found = briefs(tap)
    assert [(m["payload"]["period_from"], m["payload"]["total"]) for m in found] == [("2026-11-23", 1)]
