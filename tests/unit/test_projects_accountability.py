"""The pure rules of key projects' quarterly inspections and the accountability procedure (#16): quarters and
when their inspection is missing, what an inspection record may say, which alerts a procedure can start on, a
conclusion sent again, and what a conclusion must state."""

from datetime import UTC, date, datetime, timedelta

import pytest
from marshmallow import ValidationError

from services.approvals.domain import IllegalTransition
from services.approvals.projects import domain
from services.approvals.projects.schemas import ConcludeIn
from services.kernel import clock

TZ = clock.TZ


@pytest.mark.parametrize(("moment", "quarter"), [
    (datetime(2026, 1, 1, 0, 0, tzinfo=TZ), "2026-Q1"), (datetime(2026, 3, 31, 23, 59, tzinfo=TZ), "2026-Q1"),
    (datetime(2026, 6, 30, 16, 30, tzinfo=UTC), "2026-Q3"),  # 00:30 on 1 July in Beijing
    (date(2026, 12, 31), "2026-Q4")])
def test_the_quarter_of_a_moment_is_beijings(moment, quarter):
    assert domain.quarter_of(moment) == quarter


def test_quarters_follow_each_other_and_end_at_midnight_in_beijing():
    assert [domain.next_quarter(q) for q in ("2026-Q1", "2026-Q3", "2026-Q4")] == ["2026-Q2", "2026-Q4", "2027-Q1"]
    assert domain.inspection_due("2026-Q4") == datetime(2027, 1, 1, tzinfo=TZ)
    assert domain.due_by(domain.inspection_due("2026-Q2")) == datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=TZ)
    # a project registered in the last days of a quarter is first inspected in the next one
    assert domain.first_inspected_quarter(datetime(2026, 9, 28, 10, tzinfo=TZ)) == "2026-Q4"


def test_every_quarter_the_monitor_missed_is_due_once():
    start = domain.inspection_due("2026-Q3")
    due, quarter, check_at = domain.due_quarters("2026-Q3", start, datetime(2027, 4, 1, 0, 0, tzinfo=TZ))
    assert [q for q, _ in due] == ["2026-Q3", "2026-Q4", "2027-Q1"]
    assert (quarter, check_at) == ("2027-Q2", datetime(2027, 7, 1, tzinfo=TZ))
    assert domain.due_quarters("2026-Q3", start, start - timedelta(microseconds=1))[0] == []


def test_an_inspection_falls_in_its_quarter_and_not_after_now():
    now = datetime(2026, 11, 5, 10, tzinfo=TZ)
    assert domain.check_inspection("2026-Q4", now, now) == {}
    assert domain.check_inspection("2026-Q3", datetime(2026, 9, 30, 23, tzinfo=TZ), now) == {}
    assert set(domain.check_inspection("2027-Q1", now, now)) == {"quarter"}
    assert set(domain.check_inspection("2026-Q3", now, now)) == {"at"}
    assert set(domain.check_inspection("2026-Q4", now + timedelta(hours=1), now)) == {"at"}


@pytest.mark.parametrize(("subject", "level", "startable"), [
    ("project", "accountability", True), ("joint_approval", "yellow", True), ("joint_approval", "red", True),
    ("joint_approval", "warning", False), ("application", "red", False), ("application", "irregularity", False),
    ("submission", "irregularity", False)])
def test_a_procedure_starts_on_accountability_alerts_only(subject, level, startable):
    alert = {"id": 7, "subject": subject, "level": level}
    if startable:
        domain.require_procedure_subject(alert)
    else:
        with pytest.raises(IllegalTransition):
            domain.require_procedure_subject(alert)


MEASURE = {"outcome": "measure", "measure": "efficiency_warning", "target": "unit", "post": None,
           "deciding_body": "市效能办", "document_no": "效能告诫〔2026〕3号", "decided_on": date(2026, 10, 12),
           "reason": "节点逾期"}


def test_a_conclusion_sent_again_is_the_same_one_and_another_is_refused():
    procedure = {"id": 1, "state": "open", **{k: None for k in domain.CONCLUSION_FIELDS.values()}}
    domain.require_open_procedure(procedure)
    concluded = {**procedure, **domain.conclusion(MEASURE)}
    assert concluded["state"] == "concluded" and concluded["conclusion_reason"] == "节点逾期"
    assert domain.same_conclusion(concluded, MEASURE)
    assert not domain.same_conclusion(concluded, {**MEASURE, "document_no": "效能告诫〔2026〕4号"})
    with pytest.raises(IllegalTransition):
        domain.require_open_procedure(concluded)


def test_the_alert_is_resolved_with_what_was_decided():
    assert domain.resolution_note(MEASURE, "效能告诫") == "责任追究程序办结：效能告诫（效能告诫〔2026〕3号）"
    assert domain.resolution_note({"outcome": "none_due"}, None) == "责任追究程序办结：经研究不予追究"


@pytest.fixture
def today(frozen):
    frozen(datetime(2026, 10, 12, 15, 0, tzinfo=TZ))


def _errors(body):
    try:
        ConcludeIn().load(body)
    except ValidationError as exc:
        return set(exc.messages)
    return set()


def test_a_measure_states_what_against_whom_by_whom(today):
    body = {**MEASURE, "decided_on": "2026-10-12"}
    assert _errors(body) == set()
    assert _errors({**body, "target": "person"}) == {"post"}  # a person's post (职务), never a name
    assert _errors({**body, "post": "科长"}) == {"post"}  # a unit has no post
    assert _errors({**body, "measure": None, "deciding_body": None}) == {"measure", "deciding_body"}
    assert _errors({**body, "decided_on": "2026-10-13"}) == {"decided_on"}
    assert _errors({**body, "measure": "warning"}) == {"measure"}


def test_none_due_states_no_measure(today):
    body = {"outcome": "none_due", "decided_on": "2026-10-12", "reason": "经核实不予追究"}
    assert _errors(body) == set()
    assert _errors({**body, "measure": "criticism", "target": "unit"}) == {"measure", "target"}


def test_revision_0011_checks_the_projects_from_before_from_the_quarter_of_the_upgrade(tmp_path, frozen):
    import sqlalchemy as sa
    from alembic import command

    from deploy.migrations import service_metadata
    from services.kernel import migrate
    from services.kernel.db import create_db_engine

    frozen(datetime(2026, 12, 3, 12, 0, tzinfo=TZ))
    engine = create_db_engine(f"sqlite:///{tmp_path}/approvals.db")
    metadata = migrate._with_kernel_tables(service_metadata("approvals"))
    try:
        with engine.connect() as conn, conn.begin():
            command.upgrade(migrate.alembic_config("approvals", conn, metadata), "0010")
            conn.execute(sa.text(
                "INSERT INTO projects (code, name, responsible_units, agent_name, agent_phone, self_check_period, "
                "next_self_check_at, created_at, updated_at) VALUES ('XM-OLD', '旧项目', '[\"ZJJ\"]', '王代办', "
                "'0571-1', '2026-05', '2026-06-05 16:00:00', '2026-05-01 01:00:00', '2026-05-01 01:00:00')"))
            conn.execute(sa.text("INSERT INTO project_inspections (project_code, quarter, inspector, findings, "
                                 "inspected_at) VALUES ('XM-OLD', '2026-Q2', 'm', '无', '2026-05-02 01:00:00')"))
            command.upgrade(migrate.alembic_config("approvals", conn, metadata), "0011")
            row = conn.execute(sa.text("SELECT state, inspection_quarter, next_inspection_at FROM projects")).one()
            count = conn.execute(sa.text("SELECT findings_count FROM project_inspections")).scalar_one()
    finally:
        engine.dispose()
    assert (row[0], row[1], str(row[2])[:19], count) == ("active", "2026-Q4", "2026-12-31 16:00:00", 0)
