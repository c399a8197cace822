"""Deadline monitor latency: from the moment an alarm becomes due to its event on the bus.

Target (issue 3): each warning / overdue / escalation is emitted once, within a second of becoming due.
The service runs in this process on SQLite with the platform clock pinned; N cases are taken in, then the
clock jumps past their last-day warning, so all N warnings become due at once (the worst case for one
tick). Baseline in the same run: the same jump with a single case. Figures: seconds from the jump to
each event's arrival, and whether each case got exactly one warning.

    .venv/bin/python bench/appeals_monitor.py [--cases 500]
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from datetime import datetime  # noqa: E402

import requests  # noqa: E402
from kombu import Connection, Queue  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


from _support import bench_vhost, report  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402

from services.appeals.service import AppealsService  # noqa: E402
from services.kernel import clock  # noqa: E402
from services.kernel.keys import KeyStore  # noqa: E402
from services.kernel.messaging import events_exchange  # noqa: E402

API = os.environ.get("XIAONENG_TEST_RABBIT_API", "http://127.0.0.1:15672/api")
AUTH = ("guest", "guest")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(uri, tmp, n):
    keys = KeyStore(f"{tmp}/keys.yaml")
    key = keys.add(f"bench-{uuid.uuid4().hex[:6]}", "operator")
    port = free_port()
    cfg = {"AMQP_URI": uri, "DATABASE_URL": f"sqlite:///{tmp}/appeals-{uuid.uuid4().hex[:6]}.db",
           "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", "KEYS_FILE": f"{tmp}/keys.yaml",
           "SEED_CATALOGUE": f"{ROOT}/services/appeals/catalogue.demo.yaml", "max_workers": 10}
    start = datetime(2026, 11, 4, 10, 0, tzinfo=clock.TZ)
    clock.freeze(start)
    container = ServiceContainer(AppealsService, cfg)
    container.start()
    arrived: dict[str, list[float]] = {}
    conn = Connection(uri)
    queue = Queue(f"bench-monitor-{uuid.uuid4().hex[:6]}", exchange=events_exchange("appeals"),
                  routing_key="appeal.deadline_warning", auto_delete=True)

    def on_message(body, message):
        arrived.setdefault(body["payload"]["case_no"], []).append(time.perf_counter())
        message.ack()

    consumer = conn.Consumer([queue], callbacks=[on_message], accept=["json"])
    consumer.consume()

    def drain():
        while True:
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=0.5)

    gt = eventlet.spawn(drain)
    try:
        session = requests.Session()
        cases = []
        for i in range(n):
            r = session.post(f"http://127.0.0.1:{port}/api/v1/appeals", headers={"Authorization": f"Bearer {key}"},
                             json={"channel": "hotline", "type": "help", "category": "road", "content": f"路灯 {i}",
                                   "appellant": {"anonymous": True}}, timeout=10)
            r.raise_for_status()
            cases.append(r.json()["case_no"])
        # the last-day warning of a 3-day limit taken in on a Wednesday is due at Saturday 00:00
        jump = time.perf_counter()
        clock.freeze(datetime(2026, 11, 7, 0, 0, 0, 1, tzinfo=clock.TZ))
        deadline = time.monotonic() + 60
        while len(arrived) < n and time.monotonic() < deadline:
            eventlet.sleep(0.01)
        eventlet.sleep(1.5)  # three more monitor ticks: a second warning would show now
        delays = sorted(arrived[c][0] - jump for c in cases if c in arrived)
        counts = Counter(len(arrived.get(c, [])) for c in cases)
        return delays, counts
    finally:
        gt.kill()
        conn.release()
        container.stop()
        clock.freeze(None)


def report_line(name, delays, counts, n):
    p = lambda q: delays[min(len(delays) - 1, int(round(q * (len(delays) - 1))))]  # noqa: E731
    print(f"{name:30} cases={n:5}  arrived={len(delays):5}  p50={statistics.median(delays):.3f} s  "
          f"p95={p(0.95):.3f} s  max={delays[-1]:.3f} s  warnings per case: {dict(counts)}")
    return delays[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=500)
    args = ap.parse_args()
    with bench_vhost() as uri, tempfile.TemporaryDirectory() as tmp:
        print("deadline monitor: seconds from an alarm becoming due to its event on the bus "
              "(target: within 1 s, exactly once)")
        base, base_counts = run(uri, tmp, 1)
        report_line("baseline: one case", base, base_counts, 1)
        delays, counts = run(uri, tmp, args.cases)
        worst = report_line(f"{args.cases} cases due at once", delays, counts, args.cases)
        print(f"max / baseline max = {worst / base[-1]:.2f}x; "
              f"target {'met' if worst < 1.0 and set(counts) == {1} else 'NOT met'}")
        report(f"warning latency max, {args.cases} due at once", worst, "s", baseline=base[-1], target="< 1 s",
               met=worst < 1.0)
        report("warnings per case", max(counts), "per case", target="exactly 1", met=set(counts) == {1})


if __name__ == "__main__":
    main()
