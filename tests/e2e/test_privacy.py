"""Personal data sent in through every channel — the JSON API of each channel and an Open311 form — with names,
phone numbers in several spellings, an id number, an e-mail address and an exact home address, in the
appellant's fields and in the free text: none of it appears in any public answer (Open311 JSON and XML, the
list, each request, each token), in any event on the bus, in any log line of the services, in any
notification message (the delivery log) or on the console feed. The exact address stays out of every public
answer; the department and the duty officer, who must find the place, still read it in their own tools."""

from __future__ import annotations

import json
import logging
import re
import unicodedata

import pytest
import requests

from services.appeals.service import AppealsService
from services.kernel import clock
from services.kernel.contracts.appeals import CHANNELS
from services.kernel.keys import KeyStore
from services.notify.service import NotifyService
from tests.conftest import wait_for
from tests.support import Tap

NAME = "欧阳明月"
EMAIL = "ouyang.mingyue@example.com"
ID_NO = "33010619900101123X"
LANDLINE = "0571-8765 4321"
STREET, HOUSE = "文三路", "478 号 3 栋 2 单元 501 室"
EXACT = f"{STREET} {HOUSE}"
DEPARTMENTS = ("ZJJ", "JW")


def phone_of(i: int) -> str:
    return f"1391234{5670 + i}"


def said(i: int) -> str:
    """What a caller says, with the number written down in another spelling on each channel."""
    digits = phone_of(i)
    spellings = [f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}", f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
                 f"0086{digits}", digits.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
                 f"(+86){digits}", digits]
    return (f"我叫{NAME}，住{STREET}{HOUSE.replace(' ', '')}，楼道燃气味很重。电话 {spellings[i % len(spellings)]}，"
            f"座机 {LANDLINE}，身份证 {ID_NO}，邮箱 {EMAIL}")


def secrets_in(text: str, count: int) -> list[str]:
    """The personal data found in `text` (full-width folded, spaces and dashes between digits allowed)."""
    folded = unicodedata.normalize("NFKC", text)
    found = []
    for i in range(count):
        spaced = r"[\s\-.()+]{0,3}".join(phone_of(i))
        if re.search(spaced, folded):
            found.append(phone_of(i))
    for value in (NAME, EMAIL, "0571-8765", "8765 4321", "87654321"):
        if value in folded:
            found.append(value)
    if re.search(r"3301\D?0619\D?9001\D?0112\D?3X", folded, re.IGNORECASE):
        found.append(ID_NO)
    return found


def exact_address_in(text: str) -> bool:
    folded = unicodedata.normalize("NFKC", text)
    return bool(re.search(r"478\s*号|501\s*室|2\s*单元", folded))


@pytest.fixture
def city(service_config, start_service, api_keys, keys_file, fresh_amqp_uri, caplog):
    """appeals (with its Open311 facade) and notify (the demo recipients: every delivery on the log channel,
    the monitors subscribed to everything) on a broker of their own, with taps on both exchanges."""
    caplog.set_level(logging.DEBUG, logger="services")
    caplog.set_level(logging.INFO)
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    keys["open311"] = store.add("web-portal", "open311_client")
    for dept in DEPARTMENTS:
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    taps = [Tap(fresh_amqp_uri, "appeals"), Tap(fresh_amqp_uri, "notify")]
    notify_cfg = service_config("notify", AMQP_URI=fresh_amqp_uri, NOTIFY={
        "QUIET_HOURS": "off", "CONSOLE_URL": "http://console.test", "SEND": {"POLL_INTERVAL": 0.1}})
    start_service(NotifyService, notify_cfg)
    appeals_cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri)
    start_service(AppealsService, appeals_cfg)
    return City(appeals_cfg["base_url"], notify_cfg["base_url"], keys, taps)


class City:
    def __init__(self, appeals: str, notify: str, keys: dict, taps: list):
        self.appeals, self.notify, self.keys, self.taps = appeals, notify, keys, taps
        self.http = requests.Session()

    def api(self, method, base, path, who, body=None, **params):
        r = self.http.request(method, base + path, json=body, params=params, timeout=10,
                              headers={"Authorization": f"Bearer {self.keys[who]}"})
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def geo(self, path: str, **params) -> requests.Response:
        r = self.http.get(f"{self.appeals}/open311/v2/{path}", params=params, timeout=10)
        assert r.status_code == 200, (path, r.text)
        return r

    def events(self) -> list[dict]:
        return [m for tap in self.taps for m in tap.drain()]


def test_personal_data_from_every_channel_reaches_no_public_answer_event_log_or_message(city, caplog):
    cases = []
    for i, channel in enumerate(CHANNELS):
        case = city.api("POST", city.appeals, "/api/v1/appeals", "operator", {
            "channel": channel, "external_ref": f"{channel}-1", "type": "help", "urgency": "emergency",
            "category": "road", "content": said(i), "public": True,
            "appellant": {"name": NAME, "phone": phone_of(i)}, "location": {"address": EXACT}})
        assert case["public"] is True and case["status"] == "dispatched"
        cases.append(case)
    i = len(CHANNELS)
    form = {"api_key": city.keys["open311"], "service_code": "road", "description": said(i),
            "address_string": EXACT, "lat": "30.279512", "long": "120.130347", "first_name": "明月",
            "last_name": "欧阳", "phone": phone_of(i), "email": EMAIL, "attribute[urgency]": "emergency",
            "attribute[public]": "true"}
    r = city.http.post(f"{city.appeals}/open311/v2/requests.json", data=form, timeout=10)
    assert r.status_code == 200, r.text
    filed = r.json()[0]
    count = i + 1
    # and an efficiency complaint on the hotline, naming an official, with the complainant's number in it
    complaint = city.api("POST", city.appeals, "/api/v1/appeals", "operator", {
        "channel": "hotline", "type": "efficiency_complaint", "subject_department": "ZJJ", "category": "efficiency",
        "content": f"住建局王科长吃拿卡要。{said(0)}", "public": True,
        "appellant": {"name": NAME, "phone": phone_of(0)}})
    assert complaint["public"] is False

    # free text typed later by the department and the monitors travels in events too
    zjj = cases[0]
    city.api("POST", city.appeals, f"/api/v1/appeals/{zjj['id']}/accept", "ZJJ")
    city.api("POST", city.appeals, f"/api/v1/appeals/{zjj['id']}/extension", "ZJJ",
             {"days": 2, "reason": f"需联系住户 {phone_of(0)} 入户查看，{EMAIL}"})
    city.api("POST", city.appeals, f"/api/v1/appeals/{zjj['id']}/extension/decision", "operator",
             {"approved": True, "note": f"已电话 {phone_of(0)} 核实"})
    city.api("POST", city.appeals, f"/api/v1/appeals/{cases[1]['id']}/return", "ZJJ",
             {"reason": f"非本单位职责，来电人 {phone_of(1)}，身份证 {ID_NO}"})
    city.api("POST", city.appeals, f"/api/v1/appeals/{cases[2]['id']}/supervise", "monitor",
             {"act_by": (clock.now().date()).isoformat(), "note": f"请当日联系 {phone_of(2)}", "exposed": True})
    city.api("POST", city.appeals, f"/api/v1/appeals/{complaint['id']}/finding", "JW",
             {"finding": "upheld", "reasons": f"经查属实，举报人电话 {phone_of(0)}", "person": "王科长"})

    # -- the public face: every request, both formats, list and detail, and tokens
    public_ids = [c["public_id"] for c in cases] + [filed["service_request_id"]]
    answers = [city.geo(f"requests.{fmt}").text for fmt in ("json", "xml")]
    listed = json.loads(answers[0])
    assert sorted(r["service_request_id"] for r in listed) == sorted(public_ids)  # the complaint is not there
    for public_id in public_ids:
        answers += [city.geo(f"requests/{public_id}.{fmt}").text for fmt in ("json", "xml")]
    answers += [city.geo(f"tokens/{filed['token']}.{fmt}").text for fmt in ("json", "xml")]
    answers += [city.geo(f"services.{fmt}").text for fmt in ("json", "xml")]
    # the exposure board (#15): the exposed case, desensitised, and its page
    board = city.http.get(f"{city.appeals}/public/v1/exposures", timeout=10)
    assert board.status_code == 200 and [e["public_id"] for e in board.json()["items"]] == [cases[2]["public_id"]]
    answers += [board.text, city.http.get(f"{city.appeals}/public/exposures", timeout=10).text,
                city.http.get(f"{city.appeals}/public/v1/exposures/{cases[2]['public_id']}", timeout=10).text]
    for text in answers:
        assert secrets_in(text, count) == [], text
        assert not exact_address_in(text), text
        assert complaint["case_no"] not in text and complaint["public_id"] not in text and "王科长" not in text
    assert "[电话]" in answers[0] and "[身份证号]" in answers[0] and STREET in answers[0]

    # -- the bus: every event of appeals and notify, once the notifications are out
    def delivered():
        rows = city.api("GET", city.notify, "/api/v1/deliveries", "monitor", per_page=500)["items"]
        types = {d["event_type"] for d in rows if d["status"] == "sent"}
        wanted = {"appeal.emergency", "appeal.supervised", "efficiency_warning.issued"}
        return rows if wanted <= types else None

    deliveries = wait_for(delivered, timeout=30, message="the notifications of the emergencies and the rest")
    events = city.events()
    assert {"appeal.emergency", "appeal.returned", "appeal.extension_requested", "appeal.extension_decided",
            "appeal.supervised", "complaint.finding_recorded", "efficiency_warning.issued"} <= \
        {e["event_type"] for e in events}
    emergencies = [e for e in events if e["event_type"] == "appeal.emergency"]
    assert len(emergencies) == count and all("[电话]" in e["payload"]["summary"] for e in emergencies)
    for event in events:
        assert secrets_in(json.dumps(event, ensure_ascii=False), count) == [], event

    # -- notifications (the delivery log holds what went to mail servers and robots) and the console feed
    assert deliveries and any("燃气" in d["body"] for d in deliveries)
    for d in deliveries:
        assert secrets_in(d["subject"] + "\n" + d["body"], count) == [], d
    feed = city.api("GET", city.notify, "/api/v1/console/feed", "monitor")
    assert secrets_in(json.dumps(feed, ensure_ascii=False), count) == [], feed

    # -- every log line of both services (the log channel's messages among them)
    lines = [record.getMessage() for record in caplog.records]
    assert any("燃气" in line for line in lines)  # the log channel wrote the messages: we read the right log
    for line in lines:
        assert secrets_in(line, count) == [], line


def test_without_consent_nothing_is_public_and_open311_ids_are_not_case_numbers(city):
    for i, channel in enumerate(CHANNELS):
        city.api("POST", city.appeals, "/api/v1/appeals", "operator", {
            "channel": channel, "type": "help", "category": "water", "content": said(i),
            "appellant": {"name": NAME, "phone": phone_of(i)}})
    form = {"api_key": city.keys["open311"], "service_code": "water", "description": said(9),
            "address_string": EXACT, "phone": phone_of(9)}
    r = city.http.post(f"{city.appeals}/open311/v2/requests.xml", data=form, timeout=10)
    assert r.status_code == 200 and "未公开" in r.text, r.text
    listed = city.geo("requests.json").json()
    # only the online opinion board shows its messages in public by default
    assert len(listed) == 1
    [board] = listed
    assert secrets_in(json.dumps(board, ensure_ascii=False), 10) == [] and board["address"] is None
    assert not board["service_request_id"].startswith("MY")
