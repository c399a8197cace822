"""The Open311 entrypoint: a route of the facade on the service's one web server, with the spec's forms, keys
and error lists, and the answer of a path the facade does not know."""

from __future__ import annotations

import logging
from functools import partial
from io import BytesIO
from urllib.parse import parse_qsl

from eventlet.event import Event as GreenEvent
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WzMethodNotAllowed
from werkzeug.formparser import FormDataParser
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from services.kernel import logs
from services.kernel.errors import ApiError, BadRequest, Forbidden, MethodNotAllowed, NotFound
from services.kernel.http import (
    ApiEndpoint,
    Call,
    DatabaseOutage,
    JsonWebServer,
    KeyRing,
    database_unavailable,
    has_unfit_text,
    log_client_error,
    request_id_of,
)

from .format import V2, error_list, render

# the facade's logger, whichever of its modules logs
log = logging.getLogger("services.appeals.open311")

MAX_FORM_FIELDS = 200
FMT = ".<any(json,xml):fmt>"
ROUTES = {
    "discovery": ("GET", f"{V2}/discovery{FMT}"),
    "services": ("GET", f"{V2}/services{FMT}"),
    "service": ("GET", f"{V2}/services/<service_code>{FMT}"),
    "requests": ("GET", f"{V2}/requests{FMT}"),
    "create": ("POST", f"{V2}/requests{FMT}"),
    "request": ("GET", f"{V2}/requests/<request_id>{FMT}"),
    "token": ("GET", f"{V2}/tokens/<token>{FMT}"),
}
# Everything else under /open311 answers in the spec's error format too (404, or 405 for a known path).
UNKNOWN_PATH = "/open311/<path:path>"
_KNOWN = Map([Rule(url, methods=[method]) for method, url in ROUTES.values()], merge_slashes=False)


class Open311Endpoint(HttpRequestHandler):
    """An Open311 route on the service's one web server. Not an `ApiEndpoint`: its bodies are forms, its
    errors the spec's lists, its GETs public and its key a form field, none of which the OpenAPI document of
    the JSON API describes; it borrows that entrypoint's body reading (size limit, chunked bodies)."""

    server = JsonWebServer()  # the same shared extension as every @api route: one port
    keyring = KeyRing()
    max_body_bytes = ApiEndpoint.max_body_bytes
    read_body = ApiEndpoint.read_body  # the kernel's body reading: size limit, chunked bodies

    def __init__(self, method: str, url: str, *, xml: str, roles: tuple[str, ...] | None = None, **kwargs):
        """`xml`: the root element of the XML answer; `roles`: those whose `api_key` may call it (None: public);
        `method="*"`: every method."""
        super().__init__(method, url, **kwargs)
        self.xml_root = xml
        self.roles = roles

    def get_url_rule(self):
        return Rule(self.url) if self.method == "*" else Rule(self.url, methods=[self.method])

    def handle_request(self, request: Request) -> Response:
        request.shallow = False
        request_id = request_id_of(request)
        path = dict(request.path_values)
        fmt = path.pop("fmt", None) or ("xml" if request.path.endswith(".xml") else "json")
        with logs.bind(request_id=request_id):
            try:
                call = self._prepare(request, request_id, path)
                done = GreenEvent()
                self.container.spawn_worker(
                    self, (call,), path, context_data={"request_id": request_id, "correlation_id": request_id},
                    handle_result=partial(self._handle_result, done))
                result, exc_info = done.wait()
                if exc_info is not None:
                    raise exc_info[1]
                status, body = result if isinstance(result, tuple) else (200, result)
                DatabaseOutage.succeeded(self.container.service_name, self.container)
                return render(status, body, self.xml_root, fmt, request_id)
            except ApiError as exc:
                allow = exc.details.get("allow") if isinstance(exc, MethodNotAllowed) else None
                if exc.status < 500:
                    log_client_error(request, exc.status, exc.code)
                return render(exc.status, error_list(exc), "errors", fmt, request_id,
                              headers={"Allow": ", ".join(allow)} if allow else None)
            except Exception as exc:
                if database_unavailable(exc):  # the JSON API's answer: 503, logged once per outage
                    err = DatabaseOutage.failed(self.container.service_name, exc)
                    return render(err.status, error_list(err), "errors", fmt, request_id)
                log.exception("unhandled error in %s %s", request.method, request.path)
                body = [{"code": 500, "description": f"internal error; quote the request id {request_id} / "
                                                     "内部错误，请提供请求编号"}]
                return render(500, body, "errors", fmt, request_id)

    def _handle_result(self, done, worker_ctx, result, exc_info):
        done.send((result, exc_info))
        return result, exc_info

    def _prepare(self, request: Request, request_id: str, path: dict) -> Call:
        query = request.args.to_dict(flat=True)
        if "api_key" in query:
            # URLs end up in access logs, proxies and browser histories: a key there is refused, never used
            raise BadRequest({"api_key": ["send api_key in the form body, never in the URL; a key that was "
                                          "sent in a URL should be revoked / api_key 只能放在表单正文中提交，"
                                          "出现在网址中的密钥应予吊销"]})
        form = self._form(request) if self.method == "POST" else {}
        fields = {**query, **form}
        principal = self._authenticate(form.get("api_key")) if self.roles is not None else None
        # PostgreSQL refuses NUL in text: the client's mistake, not a 500
        unfit = sorted(name for name, value in [*fields.items(), *path.items()] if has_unfit_text([name, value]))
        if unfit:
            raise BadRequest({name: ["may not contain NUL characters"] for name in unfit})
        return Call(request=request, request_id=request_id, principal=principal, body=fields, query=query,
                    path=path)

    def _form(self, request: Request) -> dict:
        raw = self.read_body(request)
        if not raw:
            return {}
        if request.mimetype == "application/x-www-form-urlencoded":
            try:
                return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8",
                                      errors="strict", max_num_fields=MAX_FORM_FIELDS))
            except (UnicodeDecodeError, ValueError):
                raise BadRequest({"_body": ["not a form: URL-encoded UTF-8 fields expected"]}) from None
        if request.mimetype == "multipart/form-data":
            parser = FormDataParser(max_form_parts=MAX_FORM_FIELDS)
            try:
                _, form, _ = parser.parse(BytesIO(raw), request.mimetype, len(raw), request.mimetype_params)
            except (HTTPException, ValueError):
                raise BadRequest({"_body": ["malformed multipart form"]}) from None
            return form.to_dict(flat=True)
        raise BadRequest({"_body": [f"send the fields form-encoded (application/x-www-form-urlencoded), "
                                    f"not {request.mimetype or 'nothing'}"]})

    def _authenticate(self, key: str | None):
        if not key:
            raise Forbidden("api_key was not provided", message_zh="缺少 api_key")
        principal = self.keyring.verify(key)
        if principal is None:
            raise Forbidden("api_key is invalid or revoked", message_zh="api_key 无效或已吊销")
        if principal.role not in self.roles:
            raise Forbidden(f"an api_key of role {principal.role} may not do this; allowed: {', '.join(self.roles)}",
                            message_zh="该 api_key 无权执行此操作")
        return principal


open311 = Open311Endpoint.decorator


def unknown_route(method: str, path: str) -> ApiError:
    try:
        _KNOWN.bind("open311").match(path, method=method)
    except WzMethodNotAllowed as exc:
        allow = sorted(exc.valid_methods or [])
        return MethodNotAllowed(f"method {method} not allowed here; allowed: {', '.join(allow)}",
                                message_zh="不支持该请求方法", details={"allow": allow})
    except HTTPException:
        pass
    return NotFound(f"no such Open311 resource: {path} (formats: .json, .xml)", message_zh="路径不存在")

