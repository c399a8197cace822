"""The hot-issue report's queries.

SQLite has no hash aggregation: a GROUP BY over a month of a busy hotline sorts some 350,000 rows, which
alone takes a good part of the 2 s on a loaded 2-core machine. So the report walks the category ×
town-street cells instead (a few hundred): one recursive query finds them by seeking the report index (a
loose index scan), then each cell is counted over a range of that index, with no sort at all. Only the
repeat callers, who cross cells, need a GROUP BY over the period. The statements are built once: building
and hashing a SQLAlchemy construct costs more than SQLite takes to run one.
"""

from __future__ import annotations

import heapq

import eventlet
from sqlalchemy import and_, bindparam, case, func, literal, or_, select, text, union_all
from sqlalchemy.engine import Connection

from .. import store
from ..domain import DUPLICATE, OPEN, VOIDED, mask_phone
from .domain import CALLER_MIN, CASE_NOS, GROUP_MIN, TOP_CALLERS, TOP_GROUPS, Period

a = store.appeals
IS_DUP = a.c.status == DUPLICATE
NOT_DUP = a.c.status != DUPLICATE
IS_OPEN = or_(*(a.c.status == status for status in OPEN))  # not IN: an expanding bind costs time
OVERDUE = and_(NOT_DUP, a.c.overdue.is_(True))

CELLS = text(f"""
WITH RECURSIVE categories(category) AS (
    SELECT min(category) FROM {a.name}
    UNION ALL
    SELECT (SELECT min(category) FROM {a.name} WHERE category > c.category) FROM categories c
    WHERE c.category IS NOT NULL
), towns(category, town_street) AS (
    SELECT category, (SELECT min(town_street) FROM {a.name} WHERE category = c.category) FROM categories c
    WHERE category IS NOT NULL
    UNION ALL
    SELECT category, (SELECT min(town_street) FROM {a.name} WHERE category = t.category AND town_street > t.town_street)
    FROM towns t WHERE t.town_street IS NOT NULL
)
SELECT category, town_street FROM towns WHERE town_street IS NOT NULL
UNION ALL
SELECT category, NULL FROM categories c WHERE category IS NOT NULL
    AND EXISTS (SELECT 1 FROM {a.name} WHERE category = c.category AND town_street IS NULL)
""")


def _count(*conds):
    return func.sum(case((and_(*conds), 1), else_=0))


# invalid and withdrawn cases (appeal.voided) are counted nowhere: not calls, not cases, not repeat callers
COUNTED = and_(*(a.c.status != status for status in VOIDED))


def _within(start="start", end="end"):
    """The cases of a period that count (every query of the report goes through here)."""
    return and_(a.c.received_at >= bindparam(start), a.c.received_at < bindparam(end), COUNTED)


def _in_cell(town_null: bool) -> list:
    """The rows of one cell: :category and :town (a statement each for a town-street and for none)."""
    return [a.c.category == bindparam("category"),
            a.c.town_street.is_(None) if town_null else a.c.town_street == bindparam("town")]


def _figures_sql(town_null: bool):
    """One cell: all calls, cases, open and overdue of the period, then (second row) the previous period's cases.
    Plain conditions per row: a CASE on received_at in every sum would double the time."""
    cell = _in_cell(town_null)
    return union_all(
        select(literal(0).label("previous"), func.count(), _count(NOT_DUP), _count(IS_OPEN), _count(OVERDUE))
        .where(*cell, _within()),
        select(literal(1), func.count(), func.count(), literal(0), literal(0))
        .where(*cell, _within("previous_start", "start"), NOT_DUP))


def _groups_sql(town_null: bool):
    """The addresses of one cell with most cases: the cheapest count there is, the rest for the top ones only."""
    q = (select(a.c.address, func.count().label("count"))
         .where(*_in_cell(town_null), _within(), NOT_DUP)
         .group_by(a.c.address).having(func.count() >= GROUP_MIN).order_by(func.count().desc()).limit(TOP_GROUPS))
    # neither town-street nor address: no place to speak of
    return q.where(a.c.address.is_not(None)) if town_null else q


def _place(town_null: bool, address_null: bool) -> list:
    return [*_in_cell(town_null), a.c.address.is_(None) if address_null else a.c.address == bindparam("address")]


def _group_sql(town_null: bool, address_null: bool):
    return (select(func.count(), _count(IS_OPEN), _count(OVERDUE), func.min(a.c.received_at),
                   func.max(a.c.received_at))
            .where(*_place(town_null, address_null), _within()))


def _case_nos_sql(town_null: bool, address_null: bool):
    return (select(a.c.case_no).where(*_place(town_null, address_null), _within(), NOT_DUP)
            .order_by(a.c.received_at.desc(), a.c.id.desc()).limit(CASE_NOS))


FIGURES_SQL = {null: _figures_sql(null) for null in (False, True)}
GROUPS_SQL = {null: _groups_sql(null) for null in (False, True)}
PLACES = [(t, ad) for t in (False, True) for ad in (False, True)]
GROUP_SQL = {place: _group_sql(*place) for place in PLACES}
CASE_NOS_SQL = {place: _case_nos_sql(*place) for place in PLACES}
TOP_CALLERS_SQL = (select(a.c.appellant_phone, func.count().label("n"))
                   .where(_within(), a.c.appellant_phone.is_not(None))
                   .group_by(a.c.appellant_phone).having(func.count() >= CALLER_MIN)
                   .order_by(func.count().desc(), a.c.appellant_phone).limit(TOP_CALLERS))
CALLER_CATEGORIES_SQL = (select(a.c.appellant_phone, a.c.category, func.count())
                         .where(_within(), a.c.appellant_phone.in_(bindparam("phones", expanding=True)))
                         .group_by(a.c.appellant_phone, a.c.category))
CALLER_CASES_SQL = (select(a.c.case_no).where(_within(), a.c.appellant_phone == bindparam("phone"))
                    .order_by(a.c.received_at.desc(), a.c.id.desc()).limit(CASE_NOS))


def category_names(conn: Connection) -> dict[str, str]:
    """Category code → its name in the dispatch catalogue (the general rule's name first)."""
    rows = conn.execute(select(store.dispatch_rules.c.category, store.dispatch_rules.c.category_name,
                                  store.dispatch_rules.c.town_street)).all()
    names: dict[str, str] = {}
    for category, name, _ in sorted(rows, key=lambda r: r.town_street != ""):
        names.setdefault(category, name)
    return names


def _params(period: Period, **more) -> dict:
    return {"start": period.start, "end": period.end, "previous_start": period.previous.start, **more}


def cells(conn: Connection, period: Period) -> list[dict]:
    """Every category × town-street cell that ever occurred, counted over this and the previous period."""
    cells = []
    for category, town in conn.execute(CELLS).all():
        params = _params(period, category=category, town=town)
        (_, calls, count, open_, overdue), (_, _, previous, _, _) = sorted(
            tuple(int(v or 0) for v in row) for row in conn.execute(FIGURES_SQL[town is None], params))
        cells.append({"category": category, "town_street": town, "count": count, "previous": previous,
                      "open": open_, "overdue": overdue, "repeat_calls": calls - count})
        eventlet.sleep(0)  # between cells, the service's other work goes on (the deadline monitor, intake)
    return cells



def repeat_callers(conn: Connection, period: Period, names: dict[str, str]) -> list[dict]:
    top = conn.execute(TOP_CALLERS_SQL, _params(period)).all()
    if not top:
        return []
    categories: dict[str, list] = {phone: [] for phone, _ in top}
    for phone, category, count in conn.execute(CALLER_CATEGORIES_SQL, _params(period, phones=list(categories))):
        categories[phone].append({"category": category, "category_name": names.get(category, category),
                                  "count": count})
    # the full number stays in here: only the masked one leaves
    return [{"phone": mask_phone(phone), "count": count,
             "categories": sorted(categories[phone], key=lambda c: (-c["count"], c["category"])),
             "case_nos": [c for c in conn.execute(CALLER_CASES_SQL, _params(period, phone=phone)).scalars() if c]}
            for phone, count in top]


def groups(conn: Connection, period: Period, cells: list[dict], names: dict[str, str]) -> list[dict]:
    """Same place and problem: the addresses (or address-less cells) with most cases, across all cells."""
    found: list[dict] = []
    best: list[int] = []  # the largest TOP_GROUPS counts found so far (a min-heap)
    for cell in sorted(cells, key=lambda c: -c["count"]):
        # no group is bigger than its cell: once the cells are smaller than the 20th group, stop
        if cell["count"] < GROUP_MIN or (len(best) == TOP_GROUPS and cell["count"] < best[0]):
            break
        params = _params(period, category=cell["category"], town=cell["town_street"])
        for address, count in conn.execute(GROUPS_SQL[cell["town_street"] is None], params):
            found.append({"category": cell["category"], "town_street": cell["town_street"], "address": address,
                          "count": count})
            (heapq.heappush if len(best) < TOP_GROUPS else heapq.heappushpop)(best, count)
        eventlet.sleep(0)
    found.sort(key=lambda g: (-g["count"], g["category"], g["town_street"] is None, g["town_street"] or "",
                              g["address"] is None, g["address"] or ""))
    groups = found[:TOP_GROUPS]
    for g in groups:
        place = (g["town_street"] is None, g["address"] is None)
        params = _params(period, category=g["category"], town=g["town_street"], address=g["address"])
        calls, open_, overdue, first, last = conn.execute(GROUP_SQL[place], params).one()
        g.update(category_name=names.get(g["category"], g["category"]), repeat_calls=calls - g["count"],
                 open=int(open_ or 0), overdue=int(overdue or 0), first_received_at=first, last_received_at=last,
                 case_nos=[c for c in conn.execute(CASE_NOS_SQL[place], params).scalars() if c])
        eventlet.sleep(0)
    return groups

