"""The printable board of the year's key tasks (Chinese, A4 landscape, no fonts, scripts or images from elsewhere),
from the board `usecases.board` computes."""

from __future__ import annotations

import html
import string
from pathlib import Path

from services.kernel import clock

from .domain import LIGHT_ZH, TargetRules

TEMPLATE = Path(__file__).with_name("page") / "board.html"
EMPTY = '<tr><td colspan="9">本年度尚无重点工作目标</td></tr>'


def _cell(value, cls: str = "") -> str:
    return f"<td{cls}>{html.escape(str(value))}</td>"


def _row(i: int, r: dict) -> str:
    m = r["milestones"]
    plan = r["plan_status_zh"]
    if r["plan_submitted_at"] is not None:
        plan += f"（{clock.local(r['plan_submitted_at']):%m月%d日}报送）"
    else:
        plan += f"（期限 {r['plan_due_on']:%m月%d日}）"
    nxt = f"{m['next_due_on']:%m月%d日} {m['next_what']}" if m["next_due_on"] else "—"
    light = f'<td><span class="light {r["light"]}"></span>{html.escape(LIGHT_ZH[r["light"]])}</td>'
    return "<tr>" + light + "".join((
        _cell(i, ' class="n"'), _cell(r["title"]), _cell(r["lead_unit_name"]),
        _cell("、".join(r["co_unit_names"]) or "—"), _cell(plan),
        _cell(f"{m['done']}／{m['overdue']}／{m['upcoming']}（共 {m['total']}）", ' class="n"'), _cell(nxt),
        _cell("；".join(r["reasons_zh"])))) + "</tr>"


def to_html(board: dict, rules: TargetRules) -> str:
    rows = board["rows"]
    c, p = board["counts"], board["plans"]
    summary = (f"{board['year']} 年重点工作目标 {len(rows)} 项：绿灯 {c['green']} 项，黄灯 {c['yellow']} 项，"
               f"红灯 {c['red']} 项，已撤销 {c['grey']} 项。实施方案和考核细则按时报送 {p['submitted']} 项，"
               f"逾期报送 {p['late']} 项，逾期未报 {p['overdue']} 项，未到期待报 {p['pending']} 项。")
    month, day = rules.plan_due
    values = {
        "title": f"{board['year']} 年度重点工作目标管理进度表",
        "generated_at": f"{clock.local(board['as_of']):%Y-%m-%d %H:%M}",
        "summary": html.escape(summary),
        "rows": "\n".join(_row(i, r) for i, r in enumerate(rows, 1)) or EMPTY,
        "plan_due": f"{month} 月 {day} 日",
        "soon_days": str(rules.due_soon_days),
    }
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values)
