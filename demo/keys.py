"""The demo's own API keys: one per role it acts in and one department handler per department, made afresh in
the deployment's keys file on every run (the services pick new keys up without a restart)."""

from __future__ import annotations

from services.kernel.keys import KeyStore

from . import city

PREFIX = "demo-city"
ROLES = ("operator", "window_system", "monitor", "assessor", "legal_office", "enterprise_desk")


def make_keys(keys_file: str) -> dict[str, str]:
    """{request key name: plain API key}; the previous run's demo keys are revoked first."""
    store = KeyStore(keys_file)
    wanted = [(role, f"{PREFIX}-{role.replace('_', '-')}", role, None) for role in ROLES]
    wanted += [(f"handler:{d}", f"{PREFIX}-handler-{d}", "department_handler", d) for d in city.DEPARTMENTS]
    keys = {}
    for key_name, name, role, department in wanted:
        store.revoke(name)
        keys[key_name] = store.add(name, role, department)
    return keys
