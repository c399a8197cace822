"""The monitor console's API end to end, with the real approvals and notify services on a broker vhost of the
test's own: no alert without a monitor key (401/403), alerts of approvals and appeals taken in once however
often they are delivered and in whatever order, the live stream, and acknowledge / resolve carried out by
approvals through `alert.action_requested`."""

import json
import time
from datetime import datetime
from pathlib import Path

import eventlet
import pytest
import requests

from services.kernel import clock
from services.kernel.contracts import make_event
from services.kernel.keys import KeyStore
from services.notify.service import NotifyService
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.support import publish_raw

# the department names the console shows: the demo register (SCJGJ: 市市场监督管理局)
REGISTER = str(Path(__file__).resolve().parents[2] / "services" / "scoring" / "departments.demo.yaml")


class Console:
    def __init__(self, base, keys):
        self.base = base
        self.keys = keys

    def call(self, method, path, who="monitor", body=None, **params):
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return requests.request(method, f"{self.base}{path}", json=body, headers=headers, params=params, timeout=10)

    def ok(self, method, path, who="monitor", body=None, status=200, **params):
        r = self.call(method, path, who, body, **params)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return r.json()

    def alerts(self, **params):
        return self.ok("GET", "/api/v1/console/alerts", **params)

    def alert(self, owner, alert_id):
        found = [a for a in self.alerts(state="all") if a["owner"] == owner and a["alert_id"] == str(alert_id)]
        return found[0] if found else None

    def token(self, who="monitor"):
        return self.ok("POST", "/api/v1/console/stream-tokens", who, status=201)["token"]


class Stream:
    """An open server-sent-events stream, read by a green thread into `events`."""

    def __init__(self, url):
        self.events: list[dict] = []
        self.response = requests.get(url, stream=True, timeout=(5, 30))
        self.response.raise_for_status()
        self._gt = eventlet.spawn(self._read)

    def _read(self):
        event = {}
        try:
            for raw in self.response.iter_lines(chunk_size=1, decode_unicode=True):
                if raw == "":
                    if "data" in event:
                        event["received_at"] = time.monotonic()
                        self.events.append(event)
                    event = {}
                elif not raw.startswith(":"):
                    name, _, value = raw.partition(":")
                    event[name] = value.removeprefix(" ")
        except (requests.RequestException, OSError, ValueError):
            pass

    def alerts(self):
        return [json.loads(e["data"]) for e in self.events if e.get("event") == "alert"]

    def close(self):
        self._gt.kill()  # first: closing the response under its reader is a reentrant call
        self.response.close()


@pytest.fixture
def env(service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    approvals, approvals_tap = start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)
    cfg = service_config("notify", AMQP_URI=fresh_amqp_uri, NOTIFY={"DEPARTMENTS_FILE": REGISTER})
    start_service(NotifyService, cfg)
    console = Console(cfg["base_url"], approvals.keys)
    console.amqp_uri = fresh_amqp_uri
    return approvals, approvals_tap, console


def irregularity(approvals):
    """Decide before accept: refused (409), and an irregularity alert raised by approvals."""
    app = approvals.submit()
    approvals.act(app["id"], "decide", {"approved": True}, status=409)
    return app


def approvals_event(event_type, alert_id, level, **extra):
    payload = {"application_id": "7", "application_no": "SP-TEST-7", "item_code": "SCJ-001", "department": "SCJGJ",
               "alert_id": str(alert_id), "level": level, "rule": "overdue", "raised_at": clock.now(), **extra}
    return make_event(event_type, payload, service="approvals")


# -- authentication ---------------------------------------------------------------------------------------------


def test_no_alert_is_served_without_a_monitor_key(env):
    approvals, _, console = env
    irregularity(approvals)
    wait_for(lambda: console.alerts(), message="the alert on the console")
    paths = [("GET", "/api/v1/console/alerts"), ("GET", "/api/v1/console/board"), ("GET", "/api/v1/console/feed"),
             ("POST", "/api/v1/console/stream-tokens"), ("POST", "/api/v1/console/alerts/1/acknowledge")]
    for method, path in paths:
        r = console.call(method, path, who=None)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", (path, r.text)
        for who in ("operator", "window_system", "handler_d1", "assessor"):
            r = console.call(method, path, who=who)
            assert r.status_code == 403 and r.json()["error"]["message_zh"], (path, who, r.text)
        unknown = {"Authorization": "Bearer xn_00000000_" + "a" * 40}
        r = requests.request(method, f"{console.base}{path}", headers=unknown, timeout=10)
        assert r.status_code == 401, (path, r.text)
    # the stream: no token, an unknown token, a monitor key passed as a token
    for params in ({}, {"token": "nonsense"}, {"token": console.keys["monitor"]}):
        r = requests.get(f"{console.base}/api/v1/console/stream", params=params, timeout=10)
        assert r.status_code == 401 and r.headers["Content-Type"].startswith("application/json"), r.text
        assert "alert" not in r.text.split('"error"')[0]
    # the page itself carries no data and is public
    r = requests.get(f"{console.base}/console", timeout=10)
    assert r.status_code == 200 and "电子监察室" in r.text and r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")  # no CDN, nothing injected
    assert "http" not in r.text.replace("http-equiv", "")  # every file it loads is ours


def test_a_stream_token_expires_and_dies_with_its_key(env, keys_file, frozen):
    _, _, console = env
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=clock.TZ))
    token = console.token()
    frozen(datetime(2026, 11, 2, 10, 1, 1, tzinfo=clock.TZ))  # 61 s later
    r = requests.get(f"{console.base}/api/v1/console/stream", params={"token": token}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["message_zh"] == "实时推送凭证无效、已过期或已使用"

    store = KeyStore(keys_file)
    console.keys["monitor2"] = store.add("monitor-2", "monitor")
    # services look at the keys file at most once a second
    r = wait_for(lambda: (r := console.call("POST", "/api/v1/console/stream-tokens", "monitor2")).ok and r,
                 message="the new key in use")
    token = r.json()["token"]
    assert store.revoke("monitor-2")
    r = requests.get(f"{console.base}/api/v1/console/stream", params={"token": token}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["message_zh"] == "API 密钥已吊销"


def test_static_files_are_served_and_nothing_else(env):
    _, _, console = env
    for name, ctype in (("console.js", "text/javascript"), ("console.css", "text/css")):
        r = requests.get(f"{console.base}/console/static/{name}", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(ctype), name
    for name in ("..%2Fconsole.py", "console.py", ".hidden.js", "nope.js", "%2E%2E%2F%2E%2E%2Fservice.py"):
        r = requests.get(f"{console.base}/console/static/{name}", timeout=10)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (name, r.text)


# -- alerts in ----------------------------------------------------------------------------------------------------


def test_an_alert_of_approvals_reaches_the_stream_the_board_and_the_feed(env):
    approvals, _, console = env
    stream = Stream(f"{console.base}/api/v1/console/stream?token={console.token()}")
    try:
        started = time.monotonic()
        app = irregularity(approvals)
        lines = wait_for(lambda: [x for x in stream.alerts() if x["alert"]["ref_no"] == app["application_no"]],
                         timeout=5, message="the irregularity on the stream")
        latency = stream.events[-1]["received_at"] - started
        assert latency < 2.0, latency
    finally:
        stream.close()
    line = lines[0]
    assert line["event_type"] == "monitor.irregularity" and line["alert"]["level"] == "irregularity"
    assert line["alert"]["state"] == "open" and line["alert"]["actionable"] is True
    assert "纠错" in line["text_zh"] and app["application_no"] in line["text_zh"]
    # the department by its name, its code kept beside it
    assert "市市场监督管理局" in line["text_zh"] and line["alert"]["department_name"] == "市市场监督管理局"
    assert line["alert"]["department"] == "SCJGJ"
    [stored] = approvals.alerts(application_id=app["id"])
    assert line["alert"]["alert_id"] == str(stored["id"])

    board = console.ok("GET", "/api/v1/console/board")
    [dept] = [d for d in board if d["department"] == app["department"]]
    assert dept["light"] == "yellow" and dept["counts"]["irregularity"] == 1 and dept["total"] == 1
    assert dept["department_name"] == "市市场监督管理局"
    assert console.alerts(department="SCJGJ")[0]["department_name"] == "市市场监督管理局"
    feed = console.ok("GET", "/api/v1/console/feed")
    assert [f["id"] for f in feed] == [line["id"]]
    # filters
    assert console.alerts(department=app["department"], level="irregularity")
    assert console.alerts(department="ZJJ") == [] and console.alerts(level="red") == []
    r = console.call("GET", "/api/v1/console/alerts", level="purple", limit=0)
    assert r.status_code == 400 and set(r.json()["errors"]) == {"level", "limit"}


def test_a_stream_resumes_after_the_last_line_it_saw(env):
    approvals, _, console = env
    irregularity(approvals)
    first = wait_for(lambda: console.ok("GET", "/api/v1/console/feed"), message="the first line")
    irregularity(approvals)
    wait_for(lambda: len(console.ok("GET", "/api/v1/console/feed")) == 2, message="the second line")
    stream = Stream(f"{console.base}/api/v1/console/stream?token={console.token()}&after={first[0]['id']}")
    try:
        wait_for(lambda: stream.alerts(), message="the missed line")
        eventlet.sleep(0.3)  # nothing more may come: there is nothing more
        assert [x["id"] for x in stream.alerts()] == [first[0]["id"] + 1]
        assert stream.events[0]["id"] == str(first[0]["id"] + 1)
    finally:
        stream.close()


def test_events_are_taken_in_once_and_in_any_order(env):
    approvals, _, console = env
    yellow = approvals_event("monitor.yellow_card", 9001, "yellow")
    for _ in range(3):  # redelivered
        publish_raw(console.amqp_uri, "approvals.events", "monitor.yellow_card", yellow)
    # an acknowledgement that overtook its alert (separate queues), then the alert
    ack = approvals_event("monitor.alert_acknowledged", 9002, "red", by="张监察", note="已电话督促",
                          acknowledged_at=clock.now())
    red = approvals_event("monitor.red_card", 9002, "red")
    publish_raw(console.amqp_uri, "approvals.events", "monitor.alert_acknowledged", ack)
    wait_for(lambda: console.alert("approvals", 9002), message="the acknowledgement taken in")
    publish_raw(console.amqp_uri, "approvals.events", "monitor.red_card", red)
    wait_for(lambda: len(console.ok("GET", "/api/v1/console/feed")) == 3, message="three feed lines")
    eventlet.sleep(0.3)
    assert len(console.ok("GET", "/api/v1/console/feed")) == 3
    assert console.alert("approvals", 9001)["state"] == "open"
    red_alert = console.alert("approvals", 9002)
    assert red_alert["state"] == "acknowledged" and red_alert["kind"] == "monitor.red_card"
    assert red_alert["title_zh"] == "黄牌后仍未办结" and red_alert["acknowledged_by"] == "张监察"
    [dept] = console.ok("GET", "/api/v1/console/board")
    assert dept["light"] == "red" and dept["counts"]["red"] == 1 and dept["counts"]["yellow"] == 1


def test_appeals_alerts_show_are_closed_with_their_case_and_take_no_console_command(env):
    _, _, console = env
    emergency = make_event("appeal.emergency", {"appeal_id": "31", "case_no": "RX-0031", "department": "ZJJ",
                                                "summary": "燃气泄漏"}, service="appeals")
    publish_raw(console.amqp_uri, "appeals.events", "appeal.emergency", emergency)
    item = wait_for(lambda: console.alert("appeals", "31:emergency"), message="the emergency")
    assert item["level"] == "emergency" and item["actionable"] is False and "燃气泄漏" in item["title_zh"]
    assert console.ok("GET", "/api/v1/console/board")[0]["light"] == "red"
    r = console.call("POST", f"/api/v1/console/alerts/{item['id']}/acknowledge", body={})
    assert r.status_code == 409 and r.json()["error"]["message_zh"] == "该告警须在其所属系统中办理"
    closed = make_event("appeal.closed", {"appeal_id": "31", "case_no": "RX-0031", "department": "ZJJ"},
                        service="appeals")
    publish_raw(console.amqp_uri, "appeals.events", "appeal.closed", closed)
    wait_for(lambda: console.alert("appeals", "31:emergency")["state"] == "resolved", message="closed")
    assert console.ok("GET", "/api/v1/console/board")[0]["light"] == "green"


# -- commands out ---------------------------------------------------------------------------------------------------


def test_acknowledge_and_resolve_are_carried_out_by_approvals(env):
    approvals, approvals_tap, console = env
    app = irregularity(approvals)
    item = wait_for(lambda: console.alerts(), message="the alert on the console")[0]
    r = console.call("POST", f"/api/v1/console/alerts/{item['id']}/acknowledge", body={"note": "x" * 2001})
    assert r.status_code == 400 and "note" in r.json()["errors"]
    assert console.call("POST", "/api/v1/console/alerts/999999/acknowledge", body={}).status_code == 404
    pending = console.ok("POST", f"/api/v1/console/alerts/{item['id']}/acknowledge", body={"note": "已核实"},
                         status=202)
    assert pending["pending_action"] == "acknowledge" and pending["state"] == "open"

    def in_approvals(state):
        [stored] = approvals.alerts(application_id=app["id"])
        return stored["state"] == state and stored

    stored = wait_for(lambda: in_approvals("acknowledged"), message="acknowledged in approvals")
    assert stored["acknowledged_by"] == "test-monitor" and stored["note"] == "已核实"
    shown = wait_for(lambda: (a := console.alert("approvals", stored["id"]))["state"] == "acknowledged" and a,
                     message="acknowledged on the console")
    assert shown["pending_action"] is None and shown["acknowledged_by"] == "test-monitor"
    again = console.call("POST", f"/api/v1/console/alerts/{item['id']}/acknowledge", body={})
    assert again.status_code == 409 and again.json()["error"]["message_zh"] == "告警当前状态不允许此操作"

    r = console.call("POST", f"/api/v1/console/alerts/{item['id']}/resolve", body={})
    assert r.status_code == 400 and "note" in r.json()["errors"]
    console.ok("POST", f"/api/v1/console/alerts/{item['id']}/resolve", body={"note": "已责令补正受理程序"}, status=202)
    stored = wait_for(lambda: in_approvals("resolved"), message="resolved in approvals")
    assert stored["resolved_by"] == "test-monitor" and stored["note"] == "已责令补正受理程序"
    wait_for(lambda: console.alert("approvals", stored["id"])["state"] == "resolved", message="resolved on the console")
    events = [m["event_type"] for m in approvals_tap.drain() if m["payload"].get("alert_id") == str(stored["id"])]
    assert events.count("monitor.alert_acknowledged") == 1 and events.count("monitor.alert_resolved") == 1


def test_approvals_carries_out_a_command_once_and_refuses_what_it_must(env):
    approvals, approvals_tap, console = env
    app = irregularity(approvals)
    [stored] = wait_for(lambda: approvals.alerts(application_id=app["id"]), message="the alert")
    actor = {"name": "张监察", "role": "monitor", "department": None}
    command = make_event("alert.action_requested", {"owner": "approvals", "alert_id": str(stored["id"]),
                                                    "action": "acknowledge", "note": None, "actor": actor},
                         service="notify")
    for _ in range(3):
        publish_raw(console.amqp_uri, "notify.events", "alert.action_requested", command)
    wait_for(lambda: approvals.alerts(application_id=app["id"])[0]["state"] == "acknowledged", message="acknowledged")
    refused = [
        {"owner": "approvals", "alert_id": str(stored["id"]), "action": "resolve", "note": None, "actor": actor},
        {"owner": "approvals", "alert_id": str(stored["id"]), "action": "resolve", "note": "越权",
         "actor": {**actor, "role": "operator"}},
        {"owner": "approvals", "alert_id": "99999", "action": "resolve", "note": "不存在", "actor": actor},
        {"owner": "approvals", "alert_id": "x1", "action": "resolve", "note": "不存在", "actor": actor},
        {"owner": "approvals", "alert_id": str(2**70), "action": "resolve", "note": "不存在", "actor": actor},
        {"owner": "appeals", "alert_id": str(stored["id"]), "action": "resolve", "note": "别人的", "actor": actor},
        # the same id at another node: its department is not this alert's
        {"owner": "approvals", "alert_id": str(stored["id"]), "department": "ZJJ", "action": "resolve",
         "note": "别的节点的", "actor": actor},
    ]
    for payload in refused:
        publish_raw(console.amqp_uri, "notify.events", "alert.action_requested",
                    make_event("alert.action_requested", payload, service="notify"))
    marker = make_event("alert.action_requested", {"owner": "approvals", "alert_id": str(stored["id"]),
                                                   "department": app["department"], "action": "resolve",
                                                   "note": "最后一条", "actor": actor},
                        service="notify")
    publish_raw(console.amqp_uri, "notify.events", "alert.action_requested", marker)
    done = wait_for(lambda: (a := approvals.alerts(application_id=app["id"])[0])["state"] == "resolved" and a,
                    message="the last command carried out")
    assert done["note"] == "最后一条" and done["acknowledged_by"] == "张监察" and done["resolved_by"] == "张监察"
    events = [m["event_type"] for m in approvals_tap.drain() if m["payload"].get("alert_id") == str(stored["id"])]
    assert events.count("monitor.alert_acknowledged") == 1 and events.count("monitor.alert_resolved") == 1


def test_a_stream_ends_when_its_key_is_revoked_and_streams_do_not_hold_up_a_stop(
        service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    cfg = service_config("notify", AMQP_URI=fresh_amqp_uri, CONSOLE={"KEEPALIVE_SECONDS": 0.5})
    container = start_service(NotifyService, cfg)
    store = KeyStore(keys_file)
    console = Console(cfg["base_url"], {**api_keys, "doomed": store.add("monitor-3", "monitor")})
    r = wait_for(lambda: (r := console.call("POST", "/api/v1/console/stream-tokens", "doomed")).ok and r,
                 message="the new key in use")
    doomed = Stream(f"{console.base}/api/v1/console/stream?token={r.json()['token']}")
    kept = Stream(f"{console.base}/api/v1/console/stream?token={console.token()}")
    try:
        assert store.revoke("monitor-3")
        wait_for(lambda: [e for e in doomed.events if e.get("event") == "revoked"], message="the revoked stream ended")
        assert not [e for e in kept.events if e.get("event") == "revoked"]
        started = time.monotonic()
        container.stop()  # with a stream still open
        assert time.monotonic() - started < 5
    finally:
        doomed.close()
        kept.close()


# -- stream tokens: one stream each, a few streams per key, ids that fit ----------------------------------------


@pytest.fixture
def lone_console(service_config, start_service, api_keys, fresh_amqp_uri):
    """notify alone, at most 2 streams per key, a fast keepalive (so that a gone client is noticed at once)."""
    cfg = service_config("notify", AMQP_URI=fresh_amqp_uri,
                         CONSOLE={"KEEPALIVE_SECONDS": 0.2, "MAX_STREAMS_PER_KEY": 2})
    start_service(NotifyService, cfg)
    return Console(cfg["base_url"], dict(api_keys))


def test_a_stream_token_opens_one_stream_only_and_is_never_logged(lone_console, caplog):
    console = lone_console
    caplog.set_level("DEBUG")
    token = console.token()
    url = f"{console.base}/api/v1/console/stream?token={token}"
    stream = Stream(url)
    try:
        # the same URL again (from a proxy's log, the browser's history, a second tab): refused
        r = requests.get(url, timeout=10)
        assert r.status_code == 401 and r.json()["error"]["message_zh"] == "实时推送凭证无效、已过期或已使用"
    finally:
        stream.close()
    # and once the stream is gone the token still opens nothing
    assert requests.get(url, timeout=10).status_code == 401
    # neither notify's code nor the access log (the kernel redacts query strings there) writes the token; the
    # test's own HTTP client (urllib3, at DEBUG) is not the service
    served = [r for r in caplog.records if not r.name.startswith("urllib3")]
    assert served and not [r for r in served if token in r.getMessage()]


def test_streams_per_key_are_capped_with_429(lone_console, keys_file):
    console = lone_console
    console.keys["other"] = KeyStore(keys_file).add("monitor-other", "monitor")
    first = Stream(f"{console.base}/api/v1/console/stream?token={console.token()}")
    second = Stream(f"{console.base}/api/v1/console/stream?token={console.token()}")
    other = None
    try:
        r = requests.get(f"{console.base}/api/v1/console/stream", params={"token": console.token()}, timeout=10)
        assert r.status_code == 429, r.text
        error = r.json()["error"]
        assert error["code"] == "too_many_streams" and "2" in error["message"] and "上限" in error["message_zh"]
        # another key is not held up by this one's streams (the keys file is read at most once a second)
        r = wait_for(lambda: (r := console.call("POST", "/api/v1/console/stream-tokens", "other")).ok and r,
                     message="the other key in use")
        other = Stream(f"{console.base}/api/v1/console/stream?token={r.json()['token']}")
        # a closed stream gives its place back (noticed at the next keepalive)
        first.close()
        third = wait_for(lambda: (r := requests.get(f"{console.base}/api/v1/console/stream", stream=True, timeout=10,
                                                    params={"token": console.token()})).status_code == 200 and r,
                         message="a stream again after one closed")
        third.close()
    finally:
        for s in (first, second, other):
            if s is not None:
                s.close()


def test_feed_ids_beyond_64_bits_negative_or_not_numbers_are_400(lone_console):
    console = lone_console
    for after in (str(2**63), str(2**64), "-1", "abc", "1e3"):
        r = requests.get(f"{console.base}/api/v1/console/stream", params={"token": console.token(), "after": after},
                         timeout=10)
        assert r.status_code == 400 and "after" in r.json()["errors"], (after, r.text)
    for last in (str(2**63), "99999999999999999999999", "-1", "abc", "²", "1.5"):
        r = requests.get(f"{console.base}/api/v1/console/stream", params={"token": console.token()},
                         headers={"Last-Event-ID": last.encode()}, timeout=10)
        assert r.status_code == 400 and "Last-Event-ID" in r.json()["errors"], (last, r.text)
    # the largest id is fine: nothing after it yet
    stream = Stream(f"{console.base}/api/v1/console/stream?token={console.token()}&after={2**63 - 1}")
    stream.close()
