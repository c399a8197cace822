"""The Open311 GeoReport v2 facade on a running appeals service (real broker, PostgreSQL): every JSON answer
validates against the community schemas in shared/open311/georeport-v2, every XML answer carries the same
data, POST files a `web` appeal through the one intake with an open311_client key in the form body, refused
requests change nothing and get the spec's error lists, only public cases show, by an opaque id, and no answer
ever carries the appellant's name or phone (tests/e2e/test_privacy.py tries every channel)."""

import json
import re
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy as sa
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from services.appeals import store
from services.appeals.dependencies import load_catalogue
from services.appeals.open311 import Open311Endpoints
from services.appeals.service import AppealsService
from services.kernel import clock
from services.kernel.keys import KeyStore

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT.parent / "shared" / "open311" / "georeport-v2"
V2 = "/open311/v2"
NAME, PHONE, EMAIL = "张三丰", "13912345678", "zhang.sanfeng@example.com"
PERSONAL = (NAME, PHONE, EMAIL, "139****5678", "张**")
ROAD = {"service_code": "road", "description": "人民路口路灯不亮", "lat": "30.2741", "long": "120.1551",
        "address_string": "人民路 1 号", "media_url": "https://img.example.cn/road/1.jpg", "attribute[public]": "true"}


class AppealsWithOpen311(AppealsService, Open311Endpoints):
    name = "appeals"


# -- the community schemas --------------------------------------------------------------------------------

def _registry() -> Registry:
    return Registry().with_resources(
        (path.name, Resource.from_contents(json.loads(path.read_text(encoding="utf-8")),
                                           default_specification=DRAFT7))
        for path in SCHEMAS.glob("*.json") if path.name != "swagger.json")


SWAGGER = json.loads((SCHEMAS / "swagger.json").read_text(encoding="utf-8"))
# The folder has no schema files of these answers: the spec's own definitions (swagger.json), and for
# discovery and errors the shapes of the GeoReport v2 wiki.
EXTRA = {
    "post-response": {"type": "array", "minItems": 1, "items": {
        **SWAGGER["definitions"]["RequestResponse"], "type": "object", "required": ["service_request_id"]}},
    "token-response": {"type": "array", "minItems": 1, "items": {
        **SWAGGER["definitions"]["TokenResponse"], "type": "object", "required": ["service_request_id", "token"]}},
    "discovery": {"type": "object", "required": ["changeset", "contact", "key_service", "endpoints"], "properties": {
        "changeset": {"type": "string", "format": "date-time"}, "contact": {"type": "string"},
        "key_service": {"type": "string"},
        "endpoints": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["specification", "url", "changeset", "type", "formats"], "properties": {
                "specification": {"type": "string"}, "url": {"type": "string"}, "changeset": {"type": "string"},
                "type": {"enum": ["production", "test"]},
                "formats": {"type": "array", "items": {"enum": ["application/json", "text/xml"]}}}}}}},
    "errors": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["code", "description"], "additionalProperties": False,
        "properties": {"code": {"type": "integer"}, "description": {"type": "string", "minLength": 1}}}},
}


def validate(name: str, data) -> None:
    """`data` is valid against the schema file `name` of the shared folder (or one of EXTRA)."""
    registry = _registry()
    schema = EXTRA[name] if name in EXTRA else registry.contents(name)
    Draft7Validator(schema, registry=registry, format_checker=FormatChecker()).validate(data)
    if name in ("request.json", "requests.json", "service.json", "services.json"):
        items = data if isinstance(data, list) else [data]
        allowed = set(registry.contents(name.replace("s.json", ".json"))["properties"])
        for item in items:  # nothing invented beside the spec's fields
            assert isinstance(item, dict) and set(item) <= allowed, set(item) - allowed


# -- XML → the same shape as the JSON ---------------------------------------------------------------------

LISTS = {"services", "service_requests", "attributes", "values", "endpoints", "formats", "errors"}


def from_xml(text: bytes):
    root = ET.fromstring(text)
    return _value(root)


def _value(element):
    if element.tag in LISTS:
        return [_value(child) for child in element]
    if len(element):
        return {child.tag: _value(child) for child in element}
    return element.text


def as_text(value):
    """JSON as the XML carries it: every scalar a string, null an empty element."""
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


# -- a client -----------------------------------------------------------------------------------------------

class GeoReport:
    def __init__(self, cfg: dict, keys: dict):
        self.base = cfg["base_url"]
        self.keys = keys
        self.http = requests.Session()
        self.engine = sa.create_engine(cfg["DATABASE_URL"])

    def get(self, path: str, **params) -> requests.Response:
        r = self.http.get(f"{self.base}{V2}/{path}", params=params, timeout=10)
        assert r.status_code < 500, r.text
        return r

    def post(self, form: dict, *, fmt="json", key="open311", **kwargs) -> requests.Response:
        data = dict(form)
        if key is not None:
            data["api_key"] = self.keys.get(key, key)
        r = self.http.post(f"{self.base}{V2}/requests.{fmt}", data=data, timeout=10, **kwargs)
        assert r.status_code < 500, r.text
        return r

    def both(self, path: str, schema: str, **params):
        """GET `path` as .json and .xml: the JSON valid against `schema`, the XML the same data. The deadline
        monitor may move a case between the two reads (a back-dated case's alarms): the pair is read again until
        the JSON is the same after the XML as before it."""
        for _ in range(5):
            rj = self.get(f"{path}.json", **params)
            assert rj.status_code == 200, rj.text
            assert rj.headers["Content-Type"].startswith("application/json") and rj.headers["X-Request-Id"]
            validate(schema, rj.json())
            rx = self.get(f"{path}.xml", **params)
            assert rx.status_code == 200, rx.text
            assert rx.headers["Content-Type"].startswith("text/xml") and "utf-8" in rx.headers["Content-Type"].lower()
            if self.get(f"{path}.json", **params).json() == rj.json():
                break
        assert from_xml(rx.content) == as_text(rj.json())
        for text in (rj.text, rx.content.decode("utf-8")):
            assert not any(p in text for p in PERSONAL), text
        return rj.json()

    def api(self, method: str, path: str, key="operator", **kwargs) -> requests.Response:
        return self.http.request(method, f"{self.base}{path}", timeout=10,
                                 headers={"Authorization": f"Bearer {self.keys[key]}"}, **kwargs)

    def appeal(self, number: str) -> dict:
        """The appeal behind a case number or a public id, as the JSON API shows it to an operator."""
        a = store.appeals
        with self.engine.connect() as conn:
            appeal_id = conn.execute(sa.select(a.c.id).where(sa.or_(a.c.case_no == number, a.c.public_id == number))
                                     ).scalar_one()
        r = self.api("GET", f"/api/v1/appeals/{appeal_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def counts(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                         for t in (store.appeals, store.metadata.tables["outbox"]))

    @contextmanager
    def unchanged(self):
        before = self.counts()
        yield
        assert self.counts() == before, "a refused request changed the database"


def assert_errors(r: requests.Response, status: int, *mentions: str) -> list[dict]:
    """A refusal in the spec's format (JSON or XML), each of `mentions` named in some description."""
    assert r.status_code == status, r.text
    if r.headers["Content-Type"].startswith("text/xml"):
        errors = from_xml(r.content)
        errors = [{"code": int(e["code"]), "description": e["description"]} for e in errors]
    else:
        errors = r.json()
    validate("errors", errors)
    assert all(e["code"] == status for e in errors), errors
    text = " ".join(e["description"] for e in errors)
    for mention in mentions:
        assert mention in text, (mention, errors)
    return errors


@pytest.fixture
def geo(start_on_postgres, api_keys, keys_file):
    store_ = KeyStore(keys_file)
    api_keys["open311"] = store_.add("test-web-portal", "open311_client")
    api_keys["handler_zjj"] = store_.add("test-handler-zjj", "department_handler", "ZJJ")
    api_keys["handler_swj"] = store_.add("test-handler-swj", "department_handler", "SWJ")
    cfg = start_on_postgres(AppealsWithOpen311)
    client = GeoReport(cfg, api_keys)
    yield client
    client.engine.dispose()


def file(geo: GeoReport, form: dict, **kwargs) -> dict:
    r = geo.post(form, **kwargs)
    assert r.status_code == 200, r.text
    validate("post-response", r.json())
    return r.json()[0]


# -- tests --------------------------------------------------------------------------------------------------

def test_discovery(geo):
    d = geo.both("discovery", "discovery")
    endpoint = d["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == geo.base + V2 and endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}


def test_services_are_the_catalogue_categories_with_their_definitions(geo):
    rules = load_catalogue(str(ROOT / "services" / "appeals" / "catalogue.demo.yaml"))
    services = geo.both("services", "services.json")
    # every category but the discipline office's (efficiency): its cases are never public
    assert sorted(s["service_code"] for s in services) == sorted({r["category"] for r in rules} - {"efficiency"})
    by_code = {s["service_code"]: s for s in services}
    assert by_code["road"] == {"service_code": "road", "service_name": "道路设施",
                               "description": "道路破损、路灯、井盖", "metadata": True, "type": "realtime",
                               "keywords": "道路设施,道路破损,路灯,井盖", "group": "ZJJ"}
    assert by_code["sanitation"]["group"] == "CGJ"  # the general rule, not a town-street's
    assert by_code["heating"]["description"] is None

    for code in by_code:
        definition = geo.both(f"services/{code}", "service-definition.json")
        assert definition["service_code"] == code
        attributes = {a["code"]: a for a in definition["attributes"]}
        assert set(attributes) == {"type", "urgency", "public", "public_address"}
        assert {v["key"] for v in attributes["public"]["values"]} == {"true", "false"}
        assert {v["key"] for v in attributes["type"]["values"]} == {"complaint", "suggestion", "report",
                                                                    "consultation", "help"}
        assert {v["key"] for v in attributes["urgency"]["values"]} == {"normal", "emergency"}
        assert not any(a["required"] for a in attributes.values())

    for fmt in ("json", "xml"):
        assert_errors(geo.get(f"services/nothing.{fmt}"), 404, "nothing")
        assert_errors(geo.get(f"services/efficiency.{fmt}"), 404, "efficiency")


def test_a_posted_form_files_a_web_appeal_through_the_intake(geo):
    form = {**ROAD, "first_name": "三丰", "last_name": "张", "phone": PHONE, "email": EMAIL,
            "attribute[type]": "complaint", "attribute[urgency]": "emergency", "jurisdiction_id": "city",
            "attribute[public_address]": "true"}
    filed = file(geo, form)
    number, token = filed["service_request_id"], filed["token"]
    assert token and not number.startswith("MY")  # an opaque id, not the case number
    assert not any(p in json.dumps(filed, ensure_ascii=False) for p in PERSONAL)

    appeal = geo.appeal(number)  # the same appeal on the JSON API, with everything the intake does
    assert appeal["case_no"] in filed["service_notice"]  # the case number (for the hotline) goes to the filer
    assert appeal["public"] is True and appeal["public_address"] is True and appeal["public_id"] == number
    assert appeal["channel"] == "web" and appeal["type"] == "complaint" and appeal["urgency"] == "emergency"
    assert appeal["category"] == "road" and appeal["content"] == ROAD["description"]
    assert appeal["appellant"] == {"name": NAME, "phone": PHONE, "anonymous": False}
    assert appeal["location"] == {"address": "人民路 1 号", "town_street": None, "latitude": 30.2741,
                                  "longitude": 120.1551}
    assert appeal["attachments"] == [ROAD["media_url"]]
    assert appeal["status"] == "dispatched" and appeal["department"] == "ZJJ" and appeal["due_at"]
    assert appeal["history"][0]["action"] == "intake" and appeal["history"][0]["actor"] == "test-web-portal"
    assert EMAIL not in json.dumps(appeal, ensure_ascii=False)  # not even stored

    assert geo.both(f"tokens/{token}", "token-response") == [{"service_request_id": number, "token": token}]
    [request] = geo.both(f"requests/{number}", "requests.json")
    validate("request.json", request)
    assert request == {
        "service_request_id": number, "status": "open", "status_notes": "已派单", "service_name": "道路设施",
        "service_code": "road", "description": ROAD["description"], "agency_responsible": "ZJJ",
        "service_notice": request["service_notice"], "requested_datetime": request["requested_datetime"],
        "updated_datetime": request["updated_datetime"], "expected_datetime": request["expected_datetime"],
        "address": "人民路 1 号", "lat": 30.2741, "long": 120.1551, "media_url": ROAD["media_url"]}
    assert request["requested_datetime"].startswith(appeal["received_at"][:19])
    assert request["expected_datetime"].startswith(appeal["due_at"][:19]) and "ZJJ" in request["service_notice"]
    geo.both("requests", "requests.json")  # the list, in both formats, without personal data


def test_post_answers_in_xml_and_takes_the_key_in_the_form_body(geo):
    r = geo.post({**ROAD, "phone": PHONE}, fmt="xml")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml"), r.text
    [filed] = from_xml(r.content)
    validate("post-response", [filed])
    assert geo.appeal(filed["service_request_id"])["channel"] == "web"
    assert PHONE not in r.text
    # multipart forms (a photo upload is not kept: media_url only) and chunked bodies
    r = geo.http.post(f"{geo.base}{V2}/requests.json", data={**ROAD, "api_key": geo.keys["open311"]},
                      files={"media": ("p.jpg", b"\xff\xd8 not kept", "image/jpeg")}, timeout=10)
    assert r.status_code == 200 and r.request.headers["Content-Type"].startswith("multipart/form-data"), r.text
    validate("post-response", r.json())
    encoded = urlencode({**ROAD, "api_key": geo.keys["open311"]}).encode()
    r = geo.http.post(f"{geo.base}{V2}/requests.json", data=iter([encoded[:10], encoded[10:]]), timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.request.headers["Transfer-Encoding"] == "chunked", r.text
    assert geo.appeal(r.json()[0]["service_request_id"])["content"] == ROAD["description"]


def test_a_key_in_the_query_string_is_refused_and_not_used(geo):
    """URLs are written to access logs: a key there is refused with a clear message, on every route, even
    when a valid key is in the form as well, and nothing is filed."""
    with geo.unchanged():
        for fmt in ("json", "xml"):
            for form in (ROAD, {**ROAD, "api_key": geo.keys["open311"]}):
                r = geo.http.post(f"{geo.base}{V2}/requests.{fmt}", params={"api_key": geo.keys["open311"]},
                                  data=form, timeout=10)
                assert_errors(r, 400, "api_key", "form body")
            assert_errors(geo.get(f"requests.{fmt}", api_key=geo.keys["open311"]), 400, "api_key")
            assert_errors(geo.get(f"services.{fmt}", api_key="anything"), 400, "api_key")


def test_an_open311_client_key_opens_nothing_else(geo):
    """It sits in an app or a web server: it files requests and nothing more, not even the JSON API's
    endpoints that any valid key may read."""
    for method, path in [("GET", "/api/v1/catalogue"), ("GET", "/api/v1/appeals"), ("GET", "/api/v1/appeals/1"),
                         ("POST", "/api/v1/appeals"), ("GET", "/api/v1/reports/hot-issues")]:
        r = geo.api(method, path, key="open311", json={})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (path, r.text)
        assert "open311_client" in r.json()["error"]["message"]
    assert geo.api("GET", "/api/v1/catalogue", key="monitor").status_code == 200  # any other valid key may


def test_a_missing_invalid_or_unfit_api_key_is_403_and_files_nothing(geo):
    with geo.unchanged():
        for fmt in ("json", "xml"):
            assert_errors(geo.post(ROAD, fmt=fmt, key=None), 403, "api_key")
            assert_errors(geo.post(ROAD, fmt=fmt, key=""), 403, "api_key")
            assert_errors(geo.post(ROAD, fmt=fmt, key="nonsense"), 403, "invalid")
            assert_errors(geo.post(ROAD, fmt=fmt, key="xn_0badc0de_" + "A" * 43), 403, "invalid")
            # an operator's key, say, reads every case in full: it does not belong in a client
            for role in ("operator", "window_system", "admin", "monitor", "assessor", "handler_d1"):
                assert_errors(geo.post(ROAD, fmt=fmt, key=role), 403, "may not")


def test_invalid_forms_are_400_with_the_spec_errors_and_file_nothing(geo):
    with geo.unchanged():
        assert_errors(geo.post({}), 400, "service_code", "description", "location")
        assert_errors(geo.post({}, fmt="xml"), 400, "service_code", "description", "location")
        cases = [
            ({"lat": "north"}, "lat"), ({"long": "nan"}, "long"), ({"lat": "91"}, "lat"),
            ({"media_url": "ftp://x/y.jpg"}, "media_url"), ({"phone": "call me"}, "phone"),
            ({"attribute[type]": "praise"}, "attribute[type]"),
            ({"attribute[type]": "efficiency_complaint"}, "attribute[type]"),
            ({"attribute[urgency]": "now"}, "attribute[urgency]"), ({"description": "长" * 4001}, "description"),
            ({"service_code": "no such code"}, "service_code"), ({"first_name": "x" * 101}, "first_name"),
            ({"description": "a\x00b"}, "description"),
        ]
        for change, field in cases:
            assert_errors(geo.post({**ROAD, **change}), 400, field)
        only_lat = {k: v for k, v in ROAD.items() if k not in ("long", "address_string")}
        assert_errors(geo.post(only_lat), 400, "location")
        key = geo.keys["operator"]
        url = f"{geo.base}{V2}/requests.json"
        r = geo.http.post(url, json={**ROAD, "api_key": key}, timeout=10)
        assert_errors(r, 400, "form-encoded")
        r = geo.http.post(url, data=b"api_key=" + key.encode() + b"&description=%FF%FE&service_code=road",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
        assert_errors(r, 400, "form")


def test_a_form_over_the_body_limit_is_413_and_files_nothing(service_config, start_service, api_keys, keys_file):
    api_keys["open311"] = KeyStore(keys_file).add("test-web-portal", "open311_client")
    cfg = service_config("appeals", MAX_BODY_BYTES=4096)
    start_service(AppealsWithOpen311, cfg)
    geo = GeoReport(cfg, api_keys)
    with geo.unchanged():
        for fmt in ("json", "xml"):
            r = geo.post({**ROAD, "description": "x" * 4096}, fmt=fmt)
            assert int(r.request.headers["Content-Length"]) > 4096
            assert_errors(r, 413, "body")
    assert file(geo, ROAD)["service_request_id"]  # a form under the limit passes
    geo.engine.dispose()


def test_an_unknown_service_code_is_404_and_files_nothing(geo):
    with geo.unchanged():
        for fmt in ("json", "xml"):
            assert_errors(geo.post({**ROAD, "service_code": "potholes"}, fmt=fmt), 404, "potholes")
            # the discipline office's category is not offered: filed on the hotline or the JSON API only
            assert_errors(geo.post({**ROAD, "service_code": "efficiency"}, fmt=fmt), 404, "efficiency")


def test_unknown_requests_tokens_and_paths_answer_in_the_spec_format(geo):
    for fmt in ("json", "xml"):
        assert_errors(geo.get(f"requests/MY20260101999999.{fmt}"), 404, "MY20260101999999")
        assert_errors(geo.get(f"tokens/no-such-token.{fmt}"), 404, "no-such-token")
        assert_errors(geo.get(f"nothing.{fmt}"), 404)
    assert_errors(geo.get("services.csv"), 404, "formats")
    assert_errors(geo.get("requests/MY1/.json"), 404)
    for odd in ("%0A", "a%0Db", "%0A%0A/x"):  # control characters in the path: still the spec's format
        assert_errors(geo.get(f"tokens/{odd}.json"), 404)
    r = geo.http.put(f"{geo.base}{V2}/requests.xml", data={"x": "y"}, timeout=10)
    assert_errors(r, 405)
    assert {"GET", "POST"} <= {m.strip() for m in r.headers["Allow"].split(",")}
    # the JSON API keeps its own error format
    r = geo.http.get(f"{geo.base}/api/v1/nothing", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_get_requests_filters_and_defaults(geo):
    now = clock.now()
    road = file(geo, {**ROAD, "phone": PHONE})["service_request_id"]
    water = file(geo, {"service_code": "water", "description": "停水三天", "address_string": "解放路 8 号",
                       "attribute[public]": "true"})["service_request_id"]
    repeat = file(geo, {**ROAD, "phone": PHONE, "description": "路灯还是不亮"})["service_request_id"]
    old_at = now - timedelta(days=100)
    r = geo.api("POST", "/api/v1/appeals", json={
        "channel": "hotline", "type": "help", "category": "housing", "content": "物业不作为", "public": True,
        "received_at": old_at.isoformat(), "appellant": {"name": NAME, "phone": "13700000000"}})
    assert r.status_code == 201, r.text
    old = r.json()["public_id"]
    # never public, whatever was asked: an efficiency complaint, and anything in the discipline office's category
    private = []
    for kind in ("efficiency_complaint", "report"):
        r = geo.api("POST", "/api/v1/appeals", json={
            "channel": "web", "type": kind, "subject_department": "ZJJ", "category": "efficiency", "public": True,
            "content": "某科长吃拿卡要", "appellant": {"name": NAME, "phone": "13600000000"}})
        assert r.status_code == 201 and r.json()["public"] is False, r.text
        private.append(r.json()["public_id"])
    # not public by default: a call to the hotline, a web filing without consent
    r = geo.api("POST", "/api/v1/appeals", json={"channel": "hotline", "type": "help", "category": "water",
                                                 "content": "停水", "appellant": {"phone": "13500000000"}})
    assert r.status_code == 201 and r.json()["public"] is False, r.text
    private.append(r.json()["public_id"])
    unconsented = file(geo, {**ROAD, "attribute[public]": "false", "description": "井盖缺失"})
    assert "未公开" in unconsented["service_notice"]
    private.append(unconsented["service_request_id"])
    # the token is the filer's: it resolves also while the request is not shown
    assert geo.both(f"tokens/{unconsented['token']}", "token-response")[0]["service_request_id"] == private[-1]

    # the water case runs its course: accepted, replied, called back → closed
    water_id = geo.appeal(water)["id"]
    assert geo.api("POST", f"/api/v1/appeals/{water_id}/accept", key="handler_swj").status_code == 200
    assert geo.api("POST", f"/api/v1/appeals/{water_id}/reply", key="handler_swj",
                   json={"reply": "管网已抢修，今日恢复供水"}).status_code == 200
    assert geo.api("POST", f"/api/v1/appeals/{water_id}/callback",
                   json={"satisfaction": "satisfied", "resolved": True}).status_code == 200

    def ids(**params):
        return [r["service_request_id"] for r in geo.both("requests", "requests.json", **params)]

    assert ids() == [repeat, water, road]  # newest first, last 90 days, never an efficiency complaint
    listed = {r["service_request_id"]: r for r in geo.both("requests", "requests.json")}
    assert listed[road]["status"] == "open" and listed[road]["status_notes"] == "已派单"
    assert listed[repeat]["status"] == "closed" and listed[repeat]["status_notes"] == f"重复件：与 {road} 合并办理"
    assert listed[water]["status"] == "closed" and listed[water]["agency_responsible"] == "SWJ"
    assert listed[water]["status_notes"] == "已办结；答复：管网已抢修，今日恢复供水"
    assert listed[water]["updated_datetime"] and listed[water]["service_name"] == "供水"

    assert ids(status="open") == [road]
    assert ids(status="closed") == [repeat, water]
    assert ids(status="open,closed") == [repeat, water, road]
    assert ids(service_code="water") == [water]
    assert ids(service_code="road", status="closed") == [repeat]
    # overrides the date window; case numbers are not ids here, and cases not public are not found
    assert ids(service_request_id=",".join([road, old, *private, geo.appeal(water)["case_no"], "MY0"])) == [road, old]
    day = old_at.astimezone(clock.TZ).date()
    assert ids(start_date=str(day - timedelta(days=1)), end_date=str(day)) == [old]
    assert ids(start_date=(old_at - timedelta(hours=1)).isoformat()) == [old]  # start + 90 days
    assert ids(end_date=(now - timedelta(days=95)).isoformat()) == [old]  # end − 90 days
    assert ids(start_date=str(now.astimezone(clock.TZ).date())) == [repeat, water, road]
    # an offset whose "+" was not URL-encoded (it arrives as a space)
    plus = f"{(now - timedelta(hours=1)).astimezone(clock.TZ):%Y-%m-%dT%H:%M:%S}+08:00"
    r = geo.http.get(f"{geo.base}{V2}/requests.json?start_date={plus}", timeout=10)
    assert r.status_code == 200 and [x["service_request_id"] for x in r.json()] == [repeat, water, road], r.text

    for fmt in ("json", "xml"):
        for number in [*private, geo.appeal(road)["case_no"]]:
            assert_errors(geo.get(f"requests/{number}.{fmt}"), 404, number)
    for params, mention in [({"status": "pending"}, "status"), ({"start_date": "yesterday"}, "start_date"),
                            ({"end_date": "2026-02-30"}, "end_date"), ({"start_date": "0001-01-01"}, "start_date"),
                            ({"start_date": "2026-01-01", "end_date": "2026-06-01"}, "90 days"),
                            ({"start_date": "2026-03-01", "end_date": "2026-02-01"}, "before"),
                            ({"service_code": "road\x00"}, "service_code"),
                            ({"service_request_id": ",".join(["MY1"] * 1001)}, "service_request_id")]:
        for fmt in ("json", "xml"):
            assert_errors(geo.get(f"requests.{fmt}", **params), 400, mention)


def test_text_xml_cannot_carry_still_gives_well_formed_xml(geo):
    content = "井盖\x01缺失 <b>&amp; \x0b"
    r = geo.api("POST", "/api/v1/appeals", json={"channel": "hotline", "type": "report", "category": "road",
                                                 "content": content, "public": True})
    assert r.status_code == 201, r.text
    number = r.json()["public_id"]
    rx = geo.get(f"requests/{number}.xml")
    assert rx.status_code == 200
    [request] = from_xml(rx.content)
    assert request["description"] == "井盖\ufffd缺失 <b>&amp; \ufffd"
    [as_json] = geo.get(f"requests/{number}.json").json()
    assert as_json["description"] == content


def test_public_text_is_scrubbed_and_the_address_cut_to_the_street(geo):
    exact = "人民路 18 号 3 栋 2 单元 501 室"
    said = (f"我是{NAME}，住{exact}，楼道灯坏了。电话 +86 139-1234-5678，座机 0571-8765 4321，"
            f"身份证 33010619900101123X，邮箱 {EMAIL}")
    filed = file(geo, {**ROAD, "description": said, "address_string": exact, "first_name": "三丰", "last_name": "张",
                       "phone": PHONE, "lat": "30.274149", "long": "120.155071"})
    number = filed["service_request_id"]
    appeal_id = geo.appeal(number)["id"]
    for key in ("handler_zjj",):
        assert geo.api("POST", f"/api/v1/appeals/{appeal_id}/accept", key=key).status_code == 200
        assert geo.api("POST", f"/api/v1/appeals/{appeal_id}/reply", key=key,
                       json={"reply": f"已修复，{NAME}如有问题请拨 13812345678"}).status_code == 200
    [request] = geo.both(f"requests/{number}", "requests.json")
    assert request["description"] == ("我是[姓名]，住人民路，楼道灯坏了。电话 [电话]，座机 [电话]，身份证 [身份证号]，"
                                      "邮箱 [邮箱]")
    assert request["status_notes"] == "已答复；答复：已修复，[姓名]如有问题请拨 [电话]"
    assert (request["address"], request["lat"], request["long"]) == ("人民路", 30.274, 120.155)
    listed = geo.both("requests", "requests.json", service_request_id=number)
    assert listed == [request]
    for text in (json.dumps(listed, ensure_ascii=False), geo.get("requests.xml").text):
        for secret in ("18 号", "501", "1234-5678", "8765", "33010619900101123X", "三丰"):
            assert secret not in text, secret


def test_ids_cannot_be_counted_through(geo):
    filed = [file(geo, {**ROAD, "description": f"路灯不亮 {i}"})["service_request_id"] for i in range(3)]
    numbers = [geo.appeal(n)["case_no"] for n in filed]
    assert numbers == sorted(numbers) and len(set(filed)) == 3
    for public_id in filed:  # 80 random bits each
        assert re.fullmatch(r"[0-9a-f]{20}", public_id)
    for number in numbers:
        assert_errors(geo.get(f"requests/{number}.json"), 404, number)
        assert geo.both("requests", "requests.json", service_request_id=number) == []


def test_no_input_is_a_server_error(geo):
    junk = ["", " ", "\x00", "%", "'; drop table appeals; --", "9" * 400, "🙂", "-1", "1e309", "null", "[]",
            "2026-13-01", "T", "open,", ",,,"]
    with geo.unchanged():
        for value in junk:
            for path in ("requests.json", "requests.xml", "services.json", "discovery.json"):
                for name in ("service_request_id", "service_code", "start_date", "end_date", "status"):
                    assert geo.get(path, **{name: value}).status_code in (200, 400)
            for path in (f"requests/{value}.json", f"tokens/{value}.xml", f"services/{value}.json"):
                assert geo.get(path).status_code in (400, 404)
            assert geo.post(ROAD, key=value).status_code == 403
    for value in junk:  # some of these are fine values
        for name in ("service_code", "lat", "long", "description", "attribute[type]", "media_url", "phone"):
            assert geo.post({**ROAD, name: value}).status_code in (200, 400, 404)


def test_the_openapi_document_is_only_the_json_api(geo):
    spec = geo.http.get(f"{geo.base}/api/openapi.json", timeout=10).json()
    assert not any(path.startswith("/open311") for path in spec["paths"])


def test_cases_from_before_the_public_flag_stay_private(tmp_path):
    """Migration 0004 adds the flag as false for every case already stored (nothing was consented to)."""
    from alembic import command

    from deploy.migrations import service_metadata
    from services.kernel import migrate
    from services.kernel.db import create_db_engine

    engine = create_db_engine(f"sqlite:///{tmp_path}/appeals.db")
    metadata = migrate._with_kernel_tables(service_metadata("appeals"))
    try:
        with engine.connect() as conn, conn.begin():
            command.upgrade(migrate.alembic_config("appeals", conn, metadata), "0003")
            conn.exec_driver_sql(
                "INSERT INTO appeals (case_no, channel, type, urgency, category, content, anonymous, attachments, "
                "status, received_at, created_at, updated_at, extension_used, return_count, reopen_count, "
                "repeat_count, overdue, exposed) VALUES ('MY20260101000001', 'web', 'report', 'normal', 'road', "
                "'路灯不亮', 0, '[]', 'dispatched', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', "
                "'2026-01-01T00:00:00+00:00', 0, 0, 0, 0, 0, 0)")
        with engine.connect() as conn, conn.begin():
            command.upgrade(migrate.alembic_config("appeals", conn, metadata), "head")
        with engine.connect() as conn:
            row = conn.execute(sa.select(store.appeals.c.public, store.appeals.c.public_address,
                                         store.appeals.c.public_id)).one()
            # private as before; since 0009 an open case has an opaque public id (for the exposure board), which
            # shows nothing while the case is not public
            assert (row.public, row.public_address) == (False, False)
            assert len(row.public_id) == 20 and "MY" not in row.public_id
            assert migrate.differences(conn, "appeals", metadata) == []
    finally:
        engine.dispose()
