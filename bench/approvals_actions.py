"""Window actions per second through HTTP on SQLite (issue 4: at least 300 actions/s on this machine), against a
bare nameko `@http` endpoint that publishes one event per request, measured side by side in the same run.

The approvals service runs as a `nameko run` process of its own (SQLite, the demo catalogue, logging at
WARNING), on the local RabbitMQ in a vhost of its own. N applications are submitted first (not measured); then
20 clients, each on its own applications, cycle through realistic window actions on keep-alive connections:
submit a new application, accept the oldest one it holds, decide it, deliver it (25 % each; every client
always has work because each cycle submits the application a later cycle accepts). At the end the
`application.*` events on the bus (and the outbox rows published) must equal the successful actions: nothing
lost. The actions are all in order, so no irregularity is expected; `monitor.*` events must equal the alerts
stored (a joint item's 45-working-day limit reaching into a year without holiday schedule raises a
`calendar_unavailable` warning by design).

    .venv/bin/python bench/approvals_actions.py [--seconds 15] [--rounds 3] [--clients 20] [--applications 1000]
"""

import argparse
import collections
import contextlib
import http.client
import itertools
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import threading
import time
import uuid

import yaml
from kombu import Connection, Queue

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# helpers of the intake benchmark (importing it has no side effects: it runs only under __main__)
from _support import amqp_uri, create_vhost, report  # noqa: E402
from appeals_intake import (  # noqa: E402
    BASELINE_MODULE,
    BASELINE_SERVICE,
    QUIET_LOGGING,
    Bodies,
    Process,
    Result,
    clean_up,
    drive,
    free_port,
    pct,
    run_clients,
    service_yaml,
    settle,
    wait_until_answering,
)
from nameko.standalone.events import get_event_exchange  # noqa: E402

from services.kernel.keys import KeyStore  # noqa: E402
from services.kernel.messaging import declare_topology, events_exchange, unrouted_queue  # noqa: E402

APPROVALS_SERVICE = "services.approvals.service:ApprovalsService"
BASE = "/api/v1/applications"
# committed items of the demo catalogue the window is fully authorised for (ZJJ-001 is not: its acceptance
# is an irregularity by design, which would measure something else); their materials, all submitted
ITEMS = {"SCJ-001": ["M1", "M2", "M3"], "HBJ-001": ["M1", "M2"], "FGJ-001": ["M1"]}
SERVICE_POINTS = ("city_center", "town_street_center", "village_agent")
ACTIONS = ("submit", "accept", "decide", "deliver")


class Submissions:
    """Valid, distinct submissions (unique external_ref)."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.counter = itertools.count(1)

    def __call__(self) -> bytes:
        n = next(self.counter)
        code = list(ITEMS)[n % len(ITEMS)]
        return json.dumps({
            "external_ref": f"bench-{self.run_id}-{n}",
            "item_code": code,
            "applicant": {"name": "测试申请人", "kind": "enterprise" if n % 2 else "person",
                          "id_number": f"330102{n:012d}"},
            "materials": ITEMS[code],
            "service_point": SERVICE_POINTS[n % len(SERVICE_POINTS)],
            "green_channel": n % 10 == 0,
        }, ensure_ascii=False).encode("utf-8")


ACCEPT_BODY = b"{}"
DECIDE_BODY = json.dumps({"approved": True, "reason": "材料齐全，符合法定条件"}, ensure_ascii=False).encode("utf-8")
DELIVER_BODY = b"{}"


class Actions:
    """Per client: a queue of its own submitted applications; the cycle is submit, accept, decide, deliver."""

    def __init__(self, headers: dict, submissions: Submissions, pools: list[collections.deque]):
        self.headers = {"Content-Type": "application/json", **headers}
        self.submissions = submissions
        self.pools = pools
        self.by_action: dict[str, list[float]] = {a: [] for a in ACTIONS}
        self.ok: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        self.failed: dict[tuple[str, int], int] = {}
        self.lock = threading.Lock()


def drive_actions(port: int, seconds: float, clients: int, actions: Actions, server_pid: int | None,
                  cursors: list[int], current: list[int | None]) -> Result:
    """`clients` threads, each on its own keep-alive connection and its own applications, for `seconds`."""
    result = Result()
    if seconds <= 0:
        return result
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int):
        pool = actions.pools[i]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, statuses, errors = [], {}, 0
        per_action = {a: [] for a in ACTIONS}
        ok = dict.fromkeys(ACTIONS, 0)
        failed: dict[tuple[str, int], int] = {}
        start.wait()
        while time.perf_counter() < stop_at[0]:
            step = ACTIONS[cursors[i] % 4]
            if step == "accept" and not pool:  # a submission failed: nothing to accept, submit again
                cursors[i] -= 1
                step = "submit"
            if step == "submit":
                path, body = BASE, actions.submissions()
            elif step == "accept":
                current[i] = pool.popleft()
                path, body = f"{BASE}/{current[i]}/accept", ACCEPT_BODY
            else:
                path, body = f"{BASE}/{current[i]}/{step}", DECIDE_BODY if step == "decide" else DELIVER_BODY
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body, actions.headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                # unknown whether it took effect: counted as an error, the cycle goes on with the next step
                errors += 1
                conn.close()
                time.sleep(0.01)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                cursors[i] += 1
                continue
            ms = (time.perf_counter() - t0) * 1000
            latencies.append(ms)
            per_action[step].append(ms)
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if 200 <= resp.status < 300:
                ok[step] += 1
                if step == "submit":
                    pool.append(json.loads(data)["id"])
            else:
                failed[(step, resp.status)] = failed.get((step, resp.status), 0) + 1
            cursors[i] += 1
        conn.close()
        with lock:
            result.latencies_ms.extend(latencies)
            result.errors += errors
            for status, n in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + n
        with actions.lock:
            for a in ACTIONS:
                actions.by_action[a].extend(per_action[a])
                actions.ok[a] += ok[a]
            for k, n in failed.items():
                actions.failed[k] = actions.failed.get(k, 0) + n

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    run_clients(threads, server_pid, seconds, stop_at, start, result)
    return result


def precreate(port: int, n: int, clients: int, actions: Actions) -> int:
    """Submit `n` applications (not measured), dealt to the clients' pools; returns the number created."""
    created = [0]
    lock = threading.Lock()

    def client(i: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(i, n, clients):
            conn.request("POST", BASE, actions.submissions(), actions.headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 201:
                raise SystemExit(f"pre-creating an application answered {resp.status}: {data[:300]!r}")
            actions.pools[i].append(json.loads(data)["id"])
            with lock:
                created[0] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return created[0]


def line(name: str, r: Result, base: Result | None = None) -> str:
    ms = r.latencies_ms
    out = (f"{name:9} requests={r.count:6}  throughput={r.rate:7.1f}/s  p50={statistics.median(ms):6.1f} ms  "
           f"p95={pct(ms, 95):6.1f} ms  p99={pct(ms, 99):6.1f} ms  max={max(ms):6.1f} ms")
    if base is not None:
        out += f"  ratio to baseline={r.rate / base.rate:4.2f}x"
    cpus = os.cpu_count() or 1
    out += (f"\n{'':9} cpu (1.00 = one core): server {r.share(r.server_cpu_s):4.2f} = {r.server_ms_per_request:5.2f}"
            f" ms per request, load generator {r.client_share:4.2f}")
    if r.broker_cpu_s is not None:
        out += f", rabbitmq {r.share(r.broker_cpu_s):4.2f}"
    out += f", whole machine {r.machine_busy / max(1, r.machine_total) * cpus:4.2f} of {cpus}"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=15.0, help="measured seconds per service")
    ap.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per service (not measured)")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="alternating slices the measured seconds are cut into")
    ap.add_argument("--applications", type=int, default=1000, help="applications submitted before the load")
    ap.add_argument("--max-workers", type=int, default=10, help="nameko max_workers (the service's default)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs, the SQLite file)")
    args = ap.parse_args()

    vhost = create_vhost()
    uri = amqp_uri(vhost)
    processes: list[Process] = []
    broker: Connection | None = None
    tmp = tempfile.mkdtemp(prefix="xiaoneng-bench-")
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, tmp]), "PYTHONUNBUFFERED": "1"}
        nameko = os.path.join(ROOT, ".venv", "bin", "nameko")
        with open(os.path.join(ROOT, "services", "approvals", "config.yaml"), encoding="utf-8") as fh:
            service_cfg = yaml.safe_load(fh)
        keys_file = os.path.join(tmp, "keys.yaml")
        window_key = KeyStore(keys_file).add("bench-window", "window_system")
        db_path = os.path.join(tmp, "approvals.db")
        port, baseline_port = free_port(), free_port()
        cfg = service_yaml(os.path.join(tmp, "approvals.yaml"), {
            "AMQP_URI": uri,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
            "KEYS_FILE": keys_file,
            "DEPARTMENT": None,
            "MAX_BODY_BYTES": 1000000,
            "CALENDAR_FILE": None,
            "SEED_ITEMS": os.path.join(ROOT, "services", "approvals", "items.demo.yaml"),
            "APPROVALS": service_cfg["APPROVALS"],
            "RETRY_DELAYS_MS": service_cfg["RETRY_DELAYS_MS"],
            "OUTBOX": service_cfg["OUTBOX"],
            "max_workers": args.max_workers,
            "parent_calls_tracked": 10,
            "LOGGING": QUIET_LOGGING,
        })
        with open(os.path.join(tmp, "actions_baseline.py"), "w", encoding="utf-8") as fh:
            fh.write(textwrap.dedent(BASELINE_MODULE))
        baseline_cfg = service_yaml(os.path.join(tmp, "baseline.yaml"), {
            "AMQP_URI": uri, "WEB_SERVER_ADDRESS": f"127.0.0.1:{baseline_port}", "max_workers": args.max_workers,
            "LOGGING": QUIET_LOGGING})

        # queues bound before any request, so that every event is routed and counted
        broker = Connection(uri)
        channel = broker.default_channel
        declare_topology(channel, service="approvals")
        get_event_exchange(BASELINE_SERVICE, {})(channel).declare()
        actions_q = Queue("bench-approvals-actions", exchange=events_exchange("approvals"),
                          routing_key="application.*", durable=True, auto_delete=False)
        monitor_q = Queue("bench-approvals-monitor", exchange=events_exchange("approvals"),
                          routing_key="monitor.*", durable=True, auto_delete=False)
        baseline_q = Queue("bench-approvals-baseline", exchange=get_event_exchange(BASELINE_SERVICE, {}),
                           routing_key="appeal.received", durable=True, auto_delete=False)
        for q in (actions_q, monitor_q, baseline_q):
            q(channel).declare()

        approvals = Process("approvals", [nameko, "run", "--config", cfg, APPROVALS_SERVICE], env,
                            os.path.join(tmp, "approvals.log"), port)
        processes.append(approvals)
        baseline = Process("baseline", [nameko, "run", "--config", baseline_cfg, "actions_baseline"], env,
                           os.path.join(tmp, "baseline.log"), baseline_port)
        processes.append(baseline)
        wait_until_answering(approvals, f"http://127.0.0.1:{port}/health", 200)
        wait_until_answering(baseline, f"http://127.0.0.1:{baseline_port}/", None)

        rounds = max(1, args.rounds)
        print(f"window actions through HTTP: {args.clients} concurrent clients, each on its own applications, "
              f"cycling submit -> accept -> decide -> deliver; {args.seconds:.0f} s measured per service in {rounds} "
              f"alternating rounds after {args.warmup:.0f} s warm-up; max_workers={args.max_workers} for both")
        print(f"  approvals: {APPROVALS_SERVICE} (nameko run) on SQLite, demo catalogue, outbox relay in-process")
        print("  baseline : bare nameko @http + json.loads + one EventDispatcher event per request")
        print(f"  machine  : {os.cpu_count()} CPUs shared by the load generator, both services and RabbitMQ",
              flush=True)

        actions = Actions({"Authorization": f"Bearer {window_key}"}, Submissions(uuid.uuid4().hex[:8]),
                          [collections.deque() for _ in range(args.clients)])
        t0 = time.perf_counter()
        pre = precreate(port, args.applications, args.clients, actions)
        print(f"pre-created {pre} applications through HTTP in {time.perf_counter() - t0:.1f} s (not measured)",
              flush=True)
        cursors = [0] * args.clients
        current: list[int | None] = [None] * args.clients
        baseline_bodies = Bodies("baseline")

        def run_approvals(seconds, pid):
            return drive_actions(port, seconds, args.clients, actions, pid, cursors, current)

        def run_baseline(seconds, pid):
            return drive(baseline_port, seconds, args.clients, baseline_bodies, {}, pid)

        runs = {"baseline": (baseline, run_baseline), "approvals": (approvals, run_approvals)}
        totals = {name: fn(args.warmup, None) for name, (_, fn) in runs.items()}
        warm_ok = dict(actions.ok)
        measured = {name: Result() for name in runs}
        for i in range(rounds):
            order = ("baseline", "approvals") if i % 2 == 0 else ("approvals", "baseline")
            slice_ = {}
            for name in order:
                process, fn = runs[name]
                slice_[name] = fn(args.seconds / rounds, process.pid)
                process.check_alive()
                measured[name] += slice_[name]
            print(f"  round {i + 1}/{rounds}: baseline {slice_['baseline'].rate:6.1f} req/s, approvals "
                  f"{slice_['approvals'].rate:6.1f} actions/s, ratio "
                  f"{slice_['approvals'].rate / slice_['baseline'].rate:4.2f}", flush=True)
        base_r, app_r = measured["baseline"], measured["approvals"]
        for name in runs:
            totals[name] += measured[name]

        print(line("baseline", base_r))
        print(line("approvals", app_r, base_r))
        for a in ACTIONS:
            ms = actions.by_action[a]
            if ms:
                print(f"  {a:8} n={len(ms):6} (warm-up included)  p50={statistics.median(ms):6.1f} ms  "
                      f"p95={pct(ms, 95):6.1f} ms  p99={pct(ms, 99):6.1f} ms")
        measured_ok = {a: actions.ok[a] - warm_ok[a] for a in ACTIONS}
        print(f"  successful actions in the measured time: {measured_ok}")
        rate = app_r.rate
        print(f"target: window actions {rate:.1f}/s through HTTP on SQLite (>= 300/s): "
              f"{'met' if rate >= 300 else 'NOT MET'}; approvals/baseline = {rate / base_r.rate:.2f}", flush=True)
        report("window actions", rate, "actions/s", baseline=base_r.rate, target=">= 300/s", met=rate >= 300)

        # nothing lost: every successful action (pre-creation and warm-up included) is one event on the bus
        def outbox_pending() -> int:
            with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)) as db:
                return db.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]

        successes = pre + sum(actions.ok.values())
        on_bus = settle(broker, actions_q.name, successes, outbox_pending)
        monitor_on_bus = settle(broker, monitor_q.name, 0, timeout=1)
        baseline_201 = totals["baseline"].created
        baseline_on_bus = settle(broker, baseline_q.name, baseline_201)
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)) as db:
            published = db.execute("SELECT count(*) FROM outbox WHERE event_type LIKE 'application.%' "
                                   "AND published_at IS NOT NULL").fetchone()[0]
            states = dict(db.execute("SELECT state, count(*) FROM applications GROUP BY state").fetchall())
            alerts = dict(db.execute("SELECT level || ':' || substr(rule, 1, instr(rule || '@', '@') - 1), count(*) "
                                     "FROM alerts GROUP BY 1").fetchall())
        ok = on_bus == successes == published
        print(f"events: successful actions={successes} (pre-created {pre} + {dict(actions.ok)})  application.* on "
              f"the bus={on_bus}  outbox rows published={published}  monitor.* on the bus={monitor_on_bus}  "
              f"applications by state={states}: " + ("nothing lost" if ok else "MISMATCH"))
        if alerts:
            print(f"alerts stored (level:rule): {alerts}")
        base_ok = baseline_on_bus == baseline_201
        print(f"events: baseline 201s={baseline_201}  events on the bus={baseline_on_bus}: "
              + ("nothing lost" if base_ok else "MISMATCH"))
        report("window action events lost", successes - min(on_bus, published), "events", target="0", met=ok)
        if actions.failed or totals["approvals"].errors:
            print(f"NOT 2xx: {actions.failed}  connection errors={totals['approvals'].errors}")
        for q in (actions_q, monitor_q, baseline_q, unrouted_queue()):
            q(channel).purge()
        return 0 if ok and base_ok and not actions.failed and monitor_on_bus == sum(alerts.values()) else 1
    finally:
        clean_up(broker, processes, vhost, tmp, args.keep)


if __name__ == "__main__":
    sys.exit(main())
