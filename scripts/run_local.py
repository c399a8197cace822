"""Run the four services on this machine (what `make run` does): demo API keys, one `nameko run` per
service on SQLite files under var/, wait until each answers /health, print the URLs, and stop them all
on Ctrl-C or SIGTERM (or as soon as one of them dies).

Run with the project's virtualenv: `.venv/bin/python scripts/run_local.py`. Environment:
  XIAONENG_VAR_DIR        where databases, keys, logs and demo-keys.txt go (default: var/ of the repo)
  APPEALS_HTTP, ...       listen address of a service, e.g. 0.0.0.0:8001 (as in its config.yaml)
  APPEALS_DATABASE_URL, … database of a service (default: sqlite under XIAONENG_VAR_DIR)
  KEYS_FILE               the keys file (default: XIAONENG_VAR_DIR/keys.yaml)
  AMQP_URI                the broker (default: guest on 127.0.0.1:5672)
  XIAONENG_START_TIMEOUT  seconds the services get to become healthy (default 60)
  XIAONENG_DEMO           0: do not load the demo year on first start (default: load it once)
  XIAONENG_DEMO_ARGS      extra arguments of `xiaoneng demo`, e.g. "--appeals 2000 --applications 1000"

On the first start (fresh databases) the demo city's year is sent to the services by `xiaoneng demo` once
they are healthy (its own keys, made in KEYS_FILE); <var>/demo.done records that it was, so the next start
does not send it again (`make clean` starts afresh).

Each service's stdout and stderr go to <var>/log/<service>.log (mode 0640; rotated at XIAONENG_LOG_MAX_BYTES,
default 10 MB, keeping XIAONENG_LOG_BACKUPS, default 5; the previous run's to .log.1). Only
log records at ERROR or above are echoed to the console, one line each; when a service fails to
start or dies, the end of its log is printed.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, services/ is not otherwise importable from a checkout

from services.kernel import logs  # noqa: E402  (after the path is set)
from services.kernel.registry import PORTS as SERVICES  # noqa: E402
from services.kernel.registry import SERVICES as REGISTRY  # noqa: E402

# the demo handler's department: the demo city's (demo/city.py) with the most cases, 住房和城乡建设局, so that a
# newcomer's handler key sees a handler's day (cases to sign for, reply to, returned, urged, supervised)
DEMO_DEPARTMENT = "ZJJ"
# (name, role, department): one key per role; replaced on every run so that a run is repeatable.
DEMO_KEYS = (
    ("demo-operator", "operator", None),
    ("demo-department-handler", "department_handler", DEMO_DEPARTMENT),
    ("demo-window-system", "window_system", None),
    ("demo-monitor", "monitor", None),
    ("demo-assessor", "assessor", None),
    ("demo-admin", "admin", None),
    ("demo-web-portal", "open311_client", None),  # files through Open311 (form field api_key) and nothing else
)
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
DEMO_MARKER = "demo.done"
# the demo's year is back-dated: alarms it finds already due wait this long for the rest of a case's report
DEMO_LATE_REPORT_GRACE = "30"
CONSOLE_LEVELS = {"ERROR", "CRITICAL"}
# nameko logs a worker's exception at ERROR even when the HTTP layer answers it as the client's mistake (a 409
# for an action not allowed now, which the demo sends on purpose for the irregularity records): not echoed
CLIENT_ERRORS = ("IllegalTransition", "BadRequest", "Conflict", "NotFound", "Unauthorized", "Forbidden")
TAIL_LINES = 30

# Never send requests for 127.0.0.1 through an http_proxy from the environment.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def say(message: str = "") -> None:
    print(message, flush=True)


def warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- configuration -------------------------------------------------------------------------------


def var_dir() -> Path:
    path = Path(os.environ.get("XIAONENG_VAR_DIR") or "var")
    return path if path.is_absolute() else ROOT / path


def service_env(var: Path) -> dict[str, str]:
    """The children's environment: ours, with databases and keys defaulting to files under `var`."""
    env = dict(os.environ)
    for name in SERVICES:
        env.setdefault(f"{name.upper()}_DATABASE_URL", f"sqlite:///{var / f'{name}.db'}")
    env.setdefault("KEYS_FILE", str(var / "keys.yaml"))
    env.setdefault("PYTHONUNBUFFERED", "1")
    # the demo: a dispatch catalogue of a plausible city, loaded into an empty catalogue
    env.setdefault("SEED_CATALOGUE", str(Path(__file__).resolve().parent.parent / "services" / "appeals"
                                         / "catalogue.demo.yaml"))
    env.setdefault("SEED_ITEMS", str(Path(__file__).resolve().parent.parent / "services" / "approvals"
                                     / "items.demo.yaml"))
    env.setdefault("SEED_WINDOWS", str(ROOT / "services" / "approvals" / "windows.demo.yaml"))
    env.setdefault("SEED_CERTIFICATES", str(ROOT / "services" / "approvals" / "certificates.demo.yaml"))
    env.setdefault("SEED_PENALTY_BASES", str(ROOT / "services" / "approvals" / "penalty_bases.demo.yaml"))
    env.setdefault("SEED_NOTIFY", str(ROOT / "services" / "notify" / "recipients.demo.yaml"))
    # the register of organisations every service reads (names in answers, messages, the brief; the codes appeals
    # dispatches to; scoring's register seeded from it): the demo city's
    env.setdefault("DEPARTMENTS_FILE", str(ROOT / "services" / "scoring" / "departments.demo.yaml"))
    # a developer's webhook receiver runs on this machine; a deployment lists only its real receivers
    env.setdefault("NOTIFY_WEBHOOK_ALLOW", "127.0.0.1, ::1, localhost")
    env.setdefault("LATE_REPORT_GRACE_SECONDS", DEMO_LATE_REPORT_GRACE)
    # the demo's year is replayed in minutes as the window system reported it then, in time: a replay is not
    # late reporting (迟报), which would otherwise flag every action of the year (docs/approvals.md)
    env.setdefault("APPROVALS_LATE_REPORT_HOURS", "0")
    # appeals publishes through an outbox relay process of its own, as the city runs it (deploy's
    # relay_process; docs/adr/0006-intake-write-path.md); APPEALS_OUTBOX_RELAY=true keeps it inside
    env.setdefault("APPEALS_OUTBOX_RELAY", "false")
    return env


def listen_address(name: str, env: dict[str, str]) -> tuple[str, int]:
    value = env.get(f"{name.upper()}_HTTP") or f"0.0.0.0:{SERVICES[name]}"
    host, _, port = value.rpartition(":")
    return host, int(port)


def url_host(host: str) -> str:
    # A wildcard address is reachable on the loopback interface.
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host


def masked(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    creds, at, hostpart = rest.rpartition("@")
    if not at or ":" not in creds:
        return uri
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{hostpart}"


# -- the demo year -------------------------------------------------------------------------------


def sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    return path if path.is_absolute() else ROOT / path


def demo_wanted(var: Path, env: dict[str, str]) -> bool:
    """Load the demo year on this start? Only on fresh databases, and only once."""
    if (env.get("XIAONENG_DEMO") or "1").lower() in ("0", "no", "false", "off"):
        return False
    if (var / DEMO_MARKER).exists():
        return False
    for name in ("appeals", "approvals"):
        path = sqlite_file(env.get(f"{name.upper()}_DATABASE_URL") or "")
        if path is not None and path.exists():
            return False  # data from an earlier run: never mix the demo into it
    return True


class DemoRun:
    """`xiaoneng demo` in a child process once the services are healthy; its output echoed as [demo] lines."""

    def __init__(self, services: list[Service], env: dict[str, str], var: Path):
        self.services = {s.name: s for s in services}
        self.env = env
        self.var = var
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None
        self.thread: threading.Thread | None = None

    def command(self) -> list[str]:
        xiaoneng = str(Path(sys.executable).with_name("xiaoneng"))
        cmd = [xiaoneng, "demo", "--keys-file", self.env["KEYS_FILE"]]
        for name in ("appeals", "approvals", "scoring"):
            cmd += [f"--{name}-url", self.services[name].base_url]
        return cmd + (self.env.get("XIAONENG_DEMO_ARGS") or "").split()

    def start(self, when_done) -> None:
        self.thread = threading.Thread(target=self._run, args=(when_done,), name="demo", daemon=True)
        self.thread.start()

    def _run(self, when_done) -> None:
        say("Loading the demo city's year (xiaoneng demo; once, on fresh databases) ...")
        try:
            self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, process_group=0)
        except OSError as exc:
            warn(f"[demo] could not start: {exc}")
            return
        for raw in self.proc.stdout:
            say(f"[demo] {raw.decode('utf-8', 'replace').rstrip()}")
        self.returncode = self.proc.wait()
        if self.returncode in (0, 1):  # 1: some requests failed (listed above); the rest is in
            (self.var / DEMO_MARKER).write_text(
                f"demo loaded {datetime.now().isoformat(timespec='seconds')} (exit {self.returncode})\n")
            when_done(self.returncode)
        else:
            warn(f"[demo] stopped with code {self.returncode}; it runs again on the next start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# -- demo keys -----------------------------------------------------------------------------------


def make_demo_keys(keys_file: Path) -> list[tuple[str, str, str | None, str]]:
    """Revoke the previous run's demo keys and add fresh ones; (name, role, department, key) each."""
    from services.kernel.keys import KeyStore

    store = KeyStore(keys_file)
    made = []
    for name, role, department in DEMO_KEYS:
        store.revoke(name)
        made.append((name, role, department, store.add(name, role, department=department)))
    return made


def keys_table(keys: list[tuple[str, str, str | None, str]]) -> str:
    lines = [f"{'# role':<20} {'department':<11} {'name':<24} key"]
    for name, role, department, key in keys:
        lines.append(f"{role:<20} {department or '-':<11} {name:<24} {key}")
    return "\n".join(lines) + "\n"


def write_demo_keys(path: Path, keys, example_url: str) -> None:
    text = (
        f"# xiaoneng demo API keys, made by scripts/run_local.py at {datetime.now().isoformat(timespec='seconds')};\n"
        "# every run revokes them and makes new ones. Send one as: Authorization: Bearer KEY, e.g.\n"
        f"#   curl -H 'Authorization: Bearer KEY' {example_url}\n"
        + keys_table(keys)
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)  # in case a stale tmp file had looser bits
        fh.write(text)
    os.replace(tmp, path)


# -- the services --------------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # If this supervisor is killed outright (SIGKILL), the kernel sends the service a SIGTERM.
    _libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def render(line: str) -> str:
    """A JSON log line as 'LEVEL logger: message' (with the last line of any traceback)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict) or "level" not in entry:
        return line
    text = f"{entry.get('level')} {entry.get('logger', '')}: {entry.get('message', '')}"
    exc = (entry.get("exc") or "").strip()
    if exc:
        text += f" [{exc.splitlines()[-1]}]"
    return text


def client_error(entry: dict) -> bool:
    """A log record of an exception that the HTTP layer answered with a 4xx."""
    last = ((entry.get("exc") or "").strip().splitlines() or [""])[-1]
    return last.split(":", 1)[0].rsplit(".", 1)[-1] in CLIENT_ERRORS


@dataclass
class Service:
    name: str
    host: str
    port: int
    log_path: Path
    proc: subprocess.Popen | None = None
    pump: threading.Thread | None = None
    last_health: str = "no answer yet"
    argv: list[str] | None = None  # a process without HTTP (the appeals outbox relay): healthy while it runs
    log: logs.RotatingFile | None = None

    @property
    def base_url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}"

    def start(self, env: dict[str, str], nameko: str) -> None:
        # private (0640) and rotated by size; the previous run's log becomes .log.1
        self.log = logs.RotatingFile(self.log_path, max_bytes=int(env.get("XIAONENG_LOG_MAX_BYTES") or
                                                                  logs.DEFAULT_MAX_BYTES),
                                     backups=int(env.get("XIAONENG_LOG_BACKUPS") or logs.DEFAULT_BACKUPS))
        if self.log_path.stat().st_size:
            self.log.rotate()
        self.proc = subprocess.Popen(
            self.argv or [nameko, "run", "--config", f"services/{self.name}/config.yaml",
                          REGISTRY[self.name].entrypoint],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            # Its own process group: a Ctrl-C in the terminal reaches only this supervisor, which then
            # stops the services in order instead of all of them racing to shut down.
            process_group=0,
            preexec_fn=_die_with_parent if _libc is not None else None,
        )
        self.pump = threading.Thread(target=self._pump, name=f"log-{self.name}", daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        """Copy the service's output to its log file; echo errors to the console."""
        assert self.proc is not None and self.proc.stdout is not None
        with self.log as log:
            for raw in self.proc.stdout:
                log.write(raw)
                line = raw.decode("utf-8", "replace").rstrip()
                if line.startswith("{"):
                    with contextlib.suppress(ValueError):
                        entry = json.loads(line)
                        if (isinstance(entry, dict) and entry.get("level") in CONSOLE_LEVELS
                                and not client_error(entry)):
                            warn(f"[{self.name}] {render(line)}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        if self.argv is not None:
            self.last_health = "running" if self.running() else "exited"
            return self.running()
        try:
            with _http.open(f"{self.base_url}/health", timeout=3) as resp:
                self.last_health = f"{resp.status}"
                return resp.status == 200
        except urllib.error.HTTPError as exc:
            self.last_health = f"{exc.code} {exc.read(500).decode('utf-8', 'replace')}"
        except (OSError, http.client.HTTPException) as exc:
            self.last_health = f"no answer ({exc})"
        return False

    def signal_group(self, signum: int) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signum)

    def print_tail(self) -> None:
        if self.pump is not None and not self.running():
            self.pump.join(timeout=2)  # let the last lines reach the file
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            lines = []
        warn(f"--- last {min(len(lines), TAIL_LINES)} lines of {self.log_path}")
        for line in lines[-TAIL_LINES:]:
            warn(f"  {render(line)}")
        warn("---")


class Supervisor:
    def __init__(self, services: list[Service]):
        self.services = services
        self.stop_requested = threading.Event()
        self.force = threading.Event()

    def on_signal(self, signum, frame) -> None:
        # Keep the handler tiny (no printing: it may interrupt a print in the main thread).
        if self.stop_requested.is_set():
            self.force.set()  # a second Ctrl-C: do not wait for a graceful stop
        self.stop_requested.set()

    def dead(self) -> Service | None:
        return next((s for s in self.services if not s.running()), None)

    def wait_healthy(self, timeout: float) -> Service | None:
        """None once every service answers 200 (or a stop was requested); else the one that failed."""
        deadline = time.monotonic() + timeout
        pending = list(self.services)
        while pending and not self.stop_requested.is_set():
            if (died := self.dead()) is not None:
                return died
            pending = [s for s in pending if not s.healthy()]
            if not pending:
                return None
            if time.monotonic() > deadline:
                return pending[0]
            self.stop_requested.wait(0.25)
        return None

    def watch(self) -> Service | None:
        """Block until a stop is requested (None) or a service exits on its own (that service)."""
        while not self.stop_requested.wait(0.5):
            if (died := self.dead()) is not None:
                return died
        return None

    def stop_all(self) -> None:
        started = [s for s in self.services if s.proc is not None]
        for s in started:
            if s.running():
                s.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(s.running() for s in started) and time.monotonic() < deadline and not self.force.is_set():
            time.sleep(0.1)  # only polling here: the children are waited for just below
        for s in started:
            if s.running():
                warn(f"[{s.name}] did not stop within {STOP_TIMEOUT:.0f}s; killing it")
                s.signal_group(signal.SIGKILL)
            s.proc.wait()
            # Anything the service itself started goes too (its group outlives it only if so).
            s.signal_group(signal.SIGKILL)
        for s in started:
            if s.pump is not None:
                s.pump.join(timeout=5)


def print_urls(services: list[Service], amqp_uri: str, var: Path, demo_keys_file: Path) -> None:
    width = max(len(s.name) for s in services)
    by_name = {s.name: s for s in services}
    say()
    say("xiaoneng is running:")
    for s in services:
        say(f"  {s.name:<{width}}  API {s.base_url}/api/v1   health {s.base_url}/health   "
            f"OpenAPI {s.base_url}/api/openapi.json")
    if "notify" in by_name:
        say(f"  console     {by_name['notify'].base_url}/console   (the monitors' live console, in a browser)")
    if "appeals" in by_name:
        say(f"  hot issues  {by_name['appeals'].base_url}/api/v1/reports/hot-issues?format=html   "
            "(with an operator key)")
    if "scoring" in by_name:
        say(f"  ranking     {by_name['scoring'].base_url}/api/v1/scores?period=2026   (with an assessor key; "
            "the half-year review: period=2026-H1; the printable report: /api/v1/reports/scores?period=2026-H1"
            "&format=html)")
        say(f"  targets     {by_name['scoring'].base_url}/api/v1/targets/board?year=2026&format=html   "
            "(目标管理; with an assessor key)")
    if "approvals" in by_name:
        say(f"  public      {by_name['approvals'].base_url}/public/   (办事指南, 办件进度查询, 审批结果公开; no key)")
    if "appeals" in by_name:
        say(f"  exposure    {by_name['appeals'].base_url}/public/exposures   (曝光台; no key)")
    say(f"  broker      {masked(amqp_uri)}")
    say(f"  data        {var} (logs in {var / 'log'})")
    say(f"  demo keys   {demo_keys_file}")
    say("Press Ctrl-C to stop.")


def main() -> int:
    var = var_dir()
    (var / "log").mkdir(mode=0o750, parents=True, exist_ok=True)
    env = service_env(var)
    nameko = str(Path(sys.executable).with_name("nameko"))
    if not os.access(nameko, os.X_OK):
        nameko = shutil.which("nameko") or ""
    if not nameko:
        warn("run_local: no nameko next to this python; run it with .venv/bin/python (make run)")
        return 1

    load_demo = demo_wanted(var, env)
    services = []
    for name in SERVICES:
        host, port = listen_address(name, env)
        services.append(Service(name, host, port, var / "log" / f"{name}.log"))

    keys_file = Path(env["KEYS_FILE"])
    keys_file = keys_file if keys_file.is_absolute() else ROOT / keys_file
    keys = make_demo_keys(keys_file)
    demo_keys_file = var / "demo-keys.txt"
    write_demo_keys(demo_keys_file, keys, f"{services[0].base_url}/api/v1/appeals/1")
    say(f"Demo API keys (also in {demo_keys_file}; new ones on every run):")
    say(keys_table(keys).rstrip())
    say()

    helpers = []
    # read as appeals' config reads `RELAY: ${APPEALS_OUTBOX_RELAY:true}`: the helper runs exactly when appeals' own
    # relay does not
    if not yaml.safe_load(env["APPEALS_OUTBOX_RELAY"]):
        helpers.append(Service("appeals-relay", "", 0, var / "log" / "appeals-relay.log", argv=[
            sys.executable, "-m", "services.kernel.relay", "--config", "services/appeals/config.yaml",
            "--service", "appeals"]))
    supervisor = Supervisor(services + helpers)
    signal.signal(signal.SIGINT, supervisor.on_signal)
    signal.signal(signal.SIGTERM, supervisor.on_signal)
    timeout = float(os.environ.get("XIAONENG_START_TIMEOUT") or 60)
    amqp_uri = env.get("AMQP_URI") or "amqp://guest:guest@127.0.0.1:5672/"
    failed: Service | None = None
    demo = DemoRun(services, env, var) if load_demo else None
    try:
        # a var/ from an earlier version: its databases are brought to this code's schema first (as the
        # containers do), rather than each service refusing to start on an old revision
        migrated = subprocess.run([sys.executable, "-m", "deploy", "migrate", *SERVICES], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
        if migrated.returncode != 0:
            warn(f"run_local: migrating the databases under {var} failed:\n{migrated.stderr or migrated.stdout}")
            return 1
        say(f"Starting {', '.join(s.name for s in services + helpers)} (logs in {var / 'log'}) ...")
        for s in services + helpers:
            s.start(env, nameko)
        failed = supervisor.wait_healthy(timeout)
        if failed is not None:
            if failed.running():
                warn(f"[{failed.name}] not healthy within {timeout:.0f}s: /health: {failed.last_health}")
            else:
                warn(f"[{failed.name}] exited with code {failed.proc.returncode} while starting")
            failed.print_tail()
            for s in services + helpers:
                if s is not failed and s.proc is not None and not s.running():
                    warn(f"[{s.name}] exited too, with code {s.proc.returncode} (see {s.log_path})")
        elif not supervisor.stop_requested.is_set():
            print_urls(services, amqp_uri, var, demo_keys_file)
            if demo is not None:
                def loaded(code: int) -> None:
                    say("The demo city's year is in" + (" (some requests failed, see above)" if code else "")
                        + ": appeals, approvals, alerts, the ranking and the console are populated.")
                    print_urls(services, amqp_uri, var, demo_keys_file)

                demo.start(loaded)
            failed = supervisor.watch()
            if failed is not None:
                warn(f"[{failed.name}] exited on its own with code {failed.proc.returncode}; stopping the others")
                failed.print_tail()
    finally:
        if demo is not None:
            demo.stop()
        say("Stopping the services ...")
        supervisor.stop_all()
    if failed is not None:
        return 1
    say("All services stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
