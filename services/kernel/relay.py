"""The outbox relay as a process of its own, for a service whose own process is the bottleneck.

    python -m services.kernel.relay --config services/appeals/config.yaml --service appeals

The service then runs with `OUTBOX: {RELAY: false}`: its requests only commit (state and outbox rows
together), and this process publishes the rows with confirms and marks them, on the other core. Same
algorithm, same guarantees as the relay inside the service (`outbox.py`): a row is marked only after the
broker confirmed it; on SQLite one relay per database file runs (the others wait on the file lock as warm
standbys, in a service or here); on PostgreSQL any number.

Waking up: on SQLite it asks `PRAGMA data_version` every `--tick` seconds (a few microseconds: the number
changes when another connection committed), so events leave within about a tick; on PostgreSQL it polls
the outbox every `--poll` seconds. Stops cleanly on SIGTERM / Ctrl-C after the batch in hand.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402

from sqlalchemy import MetaData, inspect  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from .config import ConfigError, load_config  # noqa: E402
from .db import Database, is_sqlite  # noqa: E402
from .messaging import ConfirmingPublisher  # noqa: E402
from .outbox import OutboxRelay, relay_settings  # noqa: E402

log = logging.getLogger("xiaoneng.relay")


class CommitWatch:
    """Wakes the relay when another connection committed to the SQLite file (`PRAGMA data_version`)."""

    def __init__(self, db_url: str, relay: OutboxRelay, tick: float):
        self.path = make_url(db_url).database
        self.relay = relay
        self.tick = tick
        self.running = True

    def run(self) -> None:
        conn = sqlite3.connect(self.path, check_same_thread=False)
        try:
            last = None
            while self.running:
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if version != last:
                    last = version
                    self.relay.notify()
                eventlet.sleep(self.tick)
        finally:
            conn.close()


def wait_for_outbox(db: Database, stop: list[bool], interval: float = 0.2) -> None:
    """Until the service has created its tables (the relay may start first)."""
    while not stop[0]:
        try:
            if inspect(db.engine).has_table("outbox"):
                return
        except Exception as exc:  # a database not reachable yet: wait like for a missing table
            log.debug("database not ready: %s", exc)
        eventlet.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.kernel.relay",
                                 description="Publish a service's outbox from a process of its own.")
    ap.add_argument("--config", required=True, help="the service's config file (DATABASE_URL, AMQP_URI, OUTBOX)")
    ap.add_argument("--service", required=True, help="the service's name (its events exchange), e.g. appeals")
    ap.add_argument("--tick", type=float, default=0.005, help="SQLite: seconds between commit checks")
    ap.add_argument("--poll", type=float, default=0.2, help="PostgreSQL: seconds between outbox polls")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config)
        url, amqp = cfg["DATABASE_URL"], cfg["AMQP_URI"]
    except (ConfigError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    db = Database(url, MetaData(), service=args.service, department=cfg.get("DEPARTMENT"))
    sqlite = is_sqlite(db.engine)
    relay = OutboxRelay(db, ConfirmingPublisher(amqp), poll_interval=args.tick * 20 if sqlite else args.poll,
                        **relay_settings(cfg))
    stop = [False]
    watch = CommitWatch(url, relay, args.tick) if sqlite else None

    def on_signal(signum, _frame):
        log.info("relay of %s stopping (signal %s)", args.service, signum)
        stop[0] = True
        if watch is not None:
            watch.running = False
        relay.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    wait_for_outbox(db, stop)
    if stop[0]:
        return 0
    log.info("relay of %s publishing from %s", args.service, make_url(url).render_as_string(hide_password=True))
    watcher = eventlet.spawn(watch.run) if watch is not None else None
    try:
        relay.run()
    finally:
        if watcher is not None:
            watch.running = False
            watcher.wait()
        relay.publisher.close()
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
