"""The console's entrypoints, mixed into NotifyService: its consumers (one per event type it shows), the page, its
data (alerts, board, feed, and the records waiting for a calendar year), the live stream, the acknowledge/resolve
buttons, and the review queue of rectification reports with its accept / send-back buttons. Each parses,
authorises, calls one use case (usecases.py) or query (store.py) and shapes the answer."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import eventlet
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.errors import ApiError, BadRequest, NotFound, Unauthorized
from services.kernel.fields import MAX_ID
from services.kernel.http import api
from services.kernel.messaging import consume_event

from . import store, usecases
from .runtime import ConsoleRuntime
from .schemas import (
    FEED_OUT,
    AcknowledgeIn,
    BoardOut,
    CalendarWaitingOut,
    ConsoleAlertOut,
    ConsoleAlertsQuery,
    ConsoleRectificationOut,
    ConsoleRectificationsQuery,
    FeedOut,
    FeedQuery,
    ResolveIn,
    ReviewAcceptIn,
    ReviewReturnIn,
    StreamQuery,
    StreamTokenOut,
)

HERE = Path(__file__).resolve().parent.parent  # services/notify: templates/ and static/
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".png": "image/png", ".svg": "image/svg+xml"}
CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
# how often an open stream re-reads the feed without being woken (other notify instances' consumers)
# and re-checks that its key is still valid
POLL_SECONDS = 1.0
# a feed line id as the database holds it (64-bit, MAX_ID): anything else in Last-Event-ID is a bad request
_FEED_ID = re.compile(r"[0-9]{1,19}")

MONITOR = ("monitor",)
ACTION_CONFLICT = {409: "the alert's state does not allow it, or its owner takes no commands from the console"}
REVIEW_CONFLICT = {409: "no report waits for review, or a decision on it waits for its answer"}


class TooManyStreams(ApiError):
    status = 429
    code = "too_many_streams"


def _console_consumer(source: str, event_type: str):
    """A consumer taking `event_type` into the console (`usecases.record_event`), with its inbox record."""

    def consumer(self, event):
        names = self.sender.settings.department_names
        for attempt in (1, 2):
            try:
                with self.platform.consuming(event) as uow:
                    feed_id = usecases.record_event(uow.session, event, clock.now(), names)
                break
            except IntegrityError:
                # two events of one alert inserted it at the same moment (PostgreSQL): the other won; once more
                # finds its row (the whole unit of work, inbox record included, was rolled back)
                if attempt == 2:
                    raise
        if feed_id is not None:
            self.console_runtime.fire()

    consumer.__doc__ = f"{event_type} from {source} → the console"
    return consume_event(source, event_type)(consumer)


def _calendar_consumer(source: str):
    """A consumer of `source`'s `calendar.waiting` (`usecases.record_calendar_waiting`), with its inbox record."""

    def consumer(self, event):
        for attempt in (1, 2):
            try:
                with self.platform.consuming(event) as uow:
                    usecases.record_calendar_waiting(uow.session, event, clock.now())
                return
            except IntegrityError:
                # the first count of a service node inserted twice at the same moment (PostgreSQL): once more
                # finds the other's row and keeps the newer
                if attempt == 2:
                    raise

    consumer.__doc__ = f"calendar.waiting from {source} → the console"
    return consume_event(source, "calendar.waiting")(consumer)


def _page(name: str) -> bytes:
    return (HERE / "templates" / name).read_bytes()


def _events(db, runtime: ConsoleRuntime, names: dict, key_id: str, after: int, release):
    try:
        yield from _lines(db, runtime, names, key_id, after)
    finally:
        release()


def _lines(db, runtime: ConsoleRuntime, names: dict, key_id: str, after: int):
    """The stream's body: the feed after `after`, then each line as it comes, keepalives, and the end when the
    key is revoked."""
    yield b"retry: 2000\n: connected\n\n"
    checked = time.monotonic()
    while not runtime.stopping:
        armed = runtime.current()
        with db.reader() as s:
            lines = store.feed_after(s, after, names=names)
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


class ConsoleEndpoints:
    """Mixed into NotifyService: the console page, its live feed and the acknowledge/resolve buttons."""

    console_runtime = ConsoleRuntime()

    # -- events in (queue names follow these method names: keep them) ------------------------------------------

    console_on_warning = _console_consumer("approvals", "monitor.warning")
    console_on_yellow_card = _console_consumer("approvals", "monitor.yellow_card")
    console_on_red_card = _console_consumer("approvals", "monitor.red_card")
    console_on_irregularity = _console_consumer("approvals", "monitor.irregularity")
    console_on_supervision_overdue = _console_consumer("approvals", "monitor.supervision_overdue")
    console_on_alert_acknowledged = _console_consumer("approvals", "monitor.alert_acknowledged")
    console_on_alert_resolved = _console_consumer("approvals", "monitor.alert_resolved")
    console_on_appeal_emergency = _console_consumer("appeals", "appeal.emergency")
    console_on_appeal_escalated = _console_consumer("appeals", "appeal.escalated")
    console_on_appeal_overdue = _console_consumer("appeals", "appeal.overdue")
    console_on_appeal_closed = _console_consumer("appeals", "appeal.closed")
    # the hotline centre's own waits (#13): raised when one runs out, resolved when it ends
    console_on_appeal_return_review_overdue = _console_consumer("appeals", "appeal.return_review_overdue")
    console_on_appeal_return_review_escalated = _console_consumer("appeals", "appeal.return_review_escalated")
    console_on_appeal_dispatch_overdue = _console_consumer("appeals", "appeal.dispatch_overdue")
    console_on_appeal_dispatch_escalated = _console_consumer("appeals", "appeal.dispatch_escalated")
    console_on_appeal_callback_overdue = _console_consumer("appeals", "appeal.callback_overdue")
    console_on_appeal_callback_escalated = _console_consumer("appeals", "appeal.callback_escalated")
    console_on_appeal_supervision_overdue = _console_consumer("appeals", "appeal.supervision_overdue")
    console_on_appeal_return_reviewed = _console_consumer("appeals", "appeal.return_reviewed")
    console_on_appeal_dispatched = _console_consumer("appeals", "appeal.dispatched")
    console_on_appeal_callback_recorded = _console_consumer("appeals", "appeal.callback_recorded")
    # rectification reports (整改) of approvals' alerts, for the review queue (#14)
    console_on_rectification_submitted = _console_consumer("approvals", "monitor.rectification_submitted")
    console_on_rectification_accepted = _console_consumer("approvals", "monitor.rectification_accepted")
    console_on_rectification_returned = _console_consumer("approvals", "monitor.rectification_returned")
    console_on_rectification_overdue = _console_consumer("approvals", "monitor.rectification_overdue")
    # key projects' accountability alerts (问责) and joint cases' clock alerts (#16): answered, like the others, by
    # monitor.alert_acknowledged / monitor.alert_resolved (their `subject` names the project or joint case)
    console_on_project_milestone_missed = _console_consumer("approvals", "project.milestone_missed")
    console_on_project_self_check_missing = _console_consumer("approvals", "project.self_check_missing")
    console_on_project_inspection_missing = _console_consumer("approvals", "project.inspection_missing")
    console_on_joint_alert_raised = _console_consumer("approvals", "joint_approval.alert_raised")
    # enforcement under the monitor (#17): inspections' and penalties' irregularities
    console_on_enforcement_irregularity = _console_consumer("approvals", "enforcement.irregularity")
    console_on_appeals_calendar_waiting = _calendar_consumer("appeals")
    console_on_approvals_calendar_waiting = _calendar_consumer("approvals")

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
            return store.list_alerts(s, **call.query, names=self.sender.settings.department_names)

    @api("GET", "/api/v1/console/board", roles=MONITOR, response=BoardOut, many=True,
         summary="per department: alerts not yet resolved by level, and its light", tags=("console",))
    def console_board(self, call):
        with self.platform.session() as s:
            return store.board(s, self.sender.settings.department_names)

    @api("GET", "/api/v1/console/calendar", roles=MONITOR, response=CalendarWaitingOut, many=True,
         summary="per department: open cases and applications waiting for a calendar year not loaded (next year's "
                 "State Council notice not imported yet), as the services last reported (calendar.waiting); "
                 "empty when none waits",
         tags=("console",))
    def console_calendar(self, call):
        with self.platform.session() as s:
            return usecases.calendar_waiting(s, self.sender.settings.department_names)

    @api("GET", "/api/v1/console/feed", roles=MONITOR, query=FeedQuery, response=FeedOut, many=True,
         summary="the latest feed lines, oldest first", tags=("console",))
    def console_feed(self, call):
        with self.platform.session() as s:
            return store.feed_latest(s, call.query["limit"], self.sender.settings.department_names)

    @api("POST", "/api/v1/console/stream-tokens", roles=MONITOR, response=StreamTokenOut, status=201,
         summary="a token to open the live stream with (EventSource cannot send the key); valid 60 s, for one "
                 "stream",
         tags=("console",))
    def console_stream_token(self, call):
        with self.platform.unit_of_work() as uow:
            return usecases.issue_stream_token(uow, call.principal.key_id, call.principal.name, clock.now())

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
        with self.platform.unit_of_work() as uow:
            grant = usecases.redeem_stream_token(uow, call.query["token"], now)
        if grant is None:
            raise Unauthorized("unknown, expired or already used stream token: get one from "
                               "POST /api/v1/console/stream-tokens", message_zh="实时推送凭证无效、已过期或已使用")
        runtime = self.console_runtime
        if not runtime.key_valid(grant["key_id"]):
            raise Unauthorized("the key of this stream token was revoked", message_zh="API 密钥已吊销")
        if after is None:
            with self.platform.session() as s:
                after = store.last_feed_id(s)
        release = runtime.open_stream(grant["key_id"])
        if release is None:
            limit = runtime.max_streams
            raise TooManyStreams(f"this key has {limit} live streams open, the most it may (CONSOLE."
                                 "MAX_STREAMS_PER_KEY): close another console tab and try again",
                                 message_zh=f"该密钥已打开 {limit} 个实时推送连接，已达上限，"
                                            "请关闭其他监察室页面后重试")
        # unbuffered: otherwise eventlet's WSGI server holds small writes back until 4 KB have gathered
        call.request.environ["eventlet.minimum_write_chunk_size"] = 0
        resp = Response(_events(self.platform.db, runtime, self.sender.settings.department_names,
                                grant["key_id"], after, release), mimetype="text/event-stream")
        # the stream's slot is given back when the server closes the response, also one never iterated
        resp.call_on_close(release)
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Accel-Buffering"] = "no"
        return resp

    # -- commands to the owner -------------------------------------------------------------------------------

    @api("POST", "/api/v1/console/alerts/<int:item_id>/acknowledge", roles=MONITOR, body=AcknowledgeIn,
         response=ConsoleAlertOut, status=202, summary="ask the owner to acknowledge the alert (answered by its "
         "monitor.alert_acknowledged, which the console shows)", tags=("console",), responses=ACTION_CONFLICT)
    def console_acknowledge(self, call, item_id):
        with self.platform.unit_of_work() as uow:
            return 202, usecases.request_action(uow, item_id, "acknowledge", call.body["note"], call.principal,
                                                clock.now(), self.sender.settings.department_names)

    @api("POST", "/api/v1/console/alerts/<int:item_id>/resolve", roles=MONITOR, body=ResolveIn,
         response=ConsoleAlertOut, status=202, summary="ask the owner to resolve the alert, saying what was "
         "corrected (answered by its monitor.alert_resolved)", tags=("console",), responses=ACTION_CONFLICT)
    def console_resolve(self, call, item_id):
        with self.platform.unit_of_work() as uow:
            return 202, usecases.request_action(uow, item_id, "resolve", call.body["note"], call.principal,
                                                clock.now(), self.sender.settings.department_names)

    # -- rectification reports waiting for review ----------------------------------------------------------------

    @api("GET", "/api/v1/console/rectifications", roles=MONITOR, query=ConsoleRectificationsQuery,
         response=ConsoleRectificationOut, many=True,
         summary="the departments' rectification reports (整改报告), newest first (default: waiting for review)",
         tags=("console",))
    def console_rectifications(self, call):
        with self.platform.session() as s:
            return store.list_rectifications(s, **call.query, names=self.sender.settings.department_names)

    @api("POST", "/api/v1/console/rectifications/<int:item_id>/accept", roles=MONITOR, body=ReviewAcceptIn,
         response=ConsoleRectificationOut, status=202,
         summary="ask approvals to accept the report (the alert is resolved with it; answered by "
                 "monitor.rectification_accepted, which the console shows)", tags=("console",),
         responses=REVIEW_CONFLICT)
    def console_accept_rectification(self, call, item_id):
        with self.platform.unit_of_work() as uow:
            return 202, usecases.request_review(uow, item_id, "accept", call.body["note"], call.principal,
                                                clock.now(), self.sender.settings.department_names)

    @api("POST", "/api/v1/console/rectifications/<int:item_id>/return", roles=MONITOR, body=ReviewReturnIn,
         response=ConsoleRectificationOut, status=202,
         summary="ask approvals to send the report back with a reason (answered by monitor.rectification_returned)",
         tags=("console",), responses=REVIEW_CONFLICT)
    def console_return_rectification(self, call, item_id):
        with self.platform.unit_of_work() as uow:
            return 202, usecases.request_review(uow, item_id, "return", call.body["reason"], call.principal,
                                                clock.now(), self.sender.settings.department_names)
