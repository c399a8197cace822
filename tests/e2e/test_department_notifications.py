"""Departments in the loop (#14), on the real broker through the HTTP APIs of appeals and notify with the demo
subscriptions (services/notify/recipients.demo.yaml): a department's duty contact is told when a case is
dispatched to it, when its return is reviewed (approved: the case goes elsewhere; rejected: it comes back), when
its extension is decided, when its case is supervised and urged — its own cases only, each once per event in the
delivery log, also when the broker delivers an event again, by the department's name and with no personal data.
And `make run`'s demo handler key belongs to the demo city's busiest department."""

from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest

from services.appeals.service import AppealsService
from services.kernel import clock
from services.kernel.keys import KeyStore
from services.notify.service import NotifyService
from tests.conftest import wait_for
from tests.e2e.test_appeal_lifecycle import Api, events
from tests.support import Tap, publish_raw

TZ = clock.TZ
ROOT = Path(__file__).resolve().parents[2]
WED = datetime(2026, 11, 4, 10, 0, tzinfo=TZ)
TOLD = ("appeal.dispatched", "appeal.return_reviewed", "appeal.extension_decided", "appeal.supervised", "appeal.urged")
PERSONAL = ("张三", "13812345678", "138****5678", "停水三天", "13900001111")


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in ("ZJJ", "SWJ", "HBJ"):
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    appeals = service_config("appeals", AMQP_URI=fresh_amqp_uri)
    # notify first: its queues are bound before appeals publishes anything; the demo seed (service_config's default)
    notify = service_config("notify", AMQP_URI=fresh_amqp_uri, NOTIFY={
        "QUIET_HOURS": "off", "DEPARTMENTS_FILE": str(ROOT / "services" / "scoring" / "departments.demo.yaml")})
    start_service(NotifyService, notify)
    tap = Tap(fresh_amqp_uri, "appeals")
    start_service(AppealsService, appeals)
    return Api(appeals["base_url"], keys), Api(notify["base_url"], keys), tap


def told(notify):
    """(recipient, event type, case no.) → deliveries, of the duty contacts and the event types of #14."""
    page = notify.ok("GET", "/api/v1/deliveries?per_page=500", "monitor")
    found = Counter()
    for d in page["items"]:
        if d["recipient"].startswith("duty-") and d["event_type"] in TOLD:
            found[(d["recipient"], d["event_type"], d["link"].rsplit("case=", 1)[-1])] += 1
    return found, page["items"]


def test_a_department_hears_of_its_cases_once_each(env, frozen):
    appeals, notify, tap = env
    frozen(WED)
    person = {"name": "张三", "phone": "13812345678"}
    a = appeals.intake(category="road", appellant=person)  # ZJJ
    b = appeals.intake(category="water", appellant=person, content="停水三天")  # SWJ, returned: approved, to HBJ
    c = appeals.intake(category="water", appellant={"anonymous": True}, content="水压低")  # SWJ, return rejected
    assert (a["department"], b["department"], c["department"]) == ("ZJJ", "SWJ", "SWJ")
    appeals.act(a["id"], "supervise", "monitor", {"act_by": "2026-11-12", "note": "限期办结"})

    appeals.act(b["id"], "return", "SWJ", {"reason": "属于生态环境部门职责"})
    appeals.act(b["id"], "review-return", "operator", {"decision": "approved", "note": "请 13900001111 核实"})
    appeals.act(b["id"], "dispatch", "operator", {"department": "HBJ"})
    appeals.act(b["id"], "accept", "HBJ")
    appeals.act(b["id"], "extension", "HBJ", {"days": 2, "reason": "需现场核查"})
    appeals.act(b["id"], "extension/decision", "operator", {"approved": True})

    appeals.act(c["id"], "return", "SWJ", {"reason": "不是我们的"})
    appeals.act(c["id"], "review-return", "operator", {"decision": "rejected", "note": "供水属于水务局职责"})

    frozen(datetime(2026, 11, 10, 0, 0, 1, tzinfo=TZ))  # A (ZJJ) and C (SWJ) are a day past their deadline: urged
    A, B, C = a["case_no"], b["case_no"], c["case_no"]
    expected = Counter({
        ("duty-ZJJ", "appeal.dispatched", A): 1, ("duty-ZJJ", "appeal.supervised", A): 1,
        ("duty-ZJJ", "appeal.urged", A): 1,
        ("duty-SWJ", "appeal.dispatched", B): 1, ("duty-SWJ", "appeal.return_reviewed", B): 1,
        ("duty-SWJ", "appeal.dispatched", C): 2,  # at intake, and back after the rejected return
        ("duty-SWJ", "appeal.return_reviewed", C): 1, ("duty-SWJ", "appeal.urged", C): 1,
        ("duty-HBJ", "appeal.dispatched", B): 1, ("duty-HBJ", "appeal.extension_decided", B): 1,
    })
    wait_for(lambda: told(notify)[0] == expected, timeout=20,
             message=f"the duty contacts told (have {told(notify)[0]})")
    wait_for(lambda: {d["status"] for d in told(notify)[1]} == {"sent"}, message="all sent")

    found, items = told(notify)
    by = {(d["recipient"], d["event_type"], d["link"].rsplit("case=", 1)[-1]): d for d in items}
    approved = by[("duty-SWJ", "appeal.return_reviewed", B)]
    # an approved return concerns the department that returned it: the case itself has none now
    assert approved["department"] == "SWJ" and "department=SWJ" in approved["link"]
    assert approved["subject"] == f"【退单审核】市水务局 退回的诉求 {B} 审核通过，另行派单"
    assert "审核意见：请 [电话] 核实" in approved["body"]  # the note, scrubbed of the phone number
    rejected = by[("duty-SWJ", "appeal.return_reviewed", C)]
    assert rejected["subject"] == f"【退单审核】市水务局 退回的诉求 {C} 审核未通过，退回本单位办理"
    assert "办理期限：2026-11-09 23:59" in rejected["body"]
    extension = by[("duty-HBJ", "appeal.extension_decided", B)]
    assert extension["subject"] == f"【延期审批】诉求 {B} 的延期申请已批准"
    assert "承办单位：市生态环境局" in extension["body"] and "办理期限：2026-11-11 23:59" in extension["body"]
    moved = by[("duty-HBJ", "appeal.dispatched", B)]
    assert moved["subject"] == f"【派单】诉求 {B} 已派至市生态环境局" and moved["severity"] == "medium"
    assert "办理时限：3 个工作日，期限 2026-11-09 23:59" in moved["body"]
    for d in items:
        if d["event_type"] in TOLD and d["recipient"].startswith("duty-"):
            # each duty contact only of its own department's cases
            assert d["recipient"] == f"duty-{d['department']}", d
            assert d["status"] == "sent" and d["channel"] == "log"
        text = d["subject"] + d["body"]
        assert not any(p in text for p in PERSONAL), text

    # the broker delivers B's dispatch to SWJ again, twice; then a new dispatch on the same queue, to know the
    # duplicates were taken in before it
    dispatched = next(m for m in tap.drain() if m["event_type"] == "appeal.dispatched"
                      and m["payload"]["case_no"] == B and m["payload"]["department"] == "SWJ")
    for _ in range(2):
        publish_raw(tap.amqp_uri, "appeals.events", "appeal.dispatched", dispatched)
    d = appeals.intake(category="road", appellant={"anonymous": True}, content="井盖缺失")
    wait_for(lambda: told(notify)[0][("duty-ZJJ", "appeal.dispatched", d["case_no"])] == 1,
             message="the later dispatch told")
    again, _ = told(notify)
    assert again[("duty-SWJ", "appeal.dispatched", B)] == 1
    assert again - Counter({("duty-ZJJ", "appeal.dispatched", d["case_no"]): 1}) == expected
    # and the log channel: one delivery per (event, recipient, channel)
    per_event = Counter((x["event_id"], x["recipient"], x["channel"]) for x in notify.ok(
        "GET", "/api/v1/deliveries?per_page=500", "monitor")["items"])
    assert set(per_event.values()) == {1}
    assert events(tap)  # the tap saw the appeals' events (it is what the redelivery came from)


def test_the_demo_handler_key_belongs_to_the_busiest_department_of_the_demo_city():
    from demo import city
    from demo.generate import generate
    from scripts.run_local import DEMO_DEPARTMENT, DEMO_KEYS

    assert ("demo-department-handler", "department_handler", DEMO_DEPARTMENT) in DEMO_KEYS
    assert DEMO_DEPARTMENT in city.DEPARTMENTS
    steps = Counter(r.key.split(":", 1)[1] for r in generate(2026, until=date(2026, 12, 1))
                    if getattr(r, "key", "").startswith("handler:"))
    assert steps.most_common(1)[0][0] == DEMO_DEPARTMENT, steps.most_common(3)
