"""The terminal watcher: tails the electronic monitor's alerts live, one coloured line each.

    python -m services.notify.watch [--department D] [--min-level warning|yellow|red] [--amqp-uri URI]

A standalone tool on pika (nameko is not needed and pika must not run inside a nameko process): an exclusive,
auto-deleted queue of its own bound to approvals' events exchange, so it takes nothing from the services'
queues. It reconnects after a broker restart or a lost connection (alerts raised while it is away are not
replayed: the console and GET /api/v1/alerts keep them) and stops on Ctrl-C with status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from datetime import datetime
from urllib.parse import unquote, urlsplit

import pika
from pika.exceptions import AMQPError, ProbableAccessDeniedError, ProbableAuthenticationError

from services.kernel.clock import TZ
from services.kernel.contracts import ContractError, parse_event

# as services/kernel/messaging.py declares it (not imported: that module brings nameko along); a declaration
# with other arguments would be refused by the broker, and a unit test keeps the two the same
EXCHANGE = "approvals.events"
EXCHANGE_ARGUMENTS = {"alternate-exchange": "xiaoneng.unrouted"}
ROUTING_KEYS = ("monitor.warning", "monitor.yellow_card", "monitor.red_card", "monitor.irregularity",
                "monitor.supervision_overdue", "monitor.alert_acknowledged", "monitor.alert_resolved",
                # key projects' accountability alerts and joint cases' clock alerts (#16)
                "project.milestone_missed", "project.self_check_missing", "project.inspection_missing",
                "joint_approval.alert_raised",
                # enforcement inspections' and penalties' irregularities (#17)
                "enforcement.irregularity")
# the alerts of a key project, joint case, inspection or penalty, each with what the line says of it
SUBJECT_ZH = {"project": "重点项目", "joint_approval": "联合审批", "inspection": "执法检查", "penalty": "行政处罚"}

LEVEL_ZH = {"warning": "预警", "yellow": "黄牌", "red": "红牌", "irregularity": "纠错", "accountability": "问责"}
# --min-level: an irregularity ranks with a yellow card, an accountability alert with a red one
RANK = {"warning": 1, "yellow": 2, "irregularity": 2, "red": 3, "accountability": 3}
MIN_LEVELS = ("warning", "yellow", "red")
COLOURS = {"warning": "33", "yellow": "1;33", "red": "1;31", "irregularity": "35", "accountability": "1;31"}
ANSWER_ZH = {"monitor.alert_acknowledged": ("已确认", "2"), "monitor.alert_resolved": ("已办结", "32")}
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
MAX_BACKOFF = 10.0


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m services.notify.watch",
                                 description="实时显示电子监察告警（每条一行）/ tail the monitor's alerts live")
    ap.add_argument("--department", help="only this department's alerts (its code, e.g. SCJGJ)")
    ap.add_argument("--min-level", choices=MIN_LEVELS, default="warning",
                    help="the lowest level shown (an irregularity counts as yellow); default warning: all")
    ap.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI") or DEFAULT_AMQP_URI,
                    help="the broker (default: $AMQP_URI or the local guest; prefer $AMQP_URI for a password: "
                         "a command line is visible to every user of the machine)")
    ap.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                    help="colour the lines (auto: when writing to a terminal and NO_COLOR is not set)")
    return ap.parse_args(argv)


def department_of(p: dict) -> str | None:
    """The alert's department: the application's, a milestone's responsible unit, a project's lead unit (the
    first responsible unit, as approvals keeps it); a joint case's alert has none (it spans several)."""
    units = p.get("responsible_units") or []
    return p.get("department") or p.get("responsible_unit") or (units[0] if units else None)


def wanted(payload: dict, department: str | None, min_level: str) -> bool:
    if department is not None and department_of(payload) != department:
        return False
    return RANK.get(payload.get("level"), 0) >= RANK[min_level]


def _moment(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(TZ).strftime("%m-%d %H:%M:%S")
    return "--"


def format_line(event_type: str, p: dict, colour: bool) -> str:
    """One alert as one line: time, level (Chinese), department, application no., rule."""
    level = p.get("level") or ""
    label = f"【{LEVEL_ZH.get(level, level)}】"
    code = COLOURS.get(level, "0")
    moment = p.get("raised_at")
    if event_type in ANSWER_ZH:
        verb, code = ANSWER_ZH[event_type]
        label = f"{verb}{label}"
        moment = p.get("acknowledged_at") or p.get("resolved_at") or moment
    subject = subject_of(event_type, p)
    if subject == "joint_approval":
        ref = f"{p.get('project_code') or ''} 联审#{p.get('joint_id')}".strip()
    elif subject in ("inspection", "penalty"):
        ref = p.get("reference_no") or f"#{p.get('subject_ref')}"
    else:
        ref = p.get("application_no") or p.get("external_ref") or p.get("project_code") or "—"
    dept = department_of(p) or ("多部门" if subject == "joint_approval" else "—")
    parts = [_moment(moment), label, dept, ref, p.get("rule") or ""]
    if subject in SUBJECT_ZH:
        parts.insert(2, SUBJECT_ZH[subject])
    if event_type in ("monitor.irregularity", "enforcement.irregularity") and p.get("description_zh"):
        parts.append(p["description_zh"])
    elif event_type == "project.milestone_missed":
        parts.append(f"{p.get('project_name')}：节点「{p.get('milestone')}」逾期未完成（应于 {p.get('deadline')} 前）")
    elif event_type == "project.self_check_missing":
        parts.append(f"{p.get('project_name')}：{p.get('period')} 月度自查未按时报送")
    elif event_type == "project.inspection_missing":
        parts.append(f"{p.get('project_name')}：{p.get('quarter')} 未开展重点督察")
    if event_type in ANSWER_ZH:
        parts.append(f"（{p.get('by') or '—'}" + (f"：{p['note']}）" if p.get("note") else "）"))
    line = "  ".join(str(x) for x in parts)
    return f"\x1b[{code}m{line}\x1b[0m" if colour else line


def subject_of(event_type: str, p: dict) -> str:
    """application, project or joint_approval: by the event type, or an answer's `subject`."""
    if event_type.startswith("project."):
        return "project"
    if event_type.startswith("joint_approval."):
        return "joint_approval"
    return p.get("subject") or "application"


# the broker password, never printed: status lines end up in terminals, scrollback and service logs
_secrets: set[str] = set()


def keep_secret(amqp_uri: str) -> None:
    try:
        password = urlsplit(amqp_uri).password
    except ValueError:
        return
    if password:
        _secrets.update({password, unquote(password)})


def status(message: str) -> None:
    for secret in sorted(_secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    # status goes to stderr, so that stdout carries the alert lines alone (for grep and friends)
    print(f"[{datetime.now(TZ).strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Watcher:
    def __init__(self, args: argparse.Namespace, out=sys.stdout):
        self.args = args
        self.out = out
        if args.color == "auto":
            self.colour = out.isatty() and not os.environ.get("NO_COLOR")
        else:
            self.colour = args.color == "always"
        self.connection = None
        self.listening = False

    def on_message(self, channel, method, properties, body) -> None:
        # kept short: pika answers the broker's heartbeats between callbacks
        try:
            event = parse_event(json.loads(body))
        except (ValueError, ContractError) as exc:
            status(f"跳过一条无法解析的消息 / skipped an unreadable message: {str(exc)[:200]}")
            return
        if wanted(event.payload, self.args.department, self.args.min_level):
            print(format_line(event.event_type, event.payload, self.colour), file=self.out, flush=True)

    def consume_once(self) -> None:
        params = pika.URLParameters(self.args.amqp_uri)
        params.heartbeat = 10
        params.blocked_connection_timeout = 30
        params.connection_attempts = 1
        params.socket_timeout = 5
        self.connection = pika.BlockingConnection(params)
        channel = self.connection.channel()
        channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True, auto_delete=False,
                                 arguments=EXCHANGE_ARGUMENTS)
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        for key in ROUTING_KEYS:
            channel.queue_bind(queue, EXCHANGE, routing_key=key)
        channel.basic_consume(queue, self.on_message, auto_ack=True)
        self.listening = True
        where = f"部门 {self.args.department}" if self.args.department else "全部部门"
        status(f"已连接，正在监听（{where}，{LEVEL_ZH[self.args.min_level]}及以上）/ connected, listening")
        channel.start_consuming()

    def run(self) -> int:
        delay = 0.5
        ever_connected = False
        while True:
            try:
                self.consume_once()
                return 0  # start_consuming returns only when consuming was cancelled
            except (ProbableAuthenticationError, ProbableAccessDeniedError) as exc:
                if not ever_connected:  # wrong user, password or vhost: retrying will not help
                    self.close()
                    status(f"无法登录消息服务器，请检查 --amqp-uri / the broker refused us: {exc}")
                    return 1
                self._lost(exc, delay)
            except (AMQPError, OSError) as exc:
                ever_connected = ever_connected or self.listening
                if self.listening:  # it worked until now: try again soon
                    delay = 0.5
                self._lost(exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    def _lost(self, exc: Exception, delay: float) -> None:
        reason = str(exc) or type(exc).__name__
        self.listening = False
        self.close()
        status(f"连接中断，{delay:g} 秒后重连 / connection lost ({reason[:200]}), retrying in {delay:g} s")

    def close(self) -> None:
        conn, self.connection = self.connection, None
        if conn is not None and conn.is_open:
            with contextlib.suppress(Exception):  # closing a broken connection may raise anything
                conn.close()


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    keep_secret(args.amqp_uri)
    signal.signal(signal.SIGTERM, _terminate)
    watcher = Watcher(args)
    try:
        return watcher.run()
    except KeyboardInterrupt:
        watcher.close()
        status("已停止 / stopped")
        return 0
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
