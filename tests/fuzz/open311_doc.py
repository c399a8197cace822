"""An OpenAPI 3 document of appeals' Open311 GeoReport v2 routes, for the fuzzer only.

The service does not publish one: its Open311 answers are the spec's (forms in, error lists out, JSON or XML),
which the JSON API's document does not describe. The shapes follow the GeoReport v2 wiki and the community
schemas in shared/open311/georeport-v2; `{format}` is the `.json` / `.xml` suffix of every route."""

_ERRORS = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["code", "description"], "additionalProperties": False,
    "properties": {"code": {"type": "integer"}, "description": {"type": "string", "minLength": 1}}}}
_TEXT = {"type": "string", "nullable": True}
_MOMENT = {"type": "string", "format": "date-time", "nullable": True}
_SERVICE = {"type": "object", "required": ["service_code", "service_name", "metadata", "type"], "properties": {
    "service_code": {"type": "string"}, "service_name": _TEXT, "description": _TEXT, "metadata": {"type": "boolean"},
    "type": {"enum": ["realtime", "batch", "blackbox"]}, "keywords": _TEXT, "group": _TEXT},
    "additionalProperties": False}
_REQUEST = {"type": "object", "required": ["service_request_id", "status", "service_code", "requested_datetime"],
            "additionalProperties": False, "properties": {
                "service_request_id": {"type": "string"}, "status": {"enum": ["open", "closed"]},
                "status_notes": _TEXT, "service_name": _TEXT, "service_code": {"type": "string"},
                "description": {**_TEXT, "maxLength": 4000}, "agency_responsible": _TEXT, "service_notice": _TEXT,
                "requested_datetime": {"type": "string", "format": "date-time"}, "updated_datetime": _MOMENT,
                "expected_datetime": _MOMENT, "address": _TEXT, "address_id": _TEXT, "zipcode": _TEXT,
                "lat": {"type": "number", "nullable": True}, "long": {"type": "number", "nullable": True},
                "media_url": _TEXT}}
_FILED = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["service_request_id"], "properties": {
        "service_request_id": {"type": "string"}, "token": {"type": "string"}, "service_notice": _TEXT,
        "account_id": _TEXT}}}
_TOKEN = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["service_request_id", "token"],
    "properties": {"service_request_id": {"type": "string"}, "token": {"type": "string"}}}}
_DISCOVERY = {"type": "object", "required": ["changeset", "contact", "key_service", "endpoints"], "properties": {
    "changeset": {"type": "string", "format": "date-time"}, "contact": {"type": "string"},
    "key_service": {"type": "string"}, "endpoints": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["specification", "url", "changeset", "type", "formats"]}}}}
_DEFINITION = {"type": "object", "required": ["service_code", "attributes"], "properties": {
    "service_code": {"type": "string"}, "attributes": {"type": "array", "items": {
        "type": "object", "required": ["variable", "code", "datatype", "required", "order", "description"]}}}}

FORMAT = {"in": "path", "name": "format", "required": True, "schema": {"type": "string", "enum": ["json", "xml"]}}


def _answer(description: str, schema: dict) -> dict:
    # XML carries the same data; only its media type is checked
    return {"description": description, "content": {"application/json": {"schema": schema},
                                                     "text/xml": {"schema": {"type": "string"}}}}


def _refused(*statuses: int) -> dict:
    """The error lists an operation answers with: always 404 (a format other than .json and .xml is no route)."""
    return {str(s): _answer("refused, with the spec's error list", _ERRORS) for s in sorted({404, *statuses})}


def _path(name: str, description: str) -> dict:
    return {"in": "path", "name": name, "required": True, "description": description, "schema": {"type": "string"}}


def _query(name: str, description: str) -> dict:
    return {"in": "query", "name": name, "required": False, "description": description, "schema": {"type": "string"}}


FORM_FIELDS = ["api_key", "service_code", "description", "lat", "long", "address_string", "address_id", "email",
               "device_id", "account_id", "first_name", "last_name", "phone", "media_url", "jurisdiction_id",
               "attribute[type]", "attribute[urgency]"]
_FORM = {"type": "object", "required": ["api_key", "service_code", "description", "address_string"], "properties": {
    **{name: {"type": "string"} for name in FORM_FIELDS},
    "description": {"type": "string", "minLength": 1, "maxLength": 4000},
    "address_string": {"type": "string", "maxLength": 200},  # may be empty where lat and long are given
    "service_code": {"type": "string", "enum": ["road", "water", "heating", "sanitation", "nothing"]},
    "lat": {"type": "string", "pattern": r"^-?\d{1,3}(\.\d{1,8})?$"},
    "long": {"type": "string", "pattern": r"^-?\d{1,3}(\.\d{1,8})?$"},
    "attribute[type]": {"type": "string", "enum": ["report", "complaint", "suggestion", "consultation", "help"]},
    "attribute[urgency]": {"type": "string", "enum": ["normal", "emergency"]}}}

DOC = {
    "openapi": "3.0.3",
    "info": {"title": "xiaoneng appeals: Open311 GeoReport v2", "version": "2"},
    "paths": {
        "/open311/v2/discovery.{format}": {"get": {
            "operationId": "discovery", "parameters": [FORMAT],
            "responses": {"200": _answer("the endpoints", _DISCOVERY), **_refused()}}},
        "/open311/v2/services.{format}": {"get": {
            "operationId": "services", "parameters": [FORMAT],
            "responses": {"200": _answer("the service list", {"type": "array", "items": _SERVICE}), **_refused()}}},
        "/open311/v2/services/{service_code}.{format}": {"get": {
            "operationId": "service_definition", "parameters": [_path("service_code", "a catalogue category"), FORMAT],
            "responses": {"200": _answer("the attributes", _DEFINITION), **_refused(400, 404)}}},
        "/open311/v2/requests.{format}": {
            "get": {"operationId": "requests", "parameters": [
                FORMAT, _query("service_request_id", "comma-separated"), _query("service_code", "comma-separated"),
                {**_query("start_date", "W3C date-time"), "schema": {"type": "string", "format": "date-time"}},
                {**_query("end_date", "W3C date-time"), "schema": {"type": "string", "format": "date-time"}},
                {**_query("status", "open, closed or both"), "schema": {"type": "string", "enum": [
                    "open", "closed", "open,closed"]}}],
                "responses": {"200": _answer("public requests", {"type": "array", "items": _REQUEST}),
                              **_refused(400, 429)}},
            "post": {"operationId": "create_request", "parameters": [FORMAT],
                     "requestBody": {"required": True, "content": {
                         "application/x-www-form-urlencoded": {"schema": _FORM}}},
                     "responses": {"200": _answer("filed", _FILED), "201": _answer("filed", _FILED),
                                   **_refused(400, 403, 404, 413, 415, 429)}}},
        "/open311/v2/requests/{service_request_id}.{format}": {"get": {
            "operationId": "request", "parameters": [_path("service_request_id", "a case number"), FORMAT],
            "responses": {"200": _answer("one request", {"type": "array", "items": _REQUEST}),
                          **_refused(400, 404, 429)}}},
        "/open311/v2/tokens/{token}.{format}": {"get": {
            "operationId": "token", "parameters": [_path("token", "from a POST's answer"), FORMAT],
            "responses": {"200": _answer("the request a token stands for", _TOKEN), **_refused(400, 404, 429)}}},
    },
}
