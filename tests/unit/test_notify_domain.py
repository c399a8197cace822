"""notify's rules without a broker: severities, matching and duty contacts, quiet hours, the retry schedule,
how a failed send is classified from what Apprise logged, and that every template fits its event's contract."""

import logging
from datetime import date, datetime

import pytest
from marshmallow import fields, validate

from services.kernel import clock
from services.kernel.contracts import make_event, parse_event, payload_schema, registered
from services.notify.channels import Channels, classify
from services.notify.domain import (
    EVENTS,
    QuietHours,
    Subscription,
    department_of,
    never_held,
    retry_delay,
    severity_of,
    targets,
)
from services.notify.messages import console_link, has_template, load_department_names, render

TZ = clock.TZ
CONTRACTS = {t for t, _v, _s in registered()}


def at(h, m=0, day=26):
    return datetime(2026, 11, day, h, m, tzinfo=TZ)


def test_severities_of_the_ladder():
    assert severity_of("monitor.warning", {}) == "medium"
    assert severity_of("monitor.yellow_card", {}) == "high"
    assert severity_of("monitor.red_card", {}) == "critical"
    assert severity_of("appeal.emergency", {}) == "critical"
    assert severity_of("monitor.irregularity", {"severity": "low"}) == "low"
    assert severity_of("joint_approval.alert_raised", {"level": "red"}) == "critical"
    assert severity_of("joint_approval.alert_raised", {"level": "warning"}) == "medium"
    assert never_held("joint_approval.alert_raised", {"level": "red"})
    assert not never_held("monitor.yellow_card", {})
    assert severity_of("notify.delivery_parked", {"failed_severity": "critical"}) == "critical"
    assert never_held("notify.delivery_parked", {"failed_severity": "critical"})
    assert severity_of("notify.delivery_parked", {"failed_severity": "medium"}) == "medium"
    assert not never_held("notify.delivery_parked", {"failed_severity": "medium"})
    assert department_of("efficiency_warning.issued", {"unit": "ZJJ"}) == "ZJJ"
    assert department_of("project.self_check_missing", {"responsible_units": ["FGJ", "ZJJ"]}) == "FGJ"
    assert department_of("scoring.results_published", {}, "HUB") == "HUB"


def test_matching_by_type_pattern_severity_department_and_duty_contacts():
    subs = [
        Subscription(1, "li", ("monitor.*",), "high", ("ZJJ",), "webhook"),
        Subscription(2, "li", ("monitor.red_card",), "info", (), "webhook"),  # same target: once
        Subscription(3, "@duty", ("appeal.emergency", "monitor.red_card"), "info", (), "dingtalk"),
        Subscription(4, "monitors", ("*",), "info", (), "log"),
        Subscription(5, "gone", ("*",), "info", (), "log"),  # not an active recipient
        Subscription(6, "noaddr", ("*",), "info", (), "email"),  # no e-mail address: skipped
    ]
    people = {"li": {"code": "li", "addresses": {"webhook": "http://h/x"}},
              "monitors": {"code": "monitors", "addresses": {}},
              "noaddr": {"code": "noaddr", "addresses": {}}}
    duty = {"ZJJ": [{"code": "duty-ZJJ", "addresses": {"dingtalk": "tok123456"}}]}
    got = targets(subs, people, duty, "monitor.red_card", "critical", "ZJJ")
    assert sorted((t.recipient, t.channel) for t in got) == [
        ("duty-ZJJ", "dingtalk"), ("li", "webhook"), ("monitors", "log")]
    got = targets(subs, people, duty, "monitor.yellow_card", "high", "HBJ")
    assert [(t.recipient, t.channel) for t in got] == [("monitors", "log")]
    got = targets(subs, people, duty, "monitor.warning", "medium", "ZJJ")
    assert [(t.recipient, t.channel) for t in got] == [("monitors", "log")]
    # a department without a duty contact: nobody on that subscription
    got = targets(subs, people, duty, "appeal.emergency", "critical", "SWJ")
    assert [(t.recipient, t.channel) for t in got] == [("monitors", "log")]


def test_quiet_hours_across_midnight():
    q = QuietHours.parse("22:00-07:00")
    assert q.is_quiet(at(23)) and q.is_quiet(at(3)) and q.is_quiet(at(22))
    assert not q.is_quiet(at(7)) and not q.is_quiet(at(12)) and not q.is_quiet(at(21, 59))
    assert q.next_end(at(23)) == at(7, day=27)
    assert q.next_end(at(3)) == at(7)
    assert q.holds(at(23), "medium", "email", urgent=False) == at(7, day=27)
    assert q.holds(at(23), "high", "email", urgent=False) is None  # at or above HOLD_BELOW
    assert q.holds(at(23), "low", "email", urgent=True) is None  # emergencies, red cards
    assert q.holds(at(23), "low", "log", urgent=False) is None  # the log wakes nobody
    assert q.holds(at(12), "low", "email", urgent=False) is None
    day = QuietHours.parse("12:00-13:30")
    assert day.is_quiet(at(12, 45)) and not day.is_quiet(at(13, 30))
    assert QuietHours.parse("off") is None and QuietHours.parse("") is None and QuietHours.parse(None) is None
    for bad in ("22:00", "25:00-07:00", "07:00-07:00", "late-early"):
        with pytest.raises(ValueError):
            QuietHours.parse(bad)


def test_retry_schedule_then_the_limit():
    delays = (5.0, 15.0, 60.0)
    assert [retry_delay(n, delays) for n in (1, 2, 3, 4)] == [5.0, 15.0, 60.0, None]


def _records(*messages, level=logging.WARNING):
    return [logging.LogRecord("apprise", level, __file__, 1, m, (), None) for m in messages]


@pytest.mark.parametrize("messages,transient,prefix", [
    (("Failed to send JSON POST notification: Service Unavailable., error=503.",), True, "HTTP 503"),
    (("Failed to send JSON POST notification: Too Many Requests., error=429.",), True, "HTTP 429"),
    (("Failed to send JSON POST notification: Request Timeout., error=408.",), True, "HTTP 408"),
    (("Failed to send JSON POST notification: Not Found., error=404.",), False, "HTTP 404"),
    (("Failed to send DingTalk notification: Unauthorized, error=401.",), False, "HTTP 401"),
    (("Socket Exception: {'a@b.cn': (550, b'5.1.1 no such user')}",), False, "SMTP 550"),
    (("Socket Exception: {'a@b.cn': (451, b'4.3.0 try later')}",), True, "SMTP 451"),
    (("Connection error while submitting email to \"smtp\"", "Socket Exception: [Errno 111] ECONNREFUSED"),
     True, "unreachable"),
    (("A Connection error occurred sending JSON notification to h.", "Socket Exception: Read timed out."),
     True, "unreachable"),
    (("There are no Email recipients to notify",), False, "rejected"),
    ((), True, "failed"),
])
def test_a_failed_send_is_classified_from_what_apprise_logged(messages, transient, prefix):
    outcome = classify(_records(*messages))
    assert not outcome.ok and outcome.transient is transient and outcome.error.startswith(prefix)


def test_apprise_urls_of_each_channel():
    c = Channels({"SMTP": {"HOST": "smtp.example.cn", "PORT": 465, "MODE": "ssl", "USER": "u", "PASSWORD": "p@ss",
                           "FROM": "notify@example.cn"}, "TIMEOUT": 4})
    assert c.url("email", "li@zjj.cn") == ("mailtos://u:p%40ss@smtp.example.cn:465?to=li@zjj.cn"
                                           "&from=notify@example.cn&mode=ssl&cto=4.0&rto=4.0")
    assert c.url("webhook", "https://h.cn/a/b?k=v") == "jsons://h.cn/a/b?-k=v&rto=4.0&cto=4.0"
    assert c.url("dingtalk", "abcdef123") == "dingtalk://abcdef123/"
    assert c.url("wecom", "wecombot://key123") == "wecombot://key123"
    assert c.send("log", None, "主题", "正文").ok


def _sample(field):
    """A valid value for a marshmallow field of a contract."""
    for v in (field.validators or []):
        if isinstance(v, validate.OneOf):
            return list(v.choices)[0]
        if isinstance(v, validate.Equal):
            return v.comparable
    if isinstance(field, fields.Nested):
        return _payload(field.nested() if callable(field.nested) and not isinstance(field.nested, type)
                        else field.schema)
    if isinstance(field, fields.List):
        return [_sample(field.inner)]
    if isinstance(field, fields.AwareDateTime):
        return "2026-11-26T09:30:00+08:00"
    if isinstance(field, fields.Date):
        return date(2026, 11, 30).isoformat()
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Integer):
        return 3
    if isinstance(field, fields.Float):
        return 2.5
    return "X-1"


def _payload(schema):
    return {name: _sample(f) for name, f in schema.fields.items()}


@pytest.mark.parametrize("event_type", sorted(t for t in EVENTS if t in CONTRACTS))
def test_every_template_fits_its_contract(event_type):
    assert has_template(event_type)
    schema = payload_schema(event_type, max(v for t, v, _s in registered() if t == event_type))
    for optional_none in (False, True):
        payload = _payload(schema)
        if optional_none:  # every optional field left out
            payload = {k: v for k, v in payload.items() if schema.fields[k].required}
        event = parse_event(make_event(event_type, payload, service=EVENTS[event_type][0]))
        link = console_link("http://c", event_type, event.payload, "ZJJ")
        subject, body = render(event_type, {**event.payload, "severity": severity_of(event_type, event.payload),
                                            "link": link})
        assert subject.startswith("【") and len(subject) <= 300
        assert body and link in body


def test_consoles_links_name_what_the_message_is_about():
    assert console_link("http://c/", "monitor.red_card", {"application_no": "SP1", "alert_id": "7"}, "ZJJ") == \
        "http://c/console?department=ZJJ&application=SP1&alert=7"
    assert console_link("http://c", "appeal.emergency", {"case_no": "MY1"}, None) == "http://c/console?case=MY1"
    assert console_link("http://c", "scoring.results_published", {}, None) == "http://c/console"


def test_department_names_come_from_the_register_or_a_mapping(tmp_path):
    register = tmp_path / "register.yaml"
    register.write_text("- {code: ZJJ, name: 市住房和城乡建设局, tier: city}\n- {code: WCJD, name: 文昌街道}\n",
                        encoding="utf-8")
    assert load_department_names(str(register)) == {"ZJJ": "市住房和城乡建设局", "WCJD": "文昌街道"}
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("ZJJ: 市住房和城乡建设局\n", encoding="utf-8")
    assert load_department_names(str(mapping)) == {"ZJJ": "市住房和城乡建设局"}
    assert load_department_names(None) == {} and load_department_names("") == {}


@pytest.mark.parametrize("text, message", [
    ("- {code: ZJJ}\n", "a list of {code, name, ...}"),
    ("just text\n", "a list of {code, name, ...}"),
    ("ZJJ: ''\n", "non-empty string"),
    ("ZJJ: [1, 2\n", "DEPARTMENTS_FILE"),
])
def test_a_bad_department_names_file_is_refused_with_its_name(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_department_names(str(path))
    with pytest.raises(ValueError, match="missing.yaml"):
        load_department_names(str(tmp_path / "missing.yaml"))


def test_the_published_results_message_counts_ranked_and_unranked_units_apart():
    results = [{"rank": 1, "department": "ZJJ", "final": 95.5}, {"rank": 2, "department": "SWJ", "final": 90}]
    context = {"period": "2026", "revision": 1, "rules_version": "2026.3", "results": results, "link": "http://c",
               "severity": "info"}
    _, body = render("scoring.results_published", {**context, "unranked": [{"department": "JW"}]})
    assert "共 2 个单位参与排名，另有 1 个单位不参与排名或不参与考核。" in body
    _, body = render("scoring.results_published", {**context, "unranked": []})
    assert "共 2 个单位参与排名。" in body and "不参与" not in body
