"""The HTTP conventions of every service, checked on a running appeals service: field messages on 400,
415/413 for bodies, 401/403/404 for keys, roles and departments, 404/405 for routing, all as JSON with a
request id; no client mistake is ever a 5xx, and no refused request changes anything."""

import json
import logging
import random
import string
import uuid
from contextlib import contextmanager

import pytest
import requests
import sqlalchemy as sa

from services.appeals import store
from services.appeals.service import AppealsService
from services.kernel import clock
from services.kernel.contracts.appeals import APPEAL_TYPES, CHANNELS, URGENCIES
from services.kernel.keys import KeyStore
from services.scoring.service import ScoringService
from tests.conftest import wait_for

MAX_BODY = 4096  # small, so that bodies over the limit stay small too
APPEALS = "/api/v1/appeals"
VALID = {"channel": "hotline", "type": "complaint", "category": "road", "content": "路灯不亮"}
HEX_ID = set(string.hexdigits.lower())


class Appeals:
    """A client of one running appeals service, with a look into its database."""

    def __init__(self, cfg: dict, keys: dict):
        self.base = cfg["base_url"]
        self.keys = keys
        self.http = requests.Session()
        self.engine = sa.create_engine(cfg["DATABASE_URL"], connect_args={"timeout": 30})

    def request(self, method, path, *, key="operator", headers=None, **kwargs) -> requests.Response:
        headers = dict(headers or {})
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {self.keys.get(key, key)}")
        return self.http.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def post(self, body=None, **kwargs) -> requests.Response:
        if body is not None:
            kwargs["json"] = body
        return self.request("POST", APPEALS, **kwargs)

    def get(self, appeal_id, **kwargs) -> requests.Response:
        return self.request("GET", f"{APPEALS}/{appeal_id}", **kwargs)

    def counts(self) -> tuple[int, int]:
        """(appeals, appeals named by an event in the outbox): what any accepted appeal adds to, and
        nothing else may."""
        with self.engine.connect() as conn:
            appeals = conn.execute(sa.select(sa.func.count()).select_from(store.appeals)).scalar_one()
            named: set[str] = set()
            for (body,) in conn.execute(sa.select(store.metadata.tables["outbox"].c.body)):
                payload = json.loads(body)["payload"]
                named.update(str(payload[k]) for k in ("appeal_id", "duplicate_id") if payload.get(k))
            return appeals, len(named)

    @contextmanager
    def unchanged(self):
        before = self.counts()
        yield
        assert self.counts() == before, "a refused request changed the database"

    def insert_appeal(self, department: str | None) -> int:
        """An appeal as dispatch will leave it (dispatch itself is not built yet)."""
        now = clock.now()
        with self.engine.begin() as conn:
            return conn.execute(sa.insert(store.appeals).values(
                case_no=f"T{uuid.uuid4().hex[:12]}", channel="hotline", type="complaint", urgency="normal",
                category="road", content="井盖缺失", department=department, status="dispatched",
                received_at=now, created_at=now, updated_at=now,
            )).inserted_primary_key[0]


@pytest.fixture
def appeals(service_config, start_service, api_keys):
    cfg = service_config("appeals", MAX_BODY_BYTES=MAX_BODY)
    start_service(AppealsService, cfg)
    client = Appeals(cfg, api_keys)
    yield client
    client.http.close()
    client.engine.dispose()


def error_body(r: requests.Response, status: int, code: str | None = None) -> dict:
    """The JSON error of `r`, checked for its status, its shape and its request id."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["request_id"] == r.headers["X-Request-Id"]
    if status == 400:
        assert set(body) == {"errors", "request_id"}, body
        assert isinstance(body["errors"], dict) and body["errors"], body
    else:
        assert set(body) == {"error", "request_id"}, body
        assert {"code", "message"} <= set(body["error"]), body
        if code is not None:
            assert body["error"]["code"] == code, body
    return body


# -- validation ---------------------------------------------------------------------------------------


def test_missing_fields_are_400_with_a_message_per_field(appeals):
    with appeals.unchanged():
        r = appeals.post({})
        body = error_body(r, 400)
        assert body == {"errors": {f: ["Missing data for required field."]
                                   for f in ("channel", "type", "category", "content")},
                        "request_id": r.headers["X-Request-Id"]}

        r = appeals.post({"channel": "hotline", "type": "complaint", "category": "road"})
        assert error_body(r, 400)["errors"] == {"content": ["Missing data for required field."]}


def test_invalid_fields_are_400_with_a_message_per_field(appeals):
    with appeals.unchanged():
        bad = {**VALID, "channel": "fax", "urgency": "high", "content": "", "received_at": "2026-01-05T09:00:00",
               "appellant": {"phone": "call me"}, "location": {"town_street": "街" * 65}}
        errors = error_body(appeals.post(bad), 400)["errors"]
        assert set(errors) == {"channel", "urgency", "content", "received_at", "appellant", "location"}
        assert errors["channel"] == [f"Must be one of: {', '.join(CHANNELS)}."]
        assert errors["appellant"] == {"phone": ["not a phone number"]}  # nested fields nest their messages
        assert set(errors["location"]) == {"town_street"}
        for field in ("urgency", "content", "received_at"):
            assert isinstance(errors[field], list) and all(isinstance(m, str) and m for m in errors[field])

        wrong_types = {**VALID, "channel": 5, "type": ["complaint"], "appellant": "anonymous", "content": None}
        errors = error_body(appeals.post(wrong_types), 400)["errors"]
        assert errors == {"channel": ["Not a valid string."], "type": ["Not a valid string."],
                          "appellant": {"_schema": ["Invalid input type."]},
                          "content": ["Field may not be null."]}


def test_an_unknown_field_is_400_not_silently_dropped(appeals):
    # A misspelt "urgency" must not turn an emergency into a normal appeal without a word.
    with appeals.unchanged():
        r = appeals.post({**VALID, "urgncy": "emergency", "appellant": {"nmae": "张三"}})
        assert error_body(r, 400)["errors"] == {"urgncy": ["Unknown field."], "appellant": {"nmae": ["Unknown field."]}}


def test_a_body_that_is_not_a_json_object_is_400_on_body(appeals):
    hdr = {"Content-Type": "application/json"}
    valid_text = json.dumps(VALID, ensure_ascii=False)
    bodies = {
        "invalid JSON": b'{"channel": "hotline", ',
        "a JSON array": json.dumps([VALID]).encode(),
        "a JSON string": b'"hotline"',
        "a JSON number": b"42",
        "JSON null": b"null",
        "no body": b"",
        "not UTF-8": valid_text.encode("gb18030"),
        "a lone surrogate": valid_text.replace("路灯不亮", "\\ud800").encode(),
        "a NUL character": valid_text.replace("路灯不亮", "a\\u0000b").encode(),
        "NaN, which JSON has not": valid_text.replace('"路灯不亮"', "NaN").encode(),
    }
    with appeals.unchanged():
        for what, raw in bodies.items():
            r = appeals.post(data=raw, headers=hdr)
            errors = error_body(r, 400)["errors"]
            assert set(errors) == {"_body"}, (what, errors)
            assert all(isinstance(m, str) and m for m in errors["_body"]), (what, errors)


def test_json_the_parser_cannot_take_is_a_400_not_a_crash(service_config, start_service, api_keys):
    # These need a larger body than the fixture's limit allows.
    cfg = service_config("appeals")
    start_service(AppealsService, cfg)
    client = Appeals(cfg, api_keys)
    with client.unchanged():
        for raw in (b"[" * 100_000 + b"]" * 100_000,  # nested deeper than the parser's recursion limit
                    b'{"content": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001,
                    b'{"urgency": ' + b"9" * 5000 + b"}"):  # over Python's limit of digits in an int
            r = client.post(data=raw, headers={"Content-Type": "application/json"})
            assert set(error_body(r, 400)["errors"]) == {"_body"}
    client.engine.dispose()


def test_a_body_that_is_not_json_is_415(appeals):
    text = json.dumps(VALID)
    with appeals.unchanged():
        for ctype, data in (("text/plain", text), ("application/x-www-form-urlencoded", "channel=hotline"),
                            ("multipart/form-data; boundary=x", "--x--"), ("application/xml", "<appeal/>")):
            r = appeals.post(data=data, headers={"Content-Type": ctype})
            error_body(r, 415, "unsupported_media_type")
        # without a Content-Type a body is not taken for JSON (eventlet reports it as text/plain)
        r = appeals.post(data=json.dumps(VALID).encode())
        assert "Content-Type" not in r.request.headers
        error_body(r, 415, "unsupported_media_type")
    # JSON with parameters or a +json subtype is JSON
    for i, ctype in enumerate(("application/json; charset=utf-8", "application/problem+json")):
        raw = json.dumps({**VALID, "external_ref": f"CT-{i}"}).encode()
        r = appeals.post(data=raw, headers={"Content-Type": ctype})
        assert r.status_code == 201, (ctype, r.text)
    assert appeals.counts() == (2, 2)


def test_a_body_over_the_limit_is_413_with_or_without_content_length(appeals):
    big = {**VALID, "content": "x" * MAX_BODY}
    big_raw = json.dumps(big).encode()

    def chunked(raw: bytes, size: int = 500):
        for i in range(0, len(raw), size):
            yield raw[i:i + size]

    with appeals.unchanged():
        r = appeals.post(big)
        assert int(r.request.headers["Content-Length"]) > MAX_BODY
        error_body(r, 413, "payload_too_large")

        r = appeals.post(data=chunked(big_raw), headers={"Content-Type": "application/json"})
        assert "Content-Length" not in r.request.headers
        assert r.request.headers["Transfer-Encoding"] == "chunked"
        error_body(r, 413, "payload_too_large")

        # far over the limit, with no Content-Length to refuse it early
        r = appeals.post(data=chunked(b"[" * (20 * MAX_BODY), 4096), headers={"Content-Type": "application/json"})
        error_body(r, 413, "payload_too_large")

        # auth comes before the body: an anonymous client learns nothing about limits
        error_body(appeals.post(big, key=None), 401, "unauthorized")

    # a chunked body under the limit is read in full, not taken as empty
    r = appeals.post(data=chunked(json.dumps({**VALID, "external_ref": "CHUNKED-1"}).encode(), 7),
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert r.json()["external_ref"] == "CHUNKED-1"
    # exactly at the limit is allowed, one byte more is not
    at_limit = {**VALID, "external_ref": "AT-LIMIT", "content": ""}
    at_limit["content"] = "x" * (MAX_BODY - len(json.dumps(at_limit).encode()))
    raw = json.dumps(at_limit).encode()
    assert len(raw) == MAX_BODY
    error_body(appeals.post(data=raw + b" ", headers={"Content-Type": "application/json"}), 413)
    error_body(appeals.post(data=chunked(raw + b" "), headers={"Content-Type": "application/json"}), 413)
    r = appeals.post(data=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text


def test_text_postgresql_cannot_store_is_a_400_not_a_500(start_on_postgres, api_keys):
    # SQLite stores a NUL character; PostgreSQL refuses it with an error. Either way it is the client's.
    cfg = start_on_postgres(ScoringService)
    assessor = {"Authorization": f"Bearer {api_keys['assessor']}"}
    r = requests.get(f"{cfg['base_url']}/api/v1/facts?department=a%00b", headers=assessor, timeout=10)
    assert set(error_body(r, 400)["errors"]) == {"department"}
    r = requests.get(f"{cfg['base_url']}/api/v1/facts?department=D1", headers=assessor, timeout=10)
    assert r.status_code == 200 and r.json() == []


# -- authentication, roles, departments ------------------------------------------------------------------


def test_a_missing_malformed_or_unknown_key_is_401(appeals, api_keys, keys_file):
    operator = api_keys["operator"]
    tampered = operator[:-1] + ("A" if operator[-1] != "A" else "B")
    unknown = f"xn_{'0' * 8}_{'a' * 43}"
    with appeals.unchanged():
        for auth in (None, "", "Bearer", "Bearer    ", f"Basic {operator}", f"Token {operator}", "Bearer garbage",
                     f"Bearer {unknown}", f"Bearer {tampered}", f"Bearer {operator}x!", operator):
            headers = {} if auth is None else {"Authorization": auth}
            r = appeals.post(VALID, key=None, headers=headers)
            error_body(r, 401, "unauthorized")
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), auth
            # authentication comes before validation and before the look-up
            error_body(appeals.post({}, key=None, headers=headers), 401, "unauthorized")
            error_body(appeals.get(999, key=None, headers=headers), 401, "unauthorized")

    # the scheme is case-insensitive
    r = appeals.post({**VALID, "external_ref": "CASE"}, key=None, headers={"Authorization": f"bearer {operator}"})
    assert r.status_code == 201, r.text

    # a revoked key stops working without a restart
    assert KeyStore(keys_file).revoke("test-operator")
    wait_for(lambda: appeals.post(VALID).status_code == 401, timeout=5, message="the revoked key refused")


def test_a_role_that_may_not_is_403_and_admin_may(appeals):
    with appeals.unchanged():
        for role in ("assessor", "monitor", "handler_d1"):
            r = appeals.post({**VALID, "external_ref": f"R-{role}"}, key=role)
            body = error_body(r, 403, "forbidden")
            assert "operator" in body["error"]["message"]
        # a role check does not wait for the body to be valid
        error_body(appeals.post({}, key="assessor"), 403, "forbidden")
        error_body(appeals.get(1, key="assessor"), 403, "forbidden")

    created = {}
    for role in ("operator", "window_system", "admin"):
        r = appeals.post({**VALID, "external_ref": f"R-{role}"}, key=role)
        assert r.status_code == 201, (role, r.text)
        created[role] = r.json()["id"]
    for role in ("operator", "window_system", "monitor", "admin"):
        r = appeals.get(created["admin"], key=role)
        assert r.status_code == 200 and r.json()["id"] == created["admin"], (role, r.text)


def test_a_department_handler_sees_only_its_own_departments_appeals(appeals):
    d1 = appeals.insert_appeal("D1")
    hub = appeals.insert_appeal(None)  # not dispatched yet

    r = appeals.get(d1, key="handler_d1")
    assert r.status_code == 200 and r.json()["department"] == "D1", r.text
    with appeals.unchanged():
        other = error_body(appeals.get(d1, key="handler_d2"), 404, "not_found")
        missing = error_body(appeals.get(d1 + 1000, key="handler_d2"), 404, "not_found")
        error_body(appeals.get(hub, key="handler_d1"), 404, "not_found")
    # refused as "not found", not "forbidden"
    assert other["error"]["code"] == missing["error"]["code"]
    for role in ("operator", "monitor", "admin"):
        assert appeals.get(d1, key=role).status_code == 200
        assert appeals.get(hub, key=role).status_code == 200


def test_another_departments_appeal_is_indistinguishable_from_a_missing_one(appeals):
    d1 = appeals.insert_appeal("D1")
    missing_id = d1 + 1000
    other = appeals.get(d1, key="handler_d2").json()
    missing = appeals.get(missing_id, key="handler_d2").json()
    assert other["error"] == {**missing["error"], "message": missing["error"]["message"].replace(
        str(missing_id), str(d1))}


# -- routing ----------------------------------------------------------------------------------------------


def test_unknown_paths_and_ids_are_404_json(appeals):
    with appeals.unchanged():
        for path in ("/", "/nope", "/api/v1/appeal", "/api/v1/appeals/abc", "/api/v1/appeals/-1",
                     "/api/v1/appeals/1/extra", "/api/v1/appeals/" + "9" * 30, "/api/v1/appeals/%00"):
            r = appeals.request("GET", path)
            body = error_body(r, 404, "not_found")
            assert body["error"]["message_zh"]
        r = appeals.get(424242)
        assert "424242" in error_body(r, 404, "not_found")["error"]["message"]
        # the largest id SQLite can hold, and the first it cannot
        error_body(appeals.get(2 ** 63 - 1), 404, "not_found")
        error_body(appeals.get(2 ** 63), 404, "not_found")


def test_a_wrong_method_is_405_json_with_allow(appeals):
    with appeals.unchanged():
        for method, path, allowed in (("PATCH", APPEALS, {"GET", "HEAD", "POST"}),
                                      ("PUT", APPEALS, {"GET", "HEAD", "POST"}),
                                      ("DELETE", f"{APPEALS}/1", {"GET", "HEAD"}),
                                      ("POST", "/health", {"GET", "HEAD"}),
                                      ("PATCH", "/api/openapi.json", {"GET", "HEAD"})):
            r = appeals.request(method, path, json=VALID)
            error_body(r, 405, "method_not_allowed")
            assert {m.strip() for m in r.headers["Allow"].split(",")} == allowed, (method, path)


def test_a_doubled_slash_is_404_json_not_a_redirect(appeals):
    # werkzeug would answer "//" with an HTML 308 to the merged path; an API client gets JSON, and no detour.
    with appeals.unchanged():
        r = appeals.request("GET", "/api//v1/appeals//1", allow_redirects=False)
        error_body(r, 404, "not_found")
        r = appeals.request("POST", "/api/v1//appeals", json=VALID, allow_redirects=False)
        error_body(r, 404, "not_found")


# -- request ids --------------------------------------------------------------------------------------------


def test_every_response_carries_a_request_id_and_a_given_one_is_echoed(appeals):
    created = appeals.post({**VALID, "external_ref": "RID"})
    appeal_id = created.json()["id"]
    calls = [
        ("POST", APPEALS, {"json": {**VALID, "external_ref": "RID"}}, "operator", 200),
        ("GET", f"{APPEALS}/{appeal_id}", {}, "operator", 200),
        ("GET", "/health", {}, None, 200),
        ("GET", "/api/openapi.json", {}, None, 200),
        ("POST", APPEALS, {"json": {}}, "operator", 400),
        ("POST", APPEALS, {"data": "x", "headers": {"Content-Type": "text/plain"}}, "operator", 415),
        ("POST", APPEALS, {"json": {"content": "x" * MAX_BODY}}, "operator", 413),
        ("POST", APPEALS, {"json": VALID}, None, 401),
        ("POST", APPEALS, {"json": VALID}, "assessor", 403),
        ("GET", f"{APPEALS}/999999", {}, "operator", 404),
        ("GET", "/nope", {}, None, 404),
        ("DELETE", APPEALS, {}, None, 405),
    ]
    assert created.status_code == 201 and set(created.headers["X-Request-Id"]) <= HEX_ID
    seen = {created.headers["X-Request-Id"]}
    for method, path, kwargs, key, status in calls:
        r = appeals.request(method, path, key=key, **kwargs)
        assert r.status_code == status, (method, path, r.text)
        rid = r.headers["X-Request-Id"]
        assert len(rid) == 32 and set(rid) <= HEX_ID, rid  # generated: a uuid4 in hex
        assert rid not in seen
        seen.add(rid)

        given = f"req-{uuid.uuid4()}"
        extra = dict(kwargs)
        extra["headers"] = {**kwargs.get("headers", {}), "X-Request-Id": given}
        r = appeals.request(method, path, key=key, **extra)
        assert r.status_code == status
        assert r.headers["X-Request-Id"] == given, (method, path)
        if status >= 400:
            assert r.json()["request_id"] == given

    # an id we would not want in our logs is replaced, not echoed
    for unfit in ("x" * 101, "a\tb"):
        r = appeals.request("GET", "/health", key=None, headers={"X-Request-Id": unfit})
        assert r.headers["X-Request-Id"] != unfit and len(r.headers["X-Request-Id"]) == 32


# -- fuzz -----------------------------------------------------------------------------------------------------

_STRINGS = ["", " ", "hotline", "complaint", "normal", "emergency", "road", "路灯不亮", "x" * 300, "\u0000",
            "\ud800", "\udfff", "💡", "\u202e", "'; DROP TABLE appeals; --", "2026-01-05T09:00:00+08:00",
            "2026-01-05T09:00:00", "not a date", "13800000000", "+86 138-0000-0000", "null", "true", "0",
            "<script>", "%s%s%s", "\\", '"', "\n", "_schema", "__proto__"]
_FIELDS = ["channel", "external_ref", "appellant", "type", "urgency", "category", "content", "location",
           "received_at", "name", "phone", "anonymous", "address", "town_street", "id", "case_no", "_body"]


def _junk(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2 ** 31, 2 ** 63, -(2 ** 64), 10 ** 30, rng.randint(-10 ** 6, 10 ** 6)])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e308, 1e-308, float("nan"), float("inf"), float("-inf"), rng.random()])
    if kind in (4, 5):
        if rng.random() < 0.5:
            return rng.choice(_STRINGS + list(CHANNELS) + list(APPEAL_TYPES) + list(URGENCIES))
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x2FFFF)]))
                       for _ in range(rng.randrange(0, 40)))
    if kind in (6, 7):
        return {rng.choice(_FIELDS + _STRINGS): _junk(rng, depth + 1) for _ in range(rng.randrange(0, 6))}
    return [_junk(rng, depth + 1) for _ in range(rng.randrange(0, 5))]


def _junk_body(rng: random.Random) -> tuple[bytes, str | None]:
    """A request body and Content-Type: mostly near-misses of a valid appeal, some pure junk."""
    kind = rng.randrange(10)
    if kind < 5:  # a valid appeal with some fields replaced, dropped or added
        body = {**VALID, "external_ref": f"FZ-{rng.randrange(50)}", "appellant": {"name": "张三"},
                "location": {"address": "人民路 1 号"}}
        for _ in range(rng.randrange(1, 4)):
            field = rng.choice(_FIELDS)
            action = rng.randrange(3)
            if action == 0:
                body.pop(field, None)
            elif field in ("appellant", "location") and isinstance(body.get(field), dict):
                body[field][rng.choice(_FIELDS)] = _junk(rng, 2)
            else:
                body[field] = _junk(rng, 1)
        raw = json.dumps(body, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    elif kind < 8:
        raw = json.dumps(_junk(rng)).encode()
    elif kind == 8:
        text = json.dumps({**VALID, "content": _junk(rng)})
        raw = text[: rng.randrange(len(text) + 1)].encode()  # cut short
    else:
        raw = rng.randbytes(rng.randrange(0, 200))
    ctype = rng.choice(["application/json"] * 16 + [None, "application/json; charset=latin-1", "text/plain"])
    return raw, ctype


def test_junk_bodies_never_cause_a_5xx_and_only_valid_appeals_change_anything(appeals):
    rng = random.Random(20260105)
    before = appeals.counts()
    created = 0
    statuses: dict[int, int] = {}
    for i in range(200):
        raw, ctype = _junk_body(rng)
        headers = {"Content-Type": ctype} if ctype else {}
        r = appeals.post(data=raw, headers=headers)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (i, raw[:300], ctype, r.status_code, r.text)
        assert r.headers["X-Request-Id"]
        body = r.json()
        if r.status_code >= 400:
            assert body["request_id"] == r.headers["X-Request-Id"]
            assert ("errors" in body) != ("error" in body)
        else:
            assert r.status_code in (200, 201) and body["case_no"].startswith("MY")
            created += r.status_code == 201
    assert statuses.get(400, 0) > 100 and created > 0, statuses  # junk got past the door, near-misses further
    after = appeals.counts()
    assert (after[0] - before[0], after[1] - before[1]) == (created, created), statuses


# -- times and ids at the edge, the database away, what is logged --------------------------------------------

EDGE_TIMES = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1900-01-01T08:00:00+08:00"]


@pytest.mark.parametrize("moment", EDGE_TIMES)
def test_a_time_at_the_edge_or_before_the_calendar_is_a_400_in_queries_and_bodies(appeals, moment):
    for name in ("from", "to"):
        r = appeals.request("GET", APPEALS, params={name: moment})
        assert set(error_body(r, 400)["errors"]) == {name}, r.text
    with appeals.unchanged():  # a case received in 1900 would have no clock: refused, not stored
        r = appeals.post({**VALID, "external_ref": f"EDGE-{moment}", "received_at": moment})
        assert set(error_body(r, 400)["errors"]) == {"received_at"}, r.text
    r = appeals.post({**VALID, "external_ref": f"EDGE-OK-{moment}"})
    assert r.status_code == 201, r.text
    r = appeals.request("POST", f"{APPEALS}/{r.json()['id']}/dispatch", json={"department": "D1", "at": moment})
    assert set(error_body(r, 400)["errors"]) == {"at"}, r.text


def test_times_are_written_with_the_offset_plus_0800(appeals):
    r = appeals.post({**VALID, "external_ref": "OFFSET-1", "received_at": "2026-01-05T01:00:00Z"})
    assert r.status_code == 201, r.text
    assert r.json()["received_at"] == "2026-01-05T09:00:00+08:00"


def test_a_query_id_beyond_64_bits_is_a_400(service_config, start_service, api_keys):
    from services.approvals.service import ApprovalsService

    cfg = service_config("approvals")
    start_service(ApprovalsService, cfg)
    monitor = {"Authorization": f"Bearer {api_keys['monitor']}"}
    for path, name in (("/api/v1/alerts", "application_id"), ("/api/v1/alerts", "joint_id"),
                       ("/api/v1/supervision-orders", "application_id")):
        for value in (2**63, 2**70, 10**30):
            r = requests.get(cfg["base_url"] + path, params={name: value}, headers=monitor, timeout=10)
            assert set(error_body(r, 400)["errors"]) == {name}, (path, r.text)
        r = requests.get(cfg["base_url"] + path, params={name: 2**63 - 1}, headers=monitor, timeout=10)
        assert r.status_code == 200 and r.json()["total"] == 0, r.text


def _records(caplog, *, service_loggers=("services.kernel.http", "services.appeals.open311", "nameko.containers")):
    return [r for r in caplog.records if r.name in service_loggers]


def test_a_client_error_is_logged_at_info_without_a_traceback(appeals, caplog):
    caplog.set_level(logging.INFO)
    r = appeals.get(2**40)  # not found, raised inside the worker
    error_body(r, 404, "not_found")
    r = appeals.post({"channel": "fax"})
    error_body(r, 400)
    lines = [r for r in _records(caplog) if r.levelno >= logging.INFO]
    assert [(r.levelno, r.status) for r in lines] == [(logging.INFO, 404), (logging.INFO, 400)], [
        (r.name, r.levelname, r.getMessage()) for r in lines]
    assert not any(r.exc_info for r in lines)


def _set_database_open(pg_admin, database: str, open_: bool) -> None:
    """A database outage as the services see it: existing connections cut, new ones refused (or allowed)."""
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(open_).lower()}')
        if not open_:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")


def test_a_database_outage_is_503_with_retry_after_on_every_path_and_logged_once(
        start_on_postgres, pg_admin, api_keys, caplog):
    from services.kernel.http import DatabaseOutage

    DatabaseOutage._down.pop("appeals", None)  # another test's outage in this process is not this one
    cfg = start_on_postgres(AppealsService)
    database = cfg["DATABASE_URL"].rsplit("/", 1)[1]
    operator = {"Authorization": f"Bearer {api_keys['operator']}"}
    base = cfg["base_url"]
    calls = [("GET", APPEALS, {}), ("POST", APPEALS, {"json": {**VALID, "external_ref": "PG-OUT"}}),
             ("GET", f"{APPEALS}/1", {}), ("GET", "/open311/v2/requests.json", {}),
             ("GET", "/open311/v2/requests.xml", {}), ("GET", "/open311/v2/services.json", {})]
    r = requests.post(base + APPEALS, json={**VALID, "external_ref": "PG-1"}, headers=operator, timeout=10)
    assert r.status_code == 201, r.text
    caplog.set_level(logging.INFO)
    caplog.clear()
    _set_database_open(pg_admin, database, False)
    try:
        for _ in range(3):
            for method, path, kwargs in calls:
                r = requests.request(method, base + path, headers=operator, timeout=30, **kwargs)
                assert r.status_code == 503, (method, path, r.status_code, r.text)
                assert int(r.headers["Retry-After"]) > 0 and r.headers["X-Request-Id"], (path, r.headers)
        assert requests.get(base + "/health", timeout=30).status_code == 503
        http_lines = _records(caplog)
        assert [(r.name, r.levelname, r.getMessage().split(",")[0]) for r in http_lines] == [
            ("services.kernel.http", "WARNING", "database unavailable")], [
            (r.name, r.levelname, r.getMessage()) for r in http_lines]
        assert not any(r.exc_info for r in http_lines)
    finally:
        _set_database_open(pg_admin, database, True)

    def ended():
        assert requests.get(base + APPEALS, headers=operator, timeout=30).status_code == 200
        return [r.levelname for r in _records(caplog) if "available again" in r.getMessage()]

    # the end is confirmed by a ping at most once a second, so it may take a request or two more
    wait_for(ended, timeout=30, message="the service answers again and says so once the database is back")
    assert ended() == ["INFO"]


def test_keys_and_tokens_in_query_strings_never_reach_the_access_log(appeals, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = {"api_key": "Zq-open311-key", "token": "Zq-stream-token", "access_token": "Zq-access"}
    for path in ("/open311/v2/requests.json", APPEALS, "/api/v1/console/stream", "/no/such/path"):
        for name, value in secrets.items():
            appeals.request("GET", path, params={name: value, "status": "open"})
    access = [r.getMessage() for r in caplog.records if r.name == "nameko.web.server"]
    assert len(access) >= 12 and all("status=open" in line for line in access if "?" in line), access
    leaked = [(r.name, r.getMessage()) for r in caplog.records if not r.name.startswith("urllib3")  # the client's
              and any(v in r.getMessage() for v in secrets.values())]
    assert not leaked, leaked
