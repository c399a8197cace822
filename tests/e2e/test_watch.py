"""The terminal watcher as the user runs it (`python -m services.notify.watch`, a subprocess) against the real
broker: its filters, its colours, its reconnection after the link to RabbitMQ is cut (by a TCP proxy: the
shared broker is never restarted), and a clean stop on Ctrl-C."""

import os
import signal
import subprocess
import sys
from urllib.parse import quote

import eventlet
import pytest

from services.kernel import clock
from services.kernel.contracts import make_event
from tests.conftest import RABBIT_HOST, RABBIT_PASSWORD, RABBIT_USER, ROOT, free_port, wait_for
from tests.support import TcpProxy, publish_raw


class WatchProcess:
    def __init__(self, amqp_uri, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.notify.watch", "--amqp-uri", amqp_uri, *args], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1"})
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [eventlet.spawn(self._read, self.proc.stdout, self.out),
                         eventlet.spawn(self._read, self.proc.stderr, self.err)]

    @staticmethod
    def _read(pipe, into):
        for raw in iter(pipe.readline, b""):
            into.append(raw.decode("utf-8").rstrip("\n"))

    def status_count(self, text):
        return sum(text in line for line in self.err)

    def wait_status(self, text, count=1, timeout=15):
        wait_for(lambda: self.status_count(text) >= count, timeout=timeout,
                 message=f"{count} × {text!r} from the watcher; stderr so far: {self.err}")

    def stop(self, sig=signal.SIGINT, timeout=10):
        self.proc.send_signal(sig)
        wait_for(lambda: self.proc.poll() is not None, timeout=timeout, message="the watcher to exit")
        for gt in self._readers:
            gt.wait()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def watch():
    started = []

    def start(amqp_uri, *args):
        w = WatchProcess(amqp_uri, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()


def alert(event_type, level, department, no, rule="overdue", **extra):
    payload = {"application_id": "1", "application_no": no, "item_code": "SCJ-001", "department": department,
               "alert_id": no, "level": level, "rule": rule, "raised_at": clock.now(), **extra}
    return make_event(event_type, payload, service="approvals")


def publish(amqp_uri, event):
    publish_raw(amqp_uri, "approvals.events", event["event_type"], event)


IRREGULAR = {"code": "decision_without_acceptance", "description_zh": "申请未经受理即作出审批决定", "severity": "high",
             "at": clock.now(), "refused": True}


def test_it_shows_the_alerts_its_filters_let_through_one_line_each(watch, fresh_amqp_uri):
    w = watch(fresh_amqp_uri, "--department", "SCJGJ", "--min-level", "yellow")
    w.wait_status("已连接")
    events = [
        alert("monitor.warning", "warning", "SCJGJ", "SP-1", rule="warning_days_left"),  # below yellow
        alert("monitor.yellow_card", "yellow", "SCJGJ", "SP-2"),
        alert("monitor.red_card", "red", "ZJJ", "SP-3"),  # another department
        alert("monitor.irregularity", "irregularity", "SCJGJ", "SP-4", rule="decision_without_acceptance@x",
              **IRREGULAR),
        alert("monitor.alert_acknowledged", "yellow", "SCJGJ", "SP-2", by="张监察", note="已督促",
              acknowledged_at=clock.now()),
        alert("monitor.supervision_overdue", "red", "SCJGJ", "SP-5", rule="supervision_overdue:3", order_id="3",
              act_by=clock.now().date()),
    ]
    for event in events:
        publish(fresh_amqp_uri, event)
    publish_raw(fresh_amqp_uri, "approvals.events", "monitor.red_card", b"not json at all")
    publish(fresh_amqp_uri, alert("monitor.red_card", "red", "SCJGJ", "SP-LAST"))
    wait_for(lambda: any("SP-LAST" in line for line in w.out), message=f"the last alert; out: {w.out}")
    assert w.stop() == 0
    assert [line.split("  ")[3] for line in w.out] == ["SP-2", "SP-4", "SP-2", "SP-5", "SP-LAST"], w.out
    yellow, irregular, acked, supervision, red = w.out
    assert "【黄牌】  SCJGJ  SP-2  overdue" in yellow and "\x1b[" not in yellow  # no colour into a pipe
    assert "【纠错】" in irregular and "申请未经受理即作出审批决定" in irregular
    assert "已确认【黄牌】" in acked and "（张监察：已督促）" in acked
    assert "【红牌】" in supervision and "supervision_overdue:3" in supervision
    assert "【红牌】  SCJGJ  SP-LAST" in red
    assert w.status_count("跳过一条无法解析的消息") == 1
    assert not any("Traceback" in line for line in w.err), w.err


def test_everything_and_in_colour_by_default_levels(watch, fresh_amqp_uri):
    w = watch(fresh_amqp_uri, "--color", "always")
    w.wait_status("已连接")
    publish(fresh_amqp_uri, alert("monitor.warning", "warning", "GTJ", "SP-W", rule="warning_days_left"))
    publish(fresh_amqp_uri, alert("monitor.red_card", "red", "ZJJ", "SP-R"))
    wait_for(lambda: len(w.out) == 2, message=f"two lines; out: {w.out}")
    assert w.out[0].startswith("\x1b[33m") and "【预警】  GTJ  SP-W" in w.out[0] and w.out[0].endswith("\x1b[0m")
    assert w.out[1].startswith("\x1b[1;31m") and "【红牌】  ZJJ  SP-R" in w.out[1]
    assert w.stop() == 0


def test_it_reconnects_after_the_link_to_the_broker_is_cut(watch, fresh_vhost):
    host, port = RABBIT_HOST.split(":")
    proxy = TcpProxy(host, int(port))
    try:
        uri = f"amqp://{RABBIT_USER}:{RABBIT_PASSWORD}@127.0.0.1:{proxy.port}/{quote(fresh_vhost, safe='')}"
        direct = f"amqp://{RABBIT_USER}:{RABBIT_PASSWORD}@{RABBIT_HOST}/{quote(fresh_vhost, safe='')}"
        w = watch(uri)
        w.wait_status("已连接")
        publish(direct, alert("monitor.yellow_card", "yellow", "SCJGJ", "SP-BEFORE"))
        wait_for(lambda: any("SP-BEFORE" in line for line in w.out), message="the alert before the cut")

        proxy.cut()
        w.wait_status("连接中断")
        eventlet.sleep(1.0)  # a few refused attempts while the broker is out of reach (not a synchronisation)
        proxy.restore()
        w.wait_status("已连接", count=2, timeout=20)
        publish(direct, alert("monitor.red_card", "red", "SCJGJ", "SP-AFTER"))
        wait_for(lambda: any("SP-AFTER" in line for line in w.out), message=f"the alert after; out: {w.out}")
        assert w.stop() == 0
        assert not any("Traceback" in line for line in w.err), w.err
    finally:
        proxy.close()


def test_ctrl_c_stops_it_cleanly_while_listening_and_while_waiting_to_reconnect(watch, fresh_amqp_uri):
    w = watch(fresh_amqp_uri)
    w.wait_status("已连接")
    assert w.stop(signal.SIGINT) == 0
    assert w.status_count("已停止") == 1 and not any("Traceback" in line for line in w.err), w.err

    # nothing listens on this port: the watcher is between attempts when Ctrl-C comes
    w = watch(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    w.wait_status("连接中断")
    assert w.stop(signal.SIGINT) == 0
    assert not any("Traceback" in line for line in w.err), w.err

    w = watch(fresh_amqp_uri)
    w.wait_status("已连接")
    assert w.stop(signal.SIGTERM) == 0


def test_a_bad_option_is_refused_with_usage(watch, fresh_amqp_uri):
    w = watch(fresh_amqp_uri, "--min-level", "purple")
    wait_for(lambda: w.proc.poll() is not None, message="the watcher to refuse")
    for gt in w._readers:
        gt.wait()
    assert w.proc.returncode == 2 and any("invalid choice" in line for line in w.err), w.err


def test_a_broker_that_refuses_the_login_is_reported_not_retried(watch, fresh_amqp_uri):
    w = watch(fresh_amqp_uri.rsplit("/", 1)[0] + "/no-such-vhost-" + os.urandom(4).hex())
    wait_for(lambda: w.proc.poll() is not None, message=f"the watcher to give up; stderr: {w.err}")
    for gt in w._readers:
        gt.wait()
    assert w.proc.returncode == 1 and w.status_count("无法登录消息服务器") == 1, w.err
    assert not any("Traceback" in line for line in w.err), w.err
