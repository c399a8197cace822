"""`xiaoneng demo`: send the demo city's year to the running services (see README, "The demo city")."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime

from services.kernel.clock import TZ

from .generate import Sizes, generate
from .keys import make_keys
from .runner import run

PORTS = {"appeals": 8001, "approvals": 8002, "scoring": 8003}


def default_url(service: str) -> str:
    """From `<SERVICE>_HTTP` as the services read it (a wildcard address is reached on the loopback)."""
    value = os.environ.get(f"{service.upper()}_HTTP") or f"0.0.0.0:{PORTS[service]}"
    host, _, port = value.rpartition(":")
    host = "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host
    return f"http://{host}:{port}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xiaoneng demo", description=(
        "Drive the running services through their HTTP APIs with a plausible year of a city of fifteen "
        "departments: appeals from every channel and their handling, approval applications, enterprise "
        "evaluations, monitoring points and undercover visits, all back-dated. The same --seed and --until "
        "give the same requests; a re-run creates nothing new."))
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--appeals", type=int, default=300, help="appeals (cases; repeats come on top) (default 300)")
    p.add_argument("--applications", type=int, default=200, help="approval applications (default 200)")
    p.add_argument("--until", type=date.fromisoformat, default=None,
                   help="the demo's year ends the day before this date (default: today, Asia/Shanghai)")
    for service in PORTS:
        p.add_argument(f"--{service}-url", default=None, help=f"default: from ${service.upper()}_HTTP or "
                       f"http://127.0.0.1:{PORTS[service]}")
    p.add_argument("--keys-file", default=None, help="where the demo's keys go: $KEYS_FILE or var/keys.yaml")
    p.add_argument("--workers", type=int, default=4, help="parallel chains (default 4)")
    p.add_argument("--dry-run", action="store_true", help="print the requests as JSON lines, send nothing")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    today = datetime.now(TZ).date()
    until = args.until or today
    if until > today:
        print(f"error: --until {until} is in the future; the services refuse times after now", file=sys.stderr)
        return 2
    if min(args.appeals, args.applications) < 0:
        print("error: sizes cannot be negative", file=sys.stderr)
        return 2
    try:
        reqs = list(generate(args.seed, until=until, sizes=Sizes(appeals=args.appeals,
                                                                 applications=args.applications)))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        for r in reqs:
            print(json.dumps({k: v for k, v in r.__dict__.items()}, ensure_ascii=False))
        return 0
    urls = {s: getattr(args, f"{s}_url") or default_url(s) for s in PORTS}
    keys = make_keys(args.keys_file or os.environ.get("KEYS_FILE") or "var/keys.yaml")
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    say(f"demo: {len(reqs)} requests (seed {args.seed}, {args.appeals} appeals, {args.applications} applications, "
        f"year until {until}) to {', '.join(f'{s} {u}' for s, u in urls.items())}")
    step = max(1, len({r.chain for r in reqs}) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            say(f"demo: {done}/{total} cases, applications and input sets sent")

    result = run(reqs, urls, keys, workers=args.workers, progress=progress)
    say(result.summary())
    # the scoring API may not be deployed (its part is skipped, and said so); the others must be there
    return 1 if result.failures or set(result.unavailable) - {"scoring"} else 0
