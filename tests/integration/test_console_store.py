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
from services.notify.console.domain import SUBJECTS
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
                                     "total": 0, "counts": dict.fromkeys(console.LEVELS, 0),
                                     "subjects": dict.fromkeys(SUBJECTS, 0)}]
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


# -- rectification reports (整改) ----------------------------------------------------------------------------------


def rectification(event_type, alert_id, rnd, department="SCJGJ", **extra):
    fields = {"monitor.rectification_submitted": {"submitted_at": AT, "attachments_count": 1, "overdue": False,
                                                  "by": "handler-SCJGJ"},
              "monitor.rectification_accepted": {"accepted_at": AT, "by": "李监察", "note": "同意"},
              "monitor.rectification_returned": {"returned_at": AT, "by": "李监察", "reason": "附件不全"},
              "monitor.rectification_overdue": {"overdue_at": AT, "rectification_state": "pending",
                                                "rectification_days": 5}}[event_type]
    return approvals(event_type, alert_id, "yellow", department, rectification_id=f"R{alert_id}", round=rnd,
                     rectification_due_at=AT, **{**fields, **extra})


def queue(db, **query):
    with db.reader() as s:
        return console.store.list_rectifications(s, **query)


def test_rectification_events_in_any_order_keep_the_furthest_round(db):
    take(db, approvals("monitor.yellow_card", 5, "yellow"))
    # round 1 sent back, then round 2 submitted; the events of round 1 arrive last
    assert take(db, rectification("monitor.rectification_submitted", 5, 2)) is not None
    take(db, rectification("monitor.rectification_returned", 5, 1))
    take(db, rectification("monitor.rectification_submitted", 5, 1))
    [row] = queue(db)
    assert (row["state"], row["round"], row["alert_id"], row["ref_no"]) == ("submitted", 2, "5", "SP-5")
    assert row["review_note"] is None and row["state_zh"] == "待审核"
    take(db, rectification("monitor.rectification_accepted", 5, 2))
    assert queue(db) == []
    [done] = queue(db, state="accepted")
    assert (done["reviewed_by"], done["review_note"]) == ("李监察", "同意")
    # a redelivered earlier event changes nothing
    take(db, rectification("monitor.rectification_submitted", 5, 2))
    assert queue(db) == [] and queue(db, state="accepted")[0]["state"] == "accepted"


def test_an_overdue_rectification_and_an_alert_resolved_otherwise(db):
    # no console alert for it: kept all the same, no feed line
    assert take(db, rectification("monitor.rectification_overdue", 6, 0)) is None
    [row] = queue(db, state="overdue")
    assert (row["state"], row["overdue"]) == ("pending", True)
    take(db, rectification("monitor.rectification_submitted", 6, 1, overdue=True))
    assert [r["alert_id"] for r in queue(db, state="overdue")] == ["6"] and queue(db)[0]["overdue"]
    take(db, approvals("monitor.alert_resolved", 6, "yellow", by="李监察", note="直接办结", resolved_at=AT))
    assert queue(db) == [] and queue(db, state="closed")[0]["alert_id"] == "6"
    # a report of an alert the console shows resolved already is closed at once
    take(db, rectification("monitor.rectification_submitted", 6, 2))
    assert queue(db) == []


def test_a_review_is_sent_to_approvals_once_and_never_done_here(db):
    import json

    from services.kernel.domain import IllegalTransition
    from services.kernel.keys import ApiKey

    take(db, rectification("monitor.rectification_submitted", 7, 1))
    [row] = queue(db)
    monitor = ApiKey(name="张监察", role="monitor", department=None, key_id="k1")
    with db.unit_of_work() as uow:
        out = console.usecases.request_review(uow, row["id"], "return", "附件不全", monitor, AT)
    assert (out["pending_decision"], out["state"]) == ("return", "submitted")
    with pytest.raises(IllegalTransition), db.unit_of_work() as uow:
        console.usecases.request_review(uow, row["id"], "accept", None, monitor, AT)  # one decision at a time
    with db.reader() as s:
        bodies = [r.body for r in s.execute(metadata.tables["outbox"].select())]
    [command] = [json.loads(b) for b in bodies]
    assert command["event_type"] == "alert.action_requested"
    assert {k: command["payload"][k] for k in ("owner", "alert_id", "department", "action", "note")} == {
        "owner": "approvals", "alert_id": "7", "department": "SCJGJ", "action": "return_rectification",
        "note": "附件不全"}
    take(db, rectification("monitor.rectification_returned", 7, 1))
    [returned] = queue(db, state="returned")
    assert returned["pending_decision"] is None
