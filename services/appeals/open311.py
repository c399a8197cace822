"""The Open311 GeoReport v2 facade of the appeals service: any Open311 client files appeals (channel `web`)
through the one intake and looks them up — in the spec's JSON or XML, with the spec's error lists. It is the
public face of the service: it shows only public cases (`appeals.public`), by an opaque id, with their text
scrubbed of personal data and their address cut to the street unless the citizen agreed to show it.

`Open311Endpoints` is a mixin of `AppealsService` (it uses the service's `platform` and `create_appeal`).
Mapping, defaults and examples: docs/open311.md.
"""

from __future__ import annotations

import logging
import re
import secrets
import xml.etree.ElementTree as ET
from datetime import date, datetime, time, timedelta
from functools import partial
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl

from eventlet.event import Event as GreenEvent
from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.web.handlers import HttpRequestHandler
from sqlalchemy import or_, select
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WzMethodNotAllowed
from werkzeug.formparser import FormDataParser
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from services.kernel import clock, logs
from services.kernel.errors import ApiError, BadRequest, Forbidden, MethodNotAllowed, NotFound
from services.kernel.http import (
    REQUEST_ID_HEADER,
    RETRY_AFTER_SECONDS,
    ApiEndpoint,
    Call,
    DatabaseOutage,
    JsonWebServer,
    KeyRing,
    database_unavailable,
    has_unfit_text,
    json_response,
    log_client_error,
    request_id_of,
)
from services.kernel.privacy import coarsen_address, public_text

from . import store
from .domain import CLOSED, CONFIDENTIAL_TYPES, DUPLICATE, REPLIED, STATUS_ZH
from .schemas import AppealIn

log = logging.getLogger(__name__)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# when this facade last changed (discovery's `changeset`): bump it with any change of the API
CHANGESET = "2026-12-02T00:00:00+08:00"
FORMATS = ("application/json", "text/xml")
# discovery's defaults; a deployment sets OPEN311: {BASE_URL, CONTACT, KEY_SERVICE}
CONTACT = "12345 政务服务便民热线"
KEY_SERVICE = "api_key 由本系统管理员签发 (xiaoneng keys add NAME --role open311_client)"
# Only keys made for Open311 clients may file: such a key sits in a city app or a web server, and one that
# also opened the JSON API (an operator's reads every case in full) would hand out the whole database. An
# open311_client key opens nothing else (kernel/http.py). GET endpoints are public.
SUBMITTERS = ("open311_client",)
# Efficiency complaints (投诉举报) name officials and are confidential to the discipline office: never public.
PRIVATE_TYPES = CONFIDENTIAL_TYPES
# Coordinates of a case whose exact address is not shown: 3 decimals, about 100 m, a street rather than a door.
COARSE_DEGREES = 3
CLOSED_STATUSES = (CLOSED, DUPLICATE)
DEFAULT_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
MAX_FORM_FIELDS = 200

# The attributes of every service definition; `attribute[type]` and `attribute[urgency]` in POST requests.
TYPES = {"report": "反映问题", "complaint": "投诉", "suggestion": "建议", "consultation": "咨询", "help": "求助"}
URGENCIES = {"normal": "一般", "emergency": "紧急"}
DEFAULT_TYPE = "report"
# Consent, asked by the client's form; without it a request is filed but not shown (docs/open311.md)
CONSENT = {"false": "不同意", "true": "同意"}
ATTRIBUTES = [
    {"variable": True, "code": "type", "datatype": "singlevaluelist", "required": False,
     "datatype_description": "one of the keys; default report", "order": 1,
     "description": "诉求类型 (kind of request)",
     "values": [{"key": k, "name": v} for k, v in TYPES.items()]},
    {"variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False,
     "datatype_description": "one of the keys; default normal", "order": 2,
     "description": "紧急程度：紧急件当日办理 (emergency: handled the same day)",
     "values": [{"key": k, "name": v} for k, v in URGENCIES.items()]},
    {"variable": True, "code": "public", "datatype": "singlevaluelist", "required": False,
     "datatype_description": "true or false; default false", "order": 3,
     "description": "是否同意公开本诉求（公开时隐去联系方式、证件号码，地址只显示到街道）"
                    " (show this request in public; contacts hidden, address to the street)",
     "values": [{"key": k, "name": v} for k, v in CONSENT.items()]},
    {"variable": True, "code": "public_address", "datatype": "singlevaluelist", "required": False,
     "datatype_description": "true or false; default false", "order": 4,
     "description": "是否同意公开详细地址 (show the exact address of a public request)",
     "values": [{"key": k, "name": v} for k, v in CONSENT.items()]},
]

V2 = "/open311/v2"
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

# A list element's children are named after the list (the spec's XML: <services><service>...).
XML_ITEMS = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
             "endpoints": "endpoint", "formats": "format", "errors": "error"}
# Characters XML 1.0 cannot carry at all (text typed into other channels may hold them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

# AppealIn's field paths → the GeoReport field a client sent, for error descriptions
FIELD_NAMES = {
    "category": "service_code", "content": "description", "type": "attribute[type]",
    "urgency": "attribute[urgency]", "public": "attribute[public]", "public_address": "attribute[public_address]",
    "location.address": "address_string", "location.latitude": "lat",
    "location.longitude": "long", "appellant.name": "first_name/last_name", "appellant.phone": "phone",
    "attachments": "media_url", "_body": "body",
}


# -- rendering ------------------------------------------------------------------------------------------


def to_xml(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        tag = XML_ITEMS.get(element.tag, "item")
        for item in value:
            _fill(ET.SubElement(element, tag), item)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = _NOT_XML.sub("\ufffd", str(value))


def error_list(exc: ApiError) -> list[dict]:
    if isinstance(exc, BadRequest):
        return [{"code": 400, "description": f"{field}: {message}"} for field, message in _flatten(exc.errors)]
    description = exc.message + (f" / {exc.message_zh}" if exc.message_zh else "")
    return [{"code": exc.status, "description": description}]


def _flatten(messages: Any, path: tuple = ()) -> list[tuple[str, str]]:
    if isinstance(messages, dict):
        return [pair for key, item in messages.items() for pair in _flatten(item, (*path, str(key)))]
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(_field_name(path), m) for m in messages]
    if isinstance(messages, list):
        return [pair for item in messages for pair in _flatten(item, path)]
    return [(_field_name(path), str(messages))]


def _field_name(path: tuple) -> str:
    for n in range(len(path), 0, -1):
        name = FIELD_NAMES.get(".".join(path[:n]))
        if name is not None:
            return name
    return ".".join(path) or "request"


def render(status: int, body: Any, root: str, fmt: str, request_id: str, headers: dict | None = None) -> Response:
    if fmt == "xml":
        resp = Response(to_xml(root, body), status=status, content_type="text/xml; charset=utf-8")
        if status == 503:  # as json_response does for the JSON answers
            resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        for k, v in (headers or {}).items():
            resp.headers[k] = v
    else:
        resp = json_response(status, body, request_id, headers=headers)
    resp.headers[REQUEST_ID_HEADER] = request_id
    return resp


# -- the entrypoint -------------------------------------------------------------------------------------


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


# -- mapping ------------------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(clock.TZ).isoformat(timespec="seconds") if moment is not None else None


def catalogue(session, discipline_office: str) -> dict[str, dict]:
    """One entry per category: the general rule where there is one (else a town-street rule). The discipline
    office's categories are not offered: their cases name officials and complainants and are never public
    (they are filed on the hotline or the JSON API)."""
    hidden = store.confidential_categories(session, discipline_office)
    out: dict[str, dict] = {}
    for rule in store.list_rules(session):
        if rule["category"] in hidden:
            continue
        if rule["category"] not in out or rule["town_street"] is None:
            out[rule["category"]] = rule
    return out


def service_of(rule: dict) -> dict:
    description = rule["description"]
    keywords = [rule["category_name"]]
    if description and "、" in description:
        keywords += [k.strip() for k in description.split("、") if k.strip()]
    return {"service_code": rule["category"], "service_name": rule["category_name"], "description": description,
            "metadata": True, "type": "realtime", "keywords": ",".join(keywords), "group": rule["department"]}


def notice_of(row: dict) -> str | None:
    if row.get("department") and row.get("due_at"):
        return f"由 {row['department']} 办理，应于 {row['due_at'].astimezone(clock.TZ):%Y-%m-%d %H:%M} 前办结"
    if row.get("department"):
        return f"由 {row['department']} 办理"
    return None


def request_of(row: dict, names: dict[str, str], duplicate_of: str | None) -> dict:
    """A public case as the spec shows it. Built field by field from a whitelist: the appellant's name and
    phone are read only to be masked where the text repeats them; free text is scrubbed (phone, id and card
    numbers, e-mail addresses); the address and coordinates are cut to the street unless the citizen agreed
    to show them. `duplicate_of`: the public id of the case it joined, None when that one is not public."""
    status = row["status"]
    closed = status in CLOSED_STATUSES
    notes = STATUS_ZH.get(status, status)
    exact = row["public_address"]
    address = row["address"]

    def text(value):
        return public_text(value, names=[row["appellant_name"]], address=None if exact else address)

    if status == DUPLICATE:
        notes += f"：与 {duplicate_of} 合并办理" if duplicate_of else "：已与在办的同一诉求合并办理"
    if status in (REPLIED, CLOSED) and row["reply"]:
        notes += f"；答复：{text(row['reply'])}"
    attachments = row["attachments"] or []
    lat, long = row["latitude"], row["longitude"]
    if not exact and lat is not None and long is not None:
        lat, long = round(lat, COARSE_DEGREES), round(long, COARSE_DEGREES)
    return {
        "service_request_id": row["public_id"],
        "status": "closed" if closed else "open",
        "status_notes": notes,
        "service_name": names.get(row["category"]),
        "service_code": row["category"],
        "description": text(row["content"]),
        "agency_responsible": row["department"],
        "service_notice": None if closed else notice_of(row),
        "requested_datetime": iso(row["received_at"]),
        "updated_datetime": iso((row["closed_at"] if closed else None) or row["updated_at"]),
        "expected_datetime": iso(row["due_at"]),
        "address": address if exact else coarsen_address(address),
        "lat": lat,
        "long": long,
        "media_url": attachments[0] if attachments else None,
    }


def appeal_from_form(fields: dict) -> dict:
    """The POST fields as the intake's `AppealIn` body, loaded; errors name the fields the client sent."""
    f = {k: v.strip() for k, v in fields.items() if isinstance(v, str) and v.strip()}
    errors: dict[str, list[str]] = {}
    kind = f.get("attribute[type]", DEFAULT_TYPE)
    if kind not in TYPES:
        errors["attribute[type]"] = [f"must be one of: {', '.join(TYPES)}"]
    urgency = f.get("attribute[urgency]", "normal")
    if urgency not in URGENCIES:
        errors["attribute[urgency]"] = [f"must be one of: {', '.join(URGENCIES)}"]
    consent = {}
    for name in ("public", "public_address"):
        value = f.get(f"attribute[{name}]", "false").lower()
        if value not in CONSENT:
            errors[f"attribute[{name}]"] = [f"must be one of: {', '.join(CONSENT)}"]
        consent[name] = value == "true"  # no consent unless given
    if "service_code" not in f:
        errors["service_code"] = ["was not provided"]
    if "description" not in f:
        errors["description"] = ["was not provided"]
    if not (("lat" in f and "long" in f) or "address_string" in f):
        errors["location"] = ["a location is required: lat and long, or address_string (address_id is not supported)"]
    location = {k: f[src] for k, src in (("address", "address_string"), ("latitude", "lat"), ("longitude", "long"))
                if src in f}
    appellant = {}
    name = person_name(f.get("first_name"), f.get("last_name"))
    if name:
        appellant["name"] = name
    if "phone" in f:
        appellant["phone"] = f["phone"]
    body = {"channel": "web", "type": kind, "urgency": urgency, "category": f.get("service_code"), **consent,
            "content": f.get("description"), "location": location, "appellant": appellant,
            "attachments": [f["media_url"]] if "media_url" in f else []}
    try:
        loaded = AppealIn().load(body)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_body": exc.messages}
        for name, message in _flatten(messages):
            if name not in errors:  # "was not provided" says it better than marshmallow's null message
                errors.setdefault(name, []).append(message)
        loaded = None
    if errors:
        raise BadRequest(errors)
    return loaded


def person_name(first: str | None, last: str | None) -> str | None:
    """Chinese names put the family name first, with no space; others "first last"."""
    parts = [p for p in (first, last) if p]
    if not parts:
        return None
    if any("\u3400" <= ch <= "\u9fff" for p in parts for ch in p):
        return "".join(p for p in (last, first) if p)
    return " ".join(parts)


def parse_moment(name: str, value: str, *, end: bool) -> datetime:
    """A W3C / ISO 8601 date or date-time; without an offset it is Asia/Shanghai time. A bare date is the
    start of that day, or for an end the whole of it."""
    text = value.strip()
    # "+08:00" in a query string that was not URL-encoded arrives as " 08:00"
    text = re.sub(r"^(\d{4}-\d{2}-\d{2}T[\d:.]+) (\d{2}:?\d{2})$", r"\1+\2", text)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text) + (timedelta(days=1) if end else timedelta())
            moment = datetime.combine(day, time(), clock.TZ)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", text):
            moment = datetime.fromisoformat(text)
        else:
            raise ValueError(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=clock.TZ)
        if not 1970 <= moment.astimezone(clock.TZ).year <= 2999:
            raise ValueError(text)
    except (ValueError, OverflowError):
        raise BadRequest({name: ["not a W3C date-time between 1970 and 2999 "
                                 "(e.g. 2026-01-31T09:00:00+08:00 or 2026-01-31)"]}) from None
    return moment


def comma_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def request_filters(query: dict, now: datetime) -> list:
    """The spec's GET requests filters as SQL conditions (the defaults are in docs/open311.md)."""
    a = store.appeals
    ids = comma_list(query.get("service_request_id"))
    if ids:  # "overrides all other arguments"
        if len(ids) > MAX_RESULTS:
            raise BadRequest({"service_request_id": [f"at most {MAX_RESULTS} ids"]})
        return [a.c.public_id.in_(ids)]
    conds = []
    codes = comma_list(query.get("service_code"))
    if codes:
        conds.append(a.c.category.in_(codes))
    statuses = comma_list(query.get("status"))
    if any(s not in ("open", "closed") for s in statuses):
        raise BadRequest({"status": ["open, closed or both (comma-separated)"]})
    if set(statuses) == {"open"}:
        conds.append(a.c.status.notin_(CLOSED_STATUSES))
    elif set(statuses) == {"closed"}:
        conds.append(a.c.status.in_(CLOSED_STATUSES))
    start = parse_moment("start_date", query["start_date"], end=False) if query.get("start_date") else None
    end = parse_moment("end_date", query["end_date"], end=True) if query.get("end_date") else None
    if start is None and end is None:
        start = now - DEFAULT_SPAN
    elif start is None:
        start = end - DEFAULT_SPAN
    elif end is None:
        end = start + DEFAULT_SPAN
    if end is not None:
        if end < start:
            raise BadRequest({"end_date": ["before start_date"]})
        if end - start > DEFAULT_SPAN + timedelta(days=1):  # +1: a bare end date counts whole
            raise BadRequest({"end_date": ["the range may not span more than 90 days"]})
        conds.append(a.c.received_at <= end)
    conds.append(a.c.received_at >= start)
    return conds


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


# -- the endpoints ------------------------------------------------------------------------------------


class Open311Endpoints:
    """GeoReport v2 on the appeals service (a mixin: needs the service's `platform` and `create_appeal`)."""

    open311_config = Config()

    @open311(*ROUTES["discovery"], xml="discovery")
    def open311_discovery(self, call):
        cfg = self.open311_config.get("OPEN311") or {}
        url = cfg.get("BASE_URL") or call.request.host_url.rstrip("/") + V2
        return {
            "changeset": CHANGESET,
            "contact": cfg.get("CONTACT") or CONTACT,
            "key_service": cfg.get("KEY_SERVICE") or KEY_SERVICE,
            "endpoints": [{"specification": SPECIFICATION, "url": url, "changeset": CHANGESET, "type": "production",
                           "formats": list(FORMATS)}],
        }

    @open311(*ROUTES["services"], xml="services")
    def open311_services(self, call):
        with self.platform.session() as s:
            return [service_of(rule) for rule in catalogue(s, self.settings.rules.discipline_office).values()]

    @open311(*ROUTES["service"], xml="service_definition")
    def open311_service_definition(self, call, service_code):
        with self.platform.session() as s:
            if service_code not in catalogue(s, self.settings.rules.discipline_office):
                raise NotFound(f"service_code {service_code} not found", message_zh="服务类型不存在")
        return {"service_code": service_code, "attributes": ATTRIBUTES}

    @open311(*ROUTES["create"], xml="service_requests", roles=SUBMITTERS)
    def open311_create_request(self, call):
        body = appeal_from_form(call.body)
        with self.platform.session() as s:
            if body["category"] not in catalogue(s, self.settings.rules.discipline_office):
                # not offered (the discipline office's categories) or unknown: the same answer
                raise NotFound(f"service_code {body['category']} not found", message_zh="服务类型不存在")
        intake = Call(request=call.request, request_id=call.request_id, principal=call.principal, body=body)
        token = secrets.token_urlsafe(16)
        try:
            # the one intake of every channel; the token is stored in the same transaction as the appeal
            _, appeal = self.take_in(intake, open311_token=token)
        except BadRequest as exc:
            if "category" in exc.errors:
                raise NotFound(f"service_code {body['category']} not found", message_zh="服务类型不存在") from None
            raise
        # the case number (for the 12345 hotline) goes to the filer only; the public id is what the facade shows
        return [{"service_request_id": appeal["public_id"], "token": token,
                 "service_notice": f"诉求已受理（{appeal['status_zh']}），编号 {appeal['case_no']}"
                                   + (f"；{notice_of(appeal)}" if notice_of(appeal) else "")
                                   + ("" if appeal["public"] else "；未公开，可凭编号致电 12345 查询")}]

    @open311(*ROUTES["requests"], xml="service_requests")
    def open311_requests(self, call):
        conds = request_filters(call.query, clock.now())
        return self._open311_read(conds, limit=MAX_RESULTS)

    @open311(*ROUTES["request"], xml="service_requests")
    def open311_request(self, call, request_id):
        found = self._open311_read([store.appeals.c.public_id == request_id], limit=1)
        if not found:
            raise NotFound(f"service_request_id {request_id} not found", message_zh="诉求不存在")
        return found

    @open311(*ROUTES["token"], xml="service_requests")
    def open311_token(self, call, token):
        # a token is the filer's: it resolves also while the request is not shown in public
        with self.platform.session() as s:
            number = s.execute(select(store.appeals.c.public_id).where(store.appeals.c.open311_token == token,
                                                                        store.appeals.c.type.notin_(PRIVATE_TYPES))
                               ).scalar_one_or_none()
        if number is None:
            raise NotFound(f"token {token} not found", message_zh="令牌不存在")
        return [{"service_request_id": number, "token": token}]

    @open311("*", UNKNOWN_PATH, xml="errors")
    def open311_unknown(self, call, path):
        raise unknown_route(call.request.method, call.request.path)

    def _open311_read(self, conds: list, limit: int) -> list[dict]:
        a = store.appeals
        with self.platform.session() as s:
            rows = [dict(r) for r in s.execute(
                select(a).where(*self._public(s), *conds)
                .order_by(a.c.received_at.desc(), a.c.id.desc()).limit(limit)).mappings()]
            originals = {r["duplicate_of"] for r in rows if r["duplicate_of"] is not None}
            numbers = dict(s.execute(select(a.c.id, a.c.public_id).where(a.c.id.in_(originals), *self._public(s)))
                           .all()) if originals else {}
            names = {code: rule["category_name"]
                     for code, rule in catalogue(s, self.settings.rules.discipline_office).items()}
        return [request_of(r, names, numbers.get(r["duplicate_of"])) for r in rows]

    def _public(self, session) -> list:
        """What makes a case public: its flag (set at intake, domain.is_public), and — checked again here, since
        the catalogue and the case's department may have changed since — never an efficiency complaint, a
        category of the discipline office or a case with it."""
        a = store.appeals
        office = self.settings.rules.discipline_office
        return [a.c.public.is_(True), a.c.type.notin_(PRIVATE_TYPES),
                a.c.category.notin_(store.confidential_categories(session, office) or {""}),
                or_(a.c.department.is_(None), a.c.department != office)]


__all__ = ["Open311Endpoint", "Open311Endpoints", "open311"]
