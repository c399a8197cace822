"""`GET /api/openapi.json` of each running service: a valid OpenAPI 3 document that lists every endpoint
the service serves (its own and /health and itself), built from the marshmallow schemas, and that tells
the truth about the bodies the service actually sends."""

import copy
import re

import pytest
import requests
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from services.appeals.schemas import AppealIn
from services.appeals.service import AppealsService
from services.approvals.service import ApprovalsService
from services.kernel.contracts.appeals import APPEAL_TYPES, CHANNELS, URGENCIES
from services.kernel.http import ApiEndpoint
from services.notify.service import NotifyService
from services.scoring.service import ScoringService

SERVICES = {"appeals": AppealsService, "approvals": ApprovalsService, "scoring": ScoringService,
            "notify": NotifyService}
# what each service served when this test was written; a service may add endpoints, never lose these
EXPECTED = {
    "appeals": {("/api/v1/appeals", "post"), ("/api/v1/appeals/{appeal_id}", "get")},
    "approvals": set(),
    "scoring": {("/api/v1/facts", "get")},
    "notify": {("/api/v1/deliveries", "get")},
}
PLATFORM = {("/health", "get"), ("/metrics", "get"), ("/api/openapi.json", "get")}
# what a browser opens without a key: the monitor console's page and files (no data in them), and its live
# stream (EventSource sends no header: a short-lived stream token in the query authorises it, else 401)
PUBLIC = {"notify": {("/console", "get"), ("/console/static/{name}", "get"), ("/api/v1/console/stream", "get")},
          # the public face of approvals (#15): the guide, progress and results, reviews, the page and its files
          "approvals": {("/public/v1/guide", "get"), ("/public/v1/guide/{code}", "get"),
                        ("/public/v1/progress", "post"), ("/public/v1/results", "get"), ("/public/", "get"),
                        ("/public", "get"), ("/public/index.html", "get"), ("/public/app.js", "get"),
                        ("/public/app.css", "get"), ("/public/v1/reviews", "post"),
                        ("/public/v1/satisfied-windows", "get")},
          # the exposure board (曝光台, #15): desensitised, no key
          "appeals": {("/public/v1/exposures", "get"), ("/public/v1/exposures/{public_id}", "get"),
                      ("/public/exposures", "get"), ("/public/exposures/static/{name}", "get")}}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def fetch_spec(base_url: str) -> dict:
    r = requests.get(f"{base_url}/api/openapi.json", timeout=10)  # public: no key
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json") and r.headers["X-Request-Id"]
    return r.json()


def resolve(spec: dict, schema):
    """`schema` with every local $ref replaced by what it points to."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            target = spec
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(spec, target)
        return {k: resolve(spec, v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [resolve(spec, v) for v in schema]
    return schema


def body_schema(spec: dict, path: str, method: str, status: int) -> dict:
    response = spec["paths"][path][method]["responses"][str(status)]
    return resolve(spec, response["content"]["application/json"]["schema"])


def assert_matches(spec: dict, path: str, method: str, r: requests.Response) -> None:
    """The body of `r` is what the document says `path` answers with `r`'s status."""
    OAS30Validator(body_schema(spec, path, method, r.status_code)).validate(r.json())


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_describes_all_its_endpoints_in_valid_openapi_3(service, service_config, start_service):
    cfg = service_config(service)
    container = start_service(SERVICES[service], cfg)
    spec = fetch_spec(cfg["base_url"])

    validate(copy.deepcopy(spec))  # raises with the offending part if the document is not valid OpenAPI
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == f"xiaoneng {service}" and spec["info"]["version"]
    assert spec["info"]["description"] == SERVICES[service].__doc__.strip()

    operations = {(path, method) for path, ops in spec["paths"].items() for method in ops if method in HTTP_METHODS}
    served = {(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", ep.url), ep.method.lower())
              for ep in container.entrypoints if isinstance(ep, ApiEndpoint)}
    assert operations == served  # nothing missing, nothing invented
    assert PLATFORM | EXPECTED[service] <= operations

    for path, method in operations:
        op = spec["paths"][path][method]
        assert op["operationId"] and op["summary"] and op["responses"], (path, method)
        if (path, method) in PLATFORM | PUBLIC.get(service, set()):
            assert "security" not in op, path  # public
        else:
            assert op["security"] == [{"apiKey": []}], (path, method)
            assert {"401", "403"} <= set(op["responses"]), (path, method)
        if "requestBody" in op:
            assert {"400", "413", "415"} <= set(op["responses"]), (path, method)
        if "{" in path:
            assert "404" in op["responses"], (path, method)
    assert spec["components"]["securitySchemes"]["apiKey"] == {"type": "http", "scheme": "bearer"}
    assert "503" in spec["paths"]["/health"]["get"]["responses"]

    assert fetch_spec(cfg["base_url"]) == spec  # stable between calls


def test_appeals_bodies_come_from_the_marshmallow_schemas(service_config, start_service):
    cfg = service_config("appeals")
    start_service(AppealsService, cfg)
    spec = fetch_spec(cfg["base_url"])

    post = spec["paths"]["/api/v1/appeals"]["post"]
    assert post["requestBody"]["required"] is True
    schema = resolve(spec, post["requestBody"]["content"]["application/json"]["schema"])
    assert set(schema["properties"]) == set(AppealIn().load_fields)
    assert sorted(schema["required"]) == sorted(n for n, f in AppealIn().load_fields.items() if f.required)
    props = schema["properties"]
    assert props["channel"]["enum"] == list(CHANNELS) == ["hotline", "mayor_line", "sunshine_dialogue",
                                                          "online_opinion", "window", "web"]
    assert props["type"]["enum"] == list(APPEAL_TYPES)
    assert props["urgency"] == {"type": "string", "enum": list(URGENCIES), "default": "normal"}
    assert props["content"]["maxLength"] == 4000 and props["content"]["minLength"] == 1
    assert props["received_at"]["format"] == "date-time" and props["received_at"]["nullable"] is True
    assert props["appellant"]["properties"]["phone"]["pattern"].startswith("^")
    assert props["appellant"]["properties"]["anonymous"]["type"] == "boolean"
    assert schema["additionalProperties"] is False  # unknown fields are refused, and the document says so
    assert set(body_schema(spec, "/api/v1/appeals", "post", 201)["properties"]) >= {"id", "case_no", "status"}

    get = spec["paths"]["/api/v1/appeals/{appeal_id}"]["get"]
    assert get["parameters"] == [{"in": "path", "name": "appeal_id", "required": True,
                                  "schema": {"type": "integer", "format": "int64", "minimum": 0}}]
    assert "roles: " in get["description"] and "department_handler" in get["description"]


def test_query_parameters_come_from_the_marshmallow_schemas(service_config, start_service):
    cfg = service_config("scoring")
    start_service(ScoringService, cfg)
    spec = fetch_spec(cfg["base_url"])
    op = spec["paths"]["/api/v1/facts"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"department", "period", "limit"}
    assert all(p["in"] == "query" and p["required"] is False for p in params.values())
    assert params["limit"]["schema"] == {"type": "integer", "default": 500, "minimum": 1, "maximum": 5000}
    assert body_schema(spec, "/api/v1/facts", "get", 200)["type"] == "array"
    assert "400" in op["responses"]


def test_the_document_tells_the_truth_about_the_bodies_sent(service_config, start_service, api_keys):
    cfg = service_config("appeals")
    start_service(AppealsService, cfg)
    spec = fetch_spec(cfg["base_url"])
    url = f"{cfg['base_url']}/api/v1/appeals"
    operator = {"Authorization": f"Bearer {api_keys['operator']}"}
    appeal = {"channel": "web", "type": "suggestion", "category": "environment", "content": "多种树",
              "appellant": {"phone": "abc"}}

    r = requests.post(url, json=appeal, headers=operator, timeout=10)
    assert r.status_code == 400
    assert_matches(spec, "/api/v1/appeals", "post", r)  # a nested object's messages nest
    for status, kwargs in ((401, {}), (403, {"headers": {"Authorization": f"Bearer {api_keys['assessor']}"}}),
                           (415, {"headers": {**operator, "Content-Type": "text/plain"}, "data": "x"})):
        r = requests.post(url, json=appeal if "data" not in kwargs else None, timeout=10, **kwargs)
        assert r.status_code == status, r.text
        assert_matches(spec, "/api/v1/appeals", "post", r)

    appeal["appellant"] = {"phone": "13800000000"}
    r = requests.post(url, json=appeal, headers=operator, timeout=10)
    assert r.status_code == 201, r.text
    assert_matches(spec, "/api/v1/appeals", "post", r)
    r = requests.get(f"{url}/{r.json()['id']}", headers=operator, timeout=10)
    assert_matches(spec, "/api/v1/appeals/{appeal_id}", "get", r)
    r = requests.get(f"{url}/999999", headers=operator, timeout=10)
    assert r.status_code == 404
    assert_matches(spec, "/api/v1/appeals/{appeal_id}", "get", r)
