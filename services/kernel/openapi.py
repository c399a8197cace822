"""The OpenAPI document of a service, generated from its `@api` declarations and marshmallow schemas."""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

_PARAM = re.compile(r"<(?:[a-z_]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>")

ERRORS_SCHEMA = {
    "type": "object",
    "properties": {
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "request_id": {"type": "string"},
    },
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "message_zh": {"type": "string"},
        }},
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
        path = _PARAM.sub(r"{\1}", ep.url)
        op: dict = {"summary": ep.summary or ep.method_name, "operationId": ep.method_name,
                    "tags": list(ep.tags) or [service], "responses": {}}
        params = [{"in": "path", "name": n, "required": True, "schema": {"type": "string"}}
                  for n in _PARAM.findall(ep.url)]
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
        if ep.body_schema is not None:
            op["responses"]["413"] = {"description": "body too large", **ref}
        paths.setdefault(path, {})[ep.method.lower()] = op
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()
