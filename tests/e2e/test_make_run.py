"""`make run` end to end: scripts/run_local.py starts the four services (on free ports, a vhost of its
own and a temporary var/), they answer /health, a demo operator key takes in an appeal, and Ctrl-C
stops everything with exit code 0 and no service left behind."""

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from services.kernel.registry import SERVICES as REGISTRY
from tests.conftest import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
SERVICES = tuple(REGISTRY)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def children_of(pid: int) -> list[int]:
    """Pids whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat_line = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) is in parentheses and may hold spaces: split after it.
        fields = stat_line.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def health_ok(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def run_env(var: Path, amqp_uri: str) -> tuple[dict, dict]:
    """run_local.py's environment for a test: a var/ of its own, free ports, no demo load; and the URLs."""
    env = {**os.environ, "XIAONENG_VAR_DIR": str(var), "AMQP_URI": amqp_uri, "KEYS_FILE": str(var / "keys.yaml"),
           "XIAONENG_START_TIMEOUT": "90",
           "XIAONENG_DEMO": "0"}  # the demo's first-start load: tests/e2e/test_demo.py
    urls = {}
    for name in SERVICES:
        port = free_port()
        env[f"{name.upper()}_HTTP"] = f"127.0.0.1:{port}"
        env[f"{name.upper()}_DATABASE_URL"] = f"sqlite:///{var / f'{name}.db'}"
        urls[name] = f"http://127.0.0.1:{port}"
    return env, urls


def start_run_local(env: dict, urls: dict, console: Path) -> subprocess.Popen:
    """scripts/run_local.py started (output to `console`), once all four services answer /health."""
    with open(console, "wb") as out:
        proc = subprocess.Popen([sys.executable, "scripts/run_local.py"], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def all_healthy():
        if proc.poll() is not None:
            raise AssertionError(f"run_local.py exited with {proc.returncode}:\n{console.read_text()}")
        return all(health_ok(url) for url in urls.values())

    try:
        wait_for(all_healthy, timeout=120, interval=0.25, message="all four /health to answer 200")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


@pytest.fixture
def vhost(rabbit_admin):
    name = rabbit_admin.create_vhost("xiaoneng-test-run")
    yield name
    rabbit_admin.delete_vhost(name)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the services' processes in /proc")
def test_make_run_starts_serves_and_stops_cleanly(tmp_path, rabbit_admin, vhost):
    var = tmp_path / "var"
    env, urls = run_env(var, rabbit_admin.amqp_uri(vhost))

    console = tmp_path / "console.txt"
    proc = start_run_local(env, urls, console)
    try:
        services = children_of(proc.pid)
        assert len(services) == len(SERVICES) + 1, services  # and the appeals outbox relay process

        keys_file = var / "demo-keys.txt"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        rows = [line.split() for line in keys_file.read_text().splitlines() if line and not line.startswith("#")]
        operator_key = next(row[-1] for row in rows if row[0] == "operator")
        assert {row[0] for row in rows} >= {"operator", "department_handler", "window_system", "monitor",
                                            "assessor", "admin"}

        resp = requests.post(f"{urls['appeals']}/api/v1/appeals",
                             headers={"Authorization": f"Bearer {operator_key}"},
                             json={"channel": "hotline", "type": "complaint", "category": "road",
                                   "content": "路灯不亮 (end-to-end test of make run)"},
                             timeout=10)
        assert resp.status_code == 201, resp.text
        assert resp.json()["status"] == "dispatched" and resp.json()["department"] == "ZJJ"  # demo catalogue
        # its events leave through the relay process: the outbox drains
        wait_for(lambda: requests.get(f"{urls['appeals']}/health", timeout=3).json()["outbox"]["pending"] == 0,
                 message="the appeal's events published by the relay process")

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, console.read_text()
        left = [pid for pid in services if alive(pid)]
        assert not left, f"services still running after run_local.py exited: {left}"
        assert not any(health_ok(url) for url in urls.values())
        assert (var / "log" / "appeals.log").stat().st_size > 0
        assert "relay of appeals publishing" in (var / "log" / "appeals-relay.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()  # the services follow (they get SIGTERM when their parent dies)
            proc.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the services' processes in /proc")
def test_make_run_brings_a_var_of_an_earlier_version_to_this_codes_schema(tmp_path, rabbit_admin, vhost):
    """A var/ left by an earlier version (here appeals one revision behind): the databases are migrated
    before the services start, instead of appeals refusing to start on an old revision."""
    import sqlite3

    import sqlalchemy as sa
    from alembic import command

    from services.appeals import store as appeals_store
    from services.kernel import migrate
    from services.kernel.migrate import head

    var = tmp_path / "var"
    var.mkdir()
    env, urls = run_env(var, rabbit_admin.amqp_uri(vhost))
    made = subprocess.run([sys.executable, "-m", "deploy", "migrate", "appeals"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    # as revision 0002 left it: the later revisions' own downgrades take their changes back
    engine = sa.create_engine(f"sqlite:///{var / 'appeals.db'}")
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config("appeals", conn, appeals_store.metadata), "0002")
    engine.dispose()
    with sqlite3.connect(var / "appeals.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version_appeals").fetchone()[0] == "0002"
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'ix_inbox_processed'").fetchone()

    console = tmp_path / "console.txt"
    proc = start_run_local(env, urls, console)
    try:
        with sqlite3.connect(var / "appeals.db") as db:
            assert db.execute("SELECT version_num FROM alembic_version_appeals").fetchone()[0] == head("appeals")
            assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'ix_inbox_processed'").fetchone()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, console.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
