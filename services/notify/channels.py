"""The channels, through Apprise: e-mail (SMTP), DingTalk and WeCom group robots, JSON webhooks, and `log`.

Apprise's `notify()` answers only True or False. To tell a transient failure (retry) from a permanent one
(park at once) we call the plugin object of one URL ourselves and read what that plugin logged during this
one send: the HTTP status it got (`error=503`), the SMTP reply codes it was refused with (`(550, b'...')`),
or a connection error. Records are collected per green thread, so concurrent sends never mix. Why this and
not our own HTTP/SMTP code: docs/adr/0005-notification-channels.md.

Webhook and robot addresses are secrets (a robot token or a webhook URL is all it takes to post into the
group): they are shown redacted (`redact`), and scrubbed out of every error text that leaves a send.
"""

from __future__ import annotations

import copy
import logging
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import apprise
import eventlet

from .destinations import Destinations

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


# -- secrets in addresses ------------------------------------------------------------------------------------

REDACTED = "…"  # marks a redacted address; never part of a real one
IDEMPOTENCY_HEADER = "Idempotency-Key"
_ROBOT_PREFIX = {"dingtalk": "dingtalk://", "wecom": "wecombot://"}
_ROBOT_SCHEMES = ("dingtalk", "wecombot")


def redact(channel: str, address: str | None) -> str | None:
    """An address as it may be shown: e-mail as it is; a webhook as its scheme, host and port (the path and
    query often carry the token) and the last 4 characters of a long rest; a robot only by the last 4
    characters of a long token. Enough to tell addresses apart, never enough to post with."""
    if not address or channel in ("email", "log"):
        return address
    if channel == "webhook":
        try:
            parts = urlsplit(address)
            host = parts.netloc.rpartition("@")[2]
        except ValueError:
            return REDACTED
        rest = address.split(parts.netloc, 1)[1] if parts.netloc else ""
        tail = rest[-4:] if len(rest) >= 24 else ""  # 4 characters of a short secret would be too many
        return f"{parts.scheme}://{host}/{REDACTED}{tail}" if rest not in ("", "/") else f"{parts.scheme}://{host}/"
    prefix = _ROBOT_PREFIX.get(channel, "")
    token = address.removeprefix(prefix).strip("/")
    tail = token[-4:] if len(token) >= 20 else ""
    return f"{prefix if address.startswith(prefix) else ''}{REDACTED}{tail}"


def secret_parts(channel: str, address: str | None) -> list[str]:
    """The pieces of an address that must not appear in an error text or a log line, longest first (so that
    scrubbing a whole URL goes before scrubbing a piece of it)."""
    if not address or channel in ("email", "log"):
        return []
    found = {address}
    if channel == "webhook":
        try:
            parts = urlsplit(address)
        except ValueError:
            return [address]
        if len(parts.path) > 1:
            found.add(parts.path)
        if parts.query:
            found.add(parts.query)
            for _key, value in parse_qsl(parts.query, keep_blank_values=True):
                if len(value) >= 4:
                    found.update({value, quote(value, safe=""), quote_plus(value)})
        if parts.password:
            found.add(parts.password)
    else:
        found.update(p for p in re.split(r"[:/@?&=#]+", address) if len(p) >= 6 and p not in _ROBOT_SCHEMES)
    return sorted(found, key=len, reverse=True)



def scrub(text: str | None, secrets: list[str]) -> str | None:
    if not text:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def accept_addresses(policy: Destinations, given: dict, stored: dict | None = None) -> tuple[dict, dict]:
    """The addresses to store for a write, and the problems by channel. A redacted address (as a GET showed
    it) stands for the stored one when it is exactly that one's redaction, so that a client may send back
    what it read; any other redacted value is refused. An address notify must not send to is refused."""
    stored = stored or {}
    out, errors = {}, {}
    for channel, value in given.items():
        if REDACTED in value:
            if stored.get(channel) and redact(channel, stored[channel]) == value:
                out[channel] = stored[channel]
            else:
                errors[channel] = ["a redacted address stands only for the one stored; send the full address"]
            continue
        problem = policy.refused_address(channel, value)
        if problem:
            errors[channel] = [problem]
        else:
            out[channel] = value
    return out, errors


_KEY_NAMESPACE = uuid.UUID("4d0b8a4e-1c41-5b7e-9a37-6e6f74696679")


def idempotency_key(event_id: str, recipient: str, channel: str) -> str:
    """The same for every attempt of one delivery (it is unique on event, recipient and channel), whichever
    notify instance sends it and however often its lease lapses; different for any other delivery."""
    return str(uuid.uuid5(_KEY_NAMESPACE, f"{event_id}\n{recipient}\n{channel}"))


class Channels:
    """Builds an Apprise URL per (channel, address) from the settings and sends one message."""

    def __init__(self, settings: dict | None = None, destinations: Destinations | None = None):
        settings = settings or {}
        # where HTTP channels may connect (checked after DNS, at each connection)
        self.destinations = destinations or Destinations()
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

    def send(self, channel: str, address: str | None, subject: str, body: str, *, delivery_id: int | None = None,
             key: str | None = None) -> Outcome:
        """Send one message. A webhook carries `key` in its `Idempotency-Key` header and, with the delivery's id,
        in its body (`idempotency_key`, `delivery_id`), so that its receiver can drop a re-send."""
        if channel == "log":
            send_log.info("%s — %s", subject, body, extra={"channel": "log", "delivery_id": delivery_id,
                                                           "idempotency_key": key})
            return SENT
        outcome = self._send(channel, address or "", subject, body, delivery_id, key)
        if outcome.error:
            secrets = [*secret_parts(channel, address), *self._smtp_secrets()]
            outcome = Outcome(outcome.ok, outcome.transient, scrub(outcome.error, secrets))
        return outcome

    def _smtp_secrets(self) -> list[str]:
        if not self.smtp_password:
            return []
        return [quote(self.smtp_password, safe=""), self.smtp_password]

    def _send(self, channel: str, address: str, subject: str, body: str, delivery_id, key) -> Outcome:
        try:
            plugin = self._plugin(channel, address)
        except Exception as exc:  # an address Apprise cannot even parse will never work
            return Outcome(False, False, f"bad address for {channel}: {exc}"[:1000])
        if plugin is None:
            return Outcome(False, False, f"bad address for {channel}: Apprise does not accept it")
        if channel == "webhook" and key is not None:
            # the cached plugin is shared by concurrent sends: this send's header and body fields go on a copy
            plugin = copy.copy(plugin)
            plugin.headers = {**plugin.headers, IDEMPOTENCY_HEADER: key}
            plugin.payload_extras = {**plugin.payload_extras, "idempotency_key": key,
                                     **({"delivery_id": delivery_id} if delivery_id is not None else {})}
        me = eventlet.getcurrent()
        records = _capture.lists[me] = []
        refused: list[str] = []
        try:
            if channel == "email":  # the relay is the deployment's own (NOTIFY.SMTP), not a recipient's choice
                ok = plugin.send(body=body, title=subject)
            else:
                with self.destinations.guard() as refused:
                    ok = plugin.send(body=body, title=subject)
        except Exception as exc:  # a plugin bug or an unexpected socket error: retry, then park
            if not refused:
                return Outcome(False, True, f"{type(exc).__name__}: {exc}"[:1000])
            ok = False
        finally:
            _capture.lists.pop(me, None)
        if refused:
            # the address points into the deployment's own network: sending again will not change that
            return Outcome(False, False, refused[0][:1000])
        return SENT if ok else classify(records)
