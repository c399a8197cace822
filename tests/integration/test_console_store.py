"""The console's tables on both backends: events taken in whatever order they come (an acknowledgement before
its alert, a redelivery), the board's lights and counts, the feed in order."""

import uuid
from datetime import datetime

import pytest
from sqlalchemy.engine import make_url

from services.kernel import clock
from services.kernel.contracts import make_event, parse_event
from services.kernel.db import Database
from services.notify import console
from services.notify.store import metadata

AT = datetime(2026, 11, 2, 10, 0, tzinfo=clock.TZ)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/notify.db", metadata, service="notify")
        database.create_all()
        yield database
        database.dispose()
        return
    pg_admin = request.getfixturevalue("pg_admin")
    pg_url = request.getfixturevalue("pg_url")
    name = f"xiaoneng_test_console_{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = Database(make_url(pg_url).set(database=name).render_as_string(hide_password=False), metadata,
                        service="notify")
    database.create_all()
    yield database
    database.dispose()
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def approvals(event_type, alert_id, level, department="SCJGJ", **extra):
    payload = {"application_id": "7", "application_no": f"SP-{alert_id}", "item_code": "SCJ-001",
               "department": department, "alert_id": str(alert_id), "level": level, "rule": "overdue",
               "raised_at": AT, **extra}
    return parse_event(make_event(event_type, payload, service="approvals", occurred_at=AT))


def take(db, event):
    with db.unit_of_work() as uow:
        return console.record_event(uow.session, event, AT)


def test_events_in_any_order_and_the_board(db):
    assert take(db, approvals("monitor.alert_resolved", 2, "red", by="李监察", note="已纠正", resolved_at=AT))
    assert take(db, approvals("monitor.alert_acknowledged", 2, "red", by="张监察", acknowledged_at=AT))
    assert take(db, approvals("monitor.red_card", 2, "red"))
    assert take(db, approvals("monitor.yellow_card", 1, "yellow"))
    assert take(db, approvals("monitor.warning", 3, "warning", department="GTJ", remaining_days=1.5,
                              rule="warning_days_left"))
    with db.reader() as s:
        alerts = {a["alert_id"]: a for a in console.list_alerts(s, state="all")}
        board = console.board(s)
        feed = console.feed_after(s, 0)
    red = alerts["2"]
    assert red["state"] == "resolved" and red["kind"] == "monitor.red_card" and red["title_zh"] == "黄牌后仍未办结"
    assert red["resolved_by"] == "李监察" and red["acknowledged_by"] == "张监察" and red["note"] == "已纠正"
    assert alerts["3"]["title_zh"] == "临近办结期限（剩余 2 个工作日）"
    # worst light first, then most alerts, then by code
    assert [(b["department"], b["light"], b["total"]) for b in board] == [("GTJ", "yellow", 1), ("SCJGJ", "yellow", 1)]
    assert board[1]["counts"]["yellow"] == 1 and board[1]["counts"]["red"] == 0
    assert [f["event_type"] for f in feed] == ["monitor.alert_resolved", "monitor.alert_acknowledged",
                                                "monitor.red_card", "monitor.yellow_card", "monitor.warning"]
    assert feed[0]["alert"]["state"] == "resolved"
    assert feed[0]["text_zh"] == "已办结【红牌】SCJGJ SP-2（李监察：已纠正）"
    with db.reader() as s:
        assert [a["alert_id"] for a in console.list_alerts(s)] == ["3", "1"]  # active: newest first
        assert console.list_alerts(s, department="GTJ", level="yellow") == []
        assert [f["id"] for f in console.feed_latest(s, 2)] == [feed[3]["id"], feed[4]["id"]]


def test_a_red_alert_turns_the_light_red_until_it_is_resolved(db):
    take(db, approvals("monitor.red_card", 5, "red"))
    with db.reader() as s:
        assert console.board(s)[0]["light"] == "red"
    take(db, approvals("monitor.alert_resolved", 5, "red", by="李监察", note="已纠正", resolved_at=AT))
    with db.reader() as s:
        assert console.board(s) == [{"department": "SCJGJ", "department_name": "SCJGJ", "light": "green",
                                     "total": 0, "counts": dict.fromkeys(console.LEVELS, 0)}]
        assert console.board(s, {"SCJGJ": "市市场监督管理局"})[0]["department_name"] == "市市场监督管理局"


def test_a_late_acknowledgement_keeps_the_resolution_and_long_texts_are_cut(db):
    take(db, approvals("monitor.alert_resolved", 6, "yellow", by="李监察", note="已纠正", resolved_at=AT))
    take(db, approvals("monitor.alert_acknowledged", 6, "yellow", by="张监察", note="先确认", acknowledged_at=AT))
    summary = "燃气" * 400
    take(db, parse_event(make_event("appeal.emergency", {"appeal_id": "8", "case_no": "RX-8", "summary": summary},
                                    service="appeals", occurred_at=AT)))
    with db.reader() as s:
        alerts = {a["alert_id"]: a for a in console.list_alerts(s, state="all")}
    assert alerts["6"]["state"] == "resolved" and alerts["6"]["note"] == "已纠正"
    assert alerts["6"]["acknowledged_by"] == "张监察" and alerts["6"]["resolved_by"] == "李监察"
    emergency = alerts["8:emergency"]
    assert len(emergency["title_zh"]) == 500 and emergency["title_zh"].startswith("紧急诉求：燃气燃气")
    assert emergency["department"] is None and emergency["raised_at"] == AT
