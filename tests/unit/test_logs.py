import io
import json
import logging
import logging.config
import os
import stat
import string
import sys
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kernel import logs
from services.kernel.logs import ContextFilter, JsonFormatter, bind, current, logging_config


@pytest.fixture
def capture():
    """A private logger writing JSON lines into a buffer; returns (logger, read_lines)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service="approvals"))
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("test.kernel.logs")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield logger, lines
    logger.handlers = []


@pytest.fixture
def restore_logging():
    """dictConfig rewires the root logger; put back what pytest had installed."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    names = ("nameko", "kombu", "amqp")
    saved_levels = {name: logging.getLogger(name).level for name in names}
    yield
    for handler in root.handlers[:]:
        if handler not in saved_handlers:
            root.removeHandler(handler)
    for handler in saved_handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(saved_level)
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)


def test_line_is_json_with_core_fields(capture):
    logger, lines = capture
    logger.info("申请 %s 已受理", "A-1")
    (entry,) = lines()
    assert entry["message"] == "申请 A-1 已受理"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "test.kernel.logs"
    assert entry["service"] == "approvals"
    ts = datetime.fromisoformat(entry["ts"])
    assert ts.utcoffset() is not None
    assert "correlation_id" not in entry and "request_id" not in entry and "exc" not in entry


def test_bound_ids_appear_on_lines(capture):
    logger, lines = capture
    with bind(correlation_id="corr-1", request_id="req-1"):
        logger.info("inside")
    logger.info("outside")
    inside, outside = lines()
    assert inside["correlation_id"] == "corr-1" and inside["request_id"] == "req-1"
    assert "correlation_id" not in outside


def test_bind_nests_and_restores():
    assert current() == {}
    with bind(correlation_id="c1") as ctx:
        assert ctx == {"correlation_id": "c1"}
        with bind(request_id="r1"):
            assert current() == {"correlation_id": "c1", "request_id": "r1"}
        with bind(correlation_id="c2"):
            assert current() == {"correlation_id": "c2"}
        assert current() == {"correlation_id": "c1"}
    assert current() == {}


def test_bind_restores_after_exception():
    with pytest.raises(RuntimeError), bind(correlation_id="c1"):
        raise RuntimeError
    assert current() == {}


def test_context_is_per_thread():
    import threading

    seen = {}
    with bind(correlation_id="main"):
        worker = threading.Thread(target=lambda: seen.update(current()))
        worker.start()
        worker.join()
    assert seen == {}


def test_exception_is_rendered(capture):
    logger, lines = capture
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    (entry,) = lines()
    assert entry["level"] == "ERROR"
    assert "Traceback" in entry["exc"] and "ValueError: boom" in entry["exc"]


def test_extra_fields_serialisable_or_stringified(capture):
    logger, lines = capture

    class Thing:
        def __str__(self):
            return "thing!"

    logger.info("x", extra={"application_id": 7, "tags": ["a"], "obj": Thing(), "level": "spoof"})
    (entry,) = lines()
    assert entry["application_id"] == 7
    assert entry["tags"] == ["a"]
    assert entry["obj"] == "thing!"
    assert entry["level"] == "INFO" and entry["extra_level"] == "spoof"


def test_explicit_ids_in_extra_win_over_context(capture):
    logger, lines = capture
    with bind(correlation_id="ctx"):
        logger.info("x", extra={"correlation_id": "explicit"})
    assert lines()[0]["correlation_id"] == "explicit"


def test_service_from_environment(monkeypatch):
    monkeypatch.setenv(logs.SERVICE_ENV_VAR, "scoring")
    record = logging.LogRecord("l", logging.INFO, __file__, 1, "m", (), None)
    assert json.loads(JsonFormatter().format(record))["service"] == "scoring"


def test_dict_config_accepted_and_keeps_existing_loggers(restore_logging):
    existing = logging.getLogger("nameko.containers.test_existing")
    config = logging_config("appeals", level="debug")
    assert config["disable_existing_loggers"] is False
    json.dumps(config)  # plain data: fits under LOGGING in a nameko YAML config

    stream = io.StringIO()
    config["handlers"]["stderr"]["stream"] = stream
    logging.config.dictConfig(config)

    assert not existing.disabled
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("kombu").level == logging.WARNING
    assert logging.getLogger("amqp").level == logging.WARNING
    assert logging.getLogger("nameko").level == logging.INFO

    with bind(correlation_id="c-9"):
        existing.error("worker failed")
    logging.getLogger("kombu.connection").info("noise")
    existing.debug("below nameko's INFO")
    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry == {**entry, "service": "appeals", "message": "worker failed", "correlation_id": "c-9"}


def test_setup_logging_applies_config(restore_logging):
    logs.setup_logging("notify", "WARNING")
    root = logging.getLogger()
    assert root.level == logging.WARNING
    handler = next(h for h in root.handlers if isinstance(h.formatter, JsonFormatter))
    assert handler.formatter.service == "notify"
    assert any(isinstance(f, ContextFilter) for f in handler.filters)


# -- secrets never reach a line; log files private and rotated ----------------------------------------------

SECRET_NAMES = ["api_key", "API_KEY", "apikey", "token", "access_token", "client_secret", "password", "signature",
                "x-auth", "attribute[api_key]", "stream_token", "secret"]
# "Zq": a value that appears nowhere else in the line, so finding it means it leaked
SECRET_VALUE = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%+/", min_size=4, max_size=60).map(
    lambda v: "Zq" + v)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(SECRET_NAMES), value=SECRET_VALUE, path=st.sampled_from(
    ["/open311/v2/requests.json", "/api/v1/console/stream", "/x"]), first=st.booleans(), exc=st.booleans())
def test_a_secret_in_a_query_string_never_reaches_a_log_line(name, value, path, first, exc):
    query = f"{name}={value}&status=open" if first else f"status=open&{name}={value}"
    line = f'127.0.0.1 - - "GET {path}?{query} HTTP/1.1" 200 12 0.001'
    exc_info = None
    if exc:
        try:
            raise ValueError(f"while fetching {path}?{query}")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("nameko.web.server", logging.INFO, "", 0, "%s", (line,), exc_info)
    text = JsonFormatter(service="appeals").format(record)
    assert value not in text and "status=open" in text and logs.REDACTED in text


@given(st.from_regex(r"(department|page|per_page|status|from|to|after)=[A-Za-z0-9]{1,20}", fullmatch=True))
def test_ordinary_parameters_are_left_alone(pair):
    assert logs.redact(f"GET /api/v1/appeals?{pair}&x=1") == f"GET /api/v1/appeals?{pair}&x=1"


def test_log_files_are_private_and_rotate(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "svc.log"
        with logs.RotatingFile(path, max_bytes=100, backups=2) as log:
            for i in range(50):
                log.write(f"line {i:03d} {'x' * 20}\n".encode())
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["svc.log", "svc.log.1", "svc.log.2"]  # the oldest dropped
        for p in tmp_path.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == logs.LOG_FILE_MODE, p
            assert p.stat().st_size <= 100
        assert b"line 049" in path.read_bytes()

        handler = logs.PrivateRotatingFileHandler(str(tmp_path / "h.log"), maxBytes=200, backupCount=1)
        record = logging.LogRecord("t", logging.INFO, "", 0, "x" * 150, (), None)
        for _ in range(3):
            handler.emit(record)
        handler.close()
        for name in ("h.log", "h.log.1"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == logs.LOG_FILE_MODE
    finally:
        os.umask(old)


def test_a_sqlite_database_and_its_wal_are_private(tmp_path):
    from services.kernel.db import DATABASE_FILE_MODE, create_db_engine

    old = os.umask(0o022)
    try:
        loose = tmp_path / "old.db"
        loose.write_bytes(b"")
        loose.chmod(0o644)  # left by an older version
        for path in (tmp_path / "new" / "svc.db", loose):
            engine = create_db_engine(f"sqlite:///{path}")
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
            assert {p.name for p in files} >= {path.name, f"{path.name}-wal", f"{path.name}-shm"}
            for p in files:
                assert stat.S_IMODE(p.stat().st_mode) == DATABASE_FILE_MODE, p
            engine.dispose()
    finally:
        os.umask(old)
