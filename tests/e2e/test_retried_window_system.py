"""Issue 13's first "done when", across services on the real broker: a window system that retries every action
twice (the second copy after a timeout, under the same reference) gets exactly the record of one that did not —
the same events, the same alerts, and the same facts and scores in the assessment. Two departments live the same
month with the same item: ZJJ's window system sends every action once, SWJ's twice."""

from datetime import datetime, timedelta

import pytest
import requests

from services.approvals.service import ApprovalsService
from services.kernel import clock
from services.scoring.service import ScoringService
from tests.conftest import wait_for
from tests.e2e.approvals_client import APPLICANT, ID_NUMBER, ApprovalsApi
from tests.e2e.test_scoring_rules import Scoring
from tests.support import Tap

TZ = clock.TZ
MON = datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
ONCE, TWICE = "ZJJ", "SWJ"


def item(dept):
    return {"code": f"RT-{dept}", "name": "重试测试事项", "department": dept, "statutory_limit": 5,
            "materials": [{"code": "M1", "name": "申请表"}, {"code": "M2", "name": "营业执照"}]}


@pytest.fixture
def city(service_config, start_service, api_keys, fresh_amqp_uri, frozen):
    frozen(MON)
    scoring_cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri)
    start_service(ScoringService, scoring_cfg)  # first: its queues are bound before approvals publishes
    approvals_cfg = service_config("approvals", AMQP_URI=fresh_amqp_uri)
    tap = Tap(fresh_amqp_uri, "approvals")
    start_service(ApprovalsService, approvals_cfg)
    approvals = ApprovalsApi(approvals_cfg["base_url"], api_keys)
    for dept in (ONCE, TWICE):
        approvals.ok("PUT", "/api/v1/items", "operator", item(dept))
    return approvals, Scoring(scoring_cfg["base_url"], api_keys), tap


class Window:
    """A department's window system: every request under its own reference; `retries` copies more of each."""

    def __init__(self, api, dept, retries):
        self.api, self.dept, self.retries, self.n = api, dept, retries, 0

    def send(self, path, body, status=(200, 201)):
        self.n += 1
        headers = {"Authorization": f"Bearer {self.api.keys['window_system']}",
                   "Idempotency-Key": f"{self.dept}-{self.n}"}
        answers = [requests.post(f"{self.api.base}{path}", json=body, headers=headers, timeout=10)
                   for _ in range(1 + self.retries)]
        # the same answer every time (a submission sent again is 200, "had it already", rather than 201)
        # (an error names each request by its own request_id)
        bodies = [{k: v for k, v in r.json().items() if k != "request_id"} for r in answers]
        assert all(b == bodies[0] for b in bodies), [(r.status_code, r.text) for r in answers]
        assert all(r.status_code in status for r in answers), (path, [(r.status_code, r.text) for r in answers])
        return bodies[0]

    def submit(self, ref, materials=("M1", "M2"), at=None):
        body = {"external_ref": f"{self.dept}-{ref}", "item_code": f"RT-{self.dept}", "materials": list(materials),
                "service_point": "city_center", "applicant": {"name": APPLICANT, "kind": "enterprise",
                                                              "id_number": ID_NUMBER}}
        if at is not None:
            body["at"] = at.isoformat()
        return self.send("/api/v1/applications", body)

    def act(self, application, action, body=None, status=(200,)):
        return self.send(f"/api/v1/applications/{application['id']}/{action}", body or {}, status)


def live_the_month(window, frozen):
    """The same month for either department: a supplement, two extensions (the second an irregularity), a decision
    in time; an application left to run overdue (its yellow card) and decided late; an acceptance reported three
    days late (迟报). Returns the applications."""
    frozen(MON)
    first = window.submit("A", materials=["M1"])
    window.act(first, "request-supplement", {"missing": ["M2"], "note": "请补齐营业执照"})
    frozen(MON + timedelta(hours=2))
    window.act(first, "supplement-received")
    window.act(first, "accept")
    window.act(first, "extend", {"days": 3, "approver": "局长", "reason": "需现场核查"})
    window.act(first, "extend", {"days": 2, "approver": "局长", "reason": "再次核查"}, status=(409,))  # recorded
    overdue = window.submit("B")
    window.act(overdue, "accept")
    late = window.submit("C", at=MON)
    frozen(MON + timedelta(days=3))
    window.act(late, "accept", {"at": (MON + timedelta(hours=1)).isoformat()})  # three days after the fact
    window.act(first, "decide", {"approved": True})
    return first, overdue, late


def test_a_window_system_retrying_every_action_leaves_the_record_of_one_that_did_not(city, frozen):
    approvals, scoring, tap = city
    once = live_the_month(Window(approvals, ONCE, 0), frozen)
    twice = live_the_month(Window(approvals, TWICE, 1), frozen)
    # two weeks on, the application left alone is overdue: the monitor's yellow card, then its late decision
    frozen(MON + timedelta(days=14))
    for dept, apps in ((ONCE, once), (TWICE, twice)):
        wait_for(lambda a=apps[1]: any(x["level"] == "yellow" for x in approvals.alerts(application_id=a["id"])),
                 message=f"{dept}'s yellow card")
        Window(approvals, f"{dept}-late", 0).act(apps[1], "decide", {"approved": True})
    approvals.drained()

    def record(dept, apps):
        seen = [m for m in tap.drain() if m["payload"].get("department") == dept]
        events = sorted((m["event_type"], m["payload"].get("code") or m["payload"].get("rule") or "")
                        for m in seen)
        alerts = sorted((x["level"], x["rule"], x["state"]) for a in apps
                        for x in approvals.alerts(application_id=a["id"]))
        states = [approvals.get(a["id"])["state"] for a in apps]
        return events, alerts, states

    events_once, alerts_once, states_once = record(ONCE, once)
    events_twice, alerts_twice, states_twice = record(TWICE, twice)
    assert states_twice == states_once == ["decided", "decided", "accepted"]
    assert alerts_twice == alerts_once
    assert events_twice == events_once
    kinds = [t for t, _ in events_once]
    # what really happened is all there, once: the second extension and the late report are irregularities
    # (the application accepted late and never decided is overdue too)
    assert kinds.count("monitor.yellow_card") == 2 and kinds.count("application.decided") == 2, kinds
    assert [c for t, c in events_once if t == "monitor.irregularity"] == sorted(["late_report", "repeated_extension"])

    def facts(dept):
        totals = {}
        for f in scoring.facts():
            if f["department"] == dept:
                totals[f["metric"]] = totals.get(f["metric"], 0) + f["value"]
        return totals

    # scoring has consumed the whole month of both when each department's counts include its yellow card and its
    # two decisions (the events of one department come in the same order on each queue as the other's)
    done = wait_for(lambda: (a := facts(ONCE)) and a.get("yellow_cards") == 2 and a.get("approvals_decided") == 2
                    and facts(TWICE) == a and a, message="the same facts in scoring")
    assert done.get("irregularities") == 2, done
    score_once = scoring.ok("GET", f"/api/v1/scores/{ONCE}", period="2026-11")
    score_twice = scoring.ok("GET", f"/api/v1/scores/{TWICE}", period="2026-11")

    def same_for_any_department(score):
        row = {k: v for k, v in score["row"].items() if k not in ("department", "name")}
        facts = sorted((f["metric"], f["value"], f["source_event_type"]) for f in score["facts"])
        return row, facts, {k: v for k, v in score.items() if k not in ("row", "facts")}

    assert same_for_any_department(score_twice) == same_for_any_department(score_once)
