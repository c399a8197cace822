"""Where notify may send (NOTIFY.WEBHOOK_ALLOW), how recipients' secrets are shown and scrubbed, the idempotency
key of a delivery, and the watcher's status lines without the broker password."""

import ipaddress

import pytest

from services.notify import watch
from services.notify.channels import accept_addresses, idempotency_key, redact, scrub, secret_parts
from services.notify.destinations import Destinations

INTERNAL = ["127.0.0.1", "127.1", "2130706433", "0x7f.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254",
            "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "255.255.255.255", "[::1]", "[::]",
            "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[fe80::1]", "[fc00::1]", "[ff02::1]", "[64:ff9b::a00:1]",
            "localhost", "LOCALHOST.", "api.localhost"]


@pytest.mark.parametrize("host", INTERNAL)
def test_internal_destinations_are_refused_unless_listed(host):
    reason = Destinations().refused_address("webhook", f"http://{host}:8080/hook")
    assert reason and "NOTIFY.WEBHOOK_ALLOW" in reason, host


@pytest.mark.parametrize("host", ["8.8.8.8", "oapi.dingtalk.com", "hooks.example.cn", "[2400:3200::1]"])
def test_public_destinations_pass(host):
    assert Destinations().refused_address("webhook", f"https://{host}/hook?token=x") is None


def test_the_allowlist_takes_hosts_ips_and_cidrs_as_a_list_or_a_string():
    allow = Destinations.parse("127.0.0.1, 10.20.0.0/16 hooks.zwfw.local,[::1]")
    assert allow.refused_host("127.0.0.1") is None
    assert allow.refused_host("[::ffff:127.0.0.1]") is None  # the same address, IPv4-mapped
    assert allow.refused_host("127.0.0.2") is not None
    assert allow.refused_host("10.20.3.4") is None and allow.refused_host("10.21.0.1") is not None
    assert allow.refused_host("HOOKS.zwfw.local") is None
    assert allow.refused_host("[::1]") is None
    assert allow.refused_ip(ipaddress.ip_address("10.20.255.255")) is None
    assert Destinations.parse(["127.0.0.1"]).refused_host("127.0.0.1") is None
    assert Destinations.parse(None).refused_host("127.0.0.1") and Destinations.parse("").refused_host("10.0.0.1")
    for bad in ("10.0.0.0/40", "http://x/", "a..b", {"x": 1}):
        with pytest.raises(ValueError, match="WEBHOOK_ALLOW"):
            Destinations.parse(bad)


def test_robot_tokens_name_no_host_and_pass_registration():
    assert Destinations().refused_address("dingtalk", "abcdef123456") is None
    assert Destinations().refused_address("wecom", "wecombot://key-123456") is None


def test_addresses_are_shown_redacted_and_never_in_full():
    hook = "https://hooks.example.cn:8443/robot/send?access_token=9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    shown = redact("webhook", hook)
    assert shown == "https://hooks.example.cn:8443/…b1a0"
    assert "access_token" not in shown and "robot" not in shown
    assert redact("webhook", "http://user:pw@10.0.0.1/") == "http://10.0.0.1/"
    assert redact("webhook", "http://h.cn/x") == "http://h.cn/…"  # too short for a tail to be safe
    assert redact("dingtalk", "0123456789abcdef0123") == "…0123"
    assert redact("dingtalk", "dingtalk://0123456789abcdef0123/") == "dingtalk://…0123"
    assert redact("wecom", "wecombot://shortkey") == "wecombot://…"
    assert redact("email", "li.ming@zjj.example.cn") == "li.ming@zjj.example.cn"


def test_secrets_are_scrubbed_from_error_texts():
    hook = "http://10.0.0.5:8080/hook/T0KEN-PATH?sig=s3cr3t%2Bsig&duty=1"
    text = ("Socket Exception: HTTPConnectionPool(host='10.0.0.5', port=8080): Max retries exceeded with url: "
            "/hook/T0KEN-PATH?sig=s3cr3t%2Bsig&duty=1 | JSON POST URL: http://10.0.0.5:8080/hook/T0KEN-PATH "
            "| sig=s3cr3t+sig")
    cleaned = scrub(text, secret_parts("webhook", hook))
    assert "T0KEN" not in cleaned and "s3cr3t" not in cleaned and "10.0.0.5" in cleaned
    robot = "dingtalk://SECRETsecret123@TOKENtoken456/"
    cleaned = scrub(f"DingTalk URL https://oapi.dingtalk.com/robot/send?access_token=TOKENtoken456 via {robot}",
                    secret_parts("dingtalk", robot))
    assert "TOKENtoken456" not in cleaned and "SECRETsecret123" not in cleaned


def test_a_redacted_address_written_back_stands_for_the_stored_one():
    stored = {"webhook": "https://hooks.example.cn/robot/send?access_token=9f8e7d6c5b4a3928", "email": "a@b.cn"}
    given = {"webhook": redact("webhook", stored["webhook"]), "email": "c@d.cn"}
    kept, errors = accept_addresses(Destinations(), given, stored)
    assert errors == {} and kept == {"webhook": stored["webhook"], "email": "c@d.cn"}
    # a redacted value that is not the stored one's, or with nothing stored, is refused
    _, errors = accept_addresses(Destinations(), {"webhook": "https://other.example.cn/…b1a0"}, stored)
    assert list(errors) == ["webhook"]
    _, errors = accept_addresses(Destinations(), {"dingtalk": "…0123"})
    assert list(errors) == ["dingtalk"]
    _, errors = accept_addresses(Destinations(), {"webhook": "http://127.0.0.1:9/x"})
    assert "loopback" in errors["webhook"][0]


def test_the_idempotency_key_is_one_per_delivery():
    key = idempotency_key("e-1", "li.ming", "webhook")
    assert key == idempotency_key("e-1", "li.ming", "webhook")
    assert len({key, idempotency_key("e-2", "li.ming", "webhook"), idempotency_key("e-1", "ops", "webhook"),
                idempotency_key("e-1", "li.ming", "email")}) == 4


def test_the_watcher_never_prints_the_broker_password(capsys, monkeypatch):
    monkeypatch.setattr(watch, "_secrets", set())
    watch.keep_secret("amqp://watcher:p%40ss-w0rd@mq.example.cn:5672/")
    watch.status("connection lost (amqp://watcher:p@ss-w0rd@mq.example.cn / p%40ss-w0rd)")
    err = capsys.readouterr().err
    assert "w0rd" not in err and "watcher:***@mq.example.cn" in err
