"""The monitor console (电子监察室): a live page for approval monitors, served by notify. Alerts of approvals and
appeals are kept in the console's own tables as their events arrive and pushed to the open pages (server-sent
events); acknowledge / resolve are sent to the alert's owner as `alert.action_requested`, never done here."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from datetime import timedelta
from pathlib import Path

import eventlet
from eventlet.event import Event as GreenEvent
from marshmallow import Schema, fields, validate
from nameko.extensions import DependencyProvider
from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.db import Moment
from services.kernel.domain import IllegalTransition
from services.kernel.errors import ApiError, BadRequest, NotFound, Unauthorized
from services.kernel.fields import MAX_ID, Id
from services.kernel.http import api
from services.kernel.keys import KeyStore
from services.kernel.messaging import consume_event
from services.kernel.privacy import scrub

from .messages import department_label
from .store import metadata

log = logging.getLogger("services.notify.console")

HERE = Path(__file__).resolve().parent
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".png": "image/png", ".svg": "image/svg+xml"}

LEVEL_ZH = {"warning": "预警", "yellow": "黄牌", "red": "红牌", "irregularity": "纠错", "emergency": "紧急",
            "accountability": "问责"}
LEVELS = tuple(LEVEL_ZH)
# a department's light is the worst level among its alerts not yet resolved
RED_LEVELS = frozenset({"red", "emergency", "accountability"})
STATES = ("open", "acknowledged", "resolved")
STATE_ZH = {"open": "待处理", "acknowledged": "已确认", "resolved": "已办结"}
# owners that carry out the console's commands (appeals does not consume alert.action_requested yet)
ACTIONABLE_OWNERS = ("approvals",)
CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
TOKEN_TTL = timedelta(seconds=60)
# how often an open stream re-reads the feed without being woken (other notify instances' consumers)
# and re-checks that its key is still valid
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
# open streams per key and notify instance: enough for a monitor's tabs and a reconnection's overlap, not for a
# leaked key to hold the server's connections
MAX_STREAMS_PER_KEY = 10
# a feed line id as the database holds it (64-bit, MAX_ID): anything else in Last-Event-ID is a bad request
_FEED_ID = re.compile(r"[0-9]{1,19}")


class TooManyStreams(ApiError):
    status = 429
    code = "too_many_streams"

console_alerts = Table(
    "console_alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(16), nullable=False),
    Column("alert_id", String(80), nullable=False),  # the owner's id of the alert
    Column("kind", String(100), nullable=False),  # the event type that raised it
    Column("level", String(16), nullable=False),
    Column("department", String(64)),
    Column("ref_no", String(100)),  # application no. or case no.
    Column("ref_id", String(64)),  # application id or appeal id
    Column("rule", String(300)),
    Column("title_zh", String(500), nullable=False),
    Column("state", String(16), nullable=False),
    Column("raised_at", Moment(), nullable=False),
    Column("updated_at", Moment(), nullable=False),
    Column("acknowledged_by", String(100)),
    Column("resolved_by", String(100)),
    Column("note", Text),
    # a command sent to the owner and not yet answered by its event
    Column("pending_action", String(16)),
    UniqueConstraint("owner", "alert_id", name="uq_console_alerts_owner_alert"),
)
Index("ix_console_alerts_state_department", console_alerts.c.state, console_alerts.c.department)

console_feed = Table(
    "console_feed", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("console_alert_id", Integer, nullable=False),
    Column("text_zh", String(1000), nullable=False),
    Column("occurred_at", Moment(), nullable=False),
)

console_stream_tokens = Table(
    "console_stream_tokens", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("key_id", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("expires_at", Moment(), nullable=False),
)


# -- events → the console's tables (pure over a session) ------------------------------------------------------


def _rank(state: str) -> int:
    return STATES.index(state) if state in STATES else 0


def _alert_title(event_type: str, p: dict) -> str:
    if event_type == "monitor.irregularity":
        return scrub(p.get("description_zh")) or "违规操作"
    if event_type == "monitor.warning":
        if p.get("rule") == "calendar_unavailable":
            return "办结期限落在尚无工作日历的年份"
        left = p.get("remaining_days")
        return f"临近办结期限（剩余 {left:g} 个工作日）" if isinstance(left, int | float) else "临近办结期限"
    if event_type == "monitor.yellow_card":
        return "已超过法定办结期限仍未办结"
    if event_type == "monitor.red_card":
        return "黄牌后仍未办结"
    if event_type == "monitor.supervision_overdue":
        return f"督办逾期：应于 {p.get('act_by')} 前办理"
    return p.get("rule") or event_type


# the owner's answers to a command (or to its own HTTP API)
ANSWERS = ("monitor.alert_acknowledged", "monitor.alert_resolved")
APPEAL_KINDS = {
    # event type → (level, suffix of the console's alert id, title)
    "appeal.emergency": ("emergency", "emergency", "紧急诉求"),
    "appeal.overdue": ("yellow", "overdue", "诉求办理超期"),
    "appeal.escalated": ("red", "escalated", "督促后仍超期，升级通报批评"),
}


def _fit(values: dict) -> dict:
    """Texts cut to their columns (PostgreSQL refuses what does not fit; a long summary is no reason to fail)."""
    out = {}
    for key, value in values.items():
        length = getattr(console_alerts.c[key].type, "length", None)
        out[key] = value[:length] if isinstance(value, str) and length else value
    return out


def _upsert(session, owner: str, alert_id: str, values: dict, state: str, now) -> int:
    """Insert the alert, or bring it forward. Events of one alert arrive on separate queues, so an
    acknowledgement may come before the alert itself: the raising event names the alert best whenever it
    comes, the others add who and the note, and a state never goes back."""
    values = _fit(values)
    row = session.execute(select(console_alerts).where(
        console_alerts.c.owner == owner, console_alerts.c.alert_id == alert_id)).mappings().first()
    if row is None:
        return session.execute(insert(console_alerts).values(
            owner=owner, alert_id=alert_id, state=state, updated_at=now, **values)).inserted_primary_key[0]
    raising = values["kind"] not in ANSWERS
    changes = {"updated_at": now}
    # who answered is always kept; a note only from the latest answer (a late acknowledgement's note must not
    # replace the resolution's)
    kept = ("acknowledged_by", "resolved_by", "note") if _rank(state) >= _rank(row["state"]) else (
        "acknowledged_by", "resolved_by")
    for key, value in values.items():
        if value is not None and (raising or row[key] is None or key in kept):
            changes[key] = value
    if _rank(state) > _rank(row["state"]):
        changes["state"] = state
    if not raising:
        changes["pending_action"] = None  # the owner answered
    session.execute(update(console_alerts).where(console_alerts.c.id == row["id"]).values(**changes))
    return row["id"]


def record_event(session, event, now, names: dict[str, str] | None = None) -> int | None:
    """Take one event into the console: the alert it raises or moves, and a feed line (naming the department
    by its name where `names` knows it). Returns the feed id, or None when the event concerns nothing the
    console shows."""
    p, t = event.payload, event.event_type
    dept = department_label(names, p.get("department")) or "—"
    # free text typed by citizens, operators and monitors: every open console page shows it, so no phone or id
    # number goes into the console's tables whatever the producer sent
    note_text = scrub(p.get("note"))
    if t.startswith("monitor."):
        ref_no = p.get("application_no") or p.get("external_ref") or p.get("project_code") or p.get("joint_id")
        values = {"kind": t, "level": p["level"], "department": p.get("department"), "ref_no": ref_no,
                  "ref_id": p.get("application_id"), "rule": p.get("rule"), "raised_at": p["raised_at"],
                  "title_zh": _alert_title(t, p)}
        if t == "monitor.alert_acknowledged":
            state, verb = "acknowledged", "已确认"
            values.update(acknowledged_by=p.get("by"), note=note_text, title_zh=p.get("rule") or t)
        elif t == "monitor.alert_resolved":
            state, verb = "resolved", "已办结"
            values.update(resolved_by=p.get("by"), note=note_text, title_zh=p.get("rule") or t)
        else:
            state, verb = "open", None
        item = _upsert(session, "approvals", str(p["alert_id"]), values, state, now)
        level_zh = LEVEL_ZH.get(p["level"], p["level"])
        where = f"{dept} {ref_no or ''}".strip()
        if verb:
            note = f"：{note_text}" if note_text else ""
            text = f"{verb}【{level_zh}】{where}（{p.get('by') or '—'}{note}）"
        else:
            text = f"【{level_zh}】{where}：{values['title_zh']}"
    elif t in APPEAL_KINDS:
        level, suffix, title = APPEAL_KINDS[t]
        if t == "appeal.emergency" and p.get("summary"):
            title = f"{title}：{scrub(p['summary'])}"
        raised = p.get("urged_at") if t == "appeal.escalated" else None
        values = {"kind": t, "level": level, "department": p.get("department"), "ref_no": p["case_no"],
                  "ref_id": p["appeal_id"], "rule": suffix, "raised_at": raised or event.occurred_at,
                  "title_zh": title}
        item = _upsert(session, "appeals", f"{p['appeal_id']}:{suffix}", values, "open", now)
        text = f"【{LEVEL_ZH[level]}】{dept} {p['case_no']}：{title}"
    elif t == "appeal.closed":
        # the case is closed: its console alerts are done with
        rows = session.execute(select(console_alerts.c.id).where(
            console_alerts.c.owner == "appeals", console_alerts.c.ref_id == p["appeal_id"],
            console_alerts.c.state != "resolved")).scalars().all()
        if not rows:
            return None
        session.execute(update(console_alerts).where(console_alerts.c.id.in_(rows)).values(
            state="resolved", updated_at=now, pending_action=None))
        item = rows[0]
        text = f"已办结 {dept} {p['case_no']}：诉求已办结"
    else:
        return None
    return session.execute(insert(console_feed).values(
        event_id=event.event_id, event_type=t, console_alert_id=item, text_zh=text[:1000],
        occurred_at=event.occurred_at)).inserted_primary_key[0]


def alert_view(row, names: dict[str, str] | None = None) -> dict:
    out = dict(row)
    out["department_name"] = department_label(names, out["department"])
    out["level_zh"] = LEVEL_ZH.get(out["level"], out["level"])
    out["state_zh"] = STATE_ZH.get(out["state"], out["state"])
    out["actionable"] = out["owner"] in ACTIONABLE_OWNERS
    return out


def list_alerts(session, *, department=None, level=None, state="active", limit=200,
                names: dict[str, str] | None = None) -> list[dict]:
    q = select(console_alerts).order_by(console_alerts.c.raised_at.desc(), console_alerts.c.id.desc())
    if department is not None:
        q = q.where(console_alerts.c.department == department)
    if level is not None:
        q = q.where(console_alerts.c.level == level)
    if state == "active":
        q = q.where(console_alerts.c.state != "resolved")
    elif state != "all":
        q = q.where(console_alerts.c.state == state)
    return [alert_view(r, names) for r in session.execute(q.limit(limit)).mappings()]


def board(session, names: dict[str, str] | None = None) -> list[dict]:
    """Per department: alerts not yet resolved, by level, and the light."""
    rows = session.execute(
        select(console_alerts.c.department, console_alerts.c.level, func.count())
        .where(console_alerts.c.state != "resolved")
        .group_by(console_alerts.c.department, console_alerts.c.level)).all()
    seen = session.execute(select(console_alerts.c.department).distinct()).scalars().all()
    depts: dict[str, dict] = {d or "": {"department": d or "", "department_name": department_label(names, d) or "",
                                        "counts": {lv: 0 for lv in LEVELS}, "total": 0} for d in seen}
    for dept, level, n in rows:
        entry = depts[dept or ""]
        entry["counts"][level] = entry["counts"].get(level, 0) + n
        entry["total"] += n
    for entry in depts.values():
        c = entry["counts"]
        entry["light"] = ("red" if any(c.get(lv) for lv in RED_LEVELS)
                          else "yellow" if entry["total"] else "green")
    order = {"red": 0, "yellow": 1, "green": 2}
    return sorted(depts.values(), key=lambda e: (order[e["light"]], -e["total"], e["department"]))


def feed_after(session, after: int, limit: int = 100, names: dict[str, str] | None = None) -> list[dict]:
    lines = session.execute(select(console_feed).where(console_feed.c.id > after)
                            .order_by(console_feed.c.id).limit(limit)).mappings().all()
    return _with_alerts(session, lines, names)


def feed_latest(session, limit: int, names: dict[str, str] | None = None) -> list[dict]:
    lines = session.execute(select(console_feed).order_by(console_feed.c.id.desc()).limit(limit)).mappings().all()
    return _with_alerts(session, lines[::-1], names)


def _with_alerts(session, lines, names: dict[str, str] | None = None) -> list[dict]:
    """Each feed line with its alert as it is now."""
    ids = {line["console_alert_id"] for line in lines}
    alerts = {r["id"]: alert_view(r, names) for r in session.execute(
        select(console_alerts).where(console_alerts.c.id.in_(ids))).mappings()} if ids else {}
    return [{**line, "alert": alerts[line["console_alert_id"]]} for line in lines]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- the push: wake open streams when this process wrote to the feed ---------------------------------------------


class ConsoleRuntime(DependencyProvider):
    """What open streams share. They wait on the current signal; a consumer that wrote a feed line fires it
    and arms a new one. Streams also poll, so that a line written by another notify instance still arrives,
    a second later. And the keys file, to end the stream of a key revoked meanwhile."""

    def setup(self):
        self._event = GreenEvent()
        self.stopping = False
        path = self.container.config.get("KEYS_FILE")
        self.keys = KeyStore(path) if path else None
        console_cfg = self.container.config.get("CONSOLE") or {}
        self.keepalive = float(console_cfg.get("KEEPALIVE_SECONDS") or KEEPALIVE_SECONDS)
        self.max_streams = int(console_cfg.get("MAX_STREAMS_PER_KEY") or MAX_STREAMS_PER_KEY)
        if self.max_streams < 1:
            raise ValueError("CONSOLE.MAX_STREAMS_PER_KEY must be at least 1")
        self.streams: dict[str, int] = {}  # key id → streams open in this instance

    def stop(self):
        self.stopping = True
        self.fire()

    def current(self) -> GreenEvent:
        return self._event

    def fire(self) -> None:
        event, self._event = self._event, GreenEvent()
        event.send(True)

    def open_stream(self, key_id: str):
        """A slot for one more stream of this key (its release function), or None when the key has its maximum
        open. The release is idempotent: the response's close and the stream's own end both call it."""
        if self.streams.get(key_id, 0) >= self.max_streams:
            return None
        self.streams[key_id] = self.streams.get(key_id, 0) + 1
        released = False

        def release():
            nonlocal released
            if not released:
                released = True
                left = self.streams.get(key_id, 1) - 1
                if left > 0:
                    self.streams[key_id] = left
                else:
                    self.streams.pop(key_id, None)

        return release

    def key_valid(self, key_id: str) -> bool:
        try:
            return self.keys is not None and any(k.key_id == key_id for k in self.keys.list())
        except ValueError:  # a corrupt keys file lets no one in
            return False

    def get_dependency(self, worker_ctx):
        return self


# -- HTTP schemas of the console ---------------------------------------------------------------------------------


class ConsoleAlertsQuery(Schema):
    department = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    level = fields.String(load_default=None, validate=validate.OneOf(LEVELS))
    state = fields.String(load_default="active", validate=validate.OneOf(("active", "all", *STATES)))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class ConsoleAlertOut(Schema):
    id = fields.Integer(metadata={"description": "the console's id (for acknowledge / resolve)"})
    owner = fields.String(metadata={"description": "the service that owns the alert: approvals or appeals"})
    alert_id = fields.String(metadata={"description": "the owner's id of the alert"})
    kind = fields.String(metadata={"description": "the event type that raised it"})
    level = fields.String()
    level_zh = fields.String()
    department = fields.String(allow_none=True)
    department_name = fields.String(allow_none=True, metadata={"description": "its name (NOTIFY.DEPARTMENTS_FILE), "
                                                                              "else the code"})
    ref_no = fields.String(allow_none=True, metadata={"description": "application no. or case no."})
    ref_id = fields.String(allow_none=True)
    rule = fields.String(allow_none=True)
    title_zh = fields.String()
    state = fields.String()
    state_zh = fields.String()
    raised_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    acknowledged_by = fields.String(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    pending_action = fields.String(allow_none=True, metadata={"description": "sent to the owner, not yet answered"})
    actionable = fields.Boolean(metadata={"description": "the owner takes acknowledge / resolve from the console"})


class BoardOut(Schema):
    department = fields.String()
    department_name = fields.String(metadata={"description": "its name (NOTIFY.DEPARTMENTS_FILE), else the code"})
    light = fields.String(metadata={"description": "green, yellow or red"})
    total = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class FeedQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class FeedOut(Schema):
    id = fields.Integer()
    event_type = fields.String()
    text_zh = fields.String()
    occurred_at = fields.AwareDateTime()
    alert = fields.Nested(ConsoleAlertOut)


FEED_OUT = FeedOut()


class StreamTokenOut(Schema):
    token = fields.String()
    expires_at = fields.AwareDateTime()


class StreamQuery(Schema):
    # not required by the schema: a stream asked for without a token is refused as 401, like a request without a key
    token = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    after = Id(min=0, load_default=None)  # an id over 64 bits cannot be compared in the database


class AcknowledgeIn(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ResolveIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                         metadata={"description": "what was corrected"})


MONITOR = ("monitor",)
ACTION_CONFLICT = {409: "the alert's state does not allow it, or its owner takes no commands from the console"}
ACTION_ALLOWED = {"acknowledge": ("open",), "resolve": ("open", "acknowledged")}


def _page(name: str) -> bytes:
    return (HERE / "templates" / name).read_bytes()


class ConsoleEndpoints:
    """Mixed into NotifyService: the console page, its live feed and the acknowledge/resolve buttons."""

    console_runtime = ConsoleRuntime()

    # -- events in -------------------------------------------------------------------------------------------

    def _console_take(self, event):
        for attempt in (1, 2):
            try:
                with self.platform.consuming(event) as uow:
                    feed_id = record_event(uow.session, event, clock.now(), self.sender.settings.department_names)
                break
            except IntegrityError:
                # two events of one alert inserted it at the same moment (PostgreSQL): the other won; once more
                # finds its row (the whole unit of work, inbox record included, was rolled back)
                if attempt == 2:
                    raise
        if feed_id is not None:
            self.console_runtime.fire()

    @consume_event("approvals", "monitor.warning")
    def console_on_warning(self, event):
        self._console_take(event)

    @consume_event("approvals", "monitor.yellow_card")
    def console_on_yellow_card(self, event):
        self._console_take(event)

    @consume_event("approvals", "monitor.red_card")
    def console_on_red_card(self, event):
        self._console_take(event)

    @consume_event("approvals", "monitor.irregularity")
    def console_on_irregularity(self, event):
        self._console_take(event)

    @consume_event("approvals", "monitor.supervision_overdue")
    def console_on_supervision_overdue(self, event):
        self._console_take(event)

    @consume_event("approvals", "monitor.alert_acknowledged")
    def console_on_alert_acknowledged(self, event):
        self._console_take(event)

    @consume_event("approvals", "monitor.alert_resolved")
    def console_on_alert_resolved(self, event):
        self._console_take(event)

    @consume_event("appeals", "appeal.emergency")
    def console_on_appeal_emergency(self, event):
        self._console_take(event)

    @consume_event("appeals", "appeal.escalated")
    def console_on_appeal_escalated(self, event):
        self._console_take(event)

    @consume_event("appeals", "appeal.overdue")
    def console_on_appeal_overdue(self, event):
        self._console_take(event)

    @consume_event("appeals", "appeal.closed")
    def console_on_appeal_closed(self, event):
        self._console_take(event)

    # -- the page --------------------------------------------------------------------------------------------

    @api("GET", "/console", roles=None, summary="the monitor console page (电子监察室); data needs a monitor key",
         tags=("console",), responses={200: {"description": "the page", "content": {"text/html": {}}}})
    def console_page(self, call):
        resp = Response(_page("console.html"), mimetype="text/html")
        resp.headers["Cache-Control"] = "no-cache"
        # only our own script, style and API: nothing injected runs, and nothing is fetched from outside
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    @api("GET", "/console/static/<name>", roles=None, summary="the console's script and style sheet",
         tags=("console",))
    def console_static(self, call, name):
        path = HERE / "static" / name
        # only plain files directly under static/: no "..", no sub-directories
        if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
            raise NotFound(f"no such file: {name}", message_zh="文件不存在")
        resp = Response(path.read_bytes(), content_type=STATIC_TYPES[path.suffix])
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    # -- data ------------------------------------------------------------------------------------------------

    @api("GET", "/api/v1/console/alerts", roles=MONITOR, query=ConsoleAlertsQuery, response=ConsoleAlertOut,
         many=True, summary="the console's alerts, newest first (state active: not yet resolved)", tags=("console",))
    def console_alerts(self, call):
        with self.platform.session() as s:
            return list_alerts(s, **call.query, names=self.sender.settings.department_names)

    @api("GET", "/api/v1/console/board", roles=MONITOR, response=BoardOut, many=True,
         summary="per department: alerts not yet resolved by level, and its light", tags=("console",))
    def console_board(self, call):
        with self.platform.session() as s:
            return board(s, self.sender.settings.department_names)

    @api("GET", "/api/v1/console/feed", roles=MONITOR, query=FeedQuery, response=FeedOut, many=True,
         summary="the latest feed lines, oldest first", tags=("console",))
    def console_feed(self, call):
        with self.platform.session() as s:
            return feed_latest(s, call.query["limit"], self.sender.settings.department_names)

    @api("POST", "/api/v1/console/stream-tokens", roles=MONITOR, response=StreamTokenOut, status=201,
         summary="a token to open the live stream with (EventSource cannot send the key); valid 60 s, for one "
                 "stream",
         tags=("console",))
    def console_stream_token(self, call):
        token = secrets.token_urlsafe(32)
        now = clock.now()
        expires = now + TOKEN_TTL
        with self.platform.unit_of_work() as uow:
            uow.session.execute(delete(console_stream_tokens).where(console_stream_tokens.c.expires_at < now))
            uow.session.execute(insert(console_stream_tokens).values(
                token_sha256=_digest(token), key_id=call.principal.key_id, name=call.principal.name,
                expires_at=expires))
        return {"token": token, "expires_at": expires}

    @api("GET", "/api/v1/console/stream", roles=None, query=StreamQuery,
         summary="the live feed as server-sent events (`event: alert`, data: a feed line with its alert); "
                 "opened with a stream token, which opens this one stream only; resumes after `after` or "
                 "Last-Event-ID",
         tags=("console",), responses={200: {"description": "text/event-stream", "content": {"text/event-stream": {}}},
                                       400: "`after` or Last-Event-ID is not a feed line id",
                                       401: "missing, unknown, expired or already used token, or its key was revoked",
                                       429: "the key has the most streams open that it may"})
    def console_stream(self, call):
        now = clock.now()
        if call.query["token"] is None:
            raise Unauthorized("missing stream token: get one from POST /api/v1/console/stream-tokens",
                               message_zh="缺少实时推送凭证")
        after = call.query["after"]
        last_event_id = (call.request.headers.get("Last-Event-ID") or "").strip()
        if last_event_id:
            # EventSource sends back the id it last saw: ours are 64-bit feed ids, nothing else
            if not _FEED_ID.fullmatch(last_event_id) or int(last_event_id) > MAX_ID:
                raise BadRequest({"Last-Event-ID": [f"a feed line id: an integer from 0 to {MAX_ID}"]})
            after = int(last_event_id)
        digest = _digest(call.query["token"])
        with self.platform.unit_of_work() as uow:
            grant = uow.session.execute(select(console_stream_tokens).where(
                console_stream_tokens.c.token_sha256 == digest).with_for_update()).mappings().first()
            # single use: whoever deletes the row opens the stream; the URL replayed (from a log, a proxy, the
            # browser's history) or raced finds nothing
            used = grant is not None and uow.session.execute(delete(console_stream_tokens).where(
                console_stream_tokens.c.token_sha256 == digest)).rowcount == 1
        if not used or grant["expires_at"] < now:
            raise Unauthorized("unknown, expired or already used stream token: get one from "
                               "POST /api/v1/console/stream-tokens", message_zh="实时推送凭证无效、已过期或已使用")
        if not self.console_runtime.key_valid(grant["key_id"]):
            raise Unauthorized("the key of this stream token was revoked", message_zh="API 密钥已吊销")
        if after is None:
            with self.platform.session() as s:
                after = s.execute(select(func.coalesce(func.max(console_feed.c.id), 0))).scalar_one()
        release = self.console_runtime.open_stream(grant["key_id"])
        if release is None:
            limit = self.console_runtime.max_streams
            raise TooManyStreams(f"this key has {limit} live streams open, the most it may (CONSOLE."
                                 "MAX_STREAMS_PER_KEY): close another console tab and try again",
                                 message_zh=f"该密钥已打开 {limit} 个实时推送连接，已达上限，"
                                            "请关闭其他监察室页面后重试")
        # unbuffered: otherwise eventlet's WSGI server holds small writes back until 4 KB have gathered
        call.request.environ["eventlet.minimum_write_chunk_size"] = 0
        resp = Response(self._console_events(self.platform.db, grant["key_id"], after, release),
                        mimetype="text/event-stream")
        # the stream's slot is given back when the server closes the response, also one never iterated
        resp.call_on_close(release)
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Accel-Buffering"] = "no"
        return resp

    def _console_events(self, db, key_id: str, after: int, release):
        try:
            yield from self._console_lines(db, key_id, after)
        finally:
            release()

    def _console_lines(self, db, key_id: str, after: int):
        runtime = self.console_runtime
        yield b"retry: 2000\n: connected\n\n"
        checked = time.monotonic()
        while not runtime.stopping:
            armed = runtime.current()
            with db.reader() as s:
                lines = feed_after(s, after, names=self.sender.settings.department_names)
            for line in lines:
                after = line["id"]
                data = json.dumps(FEED_OUT.dump(line), ensure_ascii=False)
                yield f"id: {line['id']}\nevent: alert\ndata: {data}\n\n".encode()
            if time.monotonic() - checked > runtime.keepalive:
                checked = time.monotonic()
                if not runtime.key_valid(key_id):
                    yield b"event: revoked\ndata: {}\n\n"
                    return
                # a comment line: keeps proxies from timing the stream out and finds gone clients
                yield b": keepalive\n\n"
            if not lines:
                with eventlet.Timeout(POLL_SECONDS, False):
                    armed.wait()

    # -- commands to the owner -------------------------------------------------------------------------------

    def _console_request(self, call, item_id: int, action: str):
        with self.platform.unit_of_work() as uow:
            row = uow.session.execute(select(console_alerts).where(console_alerts.c.id == item_id)
                                      .with_for_update()).mappings().first()
            if row is None:
                raise NotFound(f"no console alert {item_id}", message_zh="告警不存在")
            if row["owner"] not in ACTIONABLE_OWNERS:
                raise IllegalTransition(f"alerts of {row['owner']} are handled in {row['owner']} itself",
                                        "该告警须在其所属系统中办理")
            if row["state"] not in ACTION_ALLOWED[action]:
                raise IllegalTransition(f"the alert is {row['state']}", "告警当前状态不允许此操作")
            p = call.principal
            uow.publish("alert.action_requested", {
                "owner": row["owner"], "alert_id": row["alert_id"], "department": row["department"], "action": action,
                "note": call.body["note"],
                "actor": {"name": p.name, "role": p.role, "department": p.department}}, department=row["department"])
            uow.session.execute(update(console_alerts).where(console_alerts.c.id == item_id).values(
                pending_action=action, updated_at=clock.now()))
            out = dict(row, pending_action=action)
        return 202, alert_view(out, self.sender.settings.department_names)

    @api("POST", "/api/v1/console/alerts/<int:item_id>/acknowledge", roles=MONITOR, body=AcknowledgeIn,
         response=ConsoleAlertOut, status=202, summary="ask the owner to acknowledge the alert (answered by its "
         "monitor.alert_acknowledged, which the console shows)", tags=("console",), responses=ACTION_CONFLICT)
    def console_acknowledge(self, call, item_id):
        return self._console_request(call, item_id, "acknowledge")

    @api("POST", "/api/v1/console/alerts/<int:item_id>/resolve", roles=MONITOR, body=ResolveIn,
         response=ConsoleAlertOut, status=202, summary="ask the owner to resolve the alert, saying what was "
         "corrected (answered by its monitor.alert_resolved)", tags=("console",), responses=ACTION_CONFLICT)
    def console_resolve(self, call, item_id):
        return self._console_request(call, item_id, "resolve")
