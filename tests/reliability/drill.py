"""What the fault drills need: the services as real OS processes (`nameko run`, and appeals' outbox relay as
`python -m services.kernel.relay`) on files in a temp dir, a steady bounded load whose every request can be
retried without a second effect, a webhook receiver that counts what arrives, a PostgreSQL server of the
drill's own, and the tally that says whether anything acknowledged was lost or anything happened twice."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import eventlet
import pytest
import requests
import sqlalchemy as sa
import yaml

from services.kernel.config import load_config
from services.kernel.keys import KeyStore
from services.kernel.registry import SERVICES
from tests.conftest import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
NAMEKO = str(Path(sys.executable).with_name("nameko"))
# consumers first: their durable queues must exist before anything is published (else it is parked unrouted)
START_ORDER = ("scoring", "notify", "approvals", "appeals", "appeals-relay")
RELAY = "appeals-relay"

# what each event a drill causes must have done downstream: one fact in scoring's ledger, one delivery to
# the monitors' group (the seed subscribes it to everything, on the log channel)
SCORED = ("appeal.received", "application.submitted", "monitor.warning", "monitor.yellow_card", "monitor.red_card")
NOTIFIED = ("appeal.received", "monitor.warning", "monitor.yellow_card", "monitor.red_card")
CARDS = ("yellow_card", "red_card")

# an approval application received this long ago has no supplement notice, so the monitor deems it accepted
# on the day received and every alarm of its clock (warnings, yellow card, red card) is due at once
BACKDATE = timedelta(days=60)


def say(message: str) -> None:
    print(f"[drill] {message}", flush=True)


# -- processes ---------------------------------------------------------------------------------------------


class Proc:
    """One OS process of the system (a service or the relay): started, killed with SIGKILL, stopped, restarted.
    Its stdout and stderr go to its log file; every start is counted and every exit kept."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.popen: subprocess.Popen | None = None
        self.starts = 0
        self.exits: list[int] = []  # return codes of the incarnations that ended (-9: killed by us)

    def start(self) -> None:
        assert not self.running(), f"{self.name} is running already"
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== start {self.starts + 1} of {self.name}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def exited_by_itself(self) -> int | None:
        """The return code if this incarnation ended without our doing, else None."""
        if self.popen is not None and self.popen.poll() is not None and not getattr(self.popen, "ours", False):
            return self.popen.returncode
        return None

    def kill9(self) -> None:
        assert self.running(), f"{self.name} is not running:\n{self.tail()}"
        self.popen.ours = True
        os.kill(self.popen.pid, signal.SIGKILL)
        self.exits.append(self.popen.wait())

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; SIGKILL after `timeout`. The return code (None if it was not running)."""
        if not self.running():
            return None
        self.popen.ours = True
        self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.popen.pid, signal.SIGKILL)
            code = self.popen.wait()
        self.exits.append(code)
        return code

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return f"--- last {min(lines, len(text))} lines of {self.log_path}\n" + "\n".join(text[-lines:])


def _merge(base: dict, overrides: dict) -> dict:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


class Cluster:
    """The services of a drill as `nameko run` processes on 127.0.0.1 (free ports), SQLite files (or the URLs
    given) in `tmp`, one keys file, the broker at `amqp_uri` (a proxy's address where the drill cuts it), and
    appeals' outbox relay as a process of its own when `relay_process` (as `make run` and deploy run it)."""

    def __init__(self, tmp: Path, amqp_uri: str, services=("scoring", "notify", "approvals", "appeals"), *,
                 relay_process: bool = True, database_urls: dict | None = None, overrides: dict | None = None,
                 notify_seed: dict | None = None):
        self.tmp = Path(tmp)
        self.amqp_uri = amqp_uri
        self.services = tuple(services)
        self.urls: dict[str, str] = {}
        self.database_urls = {name: (database_urls or {}).get(name) or f"sqlite:///{self.tmp / f'{name}.db'}"
                              for name in self.services}
        self.keys_file = self.tmp / "keys.yaml"
        store = KeyStore(str(self.keys_file))
        self.keys = {role: store.add(f"drill-{role}", role)
                     for role in ("operator", "window_system", "monitor", "assessor", "admin")}
        self.procs: dict[str, Proc] = {}
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        for name in self.services:
            extra = dict((overrides or {}).get(name) or {})
            if name == "appeals":
                extra = _merge({"OUTBOX": {"RELAY": not relay_process}}, extra)
            if name == "notify" and notify_seed is not None:
                seed = self.tmp / "notify-seed.yaml"
                seed.write_text(yaml.safe_dump(notify_seed, allow_unicode=True), encoding="utf-8")
                extra = _merge({"SEED_NOTIFY": str(seed)}, extra)
            config = self.write_config(name, extra)
            self.procs[name] = Proc(name, [NAMEKO, "run", "--config", str(config),
                                           SERVICES[name].entrypoint], env,
                                    self.tmp / f"{name}.log")
        if relay_process and "appeals" in self.services:
            self.procs[RELAY] = Proc(RELAY, [sys.executable, "-m", "services.kernel.relay", "--config",
                                             str(self.tmp / "appeals.yaml"), "--service", "appeals"], env,
                                     self.tmp / f"{RELAY}.log")

    def write_config(self, name: str, extra: dict) -> Path:
        """The shipped config.yaml of the service (every default as it ships), with the drill's addresses."""
        config = load_config(ROOT / "services" / name / "config.yaml")
        port = free_port()
        self.urls[name] = f"http://127.0.0.1:{port}"
        seeds = {"appeals": ("SEED_CATALOGUE", "services/appeals/catalogue.demo.yaml"),
                 "approvals": ("SEED_ITEMS", "services/approvals/items.demo.yaml"),
                 "scoring": ("SEED_DEPARTMENTS", "services/scoring/departments.demo.yaml"),
                 "notify": ("SEED_NOTIFY", "services/notify/recipients.demo.yaml")}
        setting, path = seeds[name]
        _merge(config, {
            "AMQP_URI": self.amqp_uri, "DATABASE_URL": self.database_urls[name],
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", "KEYS_FILE": str(self.keys_file), "DEPARTMENT": None,
            setting: str(ROOT / path), "LATE_REPORT_GRACE_SECONDS": 0,
        })
        if name == "notify":
            # the drills run at any hour: nothing waits for the end of the quiet hours
            _merge(config, {"NOTIFY": {"QUIET_HOURS": "off"}})
            # the drill's webhook receiver listens on 127.0.0.1: listed, as a deployment lists its internal ones
            _merge(config, {"NOTIFY": {"WEBHOOK_ALLOW": "127.0.0.1"}})
        _merge(config, extra)
        path = self.tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        return path

    # -- life cycle

    def start(self, names=None, timeout: float = 90.0) -> None:
        names = [n for n in START_ORDER if n in self.procs and (names is None or n in names)]
        consumers = [n for n in names if n in ("scoring", "notify")]
        for n in consumers:
            self.procs[n].start()
        for n in consumers:
            self.wait_healthy(n, timeout)
        for n in names:
            if n not in consumers:
                self.procs[n].start()
        for n in names:
            if n not in consumers and n != RELAY:
                self.wait_healthy(n, timeout)
        if "appeals" in names:
            self.wait_intake_ready(timeout)

    def wait_intake_ready(self, timeout: float = 60.0) -> None:
        """Until appeals takes in a probe appeal (hotline channel: not counted as the drills' load). /health says
        200 while the demo catalogue may still be loading, and nameko starts the HTTP server alongside the
        dependency that seeds it; an intake meanwhile is refused 400 (unknown category) and the empty
        catalogue is cached for 5 s. Found by these drills on PostgreSQL; counted in `self.not_ready`."""
        ref = f"drill-ready-{uuid.uuid4().hex[:8]}"
        self.not_ready: Counter = Counter()
        start = time.monotonic()

        def taken_in():
            try:
                resp = requests.post(f"{self.urls['appeals']}/api/v1/appeals", timeout=10,
                                     headers={"Authorization": f"Bearer {self.keys['operator']}"},
                                     json={"channel": "hotline", "external_ref": ref, "type": "help",
                                           "category": "road", "content": "路灯不亮 (fault drill readiness probe)"})
            except requests.RequestException:
                self.not_ready["no answer"] += 1
                return False
            if resp.status_code not in (200, 201):
                self.not_ready[f"{resp.status_code} {resp.text[:80]}"] += 1
            return resp.status_code in (200, 201)

        wait_for(taken_in, timeout=timeout, interval=0.2, message="appeals to take in a probe appeal")
        if self.not_ready:
            say(f"appeals answered /health 200 and took in its first appeal {time.monotonic() - start:.1f} s later; "
                f"meanwhile: {dict(self.not_ready)}")

    def healthy(self, name: str) -> bool:
        try:
            return requests.get(f"{self.urls[name]}/health", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def health(self, name: str) -> tuple[int | None, dict]:
        """(status, body) of GET /health; (None, {}) when nothing answers."""
        try:
            resp = requests.get(f"{self.urls[name]}/health", timeout=5)
            return resp.status_code, resp.json()
        except (requests.RequestException, ValueError):
            return None, {}

    def wait_healthy(self, name: str, timeout: float = 90.0) -> float:
        """Seconds until /health answered 200; fails (with the log's end) if the process exits meanwhile."""
        proc, start = self.procs[name], time.monotonic()

        def ready():
            if not proc.running():
                raise AssertionError(f"{name} exited with {proc.popen.returncode} while starting\n{proc.tail()}")
            return self.healthy(name)

        wait_for(ready, timeout=timeout, interval=0.2, message=f"{name}'s /health to answer 200")
        return time.monotonic() - start

    def restart(self, name: str, timeout: float = 90.0) -> float:
        """Start a process that was killed or stopped; seconds until it serves again (the relay: at once)."""
        self.procs[name].start()
        return 0.0 if name == RELAY else self.wait_healthy(name, timeout)

    def died(self) -> dict[str, int]:
        """Processes that exited without our doing, with their return codes."""
        return {name: code for name, proc in self.procs.items() if (code := proc.exited_by_itself()) is not None}

    def shutdown(self, timeout: float = 10.0) -> None:
        """SIGTERM to every process at once; SIGKILL to those still running after `timeout`."""
        running = [p for p in self.procs.values() if p.running()]
        for proc in running:
            proc.popen.ours = True
            with contextlib.suppress(ProcessLookupError):
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in running:
            try:
                proc.exits.append(proc.popen.wait(timeout=max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.popen.pid, signal.SIGKILL)
                proc.exits.append(proc.popen.wait())

    def tails(self) -> str:
        return "\n".join(p.tail(25) for p in self.procs.values())

    # -- the databases

    def query(self, name: str, sql: str, **params) -> list[tuple]:
        engine = sa.create_engine(self.database_urls[name], poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(sa.text(sql), params)]
        finally:
            engine.dispose()


# -- load -------------------------------------------------------------------------------------------------


@dataclass
class Request:
    ref: str
    attempts: int = 0
    acknowledged: int | None = None  # the 2xx status that acknowledged it
    rejected: int | None = None  # a 4xx that is not worth a retry (a drill's own mistake)


@dataclass
class Load:
    """A steady, bounded load: `clients` green threads send `rate` new requests a second between them, at most
    `limit` in all, until `stop()`. A request that failed (no answer, 5xx, 429) is sent again with the same
    reference after a short pause until it is acknowledged or `give_up` seconds passed, as a client that
    knows the API is idempotent would. Every answer is counted by the phase the drill has set."""

    name: str
    send: object  # send(session, ref) -> requests.Response
    rate: float = 10.0
    clients: int = 4
    limit: int = 5000
    give_up: float = 120.0
    phase: str = "before"
    requests: list[Request] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)  # (phase, status or "no answer") -> n
    retry_after: Counter = field(default_factory=Counter)  # (phase, Retry-After given) -> 503 answers
    acked_in: Counter = field(default_factory=Counter)  # phase -> requests acknowledged in it
    last_answer: str = ""

    def __post_init__(self):
        self._stopping = False
        self._threads = []
        self._prefix = uuid.uuid4().hex[:8]
        self.rejections: dict[str, str] = {}  # answer -> the first request that got it

    def start(self) -> Load:
        self.started = time.monotonic()
        self._threads = [eventlet.spawn(self._client, i) for i in range(self.clients)]
        return self

    def _client(self, index: int) -> None:
        session = requests.Session()
        session.trust_env = False  # never through a proxy from the environment
        interval = self.clients / self.rate
        next_at = time.monotonic() + index * interval / self.clients
        n = 0
        while not self._stopping and len(self.requests) < self.limit:
            eventlet.sleep(max(0.0, next_at - time.monotonic()))  # pacing, not synchronisation
            next_at += interval
            req = Request(f"{self.name}-{self._prefix}-{index}-{n}")
            n += 1
            self.requests.append(req)
            self._until_acknowledged(session, req)

    def _until_acknowledged(self, session, req: Request) -> None:
        deadline = time.monotonic() + self.give_up
        pause = 0.1
        while time.monotonic() < deadline:
            req.attempts += 1
            phase = self.phase
            try:
                resp = self.send(session, req.ref)
                status = resp.status_code
            except requests.RequestException as exc:
                status = "no answer"
                self.last_answer = f"{type(exc).__name__}"
                session.close()
            self.answers[(phase, status)] += 1
            if status == 503:
                self.retry_after[(phase, bool(resp.headers.get("Retry-After")))] += 1
            if isinstance(status, int) and 200 <= status < 300:
                req.acknowledged = status
                self.acked_in[phase] += 1
                return
            if isinstance(status, int) and status < 500 and status not in (408, 429):
                req.rejected = status
                self.last_answer = f"{status} {resp.text[:300]}"
                self.rejections.setdefault(self.last_answer, req.ref)
                return
            if isinstance(status, int):
                self.last_answer = f"{status} {resp.headers.get('Retry-After')!r} {resp.text[:300]}"
            eventlet.sleep(pause)  # a client's back-off between retries
            pause = min(pause * 2, 1.0)

    def burst(self, n: int, concurrency: int = 20) -> list:
        """`n` more requests at once (on top of the steady load), each retried like the others; returns their
        green threads."""
        pool = []
        for i in range(n):
            req = Request(f"{self.name}-{self._prefix}-burst{len(self._threads)}-{i}")
            self.requests.append(req)
            session = requests.Session()
            session.trust_env = False
            pool.append(eventlet.spawn(self._until_acknowledged, session, req))
            if len(pool) % concurrency == 0:
                eventlet.sleep(0)
        self._threads += pool
        return pool

    def acknowledged(self) -> list[str]:
        return [r.ref for r in self.requests if r.acknowledged]

    def count(self, phase: str | None = None, status=None) -> int:
        """Answers in a phase (all phases if None) with a status (a predicate, a value, or all)."""
        total = 0
        for (p, s), n in self.answers.items():
            if phase is not None and p != phase:
                continue
            if status is None or (callable(status) and status(s)) or s == status:
                total += n
        return total

    def wait_acks(self, n: int, timeout: float = 60.0, message: str = "") -> None:
        """Until `n` more requests than now are acknowledged (the load moves)."""
        target = len(self.acknowledged()) + n
        wait_for(lambda: len(self.acknowledged()) >= target, timeout=timeout, interval=0.1,
                 message=message or f"{n} more {self.name} requests acknowledged (last answer: {self.last_answer})")

    def stop(self, timeout: float = 150.0) -> None:
        """No new requests; the ones in hand finish (acknowledged or given up)."""
        self._stopping = True
        with eventlet.Timeout(timeout, False):
            for gt in self._threads:
                gt.wait()
        self.elapsed = time.monotonic() - self.started

    def report(self) -> str:
        phases = list(dict.fromkeys(p for p, _ in self.answers))
        lines = [f"{self.name}: {len(self.requests)} requests, {len(self.acknowledged())} acknowledged, "
                 f"{sum(1 for r in self.requests if r.rejected)} rejected, "
                 f"{sum(r.attempts for r in self.requests)} attempts, {self.count(status=is_5xx)} 5xx"]
        lines += [f"    rejected: {answer} (first: {ref})" for answer, ref in list(self.rejections.items())[:3]]
        for p in phases:
            by = {str(s): n for (q, s), n in sorted(self.answers.items(), key=str) if q == p}
            lines.append(f"    {p:<22} acknowledged {self.acked_in[p]:>5}  answers {by}")
        return "\n".join(lines)


def is_5xx(status) -> bool:
    return isinstance(status, int) and status >= 500


def is_500(status) -> bool:
    return isinstance(status, int) and status >= 500 and status != 503


def appeal_sender(base_url: str, key: str):
    def send(session, ref):
        return session.post(f"{base_url}/api/v1/appeals", timeout=15, headers={"Authorization": f"Bearer {key}"},
                            json={"channel": "web", "external_ref": ref, "type": "help", "category": "road",
                                  "content": f"路灯不亮 (fault drill {ref})"})
    return send


def received_long_ago() -> str:
    """When the drills' applications were received: BACKDATE ago, or, once that clock would run into a year
    without holiday schedule (no due time, no cards), September of the calendar's last year."""
    from services.kernel.clock import TZ
    from services.kernel.workcal import WorkCalendar

    last = max(WorkCalendar().years_covered())
    received = datetime.now(TZ) - BACKDATE
    if (received + timedelta(days=45)).year > last:
        received = datetime(last, 9, 1, 10, 0, tzinfo=TZ)
    return received.replace(microsecond=0).isoformat()


def application_sender(base_url: str, key: str):
    received = received_long_ago()

    def send(session, ref):
        return session.post(f"{base_url}/api/v1/applications", timeout=15,
                            headers={"Authorization": f"Bearer {key}"},
                            json={"external_ref": ref, "item_code": "HBJ-001", "materials": ["M1", "M2"],
                                  "applicant": {"name": "演练企业", "kind": "enterprise",
                                                "id_number": "91330000MA0000000X"},
                                  "service_point": "city_center", "at": received})
    return send


# -- the tally ----------------------------------------------------------------------------------------------


def _outbox(cluster: Cluster, name: str) -> list[tuple[str, str, bool]]:
    if name not in cluster.services:
        return []
    return [(e, t, p is not None) for e, t, p in
            cluster.query(name, "SELECT event_id, event_type, published_at FROM outbox")]


def tally(cluster: Cluster, loads: dict[str, Load]) -> dict:
    """What is stored and what each event did downstream, against what was acknowledged."""
    t: dict = {}
    if "appeals" in loads:
        stored = Counter(ref for (ref,) in cluster.query(
            "appeals", "SELECT external_ref FROM appeals WHERE channel = 'web' AND external_ref IS NOT NULL"))
        acked = loads["appeals"].acknowledged()
        sent = {r.ref for r in loads["appeals"].requests}
        t["appeals"] = {"acknowledged": len(acked), "stored": len(stored), "stored twice": sum(
            1 for n in stored.values() if n > 1), "acknowledged missing": sum(1 for r in acked if r not in stored),
            "stored not sent": sum(1 for r in stored if r not in sent)}
    if "approvals" in loads:
        stored = Counter(ref for (ref,) in cluster.query("approvals", "SELECT external_ref FROM applications"))
        acked = loads["approvals"].acknowledged()
        cards = Counter(cluster.query("approvals", "SELECT application_id, rule FROM alerts WHERE subject = "
                                      "'application' AND rule IN ('yellow_card', 'red_card')"))
        apps = {i for (i,) in cluster.query("approvals", "SELECT id FROM applications")}
        t["approvals"] = {"acknowledged": len(acked), "stored": len(stored), "stored twice": sum(
            1 for n in stored.values() if n > 1), "acknowledged missing": sum(1 for r in acked if r not in stored),
            "cards": sum(cards.values()), "cards twice": sum(1 for n in cards.values() if n > 1),
            "cards missing": sum(1 for a in apps for rule in CARDS if (a, rule) not in cards)}
    events = {}
    for producer in ("appeals", "approvals"):
        rows = _outbox(cluster, producer)
        events.update({e: ty for e, ty, _ in rows})
        t.setdefault("outbox unpublished", 0)
        t["outbox unpublished"] += sum(1 for _, _, published in rows if not published)
    t["events"] = dict(Counter(events.values()))
    if "scoring" in cluster.services:
        facts = cluster.query("scoring", "SELECT source_event_id, source_event_type, metric FROM facts")
        per = Counter(e for e, ty, _ in facts if ty in SCORED)
        due = {e for e, ty in events.items() if ty in SCORED}
        t["scoring"] = {"events due": len(due), "facts": sum(per.values()),
                        "missing": len(due - set(per)), "twice": sum(1 for n in per.values() if n > 1),
                        "unknown": len(set(per) - set(events))}
    if "notify" in cluster.services:
        rows = cluster.query("notify", "SELECT event_id, recipient, channel, status, subject FROM deliveries")
        monitors = Counter(e for e, r, c, _, _ in rows if r == "monitors" and c == "log")
        due = {e for e, ty in events.items() if ty in NOTIFIED}
        t["notify"] = {"events due": len(due), "deliveries": len(rows),
                       "missing": len(due - set(monitors)), "twice": sum(1 for n in monitors.values() if n > 1),
                       "by status": dict(Counter(s for _, _, _, s, _ in rows))}
    return t


def settled(t: dict) -> bool:
    """Everything acknowledged is stored and every event has had its effects (nothing still on its way)."""
    return (t["outbox unpublished"] == 0
            and all(t.get(k, {}).get("acknowledged missing", 0) == 0 for k in ("appeals", "approvals"))
            and t.get("approvals", {}).get("cards missing", 0) == 0
            and t.get("scoring", {}).get("missing", 0) == 0
            and t.get("notify", {}).get("missing", 0) == 0
            and all(s in ("sent",) for s in t.get("notify", {}).get("by status", {})))


def wait_settled(cluster: Cluster, loads: dict[str, Load], timeout: float = 90.0) -> tuple[dict, float]:
    start = time.monotonic()
    last = {}

    def done():
        nonlocal last
        died = cluster.died()
        assert not died, f"processes exited by themselves: {died}\n{cluster.tails()}"
        last = tally(cluster, loads)
        return settled(last)

    try:
        wait_for(done, timeout=timeout, interval=0.5, message="every acknowledged request stored and every "
                 "event's effects done")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast tally: {json.dumps(last, ensure_ascii=False)}") from None
    return last, time.monotonic() - start


def assert_exactly_once(t: dict) -> None:
    """Nothing acknowledged lost, nothing stored twice, no effect twice, no card twice."""
    for service in ("appeals", "approvals"):
        if service in t:
            s = t[service]
            assert s["acknowledged missing"] == 0, (service, s)
            assert s["stored twice"] == 0, (service, s)
            assert s.get("stored not sent", 0) == 0, (service, s)
            assert s.get("cards twice", 0) == 0 and s.get("cards missing", 0) == 0, (service, s)
    if "scoring" in t:
        assert t["scoring"]["missing"] == 0 and t["scoring"]["twice"] == 0 and t["scoring"]["unknown"] == 0, t
    if "notify" in t:
        assert t["notify"]["missing"] == 0 and t["notify"]["twice"] == 0, t
        assert set(t["notify"]["by status"]) <= {"sent"}, t["notify"]


def parked_failures(amqp_uri: str) -> list:
    """Messages parked because a consumer failed or refused them (unrouted events are parked by design)."""
    from services.kernel.dlq import list_parked

    return [p for p in list_parked(amqp_uri) if p.reason in ("failed", "invalid")]


def print_tally(title: str, t: dict, loads: dict[str, Load] | None = None) -> None:
    say(f"{title}:")
    for load in (loads or {}).values():
        for line in load.report().splitlines():
            say(f"  {line}")
    for key, value in t.items():
        say(f"  {key}: {json.dumps(value, ensure_ascii=False)}")


# -- the broker behind a proxy ---------------------------------------------------------------------------------


# -- a webhook receiver --------------------------------------------------------------------------------------


class WebhookReceiver:
    """A JSON webhook endpoint on 127.0.0.1 that answers 200 and counts every POST by its title (the message's
    first line, which names the case) and by its `Idempotency-Key` header (or the body's delivery id) if any."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay  # seconds before answering: sends are in flight when a drill kills notify
        self.posts = 0
        self.by_title: Counter = Counter()
        self.by_key: Counter = Counter()
        self.key_titles: dict[str, set] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    data = json.loads(body)
                except ValueError:
                    data = {}
                title = str(data.get("title", "")) if isinstance(data, dict) else ""
                key = self.headers.get("Idempotency-Key") or (
                    data.get("delivery_id") if isinstance(data, dict) else None)
                receiver.posts += 1
                receiver.by_title[title] += 1
                if key:
                    receiver.by_key[str(key)] += 1
                    receiver.key_titles.setdefault(str(key), set()).add(title)
                if receiver.delay:
                    eventlet.sleep(receiver.delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a sender killed mid-request (the drill's doing) is no news

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._gt = eventlet.spawn(self.server.serve_forever, 0.1)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


HOOK = "drill-hook"


def notify_seed_with_webhook(url: str) -> dict:
    """notify's demo recipients and subscriptions, plus a webhook recipient of every appeal.received."""
    seed = yaml.safe_load((ROOT / "services" / "notify" / "recipients.demo.yaml").read_text(encoding="utf-8"))
    seed["recipients"].append({"code": HOOK, "name": "演练接收端", "kind": "group", "addresses": {"webhook": url}})
    seed["subscriptions"].append({"recipient": HOOK, "event_types": ["appeal.received"], "min_severity": "info",
                                  "channel": "webhook"})
    return seed


# the receiver is on loopback, which notify refuses unless the deployment lists it; a delivery whose sender was
# killed mid-send is claimed again once its lease lapses: 5 s, not 120 s
NOTIFY_DRILL_SETTINGS = {"NOTIFY": {"WEBHOOK_ALLOW": ["127.0.0.1"], "SEND": {"LEASE_SECONDS": 5}}}


def webhook_tally(cluster: Cluster, receiver: WebhookReceiver) -> dict:
    """Every appeal.received against its webhook delivery in notify and what reached the receiver. With an
    `Idempotency-Key`, "once" is one key per notification (a re-send under the same key is the same delivery
    to a receiver that deduplicates); without one, one POST per notification."""
    received = {e for (e,) in cluster.query("appeals", "SELECT event_id FROM outbox WHERE event_type = "
                                                       "'appeal.received'")}
    hooks = dict(cluster.query("notify", "SELECT event_id, subject FROM deliveries WHERE recipient = :r AND "
                                         "channel = 'webhook'", r=HOOK))
    keyed = bool(receiver.by_key)
    if keyed:
        per = {s: sum(1 for titles in receiver.key_titles.values() if s in titles) for s in hooks.values()}
    else:
        per = {s: receiver.by_title[s] for s in hooks.values()}
    return {"events": len(received), "deliveries": len(hooks), "posts": receiver.posts,
            "distinct": len(receiver.by_title), "keys": len(receiver.by_key) if keyed else None,
            "without delivery": len(received - set(hooks)), "delivery without event": len(set(hooks) - received),
            "not arrived": sum(1 for n in per.values() if n == 0), "once": sum(1 for n in per.values() if n == 1),
            "more than once": sum(1 for n in per.values() if n > 1),
            "unexpected": len(set(receiver.by_title) - set(hooks.values()))}


def assert_webhooks_once(w: dict) -> None:
    assert w["without delivery"] == 0 and w["delivery without event"] == 0, w
    assert w["not arrived"] == 0, w
    how = "one key each" if w["keys"] is not None else "no Idempotency-Key: one POST each"
    assert w["more than once"] == 0, f"notifications that arrived more than once ({how}): {w}"
    assert w["unexpected"] == 0, w


# -- a PostgreSQL server of the drill's own ------------------------------------------------------------------


class PrivatePostgres:
    """initdb + pg_ctl from /usr/lib/postgresql/*/bin into a temp dir, on a free port of 127.0.0.1. As root
    (the CI container) the server runs as the `postgres` user, since PostgreSQL refuses to run as root."""

    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
                       if p.split("/")[4].isdigit() else 0)
        if not found:
            pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/pg_ctl): the PostgreSQL drill "
                        "needs a server of its own (apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.as_user: list[str] = []
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and no `postgres` user to run a PostgreSQL server as")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.dir = Path(tempfile.mkdtemp(prefix="xiaoneng-drill-pg-"))
        if owner is not None:
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.data = self.dir / "data"
        self.port = free_port()
        self.log = self.dir / "server.log"
        self._run(self.bin / "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv, timeout: float = 60.0) -> str:
        result = subprocess.run([*self.as_user, *map(str, argv)], capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"{argv[0]} failed: {result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self) -> None:
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off "
                  "-c max_connections=100", "start")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: as a crash (no shutdown checkpoint, connections cut); recovery runs at the next start."""
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

