"""`python -m deploy render|apply-broker|migrate`: the deployment's command line (runbook: deploy/README.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import broker
from .inventory import InventoryError, load


def cmd_render(args) -> int:
    inv = load(args.inventory)
    nodes = [inv.node(n) for n in args.node] if args.node else inv.nodes
    from .render import render_node, warnings

    for node in nodes:
        written = render_node(inv, node, Path(args.out) / node.name, install_dir=args.install_dir)
        print(f"{node.name}: {len(written)} files in {Path(args.out) / node.name}")
    for warning in warnings(inv):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _admin_password(args) -> str:
    if args.admin_password_file:
        return Path(args.admin_password_file).read_text(encoding="utf-8").strip()
    return os.environ.get(args.admin_password_env) or "guest"


def cmd_apply(args) -> int:
    if args.definitions:
        defs = json.loads(Path(args.definitions).read_text(encoding="utf-8"))
    else:
        if not (args.inventory and args.node):
            raise SystemExit("give a definitions file, or --inventory and --node")
        inv = load(args.inventory)
        defs = broker.definitions(inv, inv.node(args.node))
    if args.write:
        filled = broker.fill(defs, args.secrets_dir)
        fd = os.open(args.write, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(filled, fh, indent=2, ensure_ascii=False)
        print(f"wrote {args.write} (holds password hashes and upstream passwords: delete it after "
              "`rabbitmqctl import_definitions`)")
        return 0
    broker.apply(defs, args.management_url, args.admin_user, _admin_password(args), secrets_dir=args.secrets_dir)
    vhosts = ", ".join(v["name"] for v in defs["vhosts"])
    print(f"applied: vhost {vhosts}, {len(defs['users'])} users, {len(defs['policies'])} policies, "
          f"{sum(p['component'] == 'federation-upstream' for p in defs['parameters'])} federation upstreams")
    return 0


def cmd_migrate(args) -> int:
    from .migrations import migrate_services

    return migrate_services(args.services, config_dir=args.config_dir)


def cmd_revision(args) -> int:
    from .migrations import new_revision

    new_revision(args.service, args.message, rev_id=args.rev_id)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("render", help="write every node's configs, env files, definitions, compose file, units")
    p.add_argument("inventory")
    p.add_argument("--out", required=True, help="output directory (one sub-directory per node)")
    p.add_argument("--node", action="append", help="only this node (repeatable)")
    p.add_argument("--install-dir", default="/opt/xiaoneng", help="where systemd hosts have the code and .venv")
    p.set_defaults(func=cmd_render)
    p = sub.add_parser("apply-broker", help="apply a node's definitions to a running broker (management API)")
    p.add_argument("definitions", nargs="?", help="the node's rendered definitions.json")
    p.add_argument("--inventory", help="instead of a definitions file: the inventory ...")
    p.add_argument("--node", help="... and the node's name")
    p.add_argument("--management-url", default="http://127.0.0.1:15672")
    p.add_argument("--admin-user", default="guest")
    p.add_argument("--admin-password-env", default="XIAONENG_MQ_ADMIN_PASSWORD",
                   help="environment variable with the admin password (default XIAONENG_MQ_ADMIN_PASSWORD)")
    p.add_argument("--admin-password-file")
    p.add_argument("--secrets-dir", help="directory of files mq-<user> with the users' passwords "
                                         "(else $XIAONENG_MQ_PASSWORD_<USER>)")
    p.add_argument("--write", help="write the filled definitions to this file for `rabbitmqctl import_definitions` "
                                   "instead of posting them")
    p.set_defaults(func=cmd_apply)
    p = sub.add_parser("migrate", help="upgrade each service's database to the head revision (make migrate)")
    p.add_argument("services", nargs="*", help="default: every service with migrations")
    p.add_argument("--config-dir", help="directory of <service>.yaml configs (default services/<service>/config.yaml)")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("revision", help="autogenerate the next migration of a service (read it before committing)")
    p.add_argument("service")
    p.add_argument("-m", "--message", required=True)
    p.add_argument("--rev-id")
    p.set_defaults(func=cmd_revision)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (InventoryError, broker.SecretMissing, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
