"""HTTP conventions of every service: JSON in and out, API-key auth with roles and department scope,
marshmallow validation → 400 with field messages, 404/405/409/413 as JSON, a request id on every
response, and never a 500 for a client's mistake.

`@api(method, path, roles=..., body=Schema, query=Schema, response=Schema)` declares an endpoint; the
decorated method receives a `Call` and returns a JSON-able value (status 200, or `status=` of the
decorator) or `(status, value)`. The same declarations feed `/api/openapi.json`.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import unquote_plus

from eventlet.event import Event as GreenEvent
from marshmallow import Schema, ValidationError, fields
from nameko.extensions import SharedExtension
from nameko.timer import Timer
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.exceptions import MethodNotAllowed as WzMethodNotAllowed
from werkzeug.exceptions import NotFound as WzNotFound
from werkzeug.routing import IntegerConverter, Map, PathConverter, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from . import logs, privacy
from .domain import SYSTEM, Actor, IllegalTransition
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)
from .fields import MAX_ID
from .keys import ApiKey, KeyStore

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1_000_000
REQUEST_ID_HEADER = "X-Request-Id"
# What a 503 asks a client to wait before retrying (seconds): long enough for a database restart to begin.
RETRY_AFTER_SECONDS = 5
# Text no column can hold: PostgreSQL refuses NUL, and no UTF-8 encoder takes an unpaired surrogate.
_UNFIT_TEXT = re.compile("[\x00\ud800-\udfff]")


def json_response(status: int, body: Any, request_id: str, headers: dict | None = None) -> Response:
    if isinstance(body, dict) and status >= 400:
        body = {**body, "request_id": request_id}
    resp = Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                    mimetype="application/json")
    resp.headers[REQUEST_ID_HEADER] = request_id
    if status == 503:
        resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


# -- the database being away: 503, logged once per outage ---------------------------------------------------

# The DB-API's own classes too: kernel/direct.py runs hot statements straight on SQLite's cursor.
_DB_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, sqlite3.OperationalError,
            sqlite3.InterfaceError)
try:
    import psycopg2

    _DB_DOWN += (psycopg2.OperationalError, psycopg2.InterfaceError)
except ImportError:  # pragma: no cover  the image always has it; a SQLite-only checkout may not
    pass


def database_unavailable(exc: BaseException) -> bool:
    """Is `exc` the database being away (stopped, unreachable, unreadable, locked past its timeout)? Such an
    error is nobody's request's fault: 503, and the client may retry. Follows explicit causes (`raise … from`),
    since a use case may wrap what the database raised; not the context, or a bug in an `except` block that
    handles a database error would pass for an outage."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, _DB_DOWN):
            return True
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        exc, seen = exc.__cause__, seen + 1
    return False


class DatabaseOutage:
    """One WARNING when a service's database goes away and one INFO when it is back, instead of a traceback
    per request: during an outage every request would otherwise log the same story. It is back when a request
    succeeds and a ping (the service's own `db.ping`, found on its dependencies) confirms it, at most once a
    second, so that requests which never touch the database cannot end an outage early."""

    _down: dict[str, tuple[float, str]] = {}  # service → (since, first error), per process
    _probed: dict[str, float] = {}

    @classmethod
    def failed(cls, service: str, exc: BaseException) -> Unavailable:
        if service not in cls._down:
            reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            cls._down[service] = (time.monotonic(), reason)
            log.warning("database unavailable, answering 503 until it is back: %s", reason,
                        extra={"outage": "database", "state": "started"})
        return Unavailable("the database is unavailable; retry later", message_zh="数据库暂不可用，请稍后重试")

    @classmethod
    def succeeded(cls, service: str, container) -> None:
        if service not in cls._down:
            return
        now = time.monotonic()
        if now - cls._probed.get(service, 0.0) < 1.0:
            return
        cls._probed[service] = now
        ping = _database_ping(container)
        if ping is not None:
            try:
                ping()
            except Exception:  # still away: the outage goes on, already logged
                return
        since, _ = cls._down.pop(service, (now, ""))
        log.info("database available again after %.1f s", now - since,
                 extra={"outage": "database", "state": "ended"})


def _database_ping(container):
    # Duck-typed, so that the HTTP conventions need not import the service base (which imports them).
    for dependency in getattr(container, "dependencies", ()):
        ping = getattr(getattr(dependency, "db", None), "ping", None)
        if callable(ping):
            return ping
    return None


class _AnsweredErrors(logging.Filter):
    """Drops nameko's "error handling worker" traceback for an HTTP worker whose exception the endpoint answers
    itself: a client's mistake (logged at INFO, without a traceback, by the endpoint) or the database being away
    (logged once per outage). A timer's tick (the deadline monitors) that finds the database away joins the
    outage too, instead of a traceback a second. Every other error keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or not record.args or not isinstance(record.args, tuple):
            return True
        worker_ctx = record.args[0]
        entrypoint = getattr(worker_ctx, "entrypoint", None)
        exc = record.exc_info[1]
        if isinstance(entrypoint, HttpRequestHandler):
            return not (is_client_error(exc) or database_unavailable(exc))
        if isinstance(entrypoint, Timer) and database_unavailable(exc):
            DatabaseOutage.failed(worker_ctx.container.service_name, exc)
            return False
        return True


def is_client_error(exc: BaseException) -> bool:
    return (isinstance(exc, ApiError) and exc.status < 500) or isinstance(exc, IllegalTransition)


_answered_errors = _AnsweredErrors()


def quiet_answered_errors() -> None:
    """Install the filter on nameko's container logger (once per process; idempotent)."""
    logger = logging.getLogger("nameko.containers")
    if _answered_errors not in logger.filters:
        logger.addFilter(_answered_errors)


def log_client_error(request: Request, status: int, code: str) -> None:
    """A 4xx at INFO, one line, no traceback: the client's mistake, worth a line, not an alarm."""
    log.info("%s %s answered %d %s", request.method, privacy.scrub(unquote_plus(request.path)), status, code,
             extra={"status": status, "code": code})


def request_id_of(request: Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    # Accept the caller's id only if it is short and printable; it ends up in our logs.
    if 0 < len(given) <= 100 and given.isprintable():
        return given
    return uuid.uuid4().hex


class IdConverter(IntegerConverter):
    """`<int:x>` in a path: an id no database can hold (SQLite's INTEGER is 64-bit) is not found, not a 500."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class AnyPathConverter(PathConverter):
    """`<path:x>` that also matches a path holding a newline (werkzeug's stops at one), so a catch-all route
    catches every path under it."""

    regex = "[^/][\\s\\S]*?"


def match_route(adapter):
    """The rule and values of a request, as werkzeug's `match`, except that a path no rule takes with any method
    is 404: werkzeug answers 405 when a rule of another method matches the path's text even though its converter
    would refuse the value (`/visits/99999999999999999999/rectification`, a GET beside a POST)."""
    try:
        return adapter.match()
    except WzMethodNotAllowed as exc:
        allowed = [m for m in exc.valid_methods or () if _routable(adapter, m)]
        if not allowed:
            raise WzNotFound() from None
        exc.valid_methods = allowed
        raise


def _routable(adapter, method: str) -> bool:
    try:
        adapter.match(method=method)
    except (WzNotFound, WzMethodNotAllowed):
        return False
    return True


class JsonWsgiApp(WsgiApp):
    """nameko's WSGI app, but unknown paths and wrong methods answer in JSON like everything else."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = match_route(adapter)
        except WzMethodNotAllowed as exc:
            err = MethodNotAllowed(f"method {request.method} not allowed here",
                                   message_zh="不支持该请求方法")
            resp = json_response(405, err.body(), request_id_of(request),
                                 headers={"Allow": ", ".join(exc.valid_methods or [])})
            return resp(environ, start_response)
        except WzNotFound:
            err = NotFound(f"no such path: {request.path}", message_zh="路径不存在")
            return json_response(404, err.body(), request_id_of(request))(environ, start_response)
        except HTTPException as exc:  # anything else routing raises (a redirect): JSON all the same
            headers = {k: v for k, v in exc.get_headers(environ) if k.lower() != "content-type"}
            if isinstance(exc, RequestRedirect):  # werkzeug's trailing-slash redirect: a browser must follow it
                headers["Location"] = exc.new_url
            body = {"error": {"code": (exc.name or "error").lower().replace(" ", "_"),
                              "message": exc.description or exc.name or "routing"}}
            return json_response(exc.code or 400, body, request_id_of(request), headers=headers)(
                environ, start_response)
        request.path_values = values
        return provider.handle_request(request)(environ, start_response)


class _RedactedAccessLog(logging.LoggerAdapter):
    """eventlet's access log writes the whole request line, query string included: a key or token sent there
    (Open311's api_key, the console's stream token) must not reach the log. Redacted here, where the line is
    made, whatever formatter the deployment's logging uses."""

    def process(self, msg, kwargs):
        # and a phone or id number in a path or query (a caller's history, a phone search), percent-encoded or not
        return logs.redact(privacy.scrub(unquote_plus(str(msg)))), kwargs


class JsonWebServer(WebServer):
    def get_wsgi_app(self):
        return JsonWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=HttpOnlyProtocol, debug=False):
        server = super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)
        server.log = _RedactedAccessLog(logging.getLogger("nameko.web.server"), {})
        return server

    def make_url_map(self):
        # No redirects: an API client that sends "//" gets a 404, not a 308 to follow.
        url_map = Map(merge_slashes=False, converters={"int": IdConverter, "path": AnyPathConverter})
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map


class KeyRing(SharedExtension):
    """The deployment's API keys (a hashed keys file shared by its services)."""

    def setup(self):
        path = self.container.config.get("KEYS_FILE")
        self.store = KeyStore(path) if path else None

    def verify(self, key: str) -> ApiKey | None:
        if self.store is None:
            return None
        try:
            return self.store.verify(key)
        except ValueError as exc:
            # A corrupt keys file must not let anyone in, nor look like the client's fault.
            log.error("keys file unreadable: %s", exc)
            raise Unavailable("API keys unavailable; try again later", message_zh="密钥文件不可用") from None


@dataclass
class Call:
    """What an endpoint method receives."""

    request: Request
    request_id: str
    principal: ApiKey | None
    body: Any = None
    query: dict = field(default_factory=dict)
    path: dict = field(default_factory=dict)

    @property
    def actor(self) -> Actor:
        """Who acts, for the domain and the history: the key's name, role and department."""
        p = self.principal
        return Actor(p.name, p.role, p.department) if p is not None else SYSTEM

    @property
    def department_scope(self) -> str | None:
        """The department a department handler is confined to (None: not confined)."""
        if self.principal is not None and self.principal.role == "department_handler":
            return self.principal.department
        return None

    def scoped_query(self, scope: str | None = None) -> dict | None:
        """A copy of the query with a department handler (or whoever `scope` names the department of: a feature's
        own notion of a confined caller) confined to its own department; None when it asks for another
        department's (the list is then empty, as for a department with nothing)."""
        query = dict(self.query)
        scope = scope if scope is not None else self.department_scope
        if scope is not None:
            if query.get("department") not in (None, scope):
                return None
            query["department"] = scope
        return query

    def page(self, items: list, total: int) -> dict:
        """A page of a paged list, as every list endpoint answers it."""
        return {"items": items, "page": self.query["page"], "per_page": self.query["per_page"], "total": total}

    def require_department(self, department: str | None, not_found: NotFound | None = None) -> None:
        """Refuse as 404, so that other departments' cases are not even confirmed to exist. Pass the very
        `not_found` the endpoint raises for a missing id, or the two answers tell the cases apart."""
        scope = self.department_scope
        if scope is not None and department != scope:
            raise not_found or NotFound("not found", message_zh="未找到")


class ApiEndpoint(HttpRequestHandler):
    server = JsonWebServer()
    keyring = KeyRing()

    def __init__(self, method: str, url: str, *, roles: tuple[str, ...] | None = (), body: type[Schema] | None = None,
                 query: type[Schema] | None = None, response: type[Schema] | None = None, status: int = 200,
                 summary: str = "", tags: tuple[str, ...] = (), many: bool = False,
                 responses: dict[int, str | dict] | None = None, headers: dict[str, str | dict] | None = None,
                 **kwargs):
        """`roles=None`: public. `roles=()`: any valid key. Otherwise the key's role must be listed
        (an admin key passes everywhere). `responses`: further statuses the method itself answers with,
        for the OpenAPI document: a description (`{409: "not while the case is open"}`; a 4xx gets the
        common error body) or an OpenAPI response object. `headers`: request headers the method reads, for the
        OpenAPI document: name → a description (optional header) or `{"description": ..., "required": bool,
        "schema": {...}}` (default schema: a string); the method reads them itself (`call.request.headers`)."""
        super().__init__(method, url, **kwargs)
        self.roles = roles
        self.body_schema = body
        self.query_schema = query
        self.response_schema = response
        self.status = status
        self.summary = summary
        self.tags = tags
        self.many = many
        self.responses = dict(responses or {})
        self.headers = {name: ({"description": spec} if isinstance(spec, str) else dict(spec))
                        for name, spec in (headers or {}).items()}

    def get_url_rule(self):
        return Rule(self.url, methods=[self.method])

    def setup(self):
        super().setup()
        quiet_answered_errors()

    def _schema(self, which: str) -> Schema:
        # Building a marshmallow schema costs more than using it, and load/dump keep no state: one each.
        cache = self.__dict__.setdefault("_schemas", {})
        if which not in cache:
            if which == "response":
                cache[which] = self.response_schema(many=self.many)
            else:
                cache[which] = (self.query_schema if which == "query" else self.body_schema)()
        return cache[which]

    @property
    def max_body_bytes(self) -> int:
        return int(self.container.config.get("MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)

    def handle_request(self, request: Request) -> Response:
        request.shallow = False
        request_id = request_id_of(request)
        with logs.bind(request_id=request_id):
            try:
                call = self._prepare(request, request_id)
                done = GreenEvent()
                self.container.spawn_worker(
                    self, (call,), dict(request.path_values),
                    context_data={"request_id": request_id, "correlation_id": request_id},
                    handle_result=partial(self._handle_result, done),
                )
                result, exc_info = done.wait()
                if exc_info is not None:
                    raise exc_info[1]
                response = self._response(result, request_id)
                DatabaseOutage.succeeded(self.container.service_name, self.container)
                return response
            except ApiError as exc:
                # RFC 9110: a 401 names the scheme that would be accepted.
                headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else exc.headers()
                if exc.status < 500:
                    log_client_error(request, exc.status, exc.code)
                return json_response(exc.status, exc.body(), request_id, headers=headers)
            except IllegalTransition as exc:
                # the domain's refusal of a state change: 409, with its reasons
                err = Conflict(exc.message, message_zh=exc.message_zh)
                log_client_error(request, err.status, err.code)
                return json_response(err.status, err.body(), request_id)
            except Exception as exc:
                if database_unavailable(exc):
                    err = DatabaseOutage.failed(self.container.service_name, exc)
                    return json_response(err.status, err.body(), request_id)
                log.exception("unhandled error in %s %s", request.method, request.path)
                return json_response(500, {"error": {"code": "internal_error",
                                                     "message": "internal error; quote the request id",
                                                     "message_zh": "内部错误，请提供请求编号"}}, request_id)

    def _handle_result(self, done, worker_ctx, result, exc_info):
        done.send((result, exc_info))
        return result, exc_info

    def _response(self, result: Any, request_id: str) -> Response:
        if isinstance(result, Response):
            result.headers[REQUEST_ID_HEADER] = request_id
            return result
        status = self.status
        if isinstance(result, tuple):
            status, result = result
        if status == 204:
            resp = Response(status=204)
            resp.headers[REQUEST_ID_HEADER] = request_id
            return resp
        if self.response_schema is not None and result is not None:
            result = self._schema("response").dump(result)
        return json_response(status, result, request_id)

    def _authenticate(self, request: Request) -> ApiKey | None:
        if self.roles is None:
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing API key: send 'Authorization: Bearer KEY'",
                               message_zh="缺少 API 密钥")
        principal = self.keyring.verify(token.strip())
        if principal is None:
            raise Unauthorized("unknown or revoked API key", message_zh="API 密钥无效或已吊销")
        if principal.role == "open311_client":
            # it sits in a city app or a web server: it files Open311 requests and opens nothing here, not even
            # what any valid key may read (roles=())
            raise Forbidden("an open311_client key only files requests at /open311/v2/requests",
                            message_zh="Open311 客户端密钥只能用于提交诉求")
        if self.roles and principal.role not in self.roles and principal.role != "admin":
            raise Forbidden(f"role {principal.role} may not do this; allowed: {', '.join(self.roles)}",
                            message_zh="无权执行此操作")
        return principal

    def _prepare(self, request: Request, request_id: str) -> Call:
        principal = self._authenticate(request)
        call = Call(request=request, request_id=request_id, principal=principal, path=dict(request.path_values))
        if self.query_schema is not None:
            args = request.args.to_dict(flat=True)
            unfit = {name: ["may not contain NUL characters"] for name, value in args.items()
                     if has_unfit_text([name, value])}
            if unfit:
                raise BadRequest(unfit)
            try:
                call.query = self._schema("query").load(args)
            except ValidationError as exc:
                raise BadRequest(exc.messages) from None
        if self.body_schema is not None:
            call.body = self._load_body(request)
        return call

    def read_body(self, request: Request) -> bytes:
        """The raw body, at most `max_body_bytes` of it, with or without a Content-Length."""
        limit = self.max_body_bytes
        too_large = PayloadTooLarge(f"request body over {limit} bytes", message_zh="请求体过大")
        if request.content_length is not None:
            if request.content_length > limit:
                raise too_large
            try:
                return request.get_data(cache=True)
            except ClientDisconnected:
                raise BadRequest({"_body": ["the body ended before its Content-Length"]}) from None
        if request.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return b""
        # Chunked: werkzeug would read nothing (eventlet does not set wsgi.input_terminated), and its
        # max_content_length truncates silently; so read one byte past the limit ourselves.
        stream = request.environ["wsgi.input"]
        raw = bytearray()
        try:
            while len(raw) <= limit:
                chunk = stream.read(min(64 * 1024, limit + 1 - len(raw)))
                if not chunk:
                    break
                raw += chunk
        except (OSError, ValueError):  # eventlet's ChunkReadError is a ValueError
            raise BadRequest({"_body": ["malformed chunked body"]}) from None
        if len(raw) > limit:
            raise too_large
        return bytes(raw)

    def _load_body(self, request: Request) -> Any:
        raw = self.read_body(request)
        if not raw:
            # No body at all: an action whose fields are all optional (`POST .../accept`) takes it as {}.
            try:
                return self._schema("body").load({})
            except ValidationError:
                raise BadRequest({"_body": ["a JSON body is required"]}) from None
        # eventlet reports a missing Content-Type as text/plain, so a body must say it is JSON.
        mimetype = request.mimetype
        if mimetype != "application/json" and not mimetype.endswith("+json"):
            raise UnsupportedMediaType(f"send JSON (Content-Type: application/json), not {mimetype or 'nothing'}",
                                       message_zh="请求体须为 JSON")
        data = _parse_json(raw)
        if data is None:
            raise BadRequest({"_body": ["a JSON body is required"]})
        if not isinstance(data, dict):
            raise BadRequest({"_body": ["the body must be a JSON object"]})
        schema = self._schema("body")
        mistyped = json_type_errors(schema, data)
        if mistyped:
            raise BadRequest(mistyped)
        try:
            return schema.load(data)
        except ValidationError as exc:
            raise BadRequest(exc.messages) from None


# marshmallow also takes 1, "yes" or "on" for a boolean and "12" for a number (lenient for form and query
# strings); a JSON body must carry the JSON type its document names.
_JSON_TYPES = ((fields.Boolean, (bool,), "Not a valid boolean: JSON true or false expected."),
               (fields.Number, (int, float), "Not a valid number: a JSON number expected."))


def json_type_errors(schema: Schema, data: dict) -> dict:
    """Field messages for the values of `data` whose JSON type is not the one their field documents (booleans
    and numbers, through nested schemas and lists); {} when every value fits."""
    errors: dict = {}
    for name, fld in schema.fields.items():
        key = fld.data_key or name
        if key not in data or data[key] is None or fld.dump_only:
            continue
        message = _json_type_error(fld, data[key])
        if message:
            errors[key] = message
    return errors


def _json_type_error(field, value):
    if isinstance(field, fields.Nested) and isinstance(value, dict) and not field.many:
        return json_type_errors(field.schema, value) or None
    if isinstance(field, fields.List) and isinstance(value, list):
        found = {i: e for i, item in enumerate(value) if item is not None
                 and (e := _json_type_error(field.inner, item))}
        return found or None
    for kind, types, message in _JSON_TYPES:
        if isinstance(field, kind):
            if isinstance(value, bool) != (types == (bool,)) or not isinstance(value, types):
                return [message]
            return None
    return None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _parse_json(raw: bytes) -> Any:
    """The body as JSON, or BadRequest on `_body`: every way a body can fail to parse is the client's."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest({"_body": ["the body is not UTF-8"]}) from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest({"_body": [f"invalid JSON: {exc}"]}) from None
    except RecursionError:
        raise BadRequest({"_body": ["invalid JSON: nested too deeply"]}) from None
    except ValueError as exc:  # NaN/Infinity, or an integer over Python's limit of digits
        reason = "a number has too many digits" if "digits" in str(exc) else str(exc)
        raise BadRequest({"_body": [f"invalid JSON: {reason}"]}) from None
    if has_unfit_text(data):
        raise BadRequest({"_body": ["text may not contain NUL characters or unpaired surrogates"]})
    return data


def has_unfit_text(data: Any) -> bool:
    stack = [data]  # iterative: the parser allows nesting deeper than a recursive walk would
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _UNFIT_TEXT.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


api = ApiEndpoint.decorator
