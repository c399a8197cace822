"""What every benchmark needs: a RabbitMQ vhost and a PostgreSQL database of its own, removed afterwards, and
`report()`, how a benchmark hands its figures to `make bench`'s table (bench/_table.py)."""

import json
import os
import sys
import uuid
from contextlib import contextmanager
from urllib.parse import quote

import requests

API = os.environ.get("XIAONENG_TEST_RABBIT_API", "http://127.0.0.1:15672/api")
AUTH = (os.environ.get("XIAONENG_TEST_RABBIT_USER", "guest"), os.environ.get("XIAONENG_TEST_RABBIT_PASSWORD", "guest"))
HOST = os.environ.get("XIAONENG_TEST_RABBIT_HOST", "127.0.0.1:5672")


def create_vhost() -> str:
    vhost = f"xiaoneng-bench-{uuid.uuid4().hex[:8]}"
    requests.put(f"{API}/vhosts/{quote(vhost, safe='')}", auth=AUTH, timeout=10).raise_for_status()
    requests.put(f"{API}/permissions/{quote(vhost, safe='')}/{AUTH[0]}", auth=AUTH, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    return vhost


def delete_vhost(vhost: str) -> None:
    requests.delete(f"{API}/vhosts/{quote(vhost, safe='')}", auth=AUTH, timeout=10)


def amqp_uri(vhost: str) -> str:
    return f"amqp://{AUTH[0]}:{AUTH[1]}@{HOST}/{quote(vhost, safe='')}"


@contextmanager
def bench_vhost():
    """Yields the AMQP URI of a new vhost; deletes it afterwards, whatever happens."""
    vhost = create_vhost()
    try:
        yield amqp_uri(vhost)
    finally:
        delete_vhost(vhost)


@contextmanager
def bench_database(admin_url: str):
    """Yields the URL of a new PostgreSQL database on the server of `admin_url`; drops it afterwards."""
    import sqlalchemy as sa

    name = f"xiaoneng_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# Set by bench/_table.py: the file each benchmark appends its figures to, one JSON object a line.
RESULTS_ENV = "XIAONENG_BENCH_RESULTS"


def report(name: str, figure: float | None, unit: str, *, target: str, met: bool | None,
           baseline: float | None = None, ratio: float | None = None) -> None:
    """One figure of this benchmark for the table: what was measured, against what baseline measured in the same
    run (`ratio` defaults to figure / baseline), the target as the issue states it and whether it was met
    (None: no target, for the record). Prints nothing: each benchmark prints its own lines as before."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    if ratio is None and figure is not None and baseline:
        ratio = figure / baseline
    row = {"bench": os.path.splitext(os.path.basename(sys.argv[0]))[0], "name": name,
           "figure": _round(figure), "unit": unit, "baseline": _round(baseline), "ratio": _round(ratio),
           "target": target, "met": met}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")
