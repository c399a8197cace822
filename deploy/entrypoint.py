"""How a container (or a systemd unit) starts one service: secrets read from `*_FILE` variables, the database
migrated to the head revision, then `nameko run` in place of this process. With `--relay`: the service's
outbox relay as a process of its own instead (no migration: the service does that)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def secrets_from_files(env=os.environ) -> None:
    """`XIAONENG_MQ_PASSWORD_FILE=/run/secrets/x` → `XIAONENG_MQ_PASSWORD=<its content>` (the config reads it)."""
    for name in [n for n in env if n.endswith("_FILE") and n.startswith("XIAONENG_")]:
        target = name[: -len("_FILE")]
        if not env.get(target):
            env[target] = Path(env[name]).read_text(encoding="utf-8").strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.entrypoint")
    parser.add_argument("service")
    parser.add_argument("--config", required=True)
    parser.add_argument("--no-migrate", action="store_true")
    parser.add_argument("--relay", action="store_true", help="run the service's outbox relay, not the service")
    args = parser.parse_args(argv)
    secrets_from_files()
    if args.relay:
        os.execv(sys.executable, [sys.executable, "-m", "services.kernel.relay", "--config", args.config,
                                  "--service", args.service])
        return 0  # not reached
    if not args.no_migrate:
        from .migrations import migrate_services

        code = migrate_services([args.service], config_paths={args.service: args.config})
        if code:
            return code
    os.execv(sys.executable, [sys.executable, "-m", "nameko", "run", "--config", args.config,
                              f"services.{args.service}.service"])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
