"""The OpenAPI document of a service, generated from its `@api` declarations and marshmallow schemas."""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

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


def build_spec(service: str, endpoints, *, version: str = "1.0.0", description: str = "") -> dict:
    spec = APISpec(
        title=f"xiaoneng {service}", version=version, openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()], info={"description": description},
    )
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Errors", ERRORS_SCHEMA)
    spec.components.schema("Error", ERROR_SCHEMA)
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
        if params:
            op["parameters"] = params
        if ep.body_schema is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ep.body_schema}}}
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
            op["description"] = ("roles: " + ", ".join(ep.roles)) if ep.roles else "any valid API key"
        if _PARAM.search(ep.url):
            op["responses"]["404"] = {"description": "no such resource (or not in the key's department)", **ref}
        if ep.body_schema is not None:
            op["responses"]["413"] = {"description": "body too large", **ref}
            op["responses"]["415"] = {"description": "the body is not JSON", **ref}
        for status, response in sorted(ep.responses.items()):
            if isinstance(response, str):  # a client error the method raises (409...) has the common body
                response = {"description": response, **(ref if 400 <= status < 500 else {})}
            op["responses"][str(status)] = response
        paths.setdefault(path, {})[ep.method.lower()] = op
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()
