"""The deployment inventory: which nodes exist (the city hub, the departments that run their own node), what
each runs, and where its broker and databases are. Loaded and checked here; everything else is rendered from it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from services.kernel.registry import PORTS

# Every service listens on its own fixed port (the same in development, see the top README).
SERVICE_PORTS = PORTS  # the services and their default ports: services/kernel/registry.py
# What the city sends down to a department by default: supervision orders and alert resolutions (approvals),
# dispatched cases (appeals), the console's alert commands (notify).
DEFAULT_DOWN = ("approvals", "appeals", "notify")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_DEPARTMENT = re.compile(r"^[A-Z][A-Z0-9_]{0,30}$")


class InventoryError(Exception):
    """The inventory cannot be used; the message names the entry and what to fix."""


@dataclass
class Broker:
    host: str
    port: int = 5672
    management_port: int = 15672
    vhost: str = "xiaoneng"
    # the address the other nodes' federation links use (a public name, a NAT address); default host:port
    federation_host: str | None = None
    federation_port: int | None = None
    # seconds between a broken federation link's reconnection attempts
    reconnect_delay: int = 5
    queue_type: str = "classic"

    @property
    def peer_host(self) -> str:
        return self.federation_host or self.host

    @property
    def peer_port(self) -> int:
        return self.federation_port or self.port


@dataclass
class DatabaseSpec:
    kind: str = "postgresql"  # or sqlite
    host: str = "localhost"
    port: int = 5432
    sqlite_dir: str = "/var/lib/xiaoneng"


@dataclass
class Node:
    name: str
    role: str  # city | department
    department: str
    services: list[str]
    broker: Broker
    database: DatabaseSpec
    down: list[str] = field(default_factory=list)  # city: services whose events go down to departments
    # services whose outbox relay runs as a process of its own (python -m services.kernel.relay), for a busy
    # intake; the others publish from inside the service
    relay_process: list[str] = field(default_factory=list)

    @property
    def is_city(self) -> bool:
        return self.role == "city"


@dataclass
class Register:
    """The deployment's department register (organisations: departments and town-streets), read once at load:
    every node gets the same entries, whatever else they hold (tier, functions, ...)."""

    source: str  # as the inventory names it (`register:`), for the rendered file's header
    path: Path  # resolved
    entries: list[dict]

    @property
    def codes(self) -> set[str]:
        return {e["code"] for e in self.entries}


@dataclass
class Inventory:
    deployment: str
    image: str
    user_prefix: str
    nodes: list[Node]
    path: Path | None = None
    register: Register | None = None

    @property
    def city(self) -> Node:
        return next(n for n in self.nodes if n.is_city)

    @property
    def departments(self) -> list[Node]:
        return [n for n in self.nodes if not n.is_city]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise InventoryError(f"no node named {name!r} (nodes: {', '.join(n.name for n in self.nodes)})")


def _section(raw: Any, where: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InventoryError(f"{where} must be a mapping")
    return raw


def _build(cls, raw: dict, where: str):
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InventoryError(f"{where}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    try:
        return cls(**raw)
    except TypeError as exc:
        raise InventoryError(f"{where}: {exc}") from exc


def _read_yaml(path: Path, where: str) -> Any:
    """The YAML document in `path`; an InventoryError that says `where` when it cannot be read or parsed."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InventoryError(f"{where}: cannot read it: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise InventoryError(f"{where} is not valid YAML: {exc}") from exc


def load_register(source: Any, base: Path) -> Register:
    """The register file `source` names (relative to `base`, the inventory's directory, or absolute), checked:
    a non-empty list of {code, name, ...} with non-empty string codes and names, each code once."""
    if not isinstance(source, str) or not source.strip():
        raise InventoryError(f"`register` must be the path of the department register file (got {source!r})")
    path = Path(source)
    path = path if path.is_absolute() else base / path
    where = f"register {source!r} ({path})"
    data = _read_yaml(path, where)
    if not isinstance(data, list) or not data:
        raise InventoryError(f"{where}: must be a non-empty list of {{code, name, ...}} (one entry per "
                             "department or town-street)")
    seen: set[str] = set()
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise InventoryError(f"{where}: entry {i + 1} must be a mapping {{code, name, ...}} (got {entry!r})")
        for key in ("code", "name"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise InventoryError(f"{where}: entry {i + 1} needs `{key}`, a non-empty string (got {value!r})")
        if entry["code"] in seen:
            raise InventoryError(f"{where}: duplicate code {entry['code']!r} (entry {i + 1}); each code once")
        seen.add(entry["code"])
    return Register(source=source, path=path, entries=data)


def parse(data: Any, path: Path | None = None) -> Inventory:
    """`path` is the inventory file's: a relative `register:` is found beside it (else in the working directory)."""
    data = _section(data, "the inventory")
    nodes_raw = data.get("nodes")
    if not isinstance(nodes_raw, list) or not nodes_raw:
        raise InventoryError("`nodes` must be a non-empty list")
    nodes: list[Node] = []
    for i, raw in enumerate(nodes_raw):
        raw = dict(_section(raw, f"nodes[{i}]"))
        where = f"node {raw.get('name', i)!r}"
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise InventoryError(f"{where}: `name` must be lower-case letters, digits and dashes (got {name!r})")
        role = raw.get("role")
        if role not in ("city", "department"):
            raise InventoryError(f"{where}: `role` must be city or department (got {role!r})")
        department = raw.get("department") or ""
        if role == "department" and not _DEPARTMENT.match(str(department)):
            raise InventoryError(f"{where}: a department node needs `department`, its code in capitals (e.g. SCJGJ)")
        services = raw.get("services") or []
        bad = [s for s in services if s not in SERVICE_PORTS]
        if not services or bad:
            raise InventoryError(f"{where}: `services` must list some of {', '.join(SERVICE_PORTS)}"
                                 + (f" (unknown: {', '.join(map(str, bad))})" if bad else ""))
        broker_raw = _section(raw.get("broker"), f"{where}.broker")
        if "host" not in broker_raw:
            raise InventoryError(f"{where}.broker: `host` is required")
        broker = _build(Broker, broker_raw, f"{where}.broker")
        if broker.queue_type not in ("classic", "quorum"):
            raise InventoryError(f"{where}.broker: queue_type must be classic or quorum")
        database = _build(DatabaseSpec, _section(raw.get("database"), f"{where}.database"), f"{where}.database")
        if database.kind not in ("postgresql", "sqlite"):
            raise InventoryError(f"{where}.database: kind must be postgresql or sqlite")
        down = raw.get("down", list(DEFAULT_DOWN) if role == "city" else [])
        unknown = sorted(set(raw) - {"name", "role", "department", "services", "broker", "database", "down",
                                     "relay_process"})
        if unknown:
            raise InventoryError(f"{where}: unknown setting(s) {', '.join(unknown)}")
        relay_process = raw.get("relay_process") or []
        if not isinstance(relay_process, list) or set(relay_process) - set(services):
            raise InventoryError(f"{where}: `relay_process` must list some of the node's services "
                                 f"({', '.join(services)})")
        nodes.append(Node(name=name, role=role, department=department, services=list(services), broker=broker,
                          database=database, down=[s for s in down if s in services],
                          relay_process=list(relay_process)))
    if [n.role for n in nodes].count("city") != 1:
        raise InventoryError("exactly one node must have role: city (the hub)")
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise InventoryError("node names must be unique")
    departments = [n.department for n in nodes if n.role == "department"]
    if len(set(departments)) != len(departments):
        raise InventoryError("each department may have only one node")
    prefix = data.get("user_prefix") or ""
    if prefix and not re.match(r"^[a-z0-9-]+$", prefix):
        raise InventoryError("`user_prefix` must be lower-case letters, digits and dashes")
    register = None
    if data.get("register") is not None:
        register = load_register(data["register"], path.parent if path else Path.cwd())
        missing = [f"{n.name} ({n.department})" for n in nodes if n.role == "department"
                   and n.department not in register.codes]
        if missing:
            raise InventoryError(f"department node(s) {', '.join(missing)}: the code is not in the register "
                                 f"{register.source!r}; add the department there (code and name) first")
    return Inventory(deployment=data.get("deployment") or "xiaoneng", image=data.get("image") or "xiaoneng:latest",
                     user_prefix=prefix, nodes=nodes, path=path, register=register)


def load(path: str | Path) -> Inventory:
    path = Path(path)
    data = _read_yaml(path, f"inventory {path}")
    return parse(data, path)
