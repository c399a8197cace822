"""Live event handling of the scoring service: events per second from the broker into the ledger.

Target (issue 5): 1,000 events per second or more. The service runs in this process on SQLite (the
default store) with its configured max_workers. N events of the mix a city produces (acceptances,
replies, call-backs, decisions, alerts, efficiency warnings; 1-3 facts each) are published first onto
the service's queues; then the service is started and timed until every event is in its inbox (and its
facts in the ledger). Baseline in the same run, measured the same way: a bare nameko `@event_handler`
that does nothing, with as many messages (the ceiling of consuming through nameko on this machine).

    .venv/bin/python bench/scoring_live.py [--events 20000]
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from _support import bench_vhost, report  # noqa: E402
from kombu import Connection, Exchange  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402
from nameko.events import event_handler  # noqa: E402

from services.kernel import clock  # noqa: E402
from services.kernel.config import load_config  # noqa: E402
from services.kernel.contracts import make_event  # noqa: E402
from services.scoring.service import ScoringService  # noqa: E402

TARGET = 1000
# as the service is configured (services/scoring/config.yaml)
WORKERS = load_config(os.path.join(ROOT, "services", "scoring", "config.yaml"))["max_workers"]
DEPTS = ["ZJJ", "SWJ", "HBJ", "GAJ", "SCJGJ", "RSJ", "JYJ", "WJW", "ZWFW", "CGJ", "FGJ", "WCJD", "DCJD"]


def city_events(n: int, rng: random.Random) -> list[tuple[str, dict]]:
    start = datetime(2026, 1, 1, 9, tzinfo=clock.TZ)
    out = []
    for i in range(n):
        moment = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
        dept = rng.choice(DEPTS)
        case = {"appeal_id": str(i), "case_no": f"MY{i:08d}", "department": dept}
        app = {"application_id": str(i), "application_no": f"SP{i:08d}", "item_code": "X-1", "department": dept,
               "at": moment}
        kind = rng.random()
        if kind < 0.25:
            t, p = "appeal.accepted", {**case, "in_time": rng.random() < 0.9}
        elif kind < 0.45:
            t, p = "appeal.replied", {**case, "in_time": rng.random() < 0.85}
        elif kind < 0.6:
            t, p = "appeal.callback_recorded", {**case, "satisfaction": rng.choice(
                ["satisfied", "basically_satisfied", "unsatisfied"]), "resolved": rng.random() < 0.8}
        elif kind < 0.85:
            t, p = "application.decided", {**app, "approved": True, "in_time": rng.random() < 0.9}
        elif kind < 0.97:
            t, p = "monitor.yellow_card", {**app, "alert_id": str(i), "level": "yellow", "rule": "overdue",
                                           "raised_at": moment}
        else:
            t, p = "efficiency_warning.issued", {"warning_id": f"EW-{i}", "unit": dept, "person": "某",
                                                 "reason": "推诿"}
        source = "approvals" if t.startswith(("application", "monitor")) else "appeals"
        out.append((source, make_event(t, p, service=source, occurred_at=moment)))
    return out


def publish(uri: str, events: list[tuple[str, dict]]) -> None:
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for source, body in events:
            producer.publish(json.dumps(body), exchange=Exchange(f"{source}.events", passive=True),
                             routing_key=body["event_type"], content_type="application/json",
                             content_encoding="utf-8", delivery_mode=2)


def processed(db: str) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM inbox").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def run_scoring(uri: str, tmp: str, events) -> tuple[float, int]:
    db = f"{tmp}/scoring-{uuid.uuid4().hex[:6]}.db"
    cfg = {"AMQP_URI": uri, "DATABASE_URL": f"sqlite:///{db}", "WEB_SERVER_ADDRESS": "127.0.0.1:0",
           "KEYS_FILE": f"{tmp}/keys.yaml", "max_workers": WORKERS, "RETRY_DELAYS_MS": [5000],
           "SEED_DEPARTMENTS": f"{ROOT}/services/scoring/departments.demo.yaml"}
    container = ServiceContainer(ScoringService, cfg)
    container.start()  # declares its queues and bindings
    container.stop()
    publish(uri, events)
    started = time.perf_counter()
    container = ServiceContainer(ScoringService, cfg)
    container.start()
    try:
        deadline = time.monotonic() + 600
        while processed(db) < len(events) and time.monotonic() < deadline:
            eventlet.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        container.stop()
    conn = sqlite3.connect(db)
    facts = conn.execute("SELECT count(*) FROM facts").fetchone()[0]
    conn.close()
    return elapsed, facts


class Bare:
    name = "bench_bare"
    seen = 0

    @event_handler("benchbare", "thing.happened")
    def handle(self, payload):
        Bare.seen += 1


def run_bare(uri: str, n: int) -> float:
    cfg = {"AMQP_URI": uri, "max_workers": 10}
    container = ServiceContainer(Bare, cfg)
    container.start()
    container.stop()
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        body = json.dumps({"n": 1, "text": "x" * 400})
        for _ in range(n):
            producer.publish(body, exchange=Exchange("benchbare.events", passive=True), routing_key="thing.happened",
                             content_type="application/json", content_encoding="utf-8", delivery_mode=2)
    Bare.seen = 0
    started = time.perf_counter()
    container = ServiceContainer(Bare, cfg)
    container.start()
    try:
        while Bare.seen < n:
            eventlet.sleep(0.02)
        return time.perf_counter() - started
    finally:
        container.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    events = city_events(args.events, random.Random(5))
    with bench_vhost() as uri, tempfile.TemporaryDirectory() as tmp:
        bare = run_bare(uri, args.events)
        elapsed, facts = run_scoring(uri, tmp, events)
    rate, bare_rate = args.events / elapsed, args.events / bare
    print(f"scoring live event handling, {args.events} events ({facts} facts), SQLite, 2 cores shared with RabbitMQ")
    print(f"  baseline: bare nameko @event_handler      {bare_rate:8.0f} events/s")
    print(f"  scoring:  consume → facts + inbox, commit  {rate:8.0f} events/s  ({rate / bare_rate:.2f}× baseline)"
          f"  target ≥ {TARGET}/s: {'met' if rate >= TARGET else 'NOT MET'}")
    report("live events into the ledger", rate, "events/s", baseline=bare_rate, target=f">= {TARGET}/s",
           met=rate >= TARGET)
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
