"""Hot issues for the joint meeting (热点问题 → 联席会议): what citizens called about most in a period and where,
against the period before, who keeps calling, which place keeps having the same problem; as JSON, as CSV
for Excel and as a one-page Chinese brief (HTML, A4); and its publication as `report.hot_issues_published`.

How it counts (the same in docs/hot-issues.md):
- `from` and `to` are calendar dates in Asia/Shanghai, both included: the period is [from 00:00, to+1 00:00).
  Default: the last 7 days, today included (to = today, from = to − 6); `to` alone: from = to − 6; `from`
  alone: to = today (or `from` itself, if later). from ≤ to, at most 366 days, dates in 2000–2099;
  otherwise 400 with field messages.
- The previous period has the same number of days and ends where this one starts.
- An appeal belongs to the period of its `received_at`. A row with status `duplicate` (a repeat call linked
  to an open case at intake) is not a case: it counts as one repeat call, in the period the call came in,
  under its own category and town-street (the duplicate rule makes them the original's).
- Per category and per town-street: cases, previous-period cases, change (absolute; percent with one
  decimal, null when the previous period had none), open (status neither closed nor duplicate, now),
  overdue (the overdue flag: the deadline passed; it stays set after closing), repeat calls.
  Listed are those with a case or a repeat call in either period; most cases first.
- Repeat callers: phone numbers with at least 2 appeals received in the period (repeat calls included),
  top 20, phone masked (138****5678); never the full number, in any format.
- Same place and problem: at least 3 cases of the same category, town-street and address (exact text);
  appeals without an address group per category and town-street, appeals with neither do not group.
  Top 20, each with its 10 latest case numbers.
- Publishing computes the report and writes the event to the outbox in one unit of work; `top_categories`
  are the codes of the (at most) 10 categories with most cases, `total` the number of cases.

Every figure is counted by the database over covering indexes (store.py; how, and why so, at "the
queries"); Python only adds up the few hundred category × town-street cells. bench/hot_issues.py measures it
over 1,000,000 appeals.
"""

from __future__ import annotations

import csv
import heapq
import html
import io
import string
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import quote

import eventlet
from marshmallow import Schema, ValidationError, fields, post_load, validate
from sqlalchemy import and_, bindparam, case, func, literal, or_, select, text, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.http import api

from . import store
from .domain import DUPLICATE, OPEN, mask_phone

REPORT_ROLES = ("operator", "monitor", "assessor")
DEFAULT_DAYS = 7
MAX_DAYS = 366
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
TOP_CALLERS = 20
TOP_GROUPS = 20
GROUP_MIN = 3
CALLER_MIN = 2
CASE_NOS = 10
FIGURES = ("count", "previous", "open", "overdue", "repeat_calls")
TOP_EVENT = 10  # categories named in the published event
BRIEF_ROWS = 10  # rows per table of the one-page brief
FORMATS = ("json", "csv", "html")
MIMETYPES = {"application/json": "json", "text/csv": "csv", "text/html": "html"}
EVENT_TYPE = "report.hot_issues_published"
TEMPLATE = Path(__file__).with_name("templates") / "hot_issues.html"


# -- the period -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    first: date  # first day, included
    last: date  # last day, included

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=clock.TZ)

    @property
    def end(self) -> datetime:  # excluded
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=clock.TZ)

    @property
    def previous(self) -> Period:
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


def resolve_period(first: date | None, last: date | None, today: date) -> Period:
    """The period a request means; ValidationError with messages on `from` / `to` if it makes no sense."""
    if last is None:
        last = today if first is None else max(today, first)
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValidationError({"to": [f"must be on or after from ({first.isoformat()})"]})
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationError({"to": [f"the period may span at most {MAX_DAYS} days"]})
    return Period(first, last)


_DATE_RANGE = validate.Range(min=EARLIEST, max=LATEST, error="must be between {min} and {max}")


class PeriodIn(Schema):
    """`from` and `to`: dates (YYYY-MM-DD) in Asia/Shanghai, both included; default the last 7 days."""

    date_from = fields.Date(data_key="from", load_default=None, validate=_DATE_RANGE,
                            metadata={"description": "first day, included (default: to − 6)"})
    date_to = fields.Date(data_key="to", load_default=None, validate=_DATE_RANGE,
                          metadata={"description": "last day, included (default: today)"})

    @post_load
    def to_period(self, data, **kwargs):
        today = clock.now().astimezone(clock.TZ).date()
        data["period"] = resolve_period(data.pop("date_from"), data.pop("date_to"), today)
        return data


class HotIssuesQuery(PeriodIn):
    format = fields.String(load_default=None, validate=validate.OneOf(FORMATS),
                           metadata={"description": "json (default), csv or html; else by the Accept header"})


# -- what the JSON answer holds (and the OpenAPI document says) -------------------------------------

class PeriodOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    days = fields.Integer()
    previous_from = fields.Date()
    previous_to = fields.Date()
    timezone = fields.String()


class Figures(Schema):
    count = fields.Integer(metadata={"description": "cases received in the period (repeat calls not included)"})
    previous = fields.Integer(metadata={"description": "cases in the previous period of the same length"})
    change = fields.Integer()
    change_pct = fields.Float(allow_none=True, metadata={"description": "null when previous is 0"})
    open = fields.Integer(metadata={"description": "of the period's cases: not closed yet"})
    overdue = fields.Integer(metadata={"description": "of the period's cases: went past their deadline"})
    repeat_calls = fields.Integer(metadata={"description": "repeat calls linked to open cases, in the period"})


class CategoryOut(Figures):
    rank = fields.Integer()
    category = fields.String()
    category_name = fields.String()


class TownStreetOut(Figures):
    rank = fields.Integer()
    town_street = fields.String(allow_none=True, metadata={"description": "null: not given"})


class CallerCategoryOut(Schema):
    category = fields.String()
    category_name = fields.String()
    count = fields.Integer()


class CallerOut(Schema):
    phone = fields.String(metadata={"description": "masked, e.g. 138****5678"})
    count = fields.Integer(metadata={"description": "appeals received in the period, repeat calls included"})
    categories = fields.List(fields.Nested(CallerCategoryOut))
    case_nos = fields.List(fields.String(), metadata={"description": "the latest 10"})


class GroupOut(Schema):
    category = fields.String()
    category_name = fields.String()
    town_street = fields.String(allow_none=True)
    address = fields.String(allow_none=True, metadata={"description": "null: a town-street-wide group"})
    count = fields.Integer()
    repeat_calls = fields.Integer()
    open = fields.Integer()
    overdue = fields.Integer()
    first_received_at = fields.AwareDateTime()
    last_received_at = fields.AwareDateTime()
    case_nos = fields.List(fields.String(), metadata={"description": "the latest 10"})


class HotIssuesOut(Schema):
    period = fields.Nested(PeriodOut)
    generated_at = fields.AwareDateTime()
    totals = fields.Nested(Figures)
    categories = fields.List(fields.Nested(CategoryOut))
    town_streets = fields.List(fields.Nested(TownStreetOut))
    repeat_callers = fields.List(fields.Nested(CallerOut))
    groups = fields.List(fields.Nested(GroupOut))


class PublishedOut(Schema):
    event_id = fields.String()
    period_from = fields.Date()
    period_to = fields.Date()
    top_categories = fields.List(fields.String())
    total = fields.Integer()


# -- the queries ------------------------------------------------------------------------------------
# SQLite has no hash aggregation: a GROUP BY over a month of a busy hotline sorts some 350,000 rows, which
# alone takes a good part of the 2 s on a loaded 2-core machine. So the report walks the category ×
# town-street cells instead (a few hundred): one recursive query finds them by seeking the report index (a
# loose index scan), then each cell is counted over a range of that index, with no sort at all. Only the
# repeat callers, who cross cells, need a GROUP BY over the period. The statements are built once: building
# and hashing a SQLAlchemy construct costs more than SQLite takes to run one.

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


def _within(start="start", end="end"):
    return and_(a.c.received_at >= bindparam(start), a.c.received_at < bindparam(end))


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


def _cells(conn: Connection, period: Period) -> list[dict]:
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


def _change(count: int, previous: int) -> dict:
    pct = round((count - previous) * 100 / previous, 1) if previous else None
    return {"change": count - previous, "change_pct": pct}


def _ranked(cells: list[dict], key: str) -> list[dict]:
    acc: dict = {}
    for cell in cells:
        f = acc.setdefault(cell[key], dict.fromkeys(FIGURES, 0))
        for k in FIGURES:
            f[k] += cell[k]
    items = [{key: k, **f, **_change(f["count"], f["previous"])} for k, f in acc.items()
             if f["count"] or f["previous"] or f["repeat_calls"]]
    items.sort(key=lambda i: (-i["count"], -i["repeat_calls"], -i["previous"], i[key] is None, i[key] or ""))
    for rank, item in enumerate(items, 1):
        item["rank"] = rank
    return items


def _repeat_callers(conn: Connection, period: Period, names: dict[str, str]) -> list[dict]:
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


def _groups(conn: Connection, period: Period, cells: list[dict], names: dict[str, str]) -> list[dict]:
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


def hot_issues(session: Session, period: Period, now: datetime | None = None) -> dict:
    """The report of `period` (see the module's doc for what each figure means)."""
    conn = session.connection()  # Core: the ORM layer would add a third to every one of the small queries
    names = category_names(conn)
    cells = _cells(conn, period)
    categories = _ranked(cells, "category")
    for item in categories:
        item["category_name"] = names.get(item["category"], item["category"])
    totals = {k: sum(c[k] for c in cells) for k in FIGURES}
    prev = period.previous
    return {
        "period": {"from": period.first, "to": period.last, "days": period.days, "previous_from": prev.first,
                   "previous_to": prev.last, "timezone": str(clock.TZ)},
        "generated_at": now or clock.now(),
        "totals": {**totals, **_change(totals["count"], totals["previous"])},
        "categories": categories,
        "town_streets": _ranked(cells, "town_street"),
        "repeat_callers": _repeat_callers(conn, period, names),
        "groups": _groups(conn, period, cells, names),
    }


def event_payload(report: dict) -> dict:
    return {"period_from": report["period"]["from"].isoformat(), "period_to": report["period"]["to"].isoformat(),
            "top_categories": [c["category"] for c in report["categories"] if c["count"]][:TOP_EVENT],
            "total": report["totals"]["count"]}


# -- rendering --------------------------------------------------------------------------------------

def _pct(pct: float | None) -> str:
    return "—" if pct is None else f"{pct:+.1f}%"


def _at_least(items: list, top: int) -> str:
    # the queries stop at `top`: more may exist
    return f"至少 {top}" if len(items) >= top else str(len(items))


def _zh_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _town(code: str | None) -> str:
    return code or "未注明"


def _csv_cell(value) -> str:
    """A CSV cell Excel will not run as a formula (citizens' text can start with = + - @)."""
    text = "" if value is None else str(value)
    return "'" + text if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


CSV_HEADER = ("板块", "排名", "代码", "名称", "镇街", "地址", "本期件数", "上期件数", "增减", "增减率(%)",
              "未办结", "超期", "重复来电", "涉及类别", "案件编号")


def to_csv(report: dict) -> bytes:
    """One table with a section column (合计, 诉求类别, 镇街, 同一地点同类问题, 重复来电), UTF-8 with a BOM
    so that Excel reads the Chinese right."""
    p, t = report["period"], report["totals"]

    def figures(f):
        return [f["count"], f["previous"], f["change"], "" if f["change_pct"] is None else f["change_pct"],
                f["open"], f["overdue"], f["repeat_calls"]]

    period = f"{p['from']}至{p['to']}（上期 {p['previous_from']}至{p['previous_to']}）"
    rows = [CSV_HEADER, ["合计", "", "", period, "", "", *figures(t), "", ""]]
    rows += [["诉求类别", c["rank"], c["category"], c["category_name"], "", "", *figures(c), "", ""]
             for c in report["categories"]]
    rows += [["镇街", s["rank"], s["town_street"] or "", _town(s["town_street"]), s["town_street"] or "", "",
              *figures(s), "", ""] for s in report["town_streets"]]
    rows += [["同一地点同类问题", i, g["category"], g["category_name"], g["town_street"] or "", g["address"] or "",
              g["count"], "", "", "", g["open"], g["overdue"], g["repeat_calls"], "", " ".join(g["case_nos"])]
             for i, g in enumerate(report["groups"], 1)]
    rows += [["重复来电", i, c["phone"], "", "", "", c["count"], "", "", "", "", "", "",
              "、".join(f"{k['category_name']}{k['count']}次" for k in c["categories"]), " ".join(c["case_nos"])]
             for i, c in enumerate(report["repeat_callers"], 1)]
    out = io.StringIO()
    csv.writer(out).writerows([_csv_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def _rows(items: list, columns) -> str:
    if not items:
        return f'<tr><td colspan="{len(columns)}" class="none">本期无</td></tr>'
    return "\n".join("<tr>" + "".join(f"<td{cls}>{html.escape(str(get(i)))}</td>" for cls, get in columns) + "</tr>"
                     for i in items)


def _short(text: str | None, n: int) -> str:
    if not text:
        return "—"
    return text if len(text) <= n else text[: n - 1] + "…"


def _cases(case_nos: list[str], count: int) -> str:
    shown = "、".join(case_nos[:2])
    return f"{shown} 等{count}件" if count > 2 else shown


NUM = ' class="n"'


def to_html(report: dict) -> str:
    """The one-page brief for the joint meeting (A4, printable, self-contained)."""
    p, t = report["period"], report["totals"]
    cats, towns = report["categories"], report["town_streets"]

    def trend(f) -> str:
        if f["change"] == 0:
            return "与上期持平"
        word = "增加" if f["change"] > 0 else "减少"
        pct = "" if f["change_pct"] is None else f"，{'增长' if f['change'] > 0 else '下降'}{abs(f['change_pct']):.1f}%"
        return f"较上期（{f['previous']} 件）{word} {abs(f['change'])} 件{pct}"

    top3 = "、".join(f"{c['category_name']}（{c['count']} 件）" for c in cats[:3] if c["count"]) or "无"
    top3_towns = "、".join(f"{_town(s['town_street'])}（{s['count']} 件）" for s in towns[:3] if s["count"]) or "无"
    summary = (f"本期共受理群众诉求 {t['count']} 件，{trend(t)}；另有重复来电 {t['repeat_calls']} 次。"
               f"本期诉求中仍未办结 {t['open']} 件，办理超期 {t['overdue']} 件。"
               f"诉求量居前的类别：{top3}；居前的镇街：{top3_towns}。"
               f"同一地点同类问题（{GROUP_MIN} 件及以上）{_at_least(report['groups'], TOP_GROUPS)} 处，"
               f"本期来电 {CALLER_MIN} 次及以上的来电人 {_at_least(report['repeat_callers'], TOP_CALLERS)} 名。")
    # half a page each: the absolute change is 件数 − 上期 (CSV and JSON have it)
    figures = [(NUM, lambda i: i["count"]), (NUM, lambda i: i["previous"]), (NUM, lambda i: _pct(i["change_pct"])),
               (NUM, lambda i: i["open"]), (NUM, lambda i: i["overdue"]), (NUM, lambda i: i["repeat_calls"])]
    values = {
        "title": "群众诉求热点问题汇总",
        "period": f"{_zh_date(p['from'])}至{_zh_date(p['to'])}（{p['days']} 天）",
        "previous": f"{_zh_date(p['previous_from'])}至{_zh_date(p['previous_to'])}",
        "generated_at": f"{report['generated_at'].astimezone(clock.TZ):%Y-%m-%d %H:%M}",
        "summary": html.escape(summary),
        "category_rows": _rows(cats[:BRIEF_ROWS], [(NUM, lambda i: i["rank"]),
                                                   ("", lambda i: i["category_name"]), *figures]),
        "town_rows": _rows(towns[:BRIEF_ROWS], [(NUM, lambda i: i["rank"]),
                                                ("", lambda i: _town(i["town_street"])), *figures]),
        "group_rows": _rows(list(enumerate(report["groups"][:BRIEF_ROWS], 1)), [
            (NUM, lambda i: i[0]), ("", lambda i: i[1]["category_name"]),
            ("", lambda i: _town(i[1]["town_street"])), ("", lambda i: _short(i[1]["address"], 22)),
            (NUM, lambda i: i[1]["count"]), (NUM, lambda i: i[1]["open"]), (NUM, lambda i: i[1]["overdue"]),
            (NUM, lambda i: i[1]["repeat_calls"]), (' class="cases"', lambda i: _cases(i[1]["case_nos"],
                                                                                         i[1]["count"]))]),
        "caller_rows": _rows(list(enumerate(report["repeat_callers"][:BRIEF_ROWS], 1)), [
            (NUM, lambda i: i[0]), ("", lambda i: i[1]["phone"]), (NUM, lambda i: i[1]["count"]),
            ("", lambda i: "、".join(f"{k['category_name']}{k['count']}次" for k in i[1]["categories"][:3]))]),
        "rows": str(BRIEF_ROWS),
        "group_min": str(GROUP_MIN),
        "caller_min": str(CALLER_MIN),
    }
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def _filename(report: dict, ext: str) -> tuple[str, str]:
    p = report["period"]
    return f"hot-issues_{p['from']}_{p['to']}.{ext}", f"热点问题_{p['from']}_{p['to']}.{ext}"


def _download(body: bytes | str, mimetype: str, report: dict, ext: str, disposition: str) -> Response:
    ascii_name, zh_name = _filename(report, ext)
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = (f'{disposition}; filename="{ascii_name}"; '
                                           f"filename*=UTF-8''{quote(zh_name)}")
    resp.headers["Cache-Control"] = "no-store"  # names the callers, masked or not
    return resp


def negotiate(request) -> str:
    best = request.accept_mimetypes.best_match(list(MIMETYPES), default="application/json")
    return MIMETYPES[best]


# -- the endpoints ----------------------------------------------------------------------------------

_STRING = {"schema": {"type": "string"}}


class HotIssueEndpoints:
    """Mixed into the appeals service: `self.platform` is its database."""

    @api("GET", "/api/v1/reports/hot-issues", roles=REPORT_ROLES, query=HotIssuesQuery, response=HotIssuesOut,
         summary="hot issues for the joint meeting (热点问题汇总): JSON, CSV (Excel) or a one-page Chinese brief",
         tags=("reports",),
         responses={200: {"description": "the report; format by ?format= or the Accept header",
                          "content": {"application/json": {"schema": HotIssuesOut},
                                      "text/csv": _STRING, "text/html": _STRING}}})
    def hot_issues_report(self, call):
        fmt = call.query["format"] or negotiate(call.request)
        with self.platform.session() as s:
            report = hot_issues(s, call.query["period"])
        if fmt == "csv":
            return _download(to_csv(report), "text/csv", report, "csv", "attachment")
        if fmt == "html":
            return _download(to_html(report), "text/html", report, "html", "inline")
        return report

    @api("POST", "/api/v1/reports/hot-issues/publish", roles=REPORT_ROLES, body=PeriodIn, response=PublishedOut,
         status=201, summary="publish the hot-issue summary of a period (event report.hot_issues_published)",
         tags=("reports",))
    def publish_hot_issues(self, call):
        # Computed on a read session first: on SQLite the write lock is then held only for the outbox row,
        # not for the whole computation (intake would wait for it).
        with self.platform.session() as s:
            payload = event_payload(hot_issues(s, call.body["period"]))
        with self.platform.unit_of_work() as uow:
            event = uow.publish(EVENT_TYPE, payload)
        period = call.body["period"]
        return {**payload, "event_id": event["event_id"], "period_from": period.first, "period_to": period.last}
