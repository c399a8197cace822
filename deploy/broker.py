"""RabbitMQ definitions of one node (vhost, users, permissions, policies, federation upstreams, the exchanges the
links need) and applying them to a running broker through its management API.

The rendered file holds no secret: users have an empty password hash and upstream URIs carry `${VAR}`
placeholders. `apply-broker` fills both from the environment (or a secrets directory) at apply time, hashes the
passwords the way RabbitMQ does, and posts the result; nothing filled in is ever written unless asked.

Federation, and why there are no loops: department → city, the city's `<service>.events` exchanges federate
from the same exchange of every department running that service. City → department, a department's
`<service>.events` federates from `xiaoneng.down.<DEPT>.<service>` at the city, an internal exchange fed by a
headers exchange that keeps only the events of that department (header `xiaoneng-department`, set by the
outbox relay) or of no department. Every upstream has `max-hops` 1, so an event that came up from a department
is never passed on to another department nor back down.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from pathlib import Path
from urllib.parse import quote

from services.kernel.messaging import UnroutedBound

from .inventory import Inventory, Node

DEPARTMENT_HEADER = "xiaoneng-department"  # services/kernel/outbox.py sets it on every event
UNROUTED = "xiaoneng.unrouted"
PARKED = "xiaoneng.parked"  # failures, for an operator
UNROUTED_KEPT = "xiaoneng.unrouted.kept"  # the newest unrouted events, bounded (services/kernel/messaging.py)
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


def user_name(inv: Inventory, node: Node, who: str) -> str:
    return f"{inv.user_prefix}{node.name}.{who}"


def secret_env(user: str) -> str:
    """The environment variable holding a broker user's password (the secrets file is `mq-<user>`)."""
    return "XIAONENG_MQ_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", user.upper())


def down_exchange(department: str, service: str) -> str:
    return f"xiaoneng.down.{department}.{service}"


def _x(name: str) -> str:
    return re.escape(name)


def _events_exchange(vhost: str, service: str) -> dict:
    # Exactly what services/kernel/messaging.events_exchange declares, or the broker refuses one of the two.
    return {"name": f"{service}.events", "vhost": vhost, "type": "topic", "durable": True, "auto_delete": False,
            "internal": False, "arguments": {"alternate-exchange": UNROUTED}}


def _exchange(vhost: str, name: str, kind: str, internal: bool = False) -> dict:
    return {"name": name, "vhost": vhost, "type": kind, "durable": True, "auto_delete": False,
            "internal": internal, "arguments": {}}


def _binding(vhost: str, source: str, destination: str, dtype: str = "exchange", key: str = "",
             arguments: dict | None = None) -> dict:
    return {"source": source, "vhost": vhost, "destination": destination, "destination_type": dtype,
            "routing_key": key, "arguments": arguments or {}}


def _permission(vhost: str, user: str, configure: str, write: str, read: str) -> dict:
    return {"user": user, "vhost": vhost, "configure": configure, "write": write, "read": read}


def service_permission(vhost: str, user: str, service: str) -> dict:
    """A service may declare what its consumers and relay declare (its queues, the events exchanges it binds
    to, the parking and retry topology), publish on its own events exchange, its retry exchanges and the
    parking queue (through the default exchange), and read only its own queues."""
    own_queues = rf"evt-.+--{_x(service)}\..+"
    retry = r"xiaoneng\.retry\.\d+ms"
    return _permission(
        vhost, user,
        configure=rf"^([a-z_]+\.events|{_x(UNROUTED)}|{_x(PARKED)}|{_x(UNROUTED_KEPT)}|{retry}|{own_queues})$",
        # declaring an exchange with an alternate exchange needs write on the latter; binding a queue, write on it
        write=rf"^({_x(service)}\.events|{_x(UNROUTED)}|{_x(PARKED)}|{_x(UNROUTED_KEPT)}|amq\.default|{retry}|"
              rf"{own_queues})$",
        read=rf"^([a-z_]+\.events|{_x(UNROUTED)}|{retry}|{own_queues})$",
    )


def upstream_uri(inv: Inventory, upstream_node: Node, user: str) -> str:
    b = upstream_node.broker
    vhost = quote(b.vhost, safe="")
    return f"amqp://{quote(user, safe='')}:${{{secret_env(user)}}}@{b.peer_host}:{b.peer_port}/{vhost}"


def definitions(inv: Inventory, node: Node) -> dict:
    """The node's definitions, in the format of `rabbitmqctl export_definitions` / `import_definitions`."""
    vhost = node.broker.vhost
    users, perms, policies, params, exchanges, queues, bindings = [], [], [], [], [], [], []

    def add_user(name: str, tags: list[str] | None = None) -> str:
        users.append({"name": name, "password_hash": "", "hashing_algorithm": "rabbit_password_hashing_sha256",
                      "tags": tags or []})
        return name

    for service in node.services:
        perms.append(service_permission(vhost, add_user(user_name(inv, node, service)), service))
    # The operators' tool (`xiaoneng dlq`, `xiaoneng events`): everything, but only in this vhost.
    perms.append(_permission(vhost, add_user(user_name(inv, node, "ops"), ["management"]), ".*", ".*", ".*"))

    # Failures and unrouted events apart (ADR 0003): the parking queue is bound to nothing, the alternate
    # exchange feeds a bounded queue, declared with the services' default bounds (or the broker refuses one of
    # the two declarations; the services then use the queue as it is).
    exchanges.append(_exchange(vhost, UNROUTED, "fanout"))
    queues.append({"name": PARKED, "vhost": vhost, "durable": True, "auto_delete": False, "arguments": {}})
    queues.append({"name": UNROUTED_KEPT, "vhost": vhost, "durable": True, "auto_delete": False,
                   "arguments": UnroutedBound().arguments()})
    bindings.append(_binding(vhost, UNROUTED, UNROUTED_KEPT, "queue"))

    city = inv.city
    if node.is_city:
        known = set(node.services)
        for dept in inv.departments:
            known |= set(dept.services)
        for service in sorted(known):
            exchanges.append(_events_exchange(vhost, service))
        # Up: pull every department's events exchanges.
        for service in sorted(known):
            members = [d for d in inv.departments if service in d.services]
            if not members:
                continue
            for d in members:
                name = f"dept-{d.name}"
                if not any(p["name"] == name for p in params):
                    params.append({"component": "federation-upstream", "vhost": vhost, "name": name, "value": {
                        "uri": upstream_uri(inv, d, user_name(inv, d, "federation")),
                        "max-hops": 1, "ack-mode": "on-confirm", "trust-user-id": False,
                        "reconnect-delay": d.broker.reconnect_delay}})
            params.append({"component": "federation-upstream-set", "vhost": vhost, "name": f"up-{service}",
                           "value": [{"upstream": f"dept-{d.name}"} for d in members]})
            policies.append({"vhost": vhost, "name": f"federate-up-{service}", "pattern": rf"^{_x(service)}\.events$",
                             "apply-to": "exchanges", "priority": 10,
                             "definition": {"federation-upstream-set": f"up-{service}"}})
        # Down: per department, an internal exchange with only its events; each department pulls its own.
        for service in node.down:
            hub = f"xiaoneng.down.{service}"
            exchanges.append(_exchange(vhost, hub, "headers", internal=True))
            bindings.append(_binding(vhost, f"{service}.events", hub, key="#"))
            for d in inv.departments:
                target = down_exchange(d.department, service)
                exchanges.append(_exchange(vhost, target, "topic", internal=True))
                bindings.append(_binding(vhost, hub, target, arguments={"x-match": "all", DEPARTMENT_HEADER:
                                                                         d.department}))
                bindings.append(_binding(vhost, hub, target, arguments={"x-match": "all", DEPARTMENT_HEADER: ""}))
        for d in inv.departments:
            fed = user_name(inv, d, "federation")
            # The department's link uses this user: its own down exchanges and link queues, nobody else's.
            mine = rf"xiaoneng\.down\.{_x(d.department)}\..+"
            add_user(fed)
            perms.append(_permission(vhost, fed, configure=rf"^federation: {mine}$", write=rf"^federation: {mine}$",
                                     read=rf"^(federation: {mine}|{mine})$"))
    else:
        for service in sorted(set(node.services) | set(city.down)):
            exchanges.append(_events_exchange(vhost, service))
        # Up: the city's links pull this department's events exchanges with this user.
        fed = add_user(user_name(inv, node, "federation"))
        mine = "|".join(_x(f"{s}.events") for s in node.services)
        perms.append(_permission(vhost, fed, configure=r"^federation: .*$", write=r"^federation: .*$",
                                 read=rf"^(federation: .*|{mine})$"))
        # Down: pull what the city sends this department, one upstream per service exchange.
        for service in city.down:
            name = f"city-{service}"
            params.append({"component": "federation-upstream", "vhost": vhost, "name": name, "value": {
                "uri": upstream_uri(inv, city, user_name(inv, node, "federation")),
                "exchange": down_exchange(node.department, service),
                "max-hops": 1, "ack-mode": "on-confirm", "trust-user-id": False,
                "reconnect-delay": city.broker.reconnect_delay}})
            policies.append({"vhost": vhost, "name": f"federate-down-{service}",
                             "pattern": rf"^{_x(service)}\.events$", "apply-to": "exchanges", "priority": 10,
                             "definition": {"federation-upstream": name}})

    # Consumer queues: durable (nameko declares them so), and what the broker itself rejects or expires goes to
    # the parking queue rather than nowhere; on quorum queues a message that keeps crashing its consumer is
    # parked after 20 deliveries. Straight to the failures' queue (default exchange), not through the alternate
    # exchange: its queue is bounded and would drop them with the unrouted events.
    policies.append({"vhost": vhost, "name": "consumer-queues", "pattern": r"^evt-", "apply-to": "queues",
                     "priority": 5, "definition": {"dead-letter-exchange": "", "dead-letter-routing-key": PARKED,
                                                   "delivery-limit": 20}})
    vhost_def = {"name": vhost}
    if node.broker.queue_type == "quorum":
        vhost_def["default_queue_type"] = "quorum"
    return {"vhosts": [vhost_def], "users": users, "permissions": perms, "topic_permissions": [],
            "policies": policies, "parameters": params, "global_parameters": [], "exchanges": exchanges,
            "queues": queues, "bindings": bindings}


# -- applying ---------------------------------------------------------------------------------------------------


class SecretMissing(Exception):
    pass


def rabbit_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), 4-byte salt."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode()


def secret(user: str, secrets_dir: str | None, env=os.environ) -> str:
    """A user's password: `$XIAONENG_MQ_PASSWORD_<USER>` or the file `<secrets_dir>/mq-<user>`."""
    var = secret_env(user)
    if env.get(var):
        return env[var]
    if secrets_dir:
        path = Path(secrets_dir) / f"mq-{user}"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
    raise SecretMissing(f"no password for broker user {user}: set {var} or create "
                        f"{(Path(secrets_dir) if secrets_dir else Path('<secrets-dir>')) / ('mq-' + user)}")


def fill(defs: dict, secrets_dir: str | None = None, env=os.environ) -> dict:
    """The definitions with every password hashed in and every `${VAR}` placeholder replaced."""
    filled = json.loads(json.dumps(defs))
    for user in filled["users"]:
        user["password_hash"] = rabbit_hash(secret(user["name"], secrets_dir, env))
    def sub(match: re.Match) -> str:
        var = match.group(1)
        if env.get(var):
            return quote(env[var], safe="")
        prefix = "XIAONENG_MQ_PASSWORD_"
        if secrets_dir and var.startswith(prefix):
            for path in Path(secrets_dir).glob("mq-*"):
                if secret_env(path.name[3:]) == var:
                    return quote(path.read_text(encoding="utf-8").strip(), safe="")
        raise SecretMissing(f"no value for {var} (an upstream's password): set it or put it in the secrets dir")

    for param in filled["parameters"]:
        if isinstance(param["value"], dict) and "uri" in param["value"]:
            param["value"]["uri"] = _PLACEHOLDER.sub(sub, param["value"]["uri"])
    return filled


def apply(defs: dict, management_url: str, admin_user: str, admin_password: str, *, secrets_dir: str | None = None,
          env=os.environ, timeout: float = 30.0) -> None:
    """Post the node's definitions (passwords filled in) to the broker's management API. Idempotent: applying
    again updates users, permissions, policies and upstreams in place."""
    import requests

    filled = fill(defs, secrets_dir, env)
    r = requests.post(f"{management_url.rstrip('/')}/api/definitions", json=filled, auth=(admin_user, admin_password),
                      timeout=timeout)
    if r.status_code >= 300:
        raise RuntimeError(f"the broker refused the definitions: HTTP {r.status_code} {r.text[:500]}")
