"""Fixtures shared by all tests: an isolated RabbitMQ vhost per run (and per test where a test needs
a clean broker), a PostgreSQL database per run, service configs, API keys and a deadline-based waiter."""

import eventlet

eventlet.monkey_patch()  # nameko 2.14 no longer does this for pytest

import os  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import quote  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

RABBIT_API = os.environ.get("XIAONENG_TEST_RABBIT_API", "http://127.0.0.1:15672/api")
RABBIT_USER = os.environ.get("XIAONENG_TEST_RABBIT_USER", "guest")
RABBIT_PASSWORD = os.environ.get("XIAONENG_TEST_RABBIT_PASSWORD", "guest")
RABBIT_HOST = os.environ.get("XIAONENG_TEST_RABBIT_HOST", "127.0.0.1:5672")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_ADMIN_URL = os.environ.get("XIAONENG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def wait_for(predicate, timeout=10.0, interval=0.02, message="condition"):
    """Poll `predicate` until it returns a truthy value or the deadline passes (then fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        eventlet.sleep(interval)


class RabbitAdmin:
    def __init__(self):
        self.http = requests.Session()
        self.http.auth = (RABBIT_USER, RABBIT_PASSWORD)

    def create_vhost(self, prefix="xiaoneng-test") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.http.put(f"{RABBIT_API}/vhosts/{quote(name, safe='')}").raise_for_status()
        self.http.put(f"{RABBIT_API}/permissions/{quote(name, safe='')}/{RABBIT_USER}",
                      json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        return name

    def delete_vhost(self, name: str) -> None:
        self.http.delete(f"{RABBIT_API}/vhosts/{quote(name, safe='')}")

    def amqp_uri(self, vhost: str) -> str:
        return f"amqp://{RABBIT_USER}:{RABBIT_PASSWORD}@{RABBIT_HOST}/{quote(vhost, safe='')}"

    def queue(self, vhost: str, name: str) -> dict | None:
        r = self.http.get(f"{RABBIT_API}/queues/{quote(vhost, safe='')}/{quote(name, safe='')}")
        return r.json() if r.status_code == 200 else None


@pytest.fixture(scope="session")
def rabbit_admin():
    admin = RabbitAdmin()
    try:
        admin.http.get(f"{RABBIT_API}/overview", timeout=5).raise_for_status()
    except Exception as exc:  # make it obvious, not a cascade of connection errors
        pytest.exit(f"RabbitMQ management API not reachable at {RABBIT_API}: {exc} "
                    f"(run scripts/ensure-rabbitmq.sh)", returncode=3)
    return admin


@pytest.fixture(scope="session")
def run_vhost(rabbit_admin):
    """One vhost for the whole test run."""
    name = rabbit_admin.create_vhost()
    yield name
    rabbit_admin.delete_vhost(name)


@pytest.fixture(scope="session")
def amqp_uri(rabbit_admin, run_vhost):
    return rabbit_admin.amqp_uri(run_vhost)


@pytest.fixture
def fresh_vhost(rabbit_admin):
    """A vhost of this test alone, for tests that inspect broker-wide state (the parking queue)."""
    name = rabbit_admin.create_vhost("xiaoneng-test-iso")
    yield name
    rabbit_admin.delete_vhost(name)


@pytest.fixture
def fresh_amqp_uri(rabbit_admin, fresh_vhost):
    return rabbit_admin.amqp_uri(fresh_vhost)


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL database created for this run (this machine and CI run PostgreSQL)."""
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"xiaoneng_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


@pytest.fixture
def pg_admin(pg_url):
    """An AUTOCOMMIT engine on the maintenance database of the test PostgreSQL server."""
    engine = sa.create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def database_url(request, tmp_path):
    """database_url(backend, name) -> the URL of a new, empty database: a SQLite file of this test, or (backend
    "postgresql") a PostgreSQL database of its own, dropped after the test."""
    created = []

    def make(backend: str, name: str = "test") -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path}/{name}.db"
        admin = request.getfixturevalue("pg_admin")
        database = f"xiaoneng_{name}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        created.append((admin, database))
        return make_url(request.getfixturevalue("pg_url")).set(database=database).render_as_string(
            hide_password=False)

    yield make
    for admin, database in created:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def start_on_postgres(pg_admin, pg_url, service_config, start_service):
    """start_on_postgres(ServiceClass) -> config of the service started on a PostgreSQL database of its own
    (so tables and outages never meet another test's); the service is killed before the database is
    dropped, which nameko's own fixture would do only afterwards."""
    started, databases = [], []

    def start(service_cls):
        name = f"xiaoneng_test_svc_{uuid.uuid4().hex[:10]}"
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        databases.append(name)
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        cfg = service_config(service_cls.name, DATABASE_URL=url)
        started.append(start_service(service_cls, cfg))
        return cfg

    yield start
    for container in started:
        container.kill()
    with pg_admin.connect() as conn:
        for name in databases:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def keys_file(tmp_path):
    return str(tmp_path / "keys.yaml")


@pytest.fixture
def api_keys(keys_file):
    """One key per role (and a department handler of two departments), as plain strings."""
    from services.kernel.keys import KeyStore

    store = KeyStore(keys_file)
    keys = {role: store.add(f"test-{role}", role) for role in
            ("operator", "window_system", "monitor", "assessor", "admin")}
    keys["handler_d1"] = store.add("test-handler-d1", "department_handler", "D1")
    keys["handler_d2"] = store.add("test-handler-d2", "department_handler", "D2")
    return keys


@pytest.fixture
def service_config(tmp_path, amqp_uri, keys_file):
    """config(service, **overrides) -> a nameko config for one service on its own SQLite file."""

    def make(service: str, **overrides) -> dict:
        port = free_port()
        cfg = {
            "AMQP_URI": amqp_uri,
            "DATABASE_URL": f"sqlite:///{tmp_path}/{service}.db",
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
            "KEYS_FILE": keys_file,
            "DEPARTMENT": None,
            "RETRY_DELAYS_MS": [200, 400],
            "OUTBOX": {"POLL_INTERVAL": 0.2},
            "max_workers": 10,
        }
        if service == "appeals":
            cfg["SEED_CATALOGUE"] = os.path.join(ROOT, "services", "appeals", "catalogue.demo.yaml")
        if service == "approvals":
            cfg["SEED_ITEMS"] = os.path.join(ROOT, "services", "approvals", "items.demo.yaml")
        if service == "scoring":
            cfg["SEED_DEPARTMENTS"] = os.path.join(ROOT, "services", "scoring", "departments.demo.yaml")
        if service == "notify":
            cfg["SEED_NOTIFY"] = os.path.join(ROOT, "services", "notify", "recipients.demo.yaml")
        cfg.update(overrides)
        cfg["base_url"] = f"http://{cfg['WEB_SERVER_ADDRESS']}"
        return cfg

    return make


@pytest.fixture
def frozen():
    """frozen(moment): pin the platform clock (services in this process read it); released after the test."""
    from services.kernel import clock

    def at(moment):
        clock.freeze(moment)
        return moment

    yield at
    clock.freeze(None)


@pytest.fixture
def start_service(container_factory):
    """start_service(ServiceClass, config) -> a started nameko container (killed after the test)."""

    def start(service_cls, config):
        container = container_factory(service_cls, config)
        container.start()
        return container

    return start
