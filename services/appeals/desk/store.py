"""The desk's queries on the appeals table, and its search index: on SQLite an FTS5 table with the trigram
tokenizer (external content: the appeals table itself), kept in step by triggers in the same transaction as
every write; on PostgreSQL pg_trgm GIN indexes on content and reply. Revision 0006 builds them on an existing
database (and fills the index); a fresh database gets them from `metadata.create_all` (the DDL below, run after
the appeals table is created). They are not SQLAlchemy tables: their names are listed in the metadata's
`info["outside_metadata"]` for the schema comparison to pass over."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, event, exists, func, or_, select, text
from sqlalchemy.orm import Session

from .. import store as core
from ..domain import OPEN
from . import domain

a = core.appeals
assists = core.assists

FTS_TABLE = "appeals_search"
# the FTS5 table and its shadow tables (SQLite), the trigram indexes (PostgreSQL)
OUTSIDE_METADATA = (FTS_TABLE, f"{FTS_TABLE}_config", f"{FTS_TABLE}_data", f"{FTS_TABLE}_docsize",
                    f"{FTS_TABLE}_idx", "ix_appeals_search_content", "ix_appeals_search_reply")

# Keep these in step with migrations/versions/0006_search.py (tests/unit/test_appeals_search.py compares the
# schema both ways build). A later revision that batch-copies `appeals` on SQLite drops the triggers with the old
# table: it must create them again.
SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(content, reply, content='appeals', content_rowid='id', "
    "tokenize='trigram')",
    f"CREATE TRIGGER appeals_search_ai AFTER INSERT ON appeals BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, content, reply) VALUES (new.id, new.content, new.reply); END",
    f"CREATE TRIGGER appeals_search_ad AFTER DELETE ON appeals BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, content, reply) VALUES ('delete', old.id, old.content, old.reply);"
    " END",
    f"CREATE TRIGGER appeals_search_au AFTER UPDATE OF content, reply ON appeals BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, content, reply) VALUES ('delete', old.id, old.content, old.reply);"
    f" INSERT INTO {FTS_TABLE}(rowid, content, reply) VALUES (new.id, new.content, new.reply); END",
)
POSTGRES_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_appeals_search_content ON appeals USING gin (content gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_appeals_search_reply ON appeals USING gin (reply gin_trgm_ops)",
)
PG_TRGM_MISSING = ("the PostgreSQL extension pg_trgm is not available to this database (the appeals search needs "
                   "it): install the contrib package of the server (e.g. postgresql-contrib) and let a superuser run "
                   "`CREATE EXTENSION pg_trgm` in it, then start again")

core.metadata.info.setdefault("outside_metadata", set()).update(OUTSIDE_METADATA)


@event.listens_for(a, "after_create")
def _create_search_index(target, connection, **kw):
    """A fresh database (`create_all`) gets the search index with the appeals table."""
    if connection.dialect.name == "sqlite":
        for ddl in SQLITE_DDL:
            connection.exec_driver_sql(ddl)
    elif connection.dialect.name == "postgresql":
        try:
            connection.exec_driver_sql(POSTGRES_DDL[0])
        except Exception as exc:
            raise RuntimeError(PG_TRGM_MISSING) from exc
        for ddl in POSTGRES_DDL[1:]:
            connection.exec_driver_sql(ddl)


# -- the search ----------------------------------------------------------------------------------------

def _dialect(session) -> str:
    return session.get_bind().dialect.name


def _keyword_conditions(dialect: str, terms: list[str]) -> list:
    conds = []
    for term in terms:
        pattern = domain.like_pattern(term)
        if dialect == "postgresql":  # the trigram indexes serve ILIKE of 3+ characters
            conds.append(or_(a.c.content.ilike(pattern, escape="\\"), a.c.reply.ilike(pattern, escape="\\")))
        elif len(term) < domain.MIN_INDEXED:  # too short for a trigram: LIKE, in a bounded set (domain)
            conds.append(or_(a.c.content.like(pattern, escape="\\"), a.c.reply.like(pattern, escape="\\")))
    long_terms = [t for t in terms if len(t) >= domain.MIN_INDEXED]
    if dialect == "sqlite" and long_terms:
        conds.append(text(f"appeals.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts)")
                     .bindparams(fts=domain.fts_query(long_terms)))
    return conds


def _department_condition(department: str, involvement: str):
    """The cases `department` leads, assists on (an EXISTS on the assists table, which
    ix_appeal_assists_department serves), or either."""
    lead = a.c.department == department
    if involvement == "lead":
        return lead
    assisted = exists().where(assists.c.department == department, assists.c.appeal_id == a.c.id)
    return assisted if involvement == "assisting" else or_(lead, assisted)


def conditions(session: Session, f: dict) -> list:
    """The WHERE of a search: every filter given (None: not filtered), ANDed. `department` reads as its
    `involvement` says (default: the department leads the case)."""
    conds = []
    if f.get("department") is not None:
        conds.append(_department_condition(f["department"], f.get("involvement") or "lead"))
    for col, key in ((a.c.category, "category"), (a.c.town_street, "town_street"),
                     (a.c.type, "type"), (a.c.channel, "channel"), (a.c.urgency, "urgency"),
                     (a.c.case_no, "case_no")):
        if f.get(key) is not None:
            conds.append(col == f[key])
    if f.get("status"):
        conds.append(a.c.status.in_(list(f["status"])))
    if f.get("overdue") is not None:
        conds.append(a.c.overdue.is_(bool(f["overdue"])))
    if f.get("received_from") is not None:
        conds.append(a.c.received_at >= f["received_from"])
    if f.get("received_to") is not None:
        conds.append(a.c.received_at < f["received_to"])
    if f.get("phone"):
        conds.append(a.c.appellant_phone.in_(domain.phone_keys(f["phone"])))
    conds += _keyword_conditions(_dialect(session), f.get("terms") or [])
    return conds


def _order(sort: str | None) -> list:
    if sort is None:
        return [a.c.id.desc()]  # newest first, as the list always was
    column = getattr(a.c, sort.lstrip("-"))
    ordered = column.desc() if sort.startswith("-") else column.asc()
    if sort.lstrip("-") == "due_at":
        ordered = ordered.nulls_last()
    return [ordered, a.c.id.desc() if sort.startswith("-") else a.c.id.asc()]


def count(session: Session, f: dict) -> int:
    q = select(func.count()).select_from(a)
    conds = conditions(session, f)
    if conds:
        q = q.where(and_(*conds))
    return session.execute(q).scalar_one()


def search(session: Session, f: dict, *, sort: str | None, limit: int, offset: int = 0,
           with_total: bool = True) -> tuple[list[dict], int | None]:
    """Rows of the appeals matching the filters `f`, in `sort` order, and (`with_total`) how many match."""
    conds = conditions(session, f)
    q = select(a)
    if conds:
        q = q.where(and_(*conds))
    total = None
    if with_total:
        cq = select(func.count()).select_from(a)
        total = session.execute(cq.where(and_(*conds)) if conds else cq).scalar_one()
    rows = session.execute(q.order_by(*_order(sort)).limit(limit).offset(offset)).mappings()
    return [dict(r) for r in rows], total


# -- a caller's cases ------------------------------------------------------------------------------------

def caller_counts(session: Session, phone: str, since: datetime) -> dict:
    """How often this number called: every appeal with it (repeat calls linked at intake included), the open
    ones, those received since `since`, per category (most first)."""
    recent = func.sum(case((a.c.received_at >= since, 1), else_=0))
    rows = session.execute(
        select(a.c.category, a.c.status, func.count(), recent)
        .where(a.c.appellant_phone.in_(domain.phone_keys(phone)))
        .group_by(a.c.category, a.c.status)).all()
    per_category: dict[str, int] = {}
    total = open_ = last = 0
    for category, status, n, n_recent in rows:
        total += n
        last += int(n_recent or 0)
        open_ += n if status in OPEN else 0
        per_category[category] = per_category.get(category, 0) + n
    by_category = [{"category": c, "count": n}
                   for c, n in sorted(per_category.items(), key=lambda kv: (-kv[1], kv[0]))]
    return {"total": total, "open": open_, "recent": last, "by_category": by_category}


def category_names(session: Session) -> dict[str, str]:
    rows = session.execute(select(core.dispatch_rules.c.category, core.dispatch_rules.c.category_name))
    return {c: n for c, n in rows}


def assisting_of(session: Session, ids) -> dict[int, list[dict]]:
    """The assisting departments of each case of `ids` (a page, an export), in one query: department and when it
    signed for and gave its part (the part's text is for one case's answer only)."""
    ids = sorted(set(ids))
    out: dict[int, list[dict]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.execute(
        select(assists.c.appeal_id, assists.c.department, assists.c.accepted_at, assists.c.replied_at)
        .where(assists.c.appeal_id.in_(ids)).order_by(assists.c.appeal_id, assists.c.id)).mappings()
    for r in rows:
        out[r["appeal_id"]].append({"department": r["department"], "accepted_at": r["accepted_at"],
                                    "replied_at": r["replied_at"]})
    return out


def case_nos(session: Session, ids) -> dict[int, str]:
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    return dict(session.execute(select(a.c.id, a.c.case_no).where(a.c.id.in_(ids))).all())
