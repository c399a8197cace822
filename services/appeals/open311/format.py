"""The Open311 spec's side of the facade: discovery, the service definitions' attributes, the XML and error
lists of its answers, a public case as the spec shows it, and a filed form as the intake's `AppealIn` body."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, time, timedelta
from typing import Any

from marshmallow import ValidationError
from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.departments import DepartmentRegister
from services.kernel.errors import ApiError, BadRequest
from services.kernel.http import REQUEST_ID_HEADER, RETRY_AFTER_SECONDS, json_response
from services.kernel.privacy import coarsen_address, public_text

from ..domain import CLOSED, DUPLICATE, REPLIED, STATUS_ZH
from ..schemas import AppealIn
from .store import CLOSED_STATUSES, MAX_RESULTS, RequestFilters

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# when this facade last changed (discovery's `changeset`): bump it with any change of the API
CHANGESET = "2026-12-02T00:00:00+08:00"
FORMATS = ("application/json", "text/xml")
# discovery's defaults; a deployment sets OPEN311: {BASE_URL, CONTACT, KEY_SERVICE}
CONTACT = "12345 政务服务便民热线"
KEY_SERVICE = "api_key 由本系统管理员签发 (xiaoneng keys add NAME --role open311_client)"
# Coordinates of a case whose exact address is not shown: 3 decimals, about 100 m, a street rather than a door.
COARSE_DEGREES = 3
DEFAULT_SPAN = timedelta(days=90)

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


# -- mapping ------------------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(clock.TZ).isoformat(timespec="seconds") if moment is not None else None


def service_of(rule: dict, register: DepartmentRegister) -> dict:
    description = rule["description"]
    keywords = [rule["category_name"]]
    if description and "、" in description:
        keywords += [k.strip() for k in description.split("、") if k.strip()]
    return {"service_code": rule["category"], "service_name": rule["category_name"], "description": description,
            "metadata": True, "type": "realtime", "keywords": ",".join(keywords),
            "group": register.name(rule["department"])}


def notice_of(row: dict, register: DepartmentRegister) -> str | None:
    """Who handles the case (by the register's name) and by when."""
    agency = register.name(row.get("department"))
    if agency and row.get("due_at"):
        return f"由 {agency} 办理，应于 {row['due_at'].astimezone(clock.TZ):%Y-%m-%d %H:%M} 前办结"
    if agency:
        return f"由 {agency} 办理"
    return None


def request_of(row: dict, names: dict[str, str], duplicate_of: str | None, register: DepartmentRegister) -> dict:
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
        "agency_responsible": register.name(row["department"]),
        "service_notice": None if closed else notice_of(row, register),
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



def discovery(cfg: dict, default_url: str) -> dict:
    """The discovery document; a deployment sets OPEN311: {BASE_URL, CONTACT, KEY_SERVICE}."""
    url = cfg.get("BASE_URL") or default_url
    return {
        "changeset": CHANGESET,
        "contact": cfg.get("CONTACT") or CONTACT,
        "key_service": cfg.get("KEY_SERVICE") or KEY_SERVICE,
        "endpoints": [{"specification": SPECIFICATION, "url": url, "changeset": CHANGESET, "type": "production",
                       "formats": list(FORMATS)}],
    }


def parse_filters(query: dict, now: datetime) -> RequestFilters:
    """The spec's GET requests filters (the defaults are in docs/open311.md); 400 for ones that make no sense."""
    ids = comma_list(query.get("service_request_id"))
    if ids:  # "overrides all other arguments"
        if len(ids) > MAX_RESULTS:
            raise BadRequest({"service_request_id": [f"at most {MAX_RESULTS} ids"]})
        return RequestFilters(ids=tuple(ids))
    codes = comma_list(query.get("service_code"))
    statuses = comma_list(query.get("status"))
    if any(s not in ("open", "closed") for s in statuses):
        raise BadRequest({"status": ["open, closed or both (comma-separated)"]})
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
    return RequestFilters(codes=tuple(codes), statuses=frozenset(statuses), start=start, end=end)


def requests_of(found, register: DepartmentRegister) -> list[dict]:
    """Public cases found (usecases.PublicCases) as the spec shows them, departments by the register's names."""
    return [request_of(row, found.names, found.public_ids.get(row["duplicate_of"]), register) for row in found.rows]
