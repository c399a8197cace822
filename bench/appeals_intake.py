"""Intake throughput: `POST /api/v1/appeals` through HTTP on SQLite, against a bare nameko `@http` endpoint that
publishes one event per request with nameko's own EventDispatcher, measured side by side in the same run.

Target (customer issue): at least half the baseline's throughput, and p99 under 100 ms at 20 concurrent clients.
Both services run as `nameko run` processes of their own, on the local RabbitMQ in a vhost of their own; the
load comes from threads of this process (keep-alive http.client). At the end, the appeal.received events on the
bus (and the outbox rows marked published) must equal the 201s: nothing lost.

    .venv/bin/python bench/appeals_intake.py [--seconds 15] [--rounds 3] [--clients 20] [--warmup 3] [--max-workers 10]
        [--relay process|in-service] [--without-direct]

`--without-direct` measures a third service side by side: appeals again, on a SQLite file of its own, with
`XIAONENG_DIRECT=0` (every `kernel/direct.py` statement through SQLAlchemy's `Connection.execute`), to show
what the direct statements are worth (ADR 0006).
"""

import argparse
import contextlib
import http.client
import itertools
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field

import requests
import yaml
from kombu import Connection, Queue

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # kombu/services import it; not used here

from _support import amqp_uri, create_vhost, delete_vhost, report  # noqa: E402
from nameko.standalone.events import get_event_exchange  # noqa: E402

from services.kernel.keys import KeyStore  # noqa: E402
from services.kernel.messaging import declare_topology, events_exchange, unrouted_queue  # noqa: E402

APPEALS_SERVICE = "services.appeals.service:AppealsService"
BASELINE_SERVICE = "bench_intake_baseline"
PATH = "/api/v1/appeals"
CATEGORIES = ("road", "water", "environment", "traffic")
TOWN_STREETS = ("WCJD", "DCJD", None)
QUIET_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "root": {"level": "WARNING", "handlers": ["stderr"]},
}

# The baseline the customer named: nameko's @http, a JSON body parsed, one event through EventDispatcher.
BASELINE_MODULE = f'''
"""Bare nameko baseline of the intake benchmark (written by bench/appeals_intake.py)."""

import json

from nameko.events import EventDispatcher
from nameko.web.handlers import http


class Baseline:
    name = "{BASELINE_SERVICE}"
    dispatch = EventDispatcher()

    @http("POST", "{PATH}")
    def create_appeal(self, request):
        data = json.loads(request.get_data(as_text=True))
        self.dispatch("appeal.received", {{"channel": data["channel"], "category": data["category"],
                                           "external_ref": data.get("external_ref")}})
        return 201, {{"Content-Type": "application/json"}}, json.dumps({{"status": "received"}})
'''

# A minimal keep-alive HTTP server: what the load generator can drive when the server costs next to nothing.
STUB_SERVER = '''
import asyncio
import sys

RESPONSE = b"HTTP/1.1 201 Created\\r\\nContent-Type: application/json\\r\\nContent-Length: 2\\r\\n\\r\\n{}"


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = 0
            for line in head.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            writer.write(RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
'''


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU of a process so far (from /proc); None if there is no such process (any more)."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """The local RabbitMQ's Erlang VM, if it runs on this machine (its CPU competes with ours)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            # the broker's VM boots rabbit; rabbitmqctl runs short-lived beam.smp processes of its own
            with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
                if argv and argv[0].endswith(b"beam.smp") and b"rabbit" in argv and b"boot" in argv:
                    return int(entry)
    return None


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# -- the load generator --------------------------------------------------------------------------------


class Bodies:
    """Valid, distinct appeals: a unique phone and external_ref each, so no duplicate linking kicks in."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.counter = itertools.count(1)  # next() on a count is atomic under the GIL

    def __call__(self) -> bytes:
        n = next(self.counter)
        return json.dumps({
            "channel": "hotline",
            "external_ref": f"bench-{self.run_id}-{n}",
            "type": "help" if n % 3 else "complaint",
            "category": CATEGORIES[n % len(CATEGORIES)],
            "content": f"基准测试诉求 {n}：路灯不亮，井盖松动，请尽快处理。",
            "appellant": {"name": "测试市民", "phone": f"139{n:08d}"},
            "location": {"address": "测试路 1 号", "town_street": TOWN_STREETS[n % len(TOWN_STREETS)]},
        }, ensure_ascii=False).encode("utf-8")


@dataclass
class Result:
    """Requests of one or more measured slices, with the CPU each party used meanwhile (seconds)."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    broker_cpu_s: float | None = None
    machine_busy: int = 0
    machine_total: int = 0
    relay_cpu_s: float = 0.0  # the outbox relay's process, when it runs apart from the service

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    @property
    def created(self) -> int:
        return self.statuses.get(201, 0)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def share(self, seconds: float | None) -> float:
        """CPU seconds as a share of one core over the measured time."""
        return (seconds or 0.0) / self.elapsed if self.elapsed else 0.0

    @property
    def client_share(self) -> float:
        return self.share(self.client_cpu_s)

    @property
    def server_ms_per_request(self) -> float:
        return self.server_cpu_s / max(1, self.count) * 1000

    def __add__(self, other: "Result") -> "Result":
        statuses = dict(self.statuses)
        for status, n in other.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
        broker = None if self.broker_cpu_s is None and other.broker_cpu_s is None else \
            (self.broker_cpu_s or 0.0) + (other.broker_cpu_s or 0.0)
        return Result(self.latencies_ms + other.latencies_ms, statuses, self.errors + other.errors,
                      self.elapsed + other.elapsed, self.server_cpu_s + other.server_cpu_s,
                      self.client_cpu_s + other.client_cpu_s, broker, self.machine_busy + other.machine_busy,
                      self.machine_total + other.machine_total, self.relay_cpu_s + other.relay_cpu_s)


def drive(port: int, seconds: float, clients: int, bodies, headers: dict, server_pid: int | None,
          relay_pid: int | None = None) -> Result:
    """`clients` threads, each posting back to back on its own keep-alive connection for `seconds`."""
    result = Result()
    if seconds <= 0:
        return result
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]
    headers = {"Content-Type": "application/json", **headers}

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, statuses, errors = [], {}, 0
        start.wait()
        while time.perf_counter() < stop_at[0]:
            body = bodies()
            t0 = time.perf_counter()
            try:
                conn.request("POST", PATH, body, headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                time.sleep(0.01)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
        conn.close()
        with lock:
            result.latencies_ms.extend(latencies)
            result.errors += errors
            for status, n in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + n

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    return run_clients(threads, server_pid, seconds, stop_at, start, result, relay_pid)


def clean_up(broker, processes, vhost: str, tmp: str, keep: bool) -> None:
    """Whatever happened: close the broker connection, stop the services, drop the vhost and the files."""
    if broker is not None:
        with contextlib.suppress(Exception):
            broker.release()
    for p in reversed(processes):
        p.stop()
    delete_vhost(vhost)
    if keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def run_clients(threads, server_pid, seconds, stop_at, start, result, relay_pid=None):
    """Start the client threads, open the measuring window of `seconds` (`stop_at[0]`, `start` released),
    wait for them, and record the elapsed time and the CPU of the server, the broker, the clients and the
    whole machine in `result`."""
    for t in threads:
        t.start()
    broker = broker_pid()
    server_cpu0, broker_cpu0, relay_cpu0 = cpu_seconds(server_pid), cpu_seconds(broker), cpu_seconds(relay_pid)
    client_cpu0 = time.process_time()
    busy0, total0 = machine_busy()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    start.wait()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - t0
    result.client_cpu_s = time.process_time() - client_cpu0
    server_cpu1, broker_cpu1, relay_cpu1 = cpu_seconds(server_pid), cpu_seconds(broker), cpu_seconds(relay_pid)
    if relay_cpu0 is not None and relay_cpu1 is not None:
        result.relay_cpu_s = relay_cpu1 - relay_cpu0
    if server_cpu0 is not None and server_cpu1 is not None:
        result.server_cpu_s = server_cpu1 - server_cpu0
    if broker_cpu0 is not None and broker_cpu1 is not None:  # None as well if the broker restarted meanwhile
        result.broker_cpu_s = broker_cpu1 - broker_cpu0
    busy1, total1 = machine_busy()
    result.machine_busy, result.machine_total = busy1 - busy0, total1 - total0
    return result


# -- processes -----------------------------------------------------------------------------------------


class Process:
    def __init__(self, name: str, argv: list[str], env: dict, log_path: str, port: int | None = None):
        self.name = name
        self.log_path = log_path
        self.port = port
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 30) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise SystemExit(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                # nameko's SIGTERM handler only schedules the stop; an idle eventlet hub may sleep up to 60 s
                # before running it (the poll is retried after EINTR). Any socket activity wakes it.
                if self.port:
                    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                        pass
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(0.25)
            if self.proc.poll() is None:
                print(f"  {self.name} did not stop within {timeout:.0f} s of SIGTERM: killed", flush=True)
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def wait_until_answering(process: Process, url: str, want_status: int | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        process.check_alive()
        try:
            r = requests.get(url, timeout=2)
            if want_status is None or r.status_code == want_status:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{process.name} did not answer {url} within {timeout:.0f} s:\n{process.tail()}")
        time.sleep(0.2)


def wait_for_port(process: Process, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        process.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{process.name} did not listen on {port}:\n{process.tail()}")
        time.sleep(0.1)


# -- broker --------------------------------------------------------------------------------------------


def queue_depth(conn: Connection, name: str) -> int:
    return conn.default_channel.queue_declare(queue=name, passive=True).message_count


def settle(conn: Connection, queue: str, expected: int, pending=lambda: 0, timeout: float = 30.0) -> int:
    """Wait until `expected` messages are on `queue` and nothing is pending (or it stops moving)."""
    deadline = time.monotonic() + timeout
    while True:
        depth = queue_depth(conn, queue)
        if (depth >= expected and pending() == 0) or time.monotonic() > deadline:
            return depth
        time.sleep(0.2)


# -- reporting -----------------------------------------------------------------------------------------


def report_line(name: str, r: Result, base: Result | None = None) -> None:
    ms = r.latencies_ms
    other = {s: n for s, n in r.statuses.items() if s != 201}
    line = (f"{name:9} requests={r.count:6}  throughput={r.rate:7.1f} req/s  p50={statistics.median(ms):6.1f} ms  "
            f"p95={pct(ms, 95):6.1f} ms  p99={pct(ms, 99):6.1f} ms  max={max(ms):6.1f} ms")
    if base is not None:
        line += f"  throughput/baseline={r.rate / base.rate:4.2f}x"
    if other or r.errors:
        line += f"  NOT 201: {other} errors={r.errors}"
    print(line)
    cpus = os.cpu_count() or 1
    machine = r.machine_busy / max(1, r.machine_total) * cpus
    ours = r.share(r.server_cpu_s) + r.share(r.client_cpu_s) + r.share(r.broker_cpu_s) + r.share(r.relay_cpu_s)
    line = (f"{'':9} cpu (1.00 = one core): server {r.share(r.server_cpu_s):4.2f} = "
            f"{r.server_ms_per_request:5.2f} ms per request, load generator {r.client_share:4.2f}")
    if r.relay_cpu_s:
        line += (f", outbox relay process {r.share(r.relay_cpu_s):4.2f} = "
                 f"{r.relay_cpu_s / max(1, r.count) * 1000:5.2f} ms per request")
    if r.broker_cpu_s is not None:
        line += f", rabbitmq {r.share(r.broker_cpu_s):4.2f}"
    line += f", whole machine {machine:4.2f} of {cpus} (other processes {max(0.0, machine - ours):4.2f})"
    print(line, flush=True)


def service_yaml(path: str, config: dict) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh, allow_unicode=True, sort_keys=False)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=15.0, help="measured seconds per service")
    ap.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per service (not measured)")
    ap.add_argument("--clients", type=int, default=20, help="concurrent clients")
    ap.add_argument("--rounds", type=int, default=3, help="alternating slices the measured seconds are cut into")
    ap.add_argument("--max-workers", type=int, default=10, help="nameko max_workers of both (appeals' default)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs, the SQLite file)")
    ap.add_argument("--relay", choices=("process", "in-service"), default="process",
                    help="where appeals' outbox relay runs: a process of its own (the busy-intake set-up) or in "
                         "the service (the default set-up)")
    ap.add_argument("--without-direct", action="store_true",
                    help="also measure appeals with XIAONENG_DIRECT=0 (no direct statements), side by side")
    args = ap.parse_args()

    vhost = create_vhost()
    uri = amqp_uri(vhost)
    processes: list[Process] = []
    broker: Connection | None = None
    tmp = tempfile.mkdtemp(prefix="xiaoneng-bench-")
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, tmp]), "PYTHONUNBUFFERED": "1"}
        nameko = os.path.join(ROOT, ".venv", "bin", "nameko")
        python = os.path.join(ROOT, ".venv", "bin", "python")

        keys_file = os.path.join(tmp, "keys.yaml")
        operator_key = KeyStore(keys_file).add("bench-operator", "operator")
        appeals_port, baseline_port, stub_port = free_port(), free_port(), free_port()

        def appeals_yaml(name: str, db_path: str, port: int) -> str:
            return service_yaml(os.path.join(tmp, f"{name}.yaml"), {
                "AMQP_URI": uri,
                "DATABASE_URL": f"sqlite:///{db_path}",
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                "KEYS_FILE": keys_file,
                "DEPARTMENT": None,
                "SEED_CATALOGUE": os.path.join(ROOT, "services", "appeals", "catalogue.demo.yaml"),
                "RETRY_DELAYS_MS": [5000, 15000, 40000],
                # as services/appeals/config.yaml, the relay in the service or in a process of its own
                "OUTBOX": {"POLL_INTERVAL": 0.5, "BATCH_SIZE": 200, "RELAY": args.relay == "in-service"},
                "max_workers": args.max_workers,
                "LOGGING": QUIET_LOGGING,
            })

        db_path = os.path.join(tmp, "appeals.db")
        appeals_cfg = appeals_yaml("appeals", db_path, appeals_port)
        with open(os.path.join(tmp, "intake_baseline.py"), "w", encoding="utf-8") as fh:
            fh.write(textwrap.dedent(BASELINE_MODULE))
        baseline_cfg = service_yaml(os.path.join(tmp, "baseline.yaml"), {
            "AMQP_URI": uri,
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{baseline_port}",
            "max_workers": args.max_workers,
            "LOGGING": QUIET_LOGGING,
        })
        with open(os.path.join(tmp, "stub_server.py"), "w", encoding="utf-8") as fh:
            fh.write(STUB_SERVER)

        # Queues bound before any request, so every event is routed (and counted) rather than dropped.
        broker = Connection(uri)
        channel = broker.default_channel
        declare_topology(channel, service="appeals")
        get_event_exchange(BASELINE_SERVICE, {})(channel).declare()
        appeals_q = Queue("bench-intake-appeals", exchange=events_exchange("appeals"), routing_key="appeal.received",
                          durable=True, auto_delete=False)
        baseline_q = Queue("bench-intake-baseline", exchange=get_event_exchange(BASELINE_SERVICE, {}),
                           routing_key="appeal.received", durable=True, auto_delete=False)
        for q in (appeals_q, baseline_q):
            q(channel).declare()

        # The class named: `nameko run` of the bare module would also pick up any other class with entrypoints.
        def start_appeals(name: str, cfg: str, port: int, env: dict) -> tuple[Process, Process | None]:
            service = Process(name, [nameko, "run", "--config", cfg, APPEALS_SERVICE], env,
                              os.path.join(tmp, f"{name}.log"), port)
            processes.append(service)
            relay = None
            if args.relay == "process":
                relay = Process(f"{name}-relay", [python, "-m", "services.kernel.relay", "--config", cfg,
                                                  "--service", "appeals"], env, os.path.join(tmp, f"{name}-relay.log"))
                processes.append(relay)
            return service, relay

        appeals, relay = start_appeals("appeals", appeals_cfg, appeals_port, env)
        relays = {"appeals": relay}
        db_paths = {"appeals": db_path}
        if args.without_direct:
            nodirect_port = free_port()
            db_paths["no-direct"] = os.path.join(tmp, "nodirect.db")
            nodirect_cfg = appeals_yaml("nodirect", db_paths["no-direct"], nodirect_port)
            nodirect, relays["no-direct"] = start_appeals("no-direct", nodirect_cfg, nodirect_port,
                                                          {**env, "XIAONENG_DIRECT": "0"})
        baseline = Process("baseline", [nameko, "run", "--config", baseline_cfg, "intake_baseline"], env,
                           os.path.join(tmp, "baseline.log"), baseline_port)
        processes.append(baseline)
        stub = Process("stub", [python, os.path.join(tmp, "stub_server.py"), str(stub_port)], env,
                       os.path.join(tmp, "stub.log"))
        processes.append(stub)
        wait_until_answering(appeals, f"http://127.0.0.1:{appeals_port}/health", 200)
        if args.without_direct:
            wait_until_answering(nodirect, f"http://127.0.0.1:{nodirect_port}/health", 200)
        wait_until_answering(baseline, f"http://127.0.0.1:{baseline_port}/", None)
        wait_for_port(stub, stub_port)

        rounds = max(1, args.rounds)
        print(f"intake throughput: POST {PATH}, {args.clients} concurrent clients, {args.seconds:.0f} s measured per "
              f"service in {rounds} alternating rounds, after {args.warmup:.0f} s warm-up; max_workers="
              f"{args.max_workers} for both")
        print(f"  appeals : {APPEALS_SERVICE} on SQLite (WAL), demo catalogue, outbox relay "
              + ("in a process of its own (python -m services.kernel.relay)" if relay else "in the service"))
        print("  baseline: bare nameko @http + json.loads + one EventDispatcher event (publisher confirms)")
        print(f"  machine : {os.cpu_count()} CPUs shared by the load generator (threads of this process, keep-alive "
              "http.client), both services, RabbitMQ and whatever else runs here: absolute figures are this box's "
              "of the moment; compare the ratio and the CPU per request", flush=True)

        # The load generator's own ceiling, against a server that costs next to nothing.
        stub_result = drive(stub_port, min(3.0, args.seconds), args.clients, Bodies("stub"), {}, stub.pid)
        stub.stop()
        processes.remove(stub)

        auth = {"Authorization": f"Bearer {operator_key}"}
        appeal_bodies, baseline_bodies = Bodies(uuid.uuid4().hex[:8]), Bodies("baseline")
        targets = {"baseline": (baseline, baseline_port, baseline_bodies, {}),
                   "appeals": (appeals, appeals_port, appeal_bodies, auth)}
        if args.without_direct:
            targets["no-direct"] = (nodirect, nodirect_port, Bodies(uuid.uuid4().hex[:8]), auth)
        # Warm-up (not measured, but its 201s count for the events check).
        totals = {name: drive(port, args.warmup, args.clients, bodies, headers, None)
                  for name, (_, port, bodies, headers) in targets.items()}
        measured = {name: Result() for name in targets}
        # Alternating slices, so that whatever else loads the machine meanwhile weighs on both alike.
        for i in range(rounds):
            order = list(targets) if i % 2 == 0 else list(reversed(targets))
            slice_ = {}
            for name in order:
                process, port, bodies, headers = targets[name]
                relay_of = relays.get(name)
                slice_[name] = drive(port, args.seconds / rounds, args.clients, bodies, headers, process.pid,
                                     relay_of.pid if relay_of else None)
                process.check_alive()
                if relay_of:
                    relay_of.check_alive()
                measured[name] += slice_[name]
            rates = ", ".join(f"{name} {slice_[name].rate:6.1f} req/s" for name in targets)
            print(f"  round {i + 1}/{rounds}: {rates}"
                  f", ratio {slice_['appeals'].rate / slice_['baseline'].rate:4.2f}", flush=True)
        baseline_r, appeals_r = measured["baseline"], measured["appeals"]
        for name in targets:
            totals[name] += measured[name]

        print(f"load generator ceiling (stub server, {stub_result.elapsed:.0f} s): {stub_result.rate:.0f} req/s with "
              f"{stub_result.client_share:.2f} core = {stub_result.rate / baseline_r.rate:.1f}x the baseline's "
              f"throughput; during the measured runs it used {baseline_r.client_share:.2f} core (baseline) and "
              f"{appeals_r.client_share:.2f} core (appeals)")
        generator_ok = stub_result.rate >= 2 * baseline_r.rate
        print("  -> the load generator is " + ("not the bottleneck" if generator_ok else
                                                "CLOSE TO ITS CEILING: the baseline may be understated"))
        report_line("baseline", baseline_r)
        report_line("appeals", appeals_r, baseline_r)
        if args.without_direct:
            nodirect_r = measured["no-direct"]
            report_line("no-direct", nodirect_r, baseline_r)
            print(f"kernel/direct.py: appeals with direct statements {appeals_r.rate:.1f} req/s "
                  f"({appeals_r.server_ms_per_request:.2f} ms server cpu per request), without "
                  f"{nodirect_r.rate:.1f} req/s ({nodirect_r.server_ms_per_request:.2f} ms): "
                  f"{appeals_r.rate / nodirect_r.rate:.2f}x the throughput with them", flush=True)
        ratio = appeals_r.rate / baseline_r.rate
        p99 = pct(appeals_r.latencies_ms, 99)
        print(f"target: appeals/baseline throughput {ratio:.2f} (>= 0.50): {'met' if ratio >= 0.5 else 'NOT MET'}")
        print(f"target: appeals p99 at {args.clients} clients {p99:.1f} ms (< 100 ms): "
              f"{'met' if p99 < 100 else 'NOT MET'}  (baseline p99 {pct(baseline_r.latencies_ms, 99):.1f} ms; "
              f"{args.clients} clients back to back wait {args.clients}/throughput on average, so p99 < 100 ms needs "
              f"well over {args.clients / 0.1:.0f} req/s)")
        report("intake throughput", appeals_r.rate, "req/s", baseline=baseline_r.rate, target=">= 0.5x baseline",
               met=ratio >= 0.5)
        report(f"intake p99 at {args.clients} clients", p99, "ms", baseline=pct(baseline_r.latencies_ms, 99),
               target="< 100 ms", met=p99 < 100)
        print(f"server cpu per request: appeals {appeals_r.server_ms_per_request:.2f} ms, baseline "
              f"{baseline_r.server_ms_per_request:.2f} ms "
              f"({appeals_r.server_ms_per_request / baseline_r.server_ms_per_request:.1f}x)", flush=True)

        # Nothing lost: every 201 of either service is one event on the bus (warm-up included).
        def each_db(query: str) -> list:
            rows = []
            for path in db_paths.values():
                with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
                    rows += db.execute(query).fetchall()
            return rows

        def outbox_pending() -> int:
            return sum(n for (n,) in each_db("SELECT count(*) FROM outbox WHERE published_at IS NULL"))

        # both appeals services (with and without direct statements) publish to the same queue
        appeals_201 = sum(totals[name].created for name in db_paths)
        baseline_201 = totals["baseline"].created
        on_bus = settle(broker, appeals_q.name, appeals_201, outbox_pending)
        baseline_on_bus = settle(broker, baseline_q.name, baseline_201)
        published = sum(n for (n,) in each_db("SELECT count(*) FROM outbox WHERE event_type = 'appeal.received' "
                                              "AND published_at IS NOT NULL"))
        statuses: dict = {}
        for status, n in each_db("SELECT status, count(*) FROM appeals GROUP BY status"):
            statuses[status] = statuses.get(status, 0) + n
        appeals_ok = on_bus == appeals_201 == published
        baseline_ok = baseline_on_bus == baseline_201
        lost = not (appeals_ok and baseline_ok)
        print(f"events: appeals 201s={appeals_201}  appeal.received on the bus={on_bus}  outbox rows published="
              f"{published}  appeals by status={statuses}: " + ("nothing lost" if appeals_ok else "MISMATCH"))
        print(f"events: baseline 201s={baseline_201}  events on the bus={baseline_on_bus}: "
              + ("nothing lost" if baseline_ok else "MISMATCH"))
        report("intake events lost", appeals_201 - min(on_bus, published), "events", target="0", met=appeals_ok)
        # appeal.dispatched has no queue here: the alternate exchange parked it. Leave the vhost empty.
        for q in (appeals_q, baseline_q, unrouted_queue()):
            q(channel).purge()
        # A run with refusals or errors measured something else than intake: not a valid figure.
        refused = {name: r for name, r in totals.items() if r.errors or set(r.statuses) - {201}}
        for name, r in refused.items():
            print(f"INVALID RUN: {name} answered {r.statuses} with {r.errors} connection errors")
        return 1 if lost or refused else 0
    finally:
        clean_up(broker, processes, vhost, tmp, args.keep)


if __name__ == "__main__":
    sys.exit(main())
