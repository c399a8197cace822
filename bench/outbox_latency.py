"""Outbox latency: how long from the commit of a state change until its event is on the bus.

Target (issue 2): p95 under 200 ms at light load. Measured against a baseline in the same run: the same
event published directly with publisher confirms (what a dual-writing service would do, losing events
on a crash). Runs on the local RabbitMQ in a vhost of its own and on SQLite (and PostgreSQL if
XIAONENG_BENCH_PG is set to an admin URL, e.g. postgresql://postgres@127.0.0.1/postgres).

    .venv/bin/python bench/outbox_latency.py [--events 300] [--interval 0.02]
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from kombu import Connection, Queue  # noqa: E402
from sqlalchemy import MetaData  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _support import bench_database, bench_vhost, report  # noqa: E402

from services.kernel.contracts import make_event  # noqa: E402
from services.kernel.db import Database  # noqa: E402
from services.kernel.messaging import ConfirmingPublisher, declare_topology, events_exchange  # noqa: E402
from services.kernel.outbox import OutboxRelay  # noqa: E402

API = os.environ.get("XIAONENG_TEST_RABBIT_API", "http://127.0.0.1:15672/api")
AUTH = ("guest", "guest")
PAYLOAD = {"appeal_id": "1", "case_no": "MY20261125000001", "channel": "hotline", "type": "help",
           "urgency": "normal", "category": "water", "received_at": "2026-11-25T09:00:00+08:00"}


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Listener:
    """Records when each event id arrives on a queue bound to appeals.events."""

    def __init__(self, uri):
        self.arrived: dict[str, float] = {}
        self.conn = Connection(uri)
        self.queue = Queue(f"bench-{uuid.uuid4().hex[:6]}", exchange=events_exchange("appeals"),
                           routing_key="#", auto_delete=True)
        self.consumer = self.conn.Consumer([self.queue], callbacks=[self._on], accept=["json"])
        self.consumer.consume()
        self.gt = eventlet.spawn(self._loop)

    def _on(self, body, message):
        self.arrived[body["event_id"]] = time.perf_counter()
        message.ack()

    def _loop(self):
        while True:
            try:
                self.conn.drain_events(timeout=1)
            except TimeoutError:
                pass
            except OSError:
                return

    def close(self):
        self.gt.kill()
        self.conn.release()

    def wait(self, ids, deadline=30):
        end = time.monotonic() + deadline
        while not all(i in self.arrived for i in ids):
            if time.monotonic() > end:
                raise SystemExit(f"only {sum(i in self.arrived for i in ids)}/{len(ids)} events arrived")
            eventlet.sleep(0.01)


def run_outbox(db_url, uri, listener, n, interval, wake):
    db = Database(db_url, MetaData(), service="appeals")
    db.create_all()
    relay = OutboxRelay(db, ConfirmingPublisher(uri), poll_interval=0.5)
    if wake:
        db.on_commit_with_events(relay.notify)
    gt = eventlet.spawn(relay.run)
    latencies = commit_events(db, listener, n, interval)
    relay.stop()
    gt.kill()
    db.dispose()
    return latencies


def commit_events(db, listener, n, interval):
    """Commit `n` events `interval` apart; the milliseconds from each commit to its arrival on the bus."""
    committed = {}
    for _ in range(n):
        with db.unit_of_work() as uow:
            body = uow.publish("appeal.received", PAYLOAD)
        committed[body["event_id"]] = time.perf_counter()
        eventlet.sleep(interval)
    listener.wait(list(committed))
    return [(listener.arrived[i] - t) * 1000 for i, t in committed.items()]


def run_relay_process(db_url, uri, listener, n, interval, tmp):
    """The relay as a process of its own (`python -m services.kernel.relay`), woken by SQLite's data_version."""
    import signal
    import subprocess

    import yaml

    db = Database(db_url, MetaData(), service="appeals")
    db.create_all()
    config = os.path.join(tmp, "relay.yaml")
    with open(config, "w") as fh:
        yaml.safe_dump({"AMQP_URI": uri, "DATABASE_URL": db_url}, fh)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "services.kernel.relay", "--config", config, "--service",
                             "appeals"], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with db.unit_of_work() as uow:  # warm-up: the process is up and publishing
            first = uow.publish("appeal.received", PAYLOAD)
        listener.wait([first["event_id"]])
        return commit_events(db, listener, n, interval)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        db.dispose()


def run_direct(uri, listener, n, interval):
    pub = ConfirmingPublisher(uri)
    sent = {}
    for _ in range(n):
        body = make_event("appeal.received", PAYLOAD, service="appeals")
        t = time.perf_counter()
        pub.publish(body, exchange=events_exchange("appeals"), routing_key="appeal.received")
        sent[body["event_id"]] = t
        eventlet.sleep(interval)
    listener.wait(list(sent))
    pub.close()
    return [(listener.arrived[i] - t) * 1000 for i, t in sent.items()]


def report_line(name, ms, base_p95=None, target=True):
    """`target=False`: a figure for the record (the target is for a relay that is woken, not one that polls)."""
    line = (f"{name:42} n={len(ms):4}  p50={statistics.median(ms):7.2f} ms  p95={pct(ms, 95):7.2f} ms  "
            f"p99={pct(ms, 99):7.2f} ms  max={max(ms):7.2f} ms")
    if base_p95:
        line += f"  p95/baseline={pct(ms, 95) / base_p95:5.2f}x"
        report(f"{name} p95", pct(ms, 95), "ms", baseline=base_p95,
               target="< 200 ms" if target else "for the record", met=pct(ms, 95) < 200 if target else None)
    print(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--interval", type=float, default=0.02, help="seconds between commits (light load)")
    args = ap.parse_args()
    with bench_vhost() as uri:
        with Connection(uri) as conn:
            declare_topology(conn.channel(), service="appeals")
        listener = Listener(uri)
        print(f"outbox latency, {args.events} events, one every {args.interval * 1000:.0f} ms "
              f"(target: p95 < 200 ms)")
        base = run_direct(uri, listener, args.events, args.interval)
        report_line("baseline: direct publish with confirms", base)
        base_p95 = pct(base, 95)
        with tempfile.TemporaryDirectory() as tmp:
            report_line("outbox, SQLite, same-process wake-up", run_outbox(
                f"sqlite:///{tmp}/a.db", uri, listener, args.events, args.interval, True), base_p95)
            report_line("outbox, SQLite, relay process (5 ms tick)", run_relay_process(
                f"sqlite:///{tmp}/c.db", uri, listener, args.events, args.interval, tmp), base_p95)
            report_line("outbox, SQLite, poll only (other process)", run_outbox(
                f"sqlite:///{tmp}/b.db", uri, listener, min(args.events, 100), args.interval, False), base_p95,
                target=False)
        pg = os.environ.get("XIAONENG_BENCH_PG")
        if pg:
            with bench_database(pg) as url:
                report_line("outbox, PostgreSQL, same-process wake-up", run_outbox(
                    url, uri, listener, args.events, args.interval, True), base_p95)
        listener.close()


if __name__ == "__main__":
    main()
