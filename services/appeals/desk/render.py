"""The export of a searched list as files: CSV for Excel (UTF-8 with a BOM, Chinese headers, formula-like cells
neutralised) and a printable HTML list (self-contained: no script, no web font, no CDN). Both take the cases as
the JSON list shows them (views.present, personal data masked), so that an export shows no more than the list."""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime

from services.kernel import clock
from services.kernel.contracts.appeals import CHANNEL_ZH, SATISFACTION_ZH, TYPE_ZH, URGENCY_ZH

from ..domain import STATUS_ZH
from .domain import excel_safe

# (header, value of a presented case)
COLUMNS = (
    ("案件编号", lambda c: c["case_no"]),
    ("受理时间", lambda c: _moment(c["received_at"])),
    ("渠道", lambda c: CHANNEL_ZH.get(c["channel"], c["channel"])),
    ("类型", lambda c: TYPE_ZH.get(c["type"], c["type"])),
    ("紧急程度", lambda c: URGENCY_ZH.get(c["urgency"], c["urgency"])),
    ("类别", lambda c: c.get("category_name") or c["category"]),
    ("镇街", lambda c: c.get("town_street_name") or c["location"]["town_street"]),
    ("地址", lambda c: c["location"]["address"]),
    ("诉求人", lambda c: c["appellant"]["name"]),
    ("联系电话", lambda c: c["appellant"]["phone"]),
    ("诉求内容", lambda c: c["content"]),
    ("承办单位", lambda c: c.get("department_name") or c["department"]),
    ("协办单位", lambda c: "、".join(a.get("department_name") or a["department"] for a in c.get("assisting") or [])),
    ("状态", lambda c: c["status_zh"]),
    ("办理期限", lambda c: _moment(c["due_at"])),
    ("是否超期", lambda c: "是" if c["clock"]["overdue"] else "否"),
    ("答复内容", lambda c: c["reply"]),
    ("满意度", lambda c: SATISFACTION_ZH.get(c["satisfaction"], c["satisfaction"])),
    ("重复件所属", lambda c: c["duplicate_of"]),
)
PRINTED = ("案件编号", "受理时间", "渠道", "类型", "类别", "镇街", "诉求人", "联系电话", "诉求内容", "承办单位",
           "状态", "办理期限", "是否超期")


def _moment(value: datetime | None) -> str:
    return "" if value is None else f"{value.astimezone(clock.TZ):%Y-%m-%d %H:%M}"


def _cells(case: dict) -> list[str]:
    return ["" if (v := get(case)) is None else str(v) for _, get in COLUMNS]


def to_csv(cases: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([h for h, _ in COLUMNS])
    writer.writerows([excel_safe(v) for v in _cells(c)] for c in cases)
    return out.getvalue().encode("utf-8-sig")


_STYLE = """body{font-family:"SimSun","Songti SC",serif;margin:12mm;font-size:10.5pt}
h1{font-size:16pt;text-align:center;margin:0 0 4mm}p.meta{margin:0 0 3mm;color:#333}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #555;padding:1mm 1.5mm;vertical-align:top}
th{background:#eee}tr{page-break-inside:avoid}td.text{max-width:70mm}
@page{size:A4 landscape;margin:10mm}@media print{body{margin:0}}"""


def to_html(cases: list[dict], filters: list[tuple[str, str]], now: datetime) -> str:
    """The printable list: a title, the filters it was made with, the count, one row per case."""
    index = [i for i, (h, _) in enumerate(COLUMNS) if h in PRINTED]
    head = "".join(f"<th>{html.escape(COLUMNS[i][0])}</th>" for i in index)
    rows = []
    for case in cases:
        cells = _cells(case)
        rows.append("<tr>" + "".join(
            f'<td{" class=text" if COLUMNS[i][0] == "诉求内容" else ""}>{html.escape(cells[i])}</td>' for i in index)
                    + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(index)}">无符合条件的诉求</td></tr>')
    shown = "；".join(f"{html.escape(k)}：{html.escape(v)}" for k, v in filters) or "全部"
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>群众诉求清单</title>"
            f"<style>{_STYLE}</style></head><body>\n<h1>群众诉求清单</h1>\n"
            f"<p class=\"meta\">筛选条件：{shown}</p>\n"
            f"<p class=\"meta\">共 {len(cases)} 件　导出时间：{_moment(now)}</p>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>\n"
            "</body></html>\n")


FILTER_LABELS = {"case_no": "案件编号", "phone": "来电号码", "keyword": "关键词", "type": "类型", "channel": "渠道",
                 "urgency": "紧急程度", "status": "状态", "department": "承办单位", "category": "类别",
                 "town_street": "镇街", "overdue": "超期", "received_from": "受理时间起", "received_to": "受理时间止",
                 "involvement": "参与方式"}
INVOLVEMENT_ZH = {"lead": "主办", "assisting": "协办", "any": "主办或协办"}


def filter_summary(query: dict, masked_phone: str | None, labels=None) -> list[tuple[str, str]]:
    """The filters of an export, in words (a phone as the list shows it: masked; departments, town-streets and
    categories by the names `labels`, views.Labels, gives them)."""
    out = []
    for key, label in FILTER_LABELS.items():
        value = query.get(key)
        if value is None:
            continue
        if key == "phone":
            value = masked_phone
        elif key == "status":
            value = "、".join(STATUS_ZH.get(s, s) for s in value)
        elif key == "overdue":
            value = "仅超期" if value else "未超期"
        elif key in ("received_from", "received_to"):
            value = _moment(value)
        elif key == "type":
            value = TYPE_ZH.get(value, value)
        elif key == "channel":
            value = CHANNEL_ZH.get(value, value)
        elif key == "urgency":
            value = URGENCY_ZH.get(value, value)
        elif key == "involvement":
            value = INVOLVEMENT_ZH.get(value, value)
        elif labels is not None and key in ("department", "town_street"):
            value = labels.register.name(value)
        elif labels is not None and key == "category":
            value = labels.category(value, query.get("town_street"))
        out.append((label, str(value)))
    return out
