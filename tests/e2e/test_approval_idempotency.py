"""Approvals' window actions are retry-safe on the real broker: a window system that sends every action twice under
its own reference (`Idempotency-Key` header or `action_ref` field) leaves exactly the record of one that sent it
once (history, events, no irregularity, no alert); the same reference with other content is 409 and changes
nothing; a refusal that recorded an irregularity is answered the same when retried, one that changed nothing
is judged again; applications are found by their external_ref."""

from datetime import datetime

import eventlet
import pytest
import requests

from services.kernel import clock
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals

TZ = clock.TZ


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    return start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)


def send(api, application_id, action, body=None, key=None, who="window_system"):
    headers = {"Authorization": f"Bearer {api.keys[who]}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.post(f"{api.base}/api/v1/applications/{application_id}/{action}", json=body, headers=headers,
                         timeout=10)


def history(api, application_id):
    return [(h["action"], h["from_state"], h["to_state"], h["at"]) for h in api.get(application_id)["history"]]


# the whole life of an application, one frozen moment per action
STEPS = [
    (datetime(2026, 11, 2, 10, 10, tzinfo=TZ), "request-supplement", {"missing": ["M2", "M3"], "note": "请补齐"}),
    (datetime(2026, 11, 2, 11, 0, tzinfo=TZ), "supplement-received", None),
    (datetime(2026, 11, 2, 11, 30, tzinfo=TZ), "accept", None),
    (datetime(2026, 11, 3, 10, 0, tzinfo=TZ), "special-procedure/start", {"kind": "inspection"}),
    (datetime(2026, 11, 4, 10, 0, tzinfo=TZ), "special-procedure/end", {}),
    (datetime(2026, 11, 4, 11, 0, tzinfo=TZ), "extend", {"days": 3, "approver": "局长", "reason": "需现场核查"}),
    (datetime(2026, 11, 5, 10, 0, tzinfo=TZ), "decide", {"approved": True}),
    (datetime(2026, 11, 5, 11, 0, tzinfo=TZ), "deliver", None),
]


def test_a_window_system_sending_every_action_twice_leaves_the_record_of_one(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    once = api.submit(materials=["M1"])
    twice = api.submit(materials=["M1"])
    for n, (moment, action, body) in enumerate(STEPS):
        frozen(moment)
        first = send(api, once["id"], action, body)
        assert first.status_code == 200, (action, first.text)
        # the reference by header on even steps, in the body on odd ones
        key = f"WIN-{twice['id']}-{n}"
        sent = (dict(body or {}), key) if n % 2 == 0 else ({**(body or {}), "action_ref": key}, None)
        a = send(api, twice["id"], action, *sent)
        b = send(api, twice["id"], action, *sent)  # the retry after a timeout
        assert (a.status_code, b.status_code) == (200, 200), (action, a.text, b.text)
        assert b.json() == a.json()
        assert a.json()["state"] == first.json()["state"]
    assert [h[:3] for h in history(api, twice["id"])] == [h[:3] for h in history(api, once["id"])]
    assert len(history(api, twice["id"])) == len(STEPS) + 1
    assert api.alerts(application_id=twice["id"]) == [] == api.alerts(application_id=once["id"])
    assert api.get(twice["id"])["supplement_count"] == 1 and api.get(twice["id"])["clock"]["extension_days"] == 3
    # the same events, each once
    api.drained()

    def types(application_id):
        return [m["event_type"] for m in tap.drain() if m["payload"].get("application_id") == str(application_id)]

    wait_for(lambda: len(types(once["id"])) >= len(STEPS) + 1, message="events")
    eventlet.sleep(0.5)  # a second copy, were there one, would have arrived by now
    assert types(twice["id"]) == types(once["id"])
    assert len(types(once["id"])) == len(STEPS) + 1 and "monitor.irregularity" not in types(once["id"])


def test_the_same_reference_with_other_content_is_a_conflict_and_changes_nothing(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit(materials=["M1"])
    ok = send(api, a["id"], "request-supplement", {"missing": ["M2"]}, key="K-1")
    assert ok.status_code == 200, ok.text
    before = history(api, a["id"])
    other = send(api, a["id"], "request-supplement", {"missing": ["M2", "M3"]}, key="K-1")
    assert other.status_code == 409, other.text
    err = other.json()["error"]
    assert err["code"] == "conflict" and "action_ref" in err["message"] and err["message_zh"]
    # another action, or another application, under the same reference: the same answer
    assert send(api, a["id"], "accept", key="K-1").status_code == 409
    b = api.submit()
    assert send(api, b["id"], "request-supplement", {"missing": ["M2"]}, key="K-1").status_code == 409
    assert history(api, a["id"]) == before and len(history(api, b["id"])) == 1
    assert api.alerts(application_id=a["id"]) == [] == api.alerts(application_id=b["id"])
    # the same content again still replays
    again = send(api, a["id"], "request-supplement", {"missing": ["M2"]}, key="K-1")
    assert (again.status_code, again.json()) == (200, ok.json())
    # header and field both given: they must agree
    bad = send(api, a["id"], "supplement-received", {"action_ref": "K-2"}, key="K-3")
    assert bad.status_code == 400 and "action_ref" in bad.json()["errors"]
    assert send(api, a["id"], "supplement-received", {"action_ref": "K-2"}, key="K-2").status_code == 200
    assert send(api, a["id"], "accept", key="has space").status_code == 400


def test_a_refusal_that_recorded_an_irregularity_is_answered_the_same_when_retried(env, frozen):
    api, tap = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit()
    refused = send(api, a["id"], "decide", {"approved": True}, key="D-1")
    assert refused.status_code == 409  # before acceptance: refused and recorded (decision_without_acceptance)
    frozen(datetime(2026, 11, 2, 10, 1, tzinfo=TZ))  # the retry, a minute later, without an `at` of its own
    again = send(api, a["id"], "decide", {"approved": True}, key="D-1")
    assert (again.status_code, again.json()["error"]) == (409, refused.json()["error"])
    assert [x["details"]["code"] for x in api.alerts(application_id=a["id"])] == ["decision_without_acceptance"]
    # a refusal that changed nothing is judged again: the same reference once the state allows it
    assert send(api, a["id"], "deliver", key="L-1").status_code == 409
    assert send(api, a["id"], "accept", key="A-1").status_code == 200
    frozen(datetime(2026, 11, 3, 10, 0, tzinfo=TZ))
    decided = send(api, a["id"], "decide", {"approved": True}, key="D-2")
    assert decided.status_code == 200 and decided.json()["state"] == "decided"
    assert send(api, a["id"], "deliver", key="L-1").status_code == 200
    assert [x["details"]["code"] for x in api.alerts(application_id=a["id"])] == ["decision_without_acceptance"]
    api.drained()
    irregular = [m for m in tap.drain() if m["event_type"] == "monitor.irregularity"]
    assert len(irregular) == 1, irregular


def test_applications_are_found_by_external_ref(env, frozen):
    api, _ = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    api.submit()
    b = api.submit()
    found = api.ok("GET", "/api/v1/applications", "window_system", external_ref=b["external_ref"])
    assert [i["id"] for i in found["items"]] == [b["id"]] and found["total"] == 1
    assert api.ok("GET", "/api/v1/applications", "monitor", external_ref="nobody")["items"] == []
    assert api.ok("GET", "/api/v1/applications", "monitor", external_ref=b["external_ref"], light="green",
                  )["total"] == 0  # not accepted yet: no clock, no light


def test_identical_requests_at_the_same_moment_act_once(env, frozen):
    api, _ = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    a = api.submit(materials=["M1"])
    pool = eventlet.GreenPool()
    answers = list(pool.imap(lambda _: send(api, a["id"], "request-supplement", {"missing": ["M2"]}, key="C-1"),
                             range(6)))
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    assert all(r.json() == answers[0].json() for r in answers)
    assert [h[0] for h in history(api, a["id"])] == ["submit", "request_supplement"]
    assert api.alerts(application_id=a["id"]) == []
