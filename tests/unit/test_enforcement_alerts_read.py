"""How the monitors read an enforcement irregularity (#17) — the console's title, subject and reference, the
watcher's line, notify's message and scoring's fact — from the one contract `enforcement.irregularity`, and that
its acknowledgement and resolution are filed beside it (the same `ref_id`)."""

import json
from datetime import datetime

from services.kernel.clock import TZ
from services.kernel.contracts import make_event, parse_event
from services.notify import watch
from services.notify.console import domain as console
from services.notify.domain import severity_of
from services.notify.messages import render
from services.scoring.domain import facts_of

RAISED = datetime(2026, 11, 11, 9, 30, tzinfo=TZ)


def wire(event_type: str, payload: dict) -> dict:
    event = make_event(event_type, payload, service="approvals")
    return parse_event(json.loads(json.dumps(event))).payload


def irregularity(code="uncertified_inspector", subject="inspection", **more) -> dict:
    return wire("enforcement.irregularity", {
        "alert_id": "77", "level": "irregularity", "rule": f"{code}:5", "subject": subject, "subject_ref": "5",
        "reference_no": "JC-2026-0005", "department": "SCJGJ", "code": code,
        "description_zh": "执法人员执法证已过期（证号 13060001，电话 13912345678）", "severity": "high",
        "raised_at": RAISED, **more})


def test_the_console_files_it_under_its_subject_and_its_answers_beside_it():
    p = irregularity()
    assert console.subject_refs("inspection", p) == ("JC-2026-0005", "inspection:5")
    assert console.subject_title("enforcement.irregularity", p) == "执法人员执法证已过期（证号 13060001，电话 [电话]）"
    assert console.subject_of("approvals", "inspection:5") == "inspection"
    assert console.subject_of("approvals", "penalty:9") == "penalty"
    assert console.subject_of("approvals", "12") == "application"
    answer = wire("monitor.alert_resolved", {
        "alert_id": "77", "level": "irregularity", "rule": "uncertified_inspector:5", "raised_at": RAISED,
        "subject": "inspection", "department": "SCJGJ", "subject_ref": "5", "reference_no": "JC-2026-0005",
        "by": "李监察", "note": "已纠正", "resolved_at": RAISED})
    assert console.subject_refs(answer["subject"], answer) == console.subject_refs("inspection", p)


def test_the_watcher_prints_one_line_with_what_was_found():
    line = watch.format_line("enforcement.irregularity", irregularity(), False)
    assert line.startswith("11-11 09:30:00  【纠错】  执法检查  SCJGJ  JC-2026-0005  uncertified_inspector:5")
    assert "执法人员执法证已过期" in line and "13912345678" not in line
    assert "enforcement.irregularity" in watch.ROUTING_KEYS


def test_notify_says_it_as_severe_as_it_is_and_names_no_number():
    p = irregularity(subject="penalty", code="out_of_band", reference_no="莱市监罚〔2026〕12号")
    assert severity_of("enforcement.irregularity", p) == "high"
    subject, body = render("enforcement.irregularity", {**p, "severity": "high", "link": "http://c/console"})
    assert subject.startswith("【") and "行政处罚违规" in subject and "莱市监罚〔2026〕12号" in subject
    assert "13912345678" not in subject + body and "http://c/console" in body


def test_scoring_counts_a_late_filing_apart_from_the_other_irregularities():
    [late] = facts_of("enforcement.irregularity", irregularity(code="late_filing", subject="penalty"))
    [other] = facts_of("enforcement.irregularity", irregularity())
    assert (late.metric, late.department, late.ref) == ("penalties_filed_late", "SCJGJ", "77")
    assert (other.metric, other.detail) == ("enforcement_irregularities", "uncertified_inspector")
