"""The OpenAPI document of a service, generated from its `@api` declarations and marshmallow schemas."""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import ValidationError

# werkzeug's `<converter(args):name>` path variables
_PARAM = re.compile(r"<(?:([a-z_]+)(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>")
_PARAM_SCHEMAS = {
    "int": {"type": "integer", "format": "int64", "minimum": 0},  # unsigned, as werkzeug's int converter
    "float": {"type": "number", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
}
_MESSAGES = {"type": "array", "items": {"type": "string"}}

ERRORS_SCHEMA = {
    "type": "object",
    "properties": {
        # field → messages; a nested object's field → an object of the same shape
        "errors": {"type": "object", "additionalProperties": {"oneOf": [_MESSAGES, {"type": "object"}]}},
        "request_id": {"type": "string"},
    },
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "message_zh": {"type": "string"},
            "details": {"type": "object"},
        }, "required": ["code", "message"]},
        "request_id": {"type": "string"},
    },
}


# headers every answer carries (kernel/http.py), and those of some statuses
HEADERS = {
    "RequestId": {"description": "the request's id (the caller's X-Request-Id if short and printable): quote it",
                  "required": True, "schema": {"type": "string", "minLength": 1}},
    "RetryAfter": {"description": "seconds to wait before retrying", "required": True,
                   "schema": {"type": "integer", "minimum": 0}},
    "WwwAuthenticate": {"description": "the scheme that would be accepted: Bearer", "schema": {"type": "string"}},
}


def _headers(status: int) -> dict:
    headers = {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}}
    if status == 503:
        headers["Retry-After"] = {"$ref": "#/components/headers/RetryAfter"}
    if status == 401:
        headers["WWW-Authenticate"] = {"$ref": "#/components/headers/WwwAuthenticate"}
    return headers


def _body_required(schema) -> bool:
    """Whether a request must carry a body: as kernel/http.py decides, a missing body is loaded as {}, which
    an action whose fields are all optional (`POST .../accept`) takes."""
    try:
        schema().load({})
    except ValidationError:
        return True
    return False


def build_spec(service: str, endpoints, *, version: str = "1.0.0", description: str = "") -> dict:
    spec = APISpec(
        title=f"xiaoneng {service}", version=version, openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()], info={"description": description},
    )
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Errors", ERRORS_SCHEMA)
    spec.components.schema("Error", ERROR_SCHEMA)
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    paths: dict[str, dict] = {}
    for ep in sorted(endpoints, key=lambda e: (e.url, e.method)):
        path = _PARAM.sub(r"{\2}", ep.url)
        op: dict = {"summary": ep.summary or ep.method_name, "operationId": ep.method_name,
                    "tags": list(ep.tags) or [service], "responses": {}}
        params = [{"in": "path", "name": name, "required": True,
                   "schema": dict(_PARAM_SCHEMAS.get(converter, {"type": "string"}))}
                  for converter, name in _PARAM.findall(ep.url)]
        if ep.query_schema is not None:
            params.append({"in": "query", "schema": ep.query_schema})
        for name, header in getattr(ep, "headers", {}).items():  # request headers the method reads (`headers=`)
            params.append({"in": "header", "name": name, "required": bool(header.get("required", False)),
                           "description": header.get("description", ""),
                           "schema": dict(header.get("schema") or {"type": "string"})})
        if params:
            op["parameters"] = params
        if ep.body_schema is not None:
            op["requestBody"] = {"required": _body_required(ep.body_schema),
                                 "content": {"application/json": {"schema": ep.body_schema}}}
        ok: dict = {"description": "success"}
        if ep.response_schema is not None:
            schema = {"type": "array", "items": ep.response_schema} if ep.many else ep.response_schema
            ok["content"] = {"application/json": {"schema": schema}}
        op["responses"][str(ep.status)] = ok
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        if ep.body_schema is not None or ep.query_schema is not None:
            op["responses"]["400"] = {"description": "invalid input, with messages per field",
                                      "content": {"application/json": {
                                          "schema": {"$ref": "#/components/schemas/Errors"}}}}
        if ep.roles is not None:
            op["security"] = [{"apiKey": []}]
            op["responses"]["401"] = {"description": "missing or unknown API key", **ref}
            op["responses"]["403"] = {"description": "role or department not allowed", **ref}
            op["description"] = ("roles: " + ", ".join(ep.roles)) if ep.roles else \
                "any valid API key (but an open311_client's, which opens only Open311 filing)"
        if _PARAM.search(ep.url):
            op["responses"]["404"] = {"description": "no such resource (or not in the key's department)", **ref}
        if ep.body_schema is not None:
            op["responses"]["413"] = {"description": "body too large", **ref}
            op["responses"]["415"] = {"description": "the body is not JSON", **ref}
        # while the database or the keys file is away, whatever needs it answers 503 (kernel/http.py)
        op["responses"]["503"] = {"description": "the database or the API keys are unavailable; retry later", **ref}
        for status, response in sorted(ep.responses.items()):
            if isinstance(response, str):  # a client error the method raises (409...) has the common body
                response = {"description": response, **(ref if 400 <= status < 500 else {})}
            op["responses"][str(status)] = response
        op["responses"] = {status: {**response, "headers": {**_headers(int(status)), **response.get("headers", {})}}
                           for status, response in op["responses"].items()}
        paths.setdefault(path, {})[ep.method.lower()] = op
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()
