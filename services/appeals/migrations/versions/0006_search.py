"""the operator's search (#14): a keyword index on appeals.content and appeals.reply. SQLite: an FTS5 table with
the trigram tokenizer (`appeals_search`, external content: the appeals table), kept in step by triggers on insert,
delete and update of content or reply; PostgreSQL: the pg_trgm extension and GIN trigram indexes on content and
reply (a clear error when the extension is not available). Existing cases are indexed by the upgrade.

Phone search needs no column: the intake stores every number normalised (domain.normalize_phone), and
ix_appeals_dup begins with appellant_phone.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 06:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as desk/store.py creates them on a fresh database (tests/unit/test_appeals_search.py compares the two)
SQLITE_UP = (
    "CREATE VIRTUAL TABLE appeals_search USING fts5(content, reply, content='appeals', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER appeals_search_ai AFTER INSERT ON appeals BEGIN "
    "INSERT INTO appeals_search(rowid, content, reply) VALUES (new.id, new.content, new.reply); END",
    "CREATE TRIGGER appeals_search_ad AFTER DELETE ON appeals BEGIN "
    "INSERT INTO appeals_search(appeals_search, rowid, content, reply) VALUES ('delete', old.id, old.content, "
    "old.reply); END",
    "CREATE TRIGGER appeals_search_au AFTER UPDATE OF content, reply ON appeals BEGIN "
    "INSERT INTO appeals_search(appeals_search, rowid, content, reply) VALUES ('delete', old.id, old.content, "
    "old.reply); INSERT INTO appeals_search(rowid, content, reply) VALUES (new.id, new.content, new.reply); END",
    # the cases taken in before: read from the content table
    "INSERT INTO appeals_search(appeals_search) VALUES ('rebuild')",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS appeals_search_au",
    "DROP TRIGGER IF EXISTS appeals_search_ad",
    "DROP TRIGGER IF EXISTS appeals_search_ai",
    "DROP TABLE IF EXISTS appeals_search",
)
PG_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_appeals_search_content ON appeals USING gin (content gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_appeals_search_reply ON appeals USING gin (reply gin_trgm_ops)",
)
PG_TRGM_MISSING = ("the PostgreSQL extension pg_trgm is not available to this database (the appeals search needs "
                   "it): install the contrib package of the server (e.g. postgresql-contrib) and let a superuser run "
                   "`CREATE EXTENSION pg_trgm` in it, then migrate again")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for ddl in SQLITE_UP:
            conn.exec_driver_sql(ddl)
    elif conn.dialect.name == "postgresql":
        available = conn.exec_driver_sql(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").first() is not None
        if not available:
            raise RuntimeError(PG_TRGM_MISSING)
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:  # installed on the server, but this user may not create it
            raise RuntimeError(f"{PG_TRGM_MISSING} ({exc.__class__.__name__}: {str(exc).strip()})") from None
        for ddl in PG_INDEXES:
            conn.exec_driver_sql(ddl)
    else:
        raise RuntimeError(f"the appeals search has no index for {conn.dialect.name}")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for ddl in SQLITE_DOWN:
            conn.exec_driver_sql(ddl)
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_appeals_search_reply")
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_appeals_search_content")
        # the extension stays: other schemas of the database may use it
