"""Chinese messages from Jinja2 templates (`templates/<event type>.txt`: the first line is the subject, the
rest the body) and the console link each message carries."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.kernel import clock
from services.kernel.contracts.scoring import SANCTION_KIND_ZH
from services.kernel.departments import DepartmentRegister
from services.kernel.privacy import scrub

from .domain import SEVERITY_ZH

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _dt(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(clock.TZ).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _num(value) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=False, undefined=StrictUndefined,
                   keep_trailing_newline=False, trim_blocks=False)
_env.filters["dt"] = _dt
_env.filters["num"] = _num
_env.filters["sanction_zh"] = lambda kind: SANCTION_KIND_ZH.get(kind, kind)


def has_template(event_type: str) -> bool:
    return (TEMPLATES / f"{event_type}.txt").is_file()


def render(event_type: str, context: dict) -> tuple[str, str]:
    """(subject, body) of a message. Missing fields render as an error, not as silence: the consumer
    retries and parks an event whose template does not fit it.

    Scrubbed of phone, id and card numbers and e-mail addresses (services/kernel/privacy.py): messages leave
    for mail servers and third-party robots and stay in the delivery log, and an event of an older producer,
    or a field no contract marks as free text, may still carry them."""
    text = _env.get_template(f"{event_type}.txt").render(
        severity_zh=SEVERITY_ZH.get(context.get("severity", ""), ""), **context)
    subject, _, body = scrub(text.strip()).partition("\n")
    return subject.strip()[:300], body.strip()


def console_link(console_url: str, event_type: str, payload: dict, department: str | None) -> str:
    """`{CONSOLE_URL}/console?...`: the console filtered to what the message is about."""
    query: dict[str, str] = {}
    if department:
        query["department"] = department
    for key, param in (("case_no", "case"), ("application_no", "application"), ("project_code", "project"),
                       ("joint_id", "joint"), ("alert_id", "alert")):
        if payload.get(key):
            query[param] = str(payload[key])
    base = f"{console_url.rstrip('/')}/console"
    return f"{base}?{urlencode(query)}" if query else base


def department_label(names: dict[str, str] | None, code: str | None) -> str | None:
    """A department as people read it: its name where `names` knows it, else its code."""
    return (names or {}).get(code, code)


def load_department_names(path: str | None) -> dict[str, str]:
    """Department code → name from the register of organisations (services/kernel/departments.py: a list of
    `{code, name, ...}` or a mapping `code: name`). No path: {}."""
    return DepartmentRegister.load(path, setting="NOTIFY.DEPARTMENTS_FILE", quiet=True).names
