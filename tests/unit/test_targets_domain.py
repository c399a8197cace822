"""The rules of target management without a broker or database: the plan's due day (the seed's 28 February, a
task set later), the plan's and a milestone's status at the edge of their day, the task's state and light, what
may change, the config."""

from datetime import date, datetime, timedelta

import pytest

from services.kernel.clock import TZ
from services.kernel.domain import IllegalTransition
from services.kernel.workcal import WorkCalendar
from services.scoring.targets import domain
from services.scoring.targets.domain import TargetConfigError, TargetRules

RULES = TargetRules()
CAL = WorkCalendar.load(None)
DUE = domain.due_moment(date(2026, 2, 28))


def target(**kw):
    return {"state": "plan_pending", "plan_due_at": DUE, "plan_submitted_at": None, "plan_late": None,
            "lead_unit": "D1", **kw}


def milestone(day, **kw):
    return {"id": 1, "due_on": day, "what": "节点", "due_at": domain.due_moment(day), "done_at": None,
            "done_late": None, **kw}


def test_the_plan_is_due_by_the_end_of_28_february_and_the_whole_day_is_the_units():
    assert domain.year_plan_day(RULES, 2026) == date(2026, 2, 28)
    assert datetime(2026, 3, 1, tzinfo=TZ) == DUE and domain.due_day(DUE) == date(2026, 2, 28)
    assert domain.plan_status(target(), DUE - timedelta(microseconds=1)) == "pending"
    assert domain.plan_status(target(), DUE) == "overdue"
    assert domain.plan_status(target(plan_submitted_at=DUE, plan_late=True), DUE) == "late"
    assert domain.plan_status(target(plan_submitted_at=DUE, plan_late=False), DUE) == "submitted"
    # 02-29 configured: the last day of February in a common year
    assert domain.year_plan_day(TargetRules(plan_due=(2, 29)), 2026) == date(2026, 2, 28)
    assert domain.year_plan_day(TargetRules(plan_due=(2, 29)), 2028) == date(2028, 2, 29)


def test_a_task_set_after_the_day_gets_working_days_of_its_own():
    early = datetime(2026, 1, 10, 10, 0, tzinfo=TZ)
    assert domain.plan_due(RULES, CAL, 2026, early) == date(2026, 2, 28)
    assert domain.plan_due(RULES, CAL, 2026, datetime(2026, 2, 28, 23, 0, tzinfo=TZ)) == date(2026, 2, 28)
    # set on 2026-09-29: 10 working days over the National Day holidays (Oct 1–8 off, Sept 28 and Oct 11 worked)
    late = domain.plan_due(RULES, CAL, 2026, datetime(2026, 9, 29, 10, 0, tzinfo=TZ))
    assert late == CAL.add_working_days(date(2026, 9, 29), 10) and late > date(2026, 10, 12)


def test_a_milestone_is_overdue_once_its_day_is_over_and_yellow_when_due_soon():
    m = milestone(date(2026, 6, 30))
    end = m["due_at"]
    assert domain.milestone_status(m, end - timedelta(days=8), 7) == "upcoming"
    assert domain.milestone_status(m, end - timedelta(days=7), 7) == "due_soon"
    assert domain.milestone_status(m, end, 7) == "overdue"
    assert domain.milestone_status({**m, "done_at": end, "done_late": True}, end, 7) == "done_late"
    assert domain.is_late(end, end) and not domain.is_late(end - timedelta(microseconds=1), end)


def test_the_light_of_a_task():
    now = datetime(2026, 4, 1, tzinfo=TZ)
    ok = target(plan_submitted_at=DUE - timedelta(days=3), plan_late=False, state="in_progress")
    assert domain.light(ok, [milestone(date(2026, 9, 30))], now, 7) == ("green", ["按计划推进"])
    assert domain.light({**ok, "plan_late": True}, [], now, 7)[0] == "yellow"
    assert domain.light(ok, [milestone(date(2026, 4, 5))], now, 7)[0] == "yellow"
    light, why = domain.light(target(), [milestone(date(2026, 3, 31))], now, 7)
    assert light == "red" and len(why) == 2 and "逾期未报" in why[0] and "1 个进度节点逾期未完成" in why[1]
    assert domain.light(target(state="cancelled"), [], now, 7)[0] == "grey"


def test_the_state_of_a_task():
    m = milestone(date(2026, 6, 30))
    assert domain.state_of(target(), [m]) == "plan_pending"
    submitted = target(plan_submitted_at=DUE, state="in_progress")
    assert domain.state_of(submitted, [m]) == "in_progress"
    assert domain.state_of(submitted, [{**m, "done_at": DUE}]) == "completed"
    assert domain.state_of(target(state="cancelled"), [m]) == "cancelled"


def test_what_may_change():
    assert domain.check_milestones(2026, []) == {"milestones": ["at least one dated milestone / 至少一个进度节点"]}
    assert "milestones" in domain.check_milestones(2026, [{"due_on": date(2027, 1, 5)}])
    assert domain.check_milestones(2026, [{"due_on": date(2026, 12, 31)}]) == {}
    domain.require_lead_change(target(), "D2")  # the plan is still awaited
    with pytest.raises(IllegalTransition):
        domain.require_lead_change(target(plan_submitted_at=DUE), "D2")
    domain.require_lead_change(target(plan_submitted_at=DUE), "D1")
    done = milestone(date(2026, 6, 30), done_at=DUE)
    for new in (None, {"due_on": date(2026, 7, 1), "what": "节点"}, {"due_on": date(2026, 6, 30), "what": "别的"}):
        with pytest.raises(IllegalTransition):
            domain.require_milestone_change(done, new)
    domain.require_milestone_change(done, {"due_on": date(2026, 6, 30), "what": "节点"})
    domain.require_milestone_change(milestone(date(2026, 6, 30)), None)
    with pytest.raises(IllegalTransition):
        domain.require_lead(target(), "D2", "报告进度")
    with pytest.raises(IllegalTransition):
        domain.require_open(target(state="cancelled"), "报告进度")


@pytest.mark.parametrize("cfg", [{"PLAN_DUE": "2-28"}, {"PLAN_DUE": "02-30"}, {"PLAN_DUE": "13-01"},
                                 {"LATE_PLAN_DAYS": "0"}, {"LATE_PLAN_DAYS": "x"}, {"DUE_SOON_DAYS": -1}])
def test_a_config_that_says_nothing_usable_is_refused(cfg):
    with pytest.raises(TargetConfigError):
        TargetRules.from_config(cfg)


def test_the_config_defaults_and_values():
    assert TargetRules.from_config(None) == TargetRules(plan_due=(2, 28), late_plan_days=10, due_soon_days=7)
    assert TargetRules.from_config({"PLAN_DUE": "03-15", "LATE_PLAN_DAYS": "5", "DUE_SOON_DAYS": ""}) == \
        TargetRules(plan_due=(3, 15), late_plan_days=5, due_soon_days=7)


def test_a_new_or_moved_milestone_is_not_on_a_day_over_already():
    today = date(2026, 4, 1)
    past, kept = {"due_on": date(2026, 3, 31)}, {"due_on": date(2026, 3, 15)}
    assert "milestones" in domain.check_milestones(2026, [past], today)
    assert domain.check_milestones(2026, [{"due_on": today}], today) == {}
    # a milestone kept as it was may lie in the past; only the new or moved ones are looked at
    assert domain.check_milestones(2026, [kept, {"due_on": date(2026, 5, 1)}], today,
                                   fresh=[{"due_on": date(2026, 5, 1)}]) == {}
