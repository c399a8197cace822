"""Renders the event contracts as Markdown (docs/events.md is this output; a test keeps it current)."""

from marshmallow import fields

from . import registered
from .envelope import Envelope

_TYPES = {
    fields.UUID: "uuid", fields.String: "string", fields.Integer: "integer", fields.Float: "number",
    fields.Boolean: "boolean", fields.AwareDateTime: "datetime (ISO 8601 with offset)",
    fields.DateTime: "datetime", fields.Date: "date", fields.Dict: "object", fields.List: "array",
    fields.Nested: "object",
}


def _type(field) -> str:
    for cls in type(field).__mro__:
        if cls in _TYPES:
            name = _TYPES[cls]
            break
    else:
        name = type(field).__name__
    choices = getattr(field.validate, "choices", None) if field.validate else None
    if choices:
        name += ": " + " \\| ".join(f"`{c}`" for c in choices)
    return name


def _table(schema) -> list[str]:
    rows = ["| field | type | required |", "| --- | --- | --- |"]
    for name, field in schema.fields.items():
        rows.append(f"| `{name}` | {_type(field)} | {'yes' if field.required else 'no'} |")
    return rows


def render_markdown() -> str:
    out = [
        "# Events",
        "",
        "Generated from `services/kernel/contracts/` by `xiaoneng events`; do not edit by hand.",
        "Every event travels in the same envelope, published on the exchange `<source service>.events`",
        "with the event type as routing key. Consumers ignore fields they do not know.",
        "",
        "## Envelope",
        "",
        *_table(Envelope()),
        "",
    ]
    for event_type, version, schema_cls in registered():
        doc = (schema_cls.__doc__ or "").strip()
        out += [f"## `{event_type}` v{version}", "", doc, "", *_table(schema_cls()), ""]
    return "\n".join(out).rstrip() + "\n"
