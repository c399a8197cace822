"""JSON-lines logging: one JSON object per record, carrying the service name and the
correlation/request ids bound to the current (green) thread; secrets in URLs redacted from every line; log files
private (0640) and rotated."""

from __future__ import annotations

import json
import logging
import logging.config
import logging.handlers
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "LOG_FILE_MODE",
    "SERVICE_ENV_VAR",
    "ContextFilter",
    "JsonFormatter",
    "PrivateRotatingFileHandler",
    "RotatingFile",
    "bind",
    "current",
    "logging_config",
    "redact",
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


# A parameter whose name says it is a secret (api_key, token, access_token, client_secret, password, signature, …),
# in a query string, a form body or a plain `name=value`: its value never reaches a log line. Access logs write the
# whole request line, and the Open311 api_key and the console's stream token travel in query strings.
_SECRET_PARAM = re.compile(
    r"""((?:^|(?<=[\s?&;"'(,]))[\w.\-\[\]%]*?(?:key|token|secret|passw|pwd|signature|credential|auth)"""
    r"""[\w.\-\[\]%]*=)[^&\s"'#,;)]+""",
    re.IGNORECASE,
)
REDACTED = "[REDACTED]"


def redact(text: str) -> str:
    """`text` with the values of secret-like parameters replaced by [REDACTED]."""
    if "=" not in text:
        return text
    return _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
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
            "message": redact(record.getMessage()),
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
            entry["exc"] = redact(record.exc_text)
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


# -- log files: private and rotated ---------------------------------------------------------------------------

# Owner reads and writes, its group (the operators) reads, nobody else: a log holds case numbers and names.
LOG_FILE_MODE = 0o640
DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_BACKUPS = 5


def _open_private(path: str | os.PathLike, mode: int = LOG_FILE_MODE) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode)
    os.fchmod(fd, mode)  # a file left by an older version with looser bits, or a umask that let more through
    return fd


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler whose files are created 0640 (not the umask's usual 0644), for a service that
    writes its log to a file itself: a `LOGGING` handler with `class: services.kernel.logs.PrivateRotatingFileHandler`,
    `filename`, `maxBytes`, `backupCount`."""

    def __init__(self, filename, mode="a", maxBytes=DEFAULT_MAX_BYTES, backupCount=DEFAULT_BACKUPS,  # noqa: N803
                 encoding="utf-8", delay=False, errors=None):
        super().__init__(filename, mode, int(maxBytes), int(backupCount), encoding, delay, errors)

    def _open(self):
        return os.fdopen(_open_private(self.baseFilename), "a", encoding=self.encoding, errors=self.errors)


class RotatingFile:
    """Bytes appended to a log file created 0640 and rotated at `max_bytes` into `backups` numbered copies
    (`x.log.1` the newest): what `make run` writes each service's output to. Not thread-safe; one writer."""

    def __init__(self, path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS):
        self.path = os.fspath(path)
        self.max_bytes = max(int(max_bytes), 1)
        self.backups = max(int(backups), 0)
        self._fd = _open_private(self.path)
        self._size = os.fstat(self._fd).st_size

    def write(self, data: bytes) -> None:
        if self._size and self._size + len(data) > self.max_bytes:
            self.rotate()
        os.write(self._fd, data)
        self._size += len(data)

    def rotate(self) -> None:
        """Close the file, shift `x.log.N-1` → `x.log.N` (dropping the oldest), `x.log` → `x.log.1`, start afresh."""
        os.close(self._fd)
        if self.backups:
            for n in range(self.backups - 1, 0, -1):
                older = f"{self.path}.{n}"
                if os.path.exists(older):
                    os.replace(older, f"{self.path}.{n + 1}")
            os.replace(self.path, f"{self.path}.1")
        else:
            os.truncate(self.path, 0)
        self._fd = _open_private(self.path)
        self._size = 0

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> RotatingFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
