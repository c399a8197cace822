"""JSON-lines logging: one JSON object per record, carrying the service name and the
correlation/request ids bound to the current (green) thread."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "SERVICE_ENV_VAR",
    "ContextFilter",
    "JsonFormatter",
    "bind",
    "current",
    "logging_config",
    "setup_logging",
]

SERVICE_ENV_VAR = "XIAONENG_SERVICE"

_CONTEXT_FIELDS = ("correlation_id", "request_id")

# Everything a bare LogRecord carries; whatever else is on a record came from `extra=` (or a filter).
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

# eventlet.monkey_patch() (done by `nameko run` and the root conftest) replaces threading.local with a
# green-thread local, so each nameko worker sees only its own ids even though they share one OS thread.
_context = threading.local()


def current() -> dict[str, str]:
    """The ids bound in this (green) thread; keys are present only when an id is known."""
    return {field: value for field in _CONTEXT_FIELDS if (value := getattr(_context, field, None))}


@contextmanager
def bind(correlation_id: str | None = None, request_id: str | None = None) -> Iterator[dict[str, str]]:
    """Bind ids for the duration of a block; None keeps the id bound by an enclosing block."""
    previous = {field: getattr(_context, field, None) for field in _CONTEXT_FIELDS}
    if correlation_id is not None:
        _context.correlation_id = correlation_id
    if request_id is not None:
        _context.request_id = request_id
    try:
        yield current()
    finally:
        for field, value in previous.items():
            setattr(_context, field, value)


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record; ids passed explicitly via `extra=` win."""

    def filter(self, record: logging.LogRecord) -> bool:
        for field, value in current().items():
            if getattr(record, field, None) is None:
                setattr(record, field, value)
        return True


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


class JsonFormatter(logging.Formatter):
    """Formats a record as a single JSON line (non-ASCII kept readable)."""

    def __init__(self, service: str | None = None):
        super().__init__()
        self.service = service or os.environ.get(SERVICE_ENV_VAR)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC)
            .astimezone()
            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        service = getattr(record, "service", None) or self.service
        if service:
            entry["service"] = service
        for field in _CONTEXT_FIELDS:
            if value := getattr(record, field, None):
                entry[field] = value
        # logging caches the rendered traceback on the record for other handlers; reuse it.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRS or key in _CONTEXT_FIELDS or key == "service":
                continue
            # An extra named like a core field must not overwrite it, nor be lost.
            entry["extra_" + key if key in entry else key] = _jsonable(value)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(service: str, level: str = "INFO") -> dict:
    """A dictConfig dict for JSON lines on stderr; plain data, so it can be the LOGGING key of a
    nameko config (which `nameko run` hands to dictConfig)."""
    return {
        "version": 1,
        # nameko creates its loggers at import time; True would silence its error logs.
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "services.kernel.logs.ContextFilter"}},
        "formatters": {"json": {"()": "services.kernel.logs.JsonFormatter", "service": service}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["context"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "nameko": {"level": "INFO"},
            # kombu and amqp are chatty about every connection at INFO.
            "kombu": {"level": "WARNING"},
            "amqp": {"level": "WARNING"},
        },
    }


def setup_logging(service: str, level: str = "INFO") -> None:
    """Apply logging_config() to this process."""
    logging.config.dictConfig(logging_config(service, level))
