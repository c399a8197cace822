"""The console keeps no phone or id number of the free text its events carry (an emergency's summary, a
monitor's note, an irregularity's description): every open console page and the feed would show it."""

import json
from datetime import datetime

from services.kernel import clock
from services.kernel.contracts import make_event, parse_event
from services.kernel.db import Database
from services.notify import console
from services.notify.store import metadata

AT = datetime(2026, 11, 2, 10, 0, tzinfo=clock.TZ)
PHONE, ID_NO = "13812345678", "110101199003078515"


def test_free_text_reaches_the_console_without_phone_or_id_numbers(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/notify.db", metadata, service="notify")
    db.create_all()
    try:
        events = [
            make_event("appeal.emergency", {
                "appeal_id": "9", "case_no": "MY2026-0009", "department": "ZJJ", "type": "help", "urgency": "emergency",
                "category": "water", "summary": f"小区停水，老人无法做饭，联系电话 {PHONE}，身份证 {ID_NO}",
                "due_at": AT}, service="appeals", occurred_at=AT),
            make_event("monitor.alert_resolved", {
                "application_id": "7", "application_no": "SP-7", "item_code": "SCJ-001", "department": "SCJGJ",
                "alert_id": "7", "level": "red", "rule": "overdue", "raised_at": AT, "by": "李监察",
                "note": f"已电话联系申请人 {PHONE}", "resolved_at": AT}, service="approvals", occurred_at=AT),
        ]
        with db.unit_of_work() as uow:
            for body in events:
                assert console.record_event(uow.session, parse_event(body), AT)
        with db.reader() as s:
            shown = json.dumps([console.feed_latest(s, 10), console.list_alerts(s, state="all")], default=str,
                               ensure_ascii=False)
        assert PHONE not in shown and ID_NO not in shown
        assert "[电话]" in shown and "[身份证号]" in shown and "小区停水" in shown
    finally:
        db.dispose()
