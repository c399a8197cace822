"""The channels, through Apprise: e-mail (SMTP), DingTalk and WeCom group robots, JSON webhooks, and `log`.

Apprise's `notify()` answers only True or False. To tell a transient failure (retry) from a permanent one
(park at once) we call the plugin object of one URL ourselves and read what that plugin logged during this
one send: the HTTP status it got (`error=503`), the SMTP reply codes it was refused with (`(550, b'...')`),
or a connection error. Records are collected per green thread, so concurrent sends never mix. Why this and
not our own HTTP/SMTP code: docs/adr/0005-notification-channels.md.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

import apprise
import eventlet

log = logging.getLogger("services.notify.channels")
send_log = logging.getLogger("services.notify.deliveries")

_HTTP_STATUS = re.compile(r"error=(\d{3})\b")
_SMTP_CODE = re.compile(r"\((\d{3}), b['\"]")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    transient: bool = False
    error: str | None = None


SENT = Outcome(True)


class _PerGreenlet(logging.Handler):
    """Collects Apprise's log records for the green thread that is sending (one list per send)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lists: dict[object, list[logging.LogRecord]] = {}

    def emit(self, record):
        records = self.lists.get(eventlet.getcurrent())
        if records is not None:
            records.append(record)


_capture = _PerGreenlet()


def _install_capture() -> None:
    # Apprise logs what went wrong (status codes, SMTP replies) at DEBUG and WARNING. We keep all of it for
    # classification and do not pass it on: the delivery row carries the error, our own log says the rest.
    logger = logging.getLogger(apprise.LOGGER_NAME)
    if _capture not in logger.handlers:
        logger.addHandler(_capture)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False


def classify(records: list[logging.LogRecord]) -> Outcome:
    """A failed send's outcome from what the plugin logged. HTTP: 5xx, 408 and 429 are transient, other 4xx
    permanent. SMTP: 4xx transient, 5xx permanent. No answer at all (refused, timed out): transient. A
    configuration the plugin rejected (no recipient): permanent. Anything unrecognised: transient, so
    that it is retried and parked after the limit rather than dropped on a guess."""
    messages = [r.getMessage() for r in records]
    text = " | ".join(m for r, m in zip(records, messages, strict=True) if r.levelno >= logging.WARNING)
    detail = " | ".join(messages)[-600:]
    for m in messages:
        if found := _HTTP_STATUS.search(m):
            code = int(found.group(1))
            transient = code >= 500 or code in (408, 429)
            return Outcome(False, transient, f"HTTP {code}: {text or m}"[:1000])
    for m in messages:
        codes = [int(c) for c in _SMTP_CODE.findall(m)]
        if codes:
            transient = all(400 <= c < 500 for c in codes)
            return Outcome(False, transient, f"SMTP {', '.join(map(str, codes))}: {m}"[:1000])
    lowered = detail.lower()
    if "no email recipients" in lowered or "improperly" in lowered or "invalid" in lowered:
        return Outcome(False, False, f"rejected by the channel: {text or detail}"[:1000])
    if "connection error" in lowered or "socket exception" in lowered or "timed out" in lowered:
        return Outcome(False, True, f"unreachable: {detail}"[:1000])
    return Outcome(False, True, f"failed: {detail or 'no detail from the channel'}"[:1000])


class Channels:
    """Builds an Apprise URL per (channel, address) from the settings and sends one message."""

    def __init__(self, settings: dict | None = None):
        settings = settings or {}
        smtp = settings.get("SMTP") or {}
        self.smtp_host = str(smtp.get("HOST") or "127.0.0.1")
        self.smtp_port = int(smtp.get("PORT") or 25)
        self.smtp_from = str(smtp.get("FROM") or "notify@xiaoneng.local")
        self.smtp_mode = str(smtp.get("MODE") or "insecure")  # insecure | starttls | ssl
        self.smtp_user = smtp.get("USER") or None
        self.smtp_password = smtp.get("PASSWORD") or None
        self.timeout = float(settings.get("TIMEOUT") or 10.0)
        self._webhooks: dict[str, object] = {}
        _install_capture()

    def url(self, channel: str, address: str) -> str:
        """The Apprise URL of an address. A webhook is `http(s)://...`; DingTalk and WeCom robots are their
        Apprise URLs (`dingtalk://token/`, `wecombot://key`) or the bare token/key."""
        t = self.timeout
        if channel == "email":
            auth = ""
            if self.smtp_user:
                auth = f"{quote(self.smtp_user, safe='')}:{quote(self.smtp_password or '', safe='')}@"
            scheme = "mailtos" if self.smtp_mode in ("starttls", "ssl") else "mailto"
            mode = "ssl" if self.smtp_mode == "ssl" else ("starttls" if self.smtp_mode == "starttls" else "insecure")
            return (f"{scheme}://{auth}{self.smtp_host}:{self.smtp_port}?to={quote(address, safe='@')}"
                    f"&from={quote(self.smtp_from, safe='@')}&mode={mode}&cto={t}&rto={t}")
        if channel == "webhook":
            parts = urlsplit(address)
            scheme = "jsons" if parts.scheme == "https" else "json"
            # Apprise passes a query parameter on to the webhook only when it is written `-name=value` (plain
            # ones are its own options), so the webhook's own query is rewritten that way.
            query = [f"-{quote(k, safe='')}={quote(v, safe='')}"
                     for k, v in parse_qsl(parts.query, keep_blank_values=True)]
            return f"{scheme}://{parts.netloc}{parts.path or '/'}?{'&'.join([*query, f'rto={t}', f'cto={t}'])}"
        if channel == "dingtalk":
            return address if "://" in address else f"dingtalk://{address}/"
        if channel == "wecom":
            return address if "://" in address else f"wecombot://{address}"
        raise ValueError(f"unknown channel {channel!r}")

    def _plugin(self, channel: str, address: str):
        """The Apprise plugin object of an address. Webhook plugins are kept and shared (building one costs
        more than the send; their send keeps no state and they do not throttle); the others are built per send,
        because the e-mail plugin remembers recipients across sends and the robots throttle per object."""
        if channel != "webhook":
            return apprise.Apprise.instantiate(self.url(channel, address))
        plugin = self._webhooks.get(address)
        if plugin is None:
            plugin = apprise.Apprise.instantiate(self.url(channel, address))
            if plugin is not None:
                if len(self._webhooks) >= 1000:
                    self._webhooks.clear()
                self._webhooks[address] = plugin
        return plugin

    def send(self, channel: str, address: str | None, subject: str, body: str) -> Outcome:
        if channel == "log":
            send_log.info("%s — %s", subject, body, extra={"channel": "log"})
            return SENT
        try:
            plugin = self._plugin(channel, address or "")
        except Exception as exc:  # an address Apprise cannot even parse will never work
            return Outcome(False, False, f"bad address for {channel}: {exc}"[:1000])
        if plugin is None:
            return Outcome(False, False, f"bad address for {channel}: Apprise does not accept it")
        me = eventlet.getcurrent()
        records = _capture.lists[me] = []
        try:
            ok = plugin.send(body=body, title=subject)
        except Exception as exc:  # a plugin bug or an unexpected socket error: retry, then park
            return Outcome(False, True, f"{type(exc).__name__}: {exc}"[:1000])
        finally:
            _capture.lists.pop(me, None)
        return SENT if ok else classify(records)
