"""`xiaoneng`: operations commands of a deployment.

    xiaoneng keys add NAME --role ROLE [--department D]   prints a new API key once
    xiaoneng keys list | revoke NAME
    xiaoneng dlq list [--json] [--reason R]               parked messages of this node's broker, failures first
    xiaoneng dlq replay (--all | EVENT_ID ...) [--reason R]
    xiaoneng events [--markdown]                          the event contracts
    xiaoneng demo [--seed N --appeals N --applications N] a demo year sent to the running services
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from .keys import ROLES, KeyStore


def _amqp_uri(args) -> str:
    return args.amqp_uri or os.environ.get("AMQP_URI") or "amqp://guest:guest@127.0.0.1:5672/"


def _keys_file(args) -> str:
    return args.keys_file or os.environ.get("KEYS_FILE") or "var/keys.yaml"


def cmd_keys(args) -> int:
    store = KeyStore(_keys_file(args))
    if args.action == "add":
        try:
            key = store.add(args.name, args.role, args.department)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(key)
        print(f"# key of {args.name} ({args.role}{', ' + args.department if args.department else ''}); "
              "it is shown only this once", file=sys.stderr)
        return 0
    if args.action == "list":
        for k in store.list():
            print(f"{k.name}\t{k.role}\t{k.department or '-'}\t{k.key_id}")
        return 0
    if args.action == "revoke":
        if store.revoke(args.name):
            print(f"revoked {args.name}")
            return 0
        print(f"error: no key named {args.name}", file=sys.stderr)
        return 1
    return 2


def _reasons(chosen: str | None) -> tuple[str, ...]:
    from .dlq import FAILURES, REASONS

    return {None: REASONS, "failures": FAILURES}.get(chosen, (chosen,))


def cmd_dlq(args) -> int:
    from . import dlq

    uri = _amqp_uri(args)
    reasons = _reasons(args.reason)
    if args.action == "list":
        parked = dlq.list_parked(uri, reasons=reasons)
        if args.json:
            print(json.dumps([p.as_dict() for p in parked], ensure_ascii=False, indent=2))
            return 0
        if not parked:
            print("no parked messages")
            return 0
        failures = sum(1 for p in parked if p.reason in dlq.FAILURES)
        print(f"# {failures} failed or invalid (in {dlq.PARKED_QUEUE}), {len(parked) - failures} unrouted "
              f"(the newest kept, in {dlq.UNROUTED_QUEUE})")
        for p in parked:
            print(f"{p.position:>4}  {p.event_id or '-':36}  {p.event_type or '-':28}  {p.reason:8}  "
                  f"{p.queue or p.exchange + ' ' + p.routing_key}  attempts={p.attempts}  {p.parked_at or ''}")
            if p.cause:
                print(f"      {p.cause[:200]}")
        return 0
    if args.action == "replay":
        if not args.all and not args.event_ids:
            print("error: name event ids, or --all", file=sys.stderr)
            return 2
        done = dlq.replay(uri, event_ids=args.event_ids, replay_all=args.all, reasons=reasons)
        for p in done:
            print(f"replayed {p.event_id or '-'} ({p.event_type or '?'}) → {p.queue or p.exchange}")
        missing = set(args.event_ids or ()) - {p.event_id for p in done}
        for event_id in sorted(missing):
            print(f"error: {event_id} is not parked", file=sys.stderr)
        return 1 if missing else 0
    return 2


def cmd_events(args) -> int:
    from .contracts.docs import render_markdown

    sys.stdout.write(render_markdown())
    return 0


def main(argv: list[str] | None = None) -> int:
    # eventlet announces its maintenance mode on import; an operator's terminal is not the place.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        # the demo (top-level package `demo`) knows the services' APIs: imported only when asked for
        from demo.cli import main as demo_main

        return demo_main(argv[1:])
    parser = argparse.ArgumentParser(prog="xiaoneng", description="xiaoneng operations")
    sub = parser.add_subparsers(dest="command", required=True)

    keys = sub.add_parser("keys", help="API keys of this deployment")
    keys.add_argument("--keys-file", help="default: $KEYS_FILE or var/keys.yaml")
    ksub = keys.add_subparsers(dest="action", required=True)
    add = ksub.add_parser("add", help="create a key and print it once")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--department")
    ksub.add_parser("list")
    rev = ksub.add_parser("revoke")
    rev.add_argument("name")

    dlq = sub.add_parser("dlq", help="parked (dead-lettered) messages")
    dlq.add_argument("--amqp-uri", help="default: $AMQP_URI or the local broker")
    dsub = dlq.add_subparsers(dest="action", required=True)
    reason = {"choices": ("failures", "failed", "invalid", "unrouted"),
              "help": "only these (failures: failed and invalid); default: all, failures first"}
    lst = dsub.add_parser("list")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--reason", **reason)
    rep = dsub.add_parser("replay")
    rep.add_argument("event_ids", nargs="*")
    rep.add_argument("--all", action="store_true")
    rep.add_argument("--reason", **reason)

    sub.add_parser("events", help="print the event contracts as Markdown")
    sub.add_parser("demo", help="send a demo year to the running services (xiaoneng demo --help)")

    args = parser.parse_args(argv)
    handler = {"keys": cmd_keys, "dlq": cmd_dlq, "events": cmd_events}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
