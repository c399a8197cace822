"""The Open311 GeoReport v2 facade on a running appeals service (real broker, PostgreSQL): every JSON answer
validates against the community schemas in shared/open311/georeport-v2, every XML answer carries the same
data, POST files a `web` appeal through the one intake, refused requests change nothing and get the spec's
error lists, and no answer ever carries the appellant's name or phone."""

import json
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
        "address_string": "人民路 1 号", "media_url": "https://img.example.cn/road/1.jpg"}


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

    def post(self, form: dict, *, fmt="json", key="operator", **kwargs) -> requests.Response:
        data = dict(form)
        if key is not None:
            data["api_key"] = self.keys.get(key, key)
        r = self.http.post(f"{self.base}{V2}/requests.{fmt}", data=data, timeout=10, **kwargs)
        assert r.status_code < 500, r.text
        return r

    def both(self, path: str, schema: str, **params):
        """GET `path` as .json and .xml: the JSON valid against `schema`, the XML the same data."""
        rj = self.get(f"{path}.json", **params)
        assert rj.status_code == 200, rj.text
        assert rj.headers["Content-Type"].startswith("application/json") and rj.headers["X-Request-Id"]
        validate(schema, rj.json())
        rx = self.get(f"{path}.xml", **params)
        assert rx.status_code == 200, rx.text
        assert rx.headers["Content-Type"].startswith("text/xml") and "utf-8" in rx.headers["Content-Type"].lower()
        assert from_xml(rx.content) == as_text(rj.json())
        for text in (rj.text, rx.content.decode("utf-8")):
            assert not any(p in text for p in PERSONAL), text
        return rj.json()

    def api(self, method: str, path: str, key="operator", **kwargs) -> requests.Response:
        return self.http.request(method, f"{self.base}{path}", timeout=10,
                                 headers={"Authorization": f"Bearer {self.keys[key]}"}, **kwargs)

    def appeal(self, case_no: str) -> dict:
        """The appeal behind a case number, as the JSON API shows it to an operator."""
        with self.engine.connect() as conn:
            appeal_id = conn.execute(sa.select(store.appeals.c.id).where(store.appeals.c.case_no == case_no)
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
    assert sorted(s["service_code"] for s in services) == sorted({r["category"] for r in rules})
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
        assert set(attributes) == {"type", "urgency"}
        assert {v["key"] for v in attributes["type"]["values"]} == {"complaint", "suggestion", "report",
                                                                    "consultation", "help"}
        assert {v["key"] for v in attributes["urgency"]["values"]} == {"normal", "emergency"}
        assert not any(a["required"] for a in attributes.values())

    for fmt in ("json", "xml"):
        assert_errors(geo.get(f"services/nothing.{fmt}"), 404, "nothing")


def test_a_posted_form_files_a_web_appeal_through_the_intake(geo):
    form = {**ROAD, "first_name": "三丰", "last_name": "张", "phone": PHONE, "email": EMAIL,
            "attribute[type]": "complaint", "attribute[urgency]": "emergency", "jurisdiction_id": "city"}
    filed = file(geo, form)
    number, token = filed["service_request_id"], filed["token"]
    assert number.startswith("MY") and token and number in filed["service_notice"]
    assert not any(p in json.dumps(filed, ensure_ascii=False) for p in PERSONAL)

    appeal = geo.appeal(number)  # the same appeal on the JSON API, with everything the intake does
    assert appeal["channel"] == "web" and appeal["type"] == "complaint" and appeal["urgency"] == "emergency"
    assert appeal["category"] == "road" and appeal["content"] == ROAD["description"]
    assert appeal["appellant"] == {"name": NAME, "phone": PHONE, "anonymous": False}
    assert appeal["location"] == {"address": "人民路 1 号", "town_street": None, "latitude": 30.2741,
                                  "longitude": 120.1551}
    assert appeal["attachments"] == [ROAD["media_url"]]
    assert appeal["status"] == "dispatched" and appeal["department"] == "ZJJ" and appeal["due_at"]
    assert appeal["history"][0]["action"] == "intake" and appeal["history"][0]["actor"] == "test-operator"
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


def test_post_answers_in_xml_and_takes_the_key_of_every_submitting_role(geo):
    for key in ("operator", "window_system", "admin"):
        r = geo.post({**ROAD, "phone": PHONE}, fmt="xml", key=key)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml"), r.text
        [filed] = from_xml(r.content)
        validate("post-response", [filed])
        assert geo.appeal(filed["service_request_id"])["channel"] == "web"
        assert PHONE not in r.text
    # the key may come in the query string as well (the spec's swagger puts it there)
    r = geo.http.post(f"{geo.base}{V2}/requests.json", params={"api_key": geo.keys["operator"]}, data=ROAD,
                      timeout=10)
    assert r.status_code == 200, r.text
    # multipart forms (a photo upload is not kept: media_url only) and chunked bodies
    r = geo.http.post(f"{geo.base}{V2}/requests.json", data={**ROAD, "api_key": geo.keys["operator"]},
                      files={"media": ("p.jpg", b"\xff\xd8 not kept", "image/jpeg")}, timeout=10)
    assert r.status_code == 200 and r.request.headers["Content-Type"].startswith("multipart/form-data"), r.text
    validate("post-response", r.json())
    encoded = urlencode({**ROAD, "api_key": geo.keys["operator"]}).encode()
    r = geo.http.post(f"{geo.base}{V2}/requests.json", data=iter([encoded[:10], encoded[10:]]), timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.request.headers["Transfer-Encoding"] == "chunked", r.text
    assert geo.appeal(r.json()[0]["service_request_id"])["content"] == ROAD["description"]


def test_a_missing_invalid_or_unfit_api_key_is_403_and_files_nothing(geo):
    with geo.unchanged():
        for fmt in ("json", "xml"):
            assert_errors(geo.post(ROAD, fmt=fmt, key=None), 403, "api_key")
            assert_errors(geo.post(ROAD, fmt=fmt, key=""), 403, "api_key")
            assert_errors(geo.post(ROAD, fmt=fmt, key="nonsense"), 403, "invalid")
            assert_errors(geo.post(ROAD, fmt=fmt, key="xn_0badc0de_" + "A" * 43), 403, "invalid")
            for role in ("monitor", "assessor", "handler_d1"):
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


def test_a_form_over_the_body_limit_is_413_and_files_nothing(service_config, start_service, api_keys):
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


def test_unknown_requests_tokens_and_paths_answer_in_the_spec_format(geo):
    for fmt in ("json", "xml"):
        assert_errors(geo.get(f"requests/MY20260101999999.{fmt}"), 404, "MY20260101999999")
        assert_errors(geo.get(f"tokens/no-such-token.{fmt}"), 404, "no-such-token")
        assert_errors(geo.get(f"nothing.{fmt}"), 404)
    assert_errors(geo.get("services.csv"), 404, "formats")
    assert_errors(geo.get("requests/MY1/.json"), 404)
    r = geo.http.put(f"{geo.base}{V2}/requests.xml", data={"x": "y"}, timeout=10)
    assert_errors(r, 405)
    assert {"GET", "POST"} <= {m.strip() for m in r.headers["Allow"].split(",")}
    # the JSON API keeps its own error format
    r = geo.http.get(f"{geo.base}/api/v1/nothing", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_get_requests_filters_and_defaults(geo):
    now = clock.now()
    road = file(geo, {**ROAD, "phone": PHONE})["service_request_id"]
    water = file(geo, {"service_code": "water", "description": "停水三天", "address_string": "解放路 8 号"}
                 )["service_request_id"]
    repeat = file(geo, {**ROAD, "phone": PHONE, "description": "路灯还是不亮"})["service_request_id"]
    old_at = now - timedelta(days=100)
    r = geo.api("POST", "/api/v1/appeals", json={
        "channel": "hotline", "type": "help", "category": "housing", "content": "物业不作为",
        "received_at": old_at.isoformat(), "appellant": {"name": NAME, "phone": "13700000000"}})
    assert r.status_code == 201, r.text
    old = r.json()["case_no"]
    r = geo.api("POST", "/api/v1/appeals", json={
        "channel": "hotline", "type": "efficiency_complaint", "subject_department": "ZJJ", "category": "efficiency",
        "content": "某科长吃拿卡要", "appellant": {"name": NAME, "phone": "13600000000"}})
    assert r.status_code == 201, r.text
    private = r.json()["case_no"]

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
    assert ids(service_request_id=f"{road},{old},{private},MY0") == [road, old]  # overrides the date window
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
        assert_errors(geo.get(f"requests/{private}.{fmt}"), 404, private)
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
                                                 "content": content})
    assert r.status_code == 201, r.text
    number = r.json()["case_no"]
    rx = geo.get(f"requests/{number}.xml")
    assert rx.status_code == 200
    [request] = from_xml(rx.content)
    assert request["description"] == "井盖\ufffd缺失 <b>&amp; \ufffd"
    [as_json] = geo.get(f"requests/{number}.json").json()
    assert as_json["description"] == content


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
