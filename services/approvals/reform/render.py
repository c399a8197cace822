"""The reform report as CSV (UTF-8 with a BOM, so that Excel reads the Chinese) and as a printable Chinese page
(self-contained: no CDN, no script)."""

from __future__ import annotations

import csv
import html
import io

from services.kernel import clock

COLUMNS = (
    ("items_start", "年初事项数"), ("items_now", "现有事项数"), ("items_cut_pct", "事项精简率(%)"),
    ("added", "新增"), ("retired", "取消"), ("merged", "合并"), ("limit_changes", "时限等变更"),
    ("statutory_avg_start", "年初平均法定时限"), ("statutory_avg_now", "现平均法定时限"),
    ("statutory_cut_pct", "法定时限压减(%)"),
    ("committed_avg_start", "年初平均承诺时限"), ("committed_avg_now", "现平均承诺时限"),
    ("committed_cut_pct", "承诺时限压减(%)"),
    ("decided", "办结件数"), ("actual_avg_days", "平均实际办理工作日"),
)


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _csv_text(value: str) -> str:
    # a cell starting like a formula is read as text by spreadsheets
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def to_csv(report: dict) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["单位代码", "单位", *(zh for _, zh in COLUMNS)])
    for d in report["departments"]:
        w.writerow([_csv_text(d["department"]), _csv_text(d["department_name"]),
                    *("" if d[k] is None else d[k] for k, _ in COLUMNS)])
    c = report["city"]
    w.writerow(["", "全市合计", *("" if c[k] is None else c[k] for k, _ in COLUMNS)])
    return out.getvalue().encode("utf-8-sig")


STYLE = """
@page { size: A4 landscape; margin: 12mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimSun", sans-serif;
       font-size: 10.5pt; color: #111; margin: 0 auto; max-width: 277mm; }
h1 { font-size: 17pt; text-align: center; margin: 0 0 4pt; }
p.meta { text-align: center; color: #444; margin: 0 0 10pt; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #555; padding: 3pt 4pt; }
th { background: #eee; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.city td { font-weight: 700; background: #f6f6f6; }
p.note { color: #444; font-size: 9pt; margin-top: 8pt; }
"""


def to_html(report: dict) -> str:
    """One printable page: per department and the city."""
    def row(cls: str, label: str, f: dict) -> str:
        cells = "".join(f'<td class="num">{html.escape(_cell(f[k]))}</td>' for k, _ in COLUMNS)
        return f'<tr{cls}><td>{html.escape(label)}</td>{cells}</tr>'

    head = "".join(f"<th>{html.escape(zh)}</th>" for _, zh in COLUMNS)
    body = "\n".join(row("", d["department_name"], d) for d in report["departments"])
    body += "\n" + row(' class="city"', "全市合计", report["city"])
    generated = report["generated_at"].astimezone(clock.TZ)
    uncounted = (f"另有 {report['uncounted']} 件办结件因所在年度无工作日安排未计入实际办理工作日。"
                 if report["uncounted"] else "")
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{report['year']} 年度审批事项精简与时限压减情况</title>
<style>{STYLE}</style></head>
<body>
<h1>{report['year']} 年度审批事项精简与时限压减情况</h1>
<p class="meta">统计口径：年初（{report['start_on']}）与 {report['as_of']} 对比 ·
生成时间 {generated:%Y-%m-%d %H:%M}</p>
<table>
<thead><tr><th>单位</th>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
<p class="note">时限单位均为工作日。压减率 =（年初 − 现在）÷ 年初 × 100%。即办件承诺时限按 0 计；
未列法定时限的事项按法定默认时限计。
平均实际办理工作日：各事项本年度办结件自受理次日起至办结日的工作日数取平均，再按事项平均（特别程序期间未扣除）。{uncounted}</p>
</body></html>
"""
