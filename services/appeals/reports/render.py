"""The hot-issue report as files: CSV for Excel, and the one-page Chinese brief for the joint meeting (HTML, A4)."""

from __future__ import annotations

import csv
import html
import io
import string
from datetime import date
from pathlib import Path

from services.kernel import clock

from .domain import CALLER_MIN, GROUP_MIN, TOP_CALLERS, TOP_GROUPS

BRIEF_ROWS = 10  # rows per table of the one-page brief
TEMPLATE = Path(__file__).parent.parent / "templates" / "hot_issues.html"


def _pct(pct: float | None) -> str:
    return "—" if pct is None else f"{pct:+.1f}%"


def _at_least(items: list, top: int) -> str:
    # the queries stop at `top`: more may exist
    return f"至少 {top}" if len(items) >= top else str(len(items))


def _zh_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _town(item: dict) -> str:
    """A town-street as people read it: the register's name, else its code; 未注明 when the case gave none."""
    return item.get("town_street_name") or item["town_street"] or "未注明"


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
    rows += [["镇街", s["rank"], s["town_street"] or "", _town(s), s["town_street"] or "", "",
              *figures(s), "", ""] for s in report["town_streets"]]
    rows += [["同一地点同类问题", i, g["category"], g["category_name"], g["town_street"] and _town(g) or "",
              g["address"] or "",
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
    top3_towns = "、".join(f"{_town(s)}（{s['count']} 件）" for s in towns[:3] if s["count"]) or "无"
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
                                                ("", lambda i: _town(i)), *figures]),
        "group_rows": _rows(list(enumerate(report["groups"][:BRIEF_ROWS], 1)), [
            (NUM, lambda i: i[0]), ("", lambda i: i[1]["category_name"]),
            ("", lambda i: _town(i[1])), ("", lambda i: _short(i[1]["address"], 22)),
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


