"""Render one node's deployment files from the inventory: nameko configs, env files, RabbitMQ definitions, a
docker-compose file and systemd units. Secrets appear only as references (`${VAR}` in configs, secret files
in compose, credentials in systemd), never as values."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from . import broker
from .inventory import SERVICE_PORTS, Inventory, Node

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
RABBITMQ_IMAGE = "rabbitmq:3.10-management"
POSTGRES_IMAGE = "postgres:16"
CONFIG_DIR = "/etc/xiaoneng"
# the deployment's department register, the same file on every node, read by every service (DEPARTMENTS_FILE)
REGISTER_FILE = f"{CONFIG_DIR}/departments.yaml"
PLUGINS = "[rabbitmq_management,rabbitmq_federation,rabbitmq_federation_management,rabbitmq_prometheus].\n"


def amqp_uri(inv: Inventory, node: Node, service: str) -> str:
    user = broker.user_name(inv, node, service)
    b = node.broker
    return (f"amqp://{quote(user, safe='')}:${{XIAONENG_MQ_PASSWORD}}@${{XIAONENG_MQ_HOST:{b.host}}}:{b.port}/"
            f"{quote(b.vhost, safe='')}")


def database_url(node: Node, service: str) -> str:
    d = node.database
    if d.kind == "sqlite":
        return f"sqlite:///{d.sqlite_dir.rstrip('/')}/{service}.db"
    return f"postgresql://{service}:${{XIAONENG_DB_PASSWORD}}@${{XIAONENG_DB_HOST:{d.host}}}:{d.port}/{service}"


def nameko_config(inv: Inventory, node: Node, service: str) -> dict:
    """The service's own config.yaml (its `${VAR:default}` placeholders kept) with this node's connections."""
    raw = yaml.safe_load((ROOT / "services" / service / "config.yaml").read_text(encoding="utf-8"))
    raw.update({
        "AMQP_URI": amqp_uri(inv, node, service),
        "DATABASE_URL": database_url(node, service),
        "WEB_SERVER_ADDRESS": f"0.0.0.0:{SERVICE_PORTS[service]}",
        "KEYS_FILE": f"${{KEYS_FILE:{CONFIG_DIR}/keys.yaml}}",
        "DEPARTMENT": node.department or None,
    })
    if service in node.relay_process:  # its relay is a process of its own (compose service / systemd unit)
        raw["OUTBOX"] = {**(raw.get("OUTBOX") or {}), "RELAY": False}
    return raw


def env_file(inv: Inventory, node: Node, service: str) -> str:
    user = broker.user_name(inv, node, service)
    lines = [
        f"# {service} on node {node.name}: settings that are not secrets. Secrets are files whose paths the",
        "# compose file or the systemd unit passes as XIAONENG_MQ_PASSWORD_FILE / XIAONENG_DB_PASSWORD_FILE:",
        f"#   broker password of user {user}: secrets/mq-{user}",
    ]
    if node.database.kind == "postgresql":
        lines.append(f"#   PostgreSQL password of role {service}: secrets/db-{service}")
    lines += ["LOG_LEVEL=INFO", f"KEYS_FILE={CONFIG_DIR}/keys.yaml", "CALENDAR_FILE="]
    lines += _register_env(service) if inv.register is not None else _unset_register_env(service)
    if service == "notify":
        lines += ["# webhook/robot receivers inside this network notify may post to (hosts, IPs, CIDRs, comma-",
                  "# separated); loopback and private addresses are refused unless listed",
                  "NOTIFY_WEBHOOK_ALLOW="]
    lines.append("")
    return "\n".join(lines)


def _register_env(service: str) -> list[str]:
    """The env lines of a node rendered with the inventory's `register:`: every service reads the one file."""
    lines = ["# the deployment's department register, the same on every node (departments.yaml, rendered from the",
             "# inventory's `register:`): the Chinese names of departments and town-streets"]
    if service == "appeals":
        lines.append("# (appeals also checks the codes of dispatch and of the catalogue against it)")
    lines.append(f"DEPARTMENTS_FILE={REGISTER_FILE}")
    if service == "notify":
        lines.append("# NOTIFY_DEPARTMENTS_FILE (not set) would override DEPARTMENTS_FILE for notify alone")
    if service == "scoring":
        lines += ["# SEED_DEPARTMENTS (not set) defaults to DEPARTMENTS_FILE: an empty assessment register is seeded",
                  "# from the same file"]
    return lines


def _unset_register_env(service: str) -> list[str]:
    """Without `register:` in the inventory (render warns): the settings stay empty and the services show codes."""
    if service == "appeals":
        return ["# the department register dispatch and the catalogue are checked against: a list of {code, name}",
                f"# (the register's export) or code: name, e.g. {REGISTER_FILE}; empty accepts any",
                "# code (a warning at start)",
                "DEPARTMENTS_FILE="]
    if service == "notify":
        return ["# department names for messages and the console: a list of {code, name} (the department",
                f"# register's export) or code: name, e.g. {REGISTER_FILE}; empty shows the codes",
                "NOTIFY_DEPARTMENTS_FILE="]
    return []


def register_file(inv: Inventory) -> str:
    """departments.yaml of every node: the register's entries as the inventory's file has them, one a line."""
    reg = inv.register
    if reg is None:
        raise ValueError("the inventory has no register")
    inventory = inv.path.name if inv.path else "the inventory"
    header = [
        "# The deployment's department register (departments and town-streets), rendered by `python -m deploy render`",
        f"# from the inventory's `register:` ({inventory}: {reg.source}).",
        "# Do not edit it here: edit that file and re-render every node. Every service reads it as",
        f"# DEPARTMENTS_FILE={REGISTER_FILE} (compose mounts it there read-only; without Docker, install it there).",
    ]
    body = yaml.safe_dump(reg.entries, sort_keys=False, allow_unicode=True, default_flow_style=None, width=4096)
    return "\n".join(header) + "\n" + body


def warnings(inv: Inventory) -> list[str]:
    """What render cannot fix but an operator should know."""
    if inv.register is None:
        return ["the inventory has no `register:` (the department register file): DEPARTMENTS_FILE stays empty, "
                "so every node shows department and town-street codes instead of their names, and appeals "
                "accepts any department code"]
    return []


def _health_test(service: str) -> list[str]:
    port = SERVICE_PORTS[service]
    return ["CMD", "python", "-c",
            f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=3)"]


# The services log JSON lines to stderr; Docker keeps them in files that would grow without bound. Rotated by
# size, configurable when the node is brought up (compose interpolates the variables).
LOG_ROTATION = {"driver": "json-file",
                "options": {"max-size": "${XIAONENG_LOG_MAX_SIZE:-10m}", "max-file": "${XIAONENG_LOG_MAX_FILES:-5}"}}


def compose(inv: Inventory, node: Node) -> dict:
    pg = node.database.kind == "postgresql"
    secrets: dict[str, dict] = {"mq-admin": {"file": "./secrets/mq-admin"}}
    for user in broker.definitions(inv, node)["users"]:
        secrets[f"mq-{user['name']}"] = {"file": f"./secrets/mq-{user['name']}"}
    services: dict[str, dict] = {
        "rabbitmq": {
            "image": RABBITMQ_IMAGE,
            "hostname": f"rabbitmq-{node.name}",
            "environment": {"RABBITMQ_DEFAULT_USER": "admin",
                            "RABBITMQ_DEFAULT_PASS": "${XIAONENG_MQ_ADMIN_PASSWORD:?set the broker admin password}"},
            "volumes": ["./rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins:ro",
                        "rabbitmq-data:/var/lib/rabbitmq"],
            # AMQP for the services and the other nodes' federation links; the management API on loopback only
            "ports": [f"{node.broker.port}:5672", f"127.0.0.1:{node.broker.management_port}:15672"],
            "healthcheck": {"test": ["CMD", "rabbitmq-diagnostics", "-q", "check_port_connectivity"],
                            "interval": "10s", "timeout": "10s", "retries": 12, "start_period": "20s"},
            "restart": "unless-stopped",
        },
        "broker-setup": {
            "image": inv.image,
            "command": ["python", "-m", "deploy", "apply-broker", f"{CONFIG_DIR}/definitions.json",
                        "--management-url", "http://rabbitmq:15672", "--admin-user", "admin",
                        "--admin-password-file", "/run/secrets/mq-admin", "--secrets-dir", "/run/secrets"],
            "volumes": [f"./definitions.json:{CONFIG_DIR}/definitions.json:ro"],
            "secrets": sorted(secrets),
            "depends_on": {"rabbitmq": {"condition": "service_healthy"}},
            "restart": "no",
        },
    }
    volumes: dict[str, dict] = {"rabbitmq-data": {}}
    if pg:
        for service in node.services:
            secrets[f"db-{service}"] = {"file": f"./secrets/db-{service}"}
        secrets["db-admin"] = {"file": "./secrets/db-admin"}
        services["postgres"] = {
            "image": POSTGRES_IMAGE,
            "environment": {"POSTGRES_PASSWORD_FILE": "/run/secrets/db-admin",
                            "XIAONENG_SERVICES": " ".join(node.services)},
            "volumes": ["pg-data:/var/lib/postgresql/data",
                        "./postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-xiaoneng.sh:ro"],
            "secrets": ["db-admin"] + [f"db-{s}" for s in node.services],
            "healthcheck": {"test": ["CMD", "pg_isready", "-U", "postgres"], "interval": "10s", "timeout": "5s",
                            "retries": 12},
            "restart": "unless-stopped",
        }
        volumes["pg-data"] = {}
    else:
        volumes["xiaoneng-data"] = {}
    for service in node.services:
        user = broker.user_name(inv, node, service)
        env = {"XIAONENG_MQ_HOST": "rabbitmq", "XIAONENG_MQ_PASSWORD_FILE": f"/run/secrets/mq-{user}"}
        svc_secrets = [f"mq-{user}"]
        depends = {"rabbitmq": {"condition": "service_healthy"},
                   "broker-setup": {"condition": "service_completed_successfully"}}
        vols = [f"./config/{service}.yaml:{CONFIG_DIR}/config/{service}.yaml:ro",
                f"./keys.yaml:{CONFIG_DIR}/keys.yaml:ro", f"./calendar:{CONFIG_DIR}/calendar:ro"]
        if inv.register is not None:
            vols.append(f"./departments.yaml:{REGISTER_FILE}:ro")
        if pg:
            env.update({"XIAONENG_DB_HOST": "postgres", "XIAONENG_DB_PASSWORD_FILE": f"/run/secrets/db-{service}"})
            svc_secrets.append(f"db-{service}")
            depends["postgres"] = {"condition": "service_healthy"}
        else:
            vols.append(f"xiaoneng-data:{node.database.sqlite_dir}")
        port = SERVICE_PORTS[service]
        services[service] = {
            "image": inv.image,
            # migrations first (refusing to start on a failed one), then the service
            "command": ["python", "-m", "deploy.entrypoint", service,
                        "--config", f"{CONFIG_DIR}/config/{service}.yaml"],
            "env_file": [f"./env/{service}.env"],
            "environment": env,
            "secrets": svc_secrets,
            "volumes": vols,
            "ports": [f"{port}:{port}"],
            "healthcheck": {"test": _health_test(service), "interval": "15s", "timeout": "5s", "retries": 5,
                            "start_period": "30s"},
            "depends_on": depends,
            "restart": "unless-stopped",
            "logging": LOG_ROTATION,
        }
        if service in node.relay_process:
            # the same image, settings, secrets and volumes; no port. It waits for the service's tables.
            services[f"{service}-relay"] = {
                "image": inv.image,
                "command": ["python", "-m", "deploy.entrypoint", service, "--relay",
                            "--config", f"{CONFIG_DIR}/config/{service}.yaml"],
                "env_file": [f"./env/{service}.env"],
                "environment": dict(env),
                "secrets": list(svc_secrets),
                "volumes": list(vols),
                "depends_on": {service: {"condition": "service_started"}},
                "restart": "unless-stopped",
                "logging": LOG_ROTATION,
            }
    # no top-level `name` (older Compose versions refuse it): `docker compose -p <deployment>-<node>` names it
    return {"services": services, "volumes": volumes, "secrets": secrets}


def postgres_init(node: Node) -> str:
    lines = [
        "#!/bin/bash",
        "# Creates one role and one database per service (run once by the postgres image on an empty data dir).",
        "# The passwords are read from the secret files, never written here.",
        "set -euo pipefail",
        'for svc in $XIAONENG_SERVICES; do',
        '  pw="$(cat "/run/secrets/db-$svc")"',
        '  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v svc="$svc" -v pw="$pw" <<\'SQL\'',
        "CREATE ROLE :\"svc\" LOGIN PASSWORD :'pw';",
        "CREATE DATABASE :\"svc\" OWNER :\"svc\";",
        "SQL",
        "done",
        "",
    ]
    return "\n".join(lines)


def render_node(inv: Inventory, node: Node, out: Path, *, install_dir: str = "/opt/xiaoneng") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(rel: str, text: str, mode: int | None = None) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if mode is not None:
            path.chmod(mode)
        written.append(path)

    if inv.register is not None:
        write("departments.yaml", register_file(inv))
    write("definitions.json", json.dumps(broker.definitions(inv, node), indent=2, ensure_ascii=False) + "\n")
    for service in node.services:
        write(f"config/{service}.yaml", f"# {service} on node {node.name}, rendered from the inventory by "
              "`python -m deploy render`.\n" + yaml.safe_dump(nameko_config(inv, node, service), sort_keys=False,
                                                               allow_unicode=True))
        write(f"env/{service}.env", env_file(inv, node, service))
    write("docker-compose.yaml", yaml.safe_dump(compose(inv, node), sort_keys=False, allow_unicode=True))
    write("rabbitmq/enabled_plugins", PLUGINS)
    write("calendar/README.txt", "Next year's holiday schedule goes here as calendar.yaml (docs/calendar.md);\n"
          f"then set CALENDAR_FILE={CONFIG_DIR}/calendar/calendar.yaml in env/<service>.env and restart.\n")
    if node.database.kind == "postgresql":
        write("postgres/init-databases.sh", postgres_init(node), 0o755)
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True)
    unit = env.get_template("xiaoneng-service.service.j2")
    for service in node.services:
        for relay in (False, True) if service in node.relay_process else (False,):
            write(f"systemd/xiaoneng-{service}{'-relay' if relay else ''}.service", unit.render(
                service=service, node=node, install_dir=install_dir, config_dir=CONFIG_DIR, relay=relay,
                register=inv.register is not None,
                mq_user=broker.user_name(inv, node, service), postgres=node.database.kind == "postgresql"))
    write("systemd/xiaoneng-broker-setup.service", env.get_template("xiaoneng-broker-setup.service.j2").render(
        node=node, install_dir=install_dir, config_dir=CONFIG_DIR))
    return written


def render(inv: Inventory, out: str | Path, *, install_dir: str = "/opt/xiaoneng") -> dict[str, list[Path]]:
    out = Path(out)
    return {node.name: render_node(inv, node, out / node.name, install_dir=install_dir) for node in inv.nodes}
