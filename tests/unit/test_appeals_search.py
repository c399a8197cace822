"""The operator's search (desk/): its pure rules, and its index on SQLite — built the same by a fresh schema and
by revision 0006 (which also indexes the cases already there), and kept in step with every insert, update and
delete of an appeal in the same transaction."""

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from deploy.migrations import service_metadata
from services.appeals import store
from services.appeals.desk import domain
from services.appeals.desk import store as desk_store
from services.appeals.desk.render import to_csv, to_html
from services.kernel import migrate
from services.kernel.db import create_db_engine

NOW = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)


# -- the rules -------------------------------------------------------------------------------------------

def test_every_spelling_of_a_phone_finds_the_number_the_intake_stored():
    for spelling in ("13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "0086 13812345678",
                     "(+86)138-1234-5678"):
        assert domain.phone_keys(spelling)[0] == "13812345678", spelling
    assert domain.phone_keys("0531-8888 6666")[0] == "053188886666"
    assert domain.valid_phone("+86 138-1234-5678") and not domain.valid_phone("12a4567") \
        and not domain.valid_phone("1234")


def test_keywords_split_into_required_terms_and_short_ones_need_a_bound():
    assert domain.keyword_terms(" 停水  三天 停水 ") == ["停水", "三天"]
    with pytest.raises(domain.SearchRefused):
        domain.keyword_terms("   ")
    with pytest.raises(domain.SearchRefused):
        domain.keyword_terms("一 二 三 四 五 六")
    bound = {"received_from": NOW - timedelta(days=31), "received_to": NOW, "case_no": None, "phone": None}
    domain.check_short_terms(["停水"], **bound)  # 31 days: bounded
    domain.check_short_terms(["停水啦"], **{**bound, "received_from": None})  # indexed: no bound needed
    domain.check_short_terms(["停水"], **{**bound, "received_from": None, "phone": "13812345678"})
    with pytest.raises(domain.SearchRefused, match="31"):
        domain.check_short_terms(["停水"], **{**bound, "received_from": NOW - timedelta(days=32)})
    with pytest.raises(domain.SearchRefused):
        domain.check_short_terms(["水"], **{**bound, "received_to": None})


def test_fts_and_like_patterns_quote_what_the_citizen_typed():
    assert domain.fts_query(['井盖"缺', "AND"]) == '"井盖""缺" AND "AND"'
    assert domain.like_pattern("50%_\\") == "%50\\%\\_\\\\%"
    assert domain.looks_like_phone("电话 138 1234 5678") and not domain.looks_like_phone("2026年11月")


def test_an_exported_cell_never_starts_a_formula():
    for bad in ("=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert domain.excel_safe(bad) == "'" + bad
    assert domain.excel_safe("停水") == "停水" and domain.excel_safe(None) == ""


def _case(**over) -> dict:
    case = {"case_no": "MY20261104000001", "received_at": NOW, "channel": "hotline", "type": "help",
            "urgency": "emergency", "category": "water", "category_name": "供水",
            "location": {"town_street": "WCJD", "address": "=HYPERLINK(\"http://x\")"},
            "appellant": {"name": "张*", "phone": "138****5678"}, "content": "<script>停水</script>",
            "department": "SWJ", "status_zh": "已派单", "due_at": None, "clock": {"overdue": True}, "reply": None,
            "satisfaction": None, "duplicate_of": None}
    case.update(over)
    return case


def test_the_csv_is_excel_safe_with_a_bom_and_chinese_headers():
    body = to_csv([_case()])
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert header.startswith("案件编号,受理时间,渠道,类型,紧急程度,类别,镇街,地址,诉求人,联系电话")
    assert "'=HYPERLINK" in row and "12345热线" in row and "紧急" in row and "138****5678" in row
    assert "2026-11-04 10:00" in row and ",是," in row


def test_the_printable_list_escapes_text_and_loads_nothing():
    page = to_html([_case()], [("类别", "供水")], NOW)
    assert "&lt;script&gt;停水&lt;/script&gt;" in page and "<script>" not in page
    assert "http" not in page.replace("http://x", "") or "src=" not in page
    assert "<link" not in page and "src=" not in page and "共 1 件" in page and "筛选条件：类别：供水" in page


# -- the index on SQLite ----------------------------------------------------------------------------------

def _insert(s, appeal_id, content, reply=None, phone=None):
    s.execute(store.appeals.insert().values(
        id=appeal_id, case_no=f"MY{appeal_id:06d}", channel="hotline", type="help", urgency="normal",
        category="water", content=content, reply=reply, appellant_phone=phone, status="dispatched",
        received_at=NOW, created_at=NOW, updated_at=NOW, attachments=[]))


def _found(s, keyword):
    rows, total = desk_store.search(s, {"terms": domain.keyword_terms(keyword)}, sort=None, limit=50)
    assert total == len(rows)
    return sorted(r["id"] for r in rows)


@pytest.fixture
def db(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path}/appeals.db")
    store.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_the_index_follows_every_write_in_its_transaction(db):
    with Session(db) as s, s.begin():
        _insert(s, 1, "小区停水三天了，无人处理")
        _insert(s, 2, "道路井盖缺失，很危险")
    with Session(db) as s:
        assert _found(s, "停水三") == [1] and _found(s, "井盖缺失") == [2] and _found(s, "已修复") == []
    with Session(db) as s, s.begin():
        s.execute(update(store.appeals).where(store.appeals.c.id == 2).values(reply="井盖已修复"))
        s.execute(update(store.appeals).where(store.appeals.c.id == 1).values(content="自来水水压太低"))
    with Session(db) as s:
        assert _found(s, "已修复") == [2] and _found(s, "井盖 修复") == [2] and _found(s, "停水三") == []
        assert _found(s, "水压太") == [1]
    with Session(db) as s, s.begin():
        s.execute(update(store.appeals).where(store.appeals.c.id == 2).values(status="replied"))  # not indexed
        s.execute(delete(store.appeals).where(store.appeals.c.id == 1))
    with Session(db) as s:
        assert _found(s, "水压太") == [] and _found(s, "已修复") == [2]
    with Session(db) as s, s.begin():
        s.execute(update(store.appeals).where(store.appeals.c.id == 2).values(reply="x"))
        s.rollback()
    with Session(db) as s:
        assert _found(s, "已修复") == [2]  # a rolled back write leaves the index as it was
        # the FTS5 integrity check compares the index with the appeals table
        s.connection().exec_driver_sql("INSERT INTO appeals_search(appeals_search, rank) VALUES('integrity-check', 1)")


def _schema(engine, like):
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master WHERE name LIKE ? ORDER BY name", (like,)))


def test_revision_0006_builds_the_index_of_a_fresh_schema_and_indexes_the_cases_already_there(db, tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path}/migrated.db")
    metadata = migrate._with_kernel_tables(service_metadata("appeals"))
    try:
        with engine.connect() as conn, conn.begin():
            command.upgrade(migrate.alembic_config("appeals", conn, metadata), "0005")
            conn.exec_driver_sql(
                "INSERT INTO appeals (id, case_no, channel, type, urgency, category, content, reply, status, "
                "received_at, created_at, updated_at, attachments, anonymous, extension_used, return_count, "
                "reopen_count, repeat_count, overdue, exposed) VALUES (7, 'MY7', 'hotline', 'help', 'normal', "
                "'road', '路灯不亮已经一周', '已派人维修路灯', 'replied', '2026-11-04 10:00:00+08:00', "
                "'2026-11-04 10:00:00+08:00', '2026-11-04 10:00:00+08:00', '[]', 0, 0, 0, 0, 0, 0, 0)")
            command.upgrade(migrate.alembic_config("appeals", conn, metadata), "0006")
        with engine.connect() as conn:  # the table at 0006 lacks later columns: the index alone
            def matching(keyword):
                return [r[0] for r in conn.exec_driver_sql(
                    "SELECT rowid FROM appeals_search WHERE appeals_search MATCH ?", (domain.fts_query([keyword]),))]
            assert matching("路灯不亮") == [7] and matching("派人维修") == [7] and matching("井盖缺") == []
        assert _schema(engine, "appeals_search%") == _schema(db, "appeals_search%")
        with engine.connect() as conn, conn.begin():
            command.downgrade(migrate.alembic_config("appeals", conn, metadata), "0005")
        assert _schema(engine, "appeals_search%") == []
    finally:
        engine.dispose()
