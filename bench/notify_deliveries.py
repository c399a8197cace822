"""Notify deliveries to a local webhook sink: throughput, then a channel outage.

Target (issue 6): at least 200 deliveries per second to a local webhook sink; with the sink down for 60 s,
everything is delivered after it comes back, none twice.

notify runs as a `nameko run` process of its own (SQLite, the shipped send settings: 50 concurrent sends,
retry delays 5, 15, 60, 180, 600 s), seeded with one recipient whose webhook is the sink, subscribed to
`monitor.*`. The sink is a plain `http.server` in a process of its own that counts what it receives by
title (each event's title names its own application number, so a second copy shows). The bench publishes
`monitor.yellow_card` events on `approvals.events` as the approvals relay would.

1. Throughput: N events published at once; deliveries per second from the first publish to the last
   delivery at the sink (end to end: consume, plan, commit, claim, send through Apprise, record). Baseline in
   the same run: the same number of plain `requests.post`s to the same sink at the same concurrency.
2. Outage: the sink process is killed, M events published, the sink restarted after `--outage` seconds;
   then: how long until everything arrived, how many arrived twice, how many were parked.

    .venv/bin/python bench/notify_deliveries.py [--events 3000] [--outage-events 1000] [--outage 60]
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import yaml  # noqa: E402
from kombu import Connection, Queue  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _support import bench_vhost, report  # noqa: E402

from services.kernel.contracts import make_event  # noqa: E402
from services.kernel.keys import KeyStore  # noqa: E402
from services.kernel.messaging import consumer_queue_name, declare_topology, events_exchange  # noqa: E402

SINK = r'''
import json, sys, threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
seen = Counter(); lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        title = json.loads(body).get("title", "")
        words = title.split()  # "【重要】黄牌：申请 SP-xxxx-000001 已超期": the application number
        key = self.path + "|" + (words[1] if len(words) > 2 else title)
        with lock:
            seen[key] += 1
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def do_GET(self):
        with lock:
            data = json.dumps(dict(seen)).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer.request_queue_size = 1024
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''

QUIET_LOGGING = {"version": 1, "disable_existing_loggers": False,
                 "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
                 "root": {"level": "WARNING", "handlers": ["stderr"]}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """The webhook sink process; `counts()` adds up what every incarnation received."""

    def __init__(self, tmp: str, port: int):
        self.script = os.path.join(tmp, "sink.py")
        with open(self.script, "w", encoding="utf-8") as fh:
            fh.write(SINK)
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hook"
        self.before: Counter = Counter()
        self.proc: subprocess.Popen | None = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, self.script, str(self.port)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("the sink did not start")

    def current(self) -> Counter:
        return Counter(requests.get(f"http://127.0.0.1:{self.port}/", timeout=5).json())

    def counts(self) -> Counter:
        return self.before + self.current()

    def kill(self):
        self.before += self.current()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def card(n: int, run: str, level: str) -> dict:
    no = f"SP-{run}-{n:06d}"
    return {"application_id": str(n), "application_no": no, "item_code": "ZJ-001", "department": "ZJJ",
            "alert_id": str(n), "level": level, "rule": f"{level}_card", "raised_at": "2026-11-26T09:00:00+08:00",
            "due_at": "2026-11-25T23:59:59+08:00", "limit_days": 20, "elapsed_days": 21.0, "remaining_days": -1.0}


EVENT = {"yellow": "monitor.yellow_card", "red": "monitor.red_card"}


def publish(uri: str, first: int, count: int, run: str, level: str = "yellow") -> list[str]:
    """Publish `count` cards with confirms on one connection; returns their application numbers."""
    numbers = []
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        exchange = events_exchange("approvals")
        for n in range(first, first + count):
            body = make_event(EVENT[level], card(n, run, level), service="approvals", department="ZJJ")
            producer.publish(body, exchange=exchange, routing_key=EVENT[level], serializer="json", delivery_mode=2)
            numbers.append(body["payload"]["application_no"])
    return numbers


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def wait_delivered(sink: Sink, numbers: list[str], timeout: float, paths=("/hook?r=0",)) -> float | None:
    """Until every (recipient path, application number) has arrived at the sink; the moment it had."""
    wanted = {f"{path}|{no}" for path in paths for no in numbers}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = set(sink.counts())
        except requests.RequestException:
            got = set()
        if wanted <= got:
            return time.perf_counter()
        time.sleep(0.1)
    return None


def baseline(sink: Sink, count: int, concurrency: int) -> float:
    """Plain POSTs of the same size to the sink at the same concurrency: deliveries/s without notify."""
    body = json.dumps({"version": "1.0", "title": "baseline", "message": "x" * 300, "type": "info"})
    pool = eventlet.GreenPool(concurrency)
    start = time.perf_counter()
    for _ in pool.imap(lambda _i: requests.post(sink.url, data=body, timeout=10,
                                                headers={"Content-Type": "application/json"}), range(count)):
        pass
    return count / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=3000, help="events in the throughput phase")
    ap.add_argument("--outage-events", type=int, default=1000, help="events published while the sink is down")
    ap.add_argument("--outage", type=float, default=60.0, help="seconds the sink stays down")
    ap.add_argument("--fanout", type=int, default=4, help="webhook recipients of a red card (a yellow card: one)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (config, log, SQLite file)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="xiaoneng-bench-notify-")
    sink = Sink(tmp, free_port())
    notify = None
    run = os.urandom(3).hex()
    fanout = max(1, args.fanout)
    paths_1 = ("/hook?r=0",)
    paths_f = tuple(f"/hook?r={i}" for i in range(fanout))
    try:
        with bench_vhost() as uri:
            with Connection(uri) as conn:
                declare_topology(conn.default_channel, service="approvals")
                # notify's own consumer queues, bound before it starts, so that no event goes unrouted
                for event_type in EVENT.values():
                    method = "on_" + event_type.replace(".", "_")
                    Queue(consumer_queue_name("approvals", event_type, "notify", method),
                          exchange=events_exchange("approvals"), routing_key=event_type, durable=True,
                          auto_delete=False)(conn.default_channel).declare()
            with open(os.path.join(ROOT, "services", "notify", "config.yaml"), encoding="utf-8") as fh:
                shipped = yaml.safe_load(fh)
            send = shipped["NOTIFY"]["SEND"]
            seed = os.path.join(tmp, "seed.yaml")
            # r=0 gets every card; r=1.. get red cards only: a yellow card is one delivery, a red card `fanout`
            with open(seed, "w", encoding="utf-8") as fh:
                yaml.safe_dump({
                    "recipients": [{"code": f"bench-{i}", "name": f"压测{i}", "kind": "person",
                                    "addresses": {"webhook": f"{sink.url}?r={i}"}} for i in range(fanout)],
                    "subscriptions": [{"recipient": f"bench-{i}", "channel": "webhook",
                                       "event_types": ["monitor.*"] if i == 0 else ["monitor.red_card"]}
                                      for i in range(fanout)]}, fh, allow_unicode=True)
            port = free_port()
            keys = os.path.join(tmp, "keys.yaml")
            KeyStore(keys).add("bench-monitor", "monitor")
            db_path = os.path.join(tmp, "notify.db")
            cfg_path = os.path.join(tmp, "notify.yaml")
            with open(cfg_path, "w", encoding="utf-8") as fh:
                yaml.safe_dump({
                    "AMQP_URI": uri, "DATABASE_URL": f"sqlite:///{db_path}", "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                    "KEYS_FILE": keys, "DEPARTMENT": None, "SEED_NOTIFY": seed,
                    "NOTIFY": {"CONSOLE_URL": "http://127.0.0.1:8004", "QUIET_HOURS": "off", "SEND": send,
                               "WEBHOOK_ALLOW": "127.0.0.1"},  # the sink is local
                    "RETRY_DELAYS_MS": shipped["RETRY_DELAYS_MS"], "OUTBOX": shipped["OUTBOX"],
                    "max_workers": shipped["max_workers"], "parent_calls_tracked": 10, "LOGGING": QUIET_LOGGING,
                }, fh)
            sink.start()
            log_path = os.path.join(tmp, "notify.log")
            env = {**os.environ, "PYTHONPATH": ROOT}
            with open(log_path, "w") as log_fh:
                notify = subprocess.Popen([os.path.join(ROOT, ".venv", "bin", "nameko"), "run", "--config", cfg_path,
                                           "services.notify.service:NotifyService"], env=env, cwd=ROOT,
                                          stdout=log_fh, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline or notify.poll() is not None:
                    with open(log_path) as fh:
                        print(fh.read()[-3000:])
                    raise RuntimeError("notify did not start")
                time.sleep(0.2)
            if wait_delivered(sink, publish(uri, 0, 1, run), 30, paths_1) is None:
                raise RuntimeError("warm-up delivery did not arrive")
            engine = sa.create_engine(f"sqlite:///{db_path}")

            print(f"notify deliveries to a local webhook sink: notify as `nameko run` on SQLite, "
                  f"{send['CONCURRENCY']} concurrent sends, batch {send['BATCH_SIZE']}, retry delays "
                  f"{send['RETRY_DELAYS']} s; {os.cpu_count()} CPUs shared by RabbitMQ, notify, the sink and "
                  "this bench")
            base_rate = baseline(sink, 2000, int(send["CONCURRENCY"]))
            print(f"   baseline          : {base_rate:7.0f} posts/s  plain requests.post to the same sink at the same "
                  f"concurrency (no broker, no database)")

            # 1. throughput
            rates = []
            first = 1
            for level, paths, count in (("yellow", paths_1, args.events), ("red", paths_f, args.events // fanout)):
                start = time.perf_counter()
                cpu0, busy0 = cpu_seconds(notify.pid), machine_busy()
                numbers = publish(uri, first, count, run, level)
                published = time.perf_counter()
                end = wait_delivered(sink, numbers, 600, paths)
                first += count
                if end is None:
                    print(f"1. {level} cards: NOT all delivered within 600 s")
                    report(f"deliveries, {level} cards", None, "deliveries/s", target=">= 200/s", met=False)
                    return 1
                n = count * len(paths)
                cpu, busy1 = cpu_seconds(notify.pid) - cpu0, machine_busy()
                busy = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
                rates.append(n / (end - start))
                print(f"1. {count} {level} cards published at once ({published - start:.1f} s to publish), "
                      f"{len(paths)} webhook deliver{'y' if len(paths) == 1 else 'ies'} each")
                print(f"   notify end to end : {rates[-1]:7.0f} deliveries/s ({count / (end - start):.0f} events/s; "
                      f"{n} deliveries, {end - start:.1f} s from the first publish to the last delivery), "
                      f"{rates[-1] / base_rate:.2f} of the baseline")
                print(f"   notify CPU        : {cpu:.1f} s ({cpu / n * 1000:.1f} ms per delivery, "
                      f"{cpu / count * 1000:.1f} ms per event); machine {busy:.0%} busy")
                report(f"deliveries, fan-out {len(paths)}", rates[-1], "deliveries/s", baseline=base_rate,
                       target=">= 200/s", met=rates[-1] >= 200)
            verdict = ["met" if r >= 200 else "not met" for r in rates]
            print(f"   target ≥ 200/s    : {'met' if max(rates) >= 200 else 'NOT met'} (fan-out 1: {verdict[0]}; "
                  f"fan-out {fanout}: {verdict[1]})")

            # 2. outage
            sink.kill()
            down_at = time.perf_counter()
            outage_numbers = publish(uri, first, args.outage_events, run, "red")
            while time.perf_counter() - down_at < args.outage:
                time.sleep(0.2)
            with engine.connect() as c:
                failing = c.execute(sa.text(
                    "SELECT count(*), max(attempts) FROM deliveries WHERE status IN ('pending','sending') "
                    "AND attempts > 0")).one()
            sink.start()
            up_at = time.perf_counter()
            end = wait_delivered(sink, outage_numbers, args.outage + 900, paths_f)
            counts = sink.counts()
            twice = sum(1 for key, n in counts.items() if n > 1 and not key.endswith("|baseline"))
            with engine.connect() as c:
                by_status = dict(c.execute(sa.text("SELECT status, count(*) FROM deliveries GROUP BY status")).all())
                max_attempts = c.execute(sa.text("SELECT max(attempts) FROM deliveries")).scalar_one()
            n = args.outage_events * fanout
            print(f"2. outage: sink killed, {args.outage_events} red cards ({n} deliveries) published, sink back after "
                  f"{args.outage:.0f} s")
            print(f"   while down        : {failing[0]} deliveries waiting for a retry, up to {failing[1]} attempts "
                  "each")
            if end is None:
                print("   after recovery    : NOT all delivered")
            else:
                print(f"   after recovery    : all {n} delivered {end - up_at:.1f} s after the sink came back "
                      f"({end - down_at:.1f} s after it went down)")
            print(f"   delivered twice   : {twice} (of {len(counts) - 1} distinct deliveries at the sink, all phases)")
            print(f"   deliveries        : {by_status}; max attempts {max_attempts}")
            outage_ok = end is not None and twice == 0 and by_status.get("parked", 0) == 0
            print(f"   target            : {'met' if outage_ok else 'NOT met'}")
            report(f"after a {args.outage:.0f} s sink outage: delivered twice or parked",
                   twice + by_status.get("parked", 0) + (0 if end is not None else n), "deliveries",
                   target="0, all delivered", met=outage_ok)
            return 0 if outage_ok and max(rates) >= 200 else 1
    finally:
        if notify is not None and notify.poll() is None:
            notify.send_signal(signal.SIGTERM)
            try:
                notify.wait(20)
            except subprocess.TimeoutExpired:
                notify.kill()
        sink.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
