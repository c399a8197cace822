"""Exports of a period's ranking: CSV for Excel and a printable Chinese report (HTML, A4) with the ranking
table (group by group when the rule file ranks groups separately) and one bar chart per metric (inline SVG: no
fonts, scripts or images from elsewhere); and the stationed units' (驻莱单位) enterprise-evaluation report,
addressed to each unit's superior authority, as JSON, CSV or printable HTML."""

from __future__ import annotations

import csv
import html
import io
import string
from pathlib import Path
from urllib.parse import quote

from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.http import api

from . import handlers
from .domain import parse_period
from .schemas import ReportQuery, ScoresOut, StationedOut, period_or_400

TEMPLATE = Path(__file__).with_name("templates") / "scores.html"
STATIONED_TEMPLATE = Path(__file__).with_name("templates") / "stationed.html"
MIMETYPES = {"application/json": "json", "text/csv": "csv", "text/html": "html"}
_STRING = {"schema": {"type": "string"}}
YES = "是"


def _csv_cell(value) -> str:
    """A CSV cell Excel will not run as a formula (names and reasons are typed by people)."""
    text = "" if value is None else str(value)
    return "'" + text if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _num(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def _standing(r: dict) -> str:
    return r.get("standing", "ranked")  # rows published under rules before 2026.2 were all ranked


def _group_zh(r: dict) -> str:
    """The group a row is ranked in (rows published before 2026.4 were ranked together)."""
    return r.get("ranking_group_zh") or "统一排名"


def _half(period: str) -> bool:
    return parse_period(period).kind == "half"


def _metric_cell(r: dict, code: str) -> str:
    score = r["metrics"].get(code)
    if score is not None:
        return f"{score:.2f}"
    return "—" if _standing(r) == "not_assessed" else "数据不足"


def _note(r: dict, labels: dict[str, str]) -> str:
    """Why a row is not ranked or not assessed, and which metrics had not enough data."""
    parts = [r["standing_reason"]] if r.get("standing_reason") else []
    short = [labels.get(c, c) for c in r.get("insufficient") or ()]
    if short and _standing(r) == "ranked":
        parts.append("数据不足未计入：" + "、".join(short))
    return "；".join(parts)


def to_csv(result: dict) -> bytes:
    metrics = result["metrics"]
    labels = {m["code"]: m["label_zh"] for m in metrics}
    header = ["排名", "部门代码", "部门名称", "层级", "综合得分", "档次", "档次加分", "先进单位", "先进单位加分后",
              "取消评先资格原因", "效能告诫（次）", "扣分", "人工调整", "最终得分", "排名分组", "组内参加排名单位数",
              *[f"{m['label_zh']}（权重{m['weight']:g}）" for m in metrics], "考核状态", "说明"]
    rows = [header]
    for r in result["rows"]:
        rows.append(["—" if r["rank"] is None else r["rank"], r["department"], r["name"],
                     "镇街" if r["group"] == "town_street" else "市直",
                     _num(r["composite"]), r["tier_label"], _num(r["tier_bonus"]), YES if r["advanced_unit"] else "",
                     _num(r["bonus"]), "；".join(r["disqualification"]), r["efficiency_warnings"],
                     _num(r["deduction"]), _num(r["adjustment"]), _num(r["final"]), _group_zh(r),
                     r.get("group_size", ""), *[_metric_cell(r, m["code"]) for m in metrics],
                     r.get("standing_zh", "参与排名"),
                     _note(r, labels)])
    rows.append([])
    rows.append([f"{result['label_zh']}（{result['period']}），考核细则 {result['rules_version']}，"
                 f"{'已发布' if result['state'] == 'closed' else '未关闭，实时计算'}"])
    out = io.StringIO()
    csv.writer(out).writerows([_csv_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")  # with a BOM, so that Excel reads the Chinese right


BAR_H, GAP, LABEL_W, CHART_W = 14, 4, 110, 330


def chart(metric: dict, rows: list[dict]) -> str:
    """A horizontal bar chart of one metric's 0..100 scores, best first; a department with not enough data is
    listed as 数据不足; a unit not assessed is left out."""
    rows = [r for r in rows if _standing(r) != "not_assessed"]
    items = sorted(rows, key=lambda r: (-(r["metrics"].get(metric["code"]) if r["metrics"].get(metric["code"])
                                          is not None else -1), r["department"]))
    height = len(items) * (BAR_H + GAP) + GAP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W + CHART_W + 50}" height="{height}" '
             f'role="img" aria-label="{html.escape(metric["label_zh"])}">']
    for i, r in enumerate(items):
        y = GAP + i * (BAR_H + GAP)
        score = r["metrics"].get(metric["code"])
        name = html.escape(r["name"] or r["department"])
        parts.append(f'<text x="{LABEL_W - 4}" y="{y + BAR_H - 3}" text-anchor="end" font-size="9">{name}</text>')
        if score is None:
            parts.append(f'<text x="{LABEL_W + 2}" y="{y + BAR_H - 3}" font-size="9" fill="#666">数据不足</text>')
            continue
        w = CHART_W * score / 100
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="#4a6fa5"/>')
        parts.append(f'<text x="{LABEL_W + w + 3:.1f}" y="{y + BAR_H - 3}" font-size="9">{score:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(result: dict) -> str:
    rows = result["rows"]
    labels = {m["code"]: m["label_zh"] for m in result["metrics"]}
    ranked = [r for r in rows if _standing(r) == "ranked"]
    not_ranked = [r for r in rows if _standing(r) == "not_ranked"]
    not_assessed = [r for r in rows if _standing(r) == "not_assessed"]
    advanced = [r for r in rows if r["advanced_unit"]]
    disq = [r for r in rows if r["disqualified"]]
    warned = [r for r in rows if r["efficiency_warnings"]]
    summary = (f"参加排名单位 {len(ranked)} 个；因各项指标数据不足不参与排名 {len(not_ranked)} 个："
               f"{'、'.join(r['name'] or r['department'] for r in not_ranked) or '无'}；不参与考核 "
               f"{len(not_assessed)} 个：{'、'.join(r['name'] or r['department'] for r in not_assessed) or '无'}。"
               f"先进单位 {len(advanced)} 个："
               f"{'、'.join(r['name'] or r['department'] for r in advanced) or '无'}。"
               f"因严重问题取消评先树优资格 {len(disq)} 个："
               f"{'、'.join(r['name'] or r['department'] for r in disq) or '无'}。"
               f"受效能告诫扣分单位 {len(warned)} 个。")
    groups = list(dict.fromkeys(_group_zh(r) for r in rows if _standing(r) == "ranked"))
    lines, current = [], None
    for r in rows:
        label = _group_zh(r) if _standing(r) == "ranked" else "不参与排名或不参与考核"
        if len(groups) > 1 and label != current:
            count = sum(1 for x in ranked if _group_zh(x) == label)
            lines.append(f'<tr class="group"><th colspan="11">{html.escape(label)}'
                         f'{f"（参加排名 {count} 个，分别排名、分档）" if count else ""}</th></tr>')
            current = label
        lines.append("<tr>" + "".join(f"<td{cls}>{html.escape(str(v))}</td>" for cls, v in (
            (' class="n"', "—" if r["rank"] is None else r["rank"]), ("", r["name"] or r["department"]),
            (' class="n"', _num(r["composite"])), ("", r["tier_label"]), ("", "★" if r["advanced_unit"] else ""),
            ("", "；".join(x for x in (*r["disqualification"], _note(r, labels)) if x)),
            (' class="n"', r["efficiency_warnings"]),
            (' class="n"', _num(r["bonus"])), (' class="n"', _num(-r["deduction"] if r["deduction"] else 0.0)),
            (' class="n"', _num(r["adjustment"])), (' class="n"', _num(r["final"])))) + "</tr>")
    table = "\n".join(lines) or '<tr><td colspan="11">无登记部门</td></tr>'
    if len(groups) > 1:
        summary += f"按{'、'.join(groups)}分组，各组分别排名、分别划分档次、分别评选先进单位。"
    charts = "\n".join(
        f'<section class="chart"><h3>{html.escape(m["label_zh"])}（权重 {m["weight"]:g}）</h3>'
        f'{chart(m, rows)}</section>'
        for m in result["metrics"])
    late = result.get("late_facts") or []
    values = {
        "title": f"{result['label_zh']}机关效能{'半年点评' if _half(result['period']) else '考核'}结果",
        "period": html.escape(result["period"]),
        "state": "已关闭发布" if result["state"] == "closed" else "未关闭（根据台账实时计算）",
        "rules": html.escape(result["rules_version"]),
        "generated_at": f"{clock.now():%Y-%m-%d %H:%M}",
        "summary": html.escape(summary),
        "rows": table,
        "charts": charts,
        "notes": "".join(f"<p>{html.escape(n)}</p>" for n in result.get("notes_zh") or ()),
        "late": (f"<p class=\"late\">关闭发布后又收到属于本期的事实 {len(late)} 条，"
                 f"未计入已发布结果；如需计入，须经审核重新开启本期。</p>" if late else ""),
    }
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def _avg(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def stationed_csv(report: dict) -> bytes:
    """One row per stationed unit, addressed to its superior (UTF-8 with a BOM, for Excel)."""
    bands = [b["label_zh"] for b in report["bands"]]
    rows = [["致（上级主管部门）", "单位代码", "单位名称", "企业评议（份）", "平均分", "最高分", "最低分",
             *[f"{b}（份）" for b in bands], "驻莱单位排名", "参加排名驻莱单位数"]]
    for group in report["superiors"]:
        for r in group["units"]:
            rows.append([group["superior"], r["department"], r["name"], r["evaluations"], _avg(r["average"]),
                         _avg(r["highest"]), _avg(r["lowest"]), *[r["distribution"].get(b, 0) for b in bands],
                         "—" if r["rank"] is None else r["rank"], r["ranked_units"]])
    rows.append([])
    cuts = "、".join(f"{b['label_zh']}≥{b['min']:g}" for b in report["bands"])
    rows.append([f"{report['label_zh']}（{report['period']}）驻莱单位企业评议结果，按各单位上级主管部门分列；"
                 f"分档：{cuts}；"
                 f"已作废的评议不计，更正后的评议按更正后计"])
    out = io.StringIO()
    csv.writer(out).writerows([_csv_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def stationed_html(report: dict) -> str:
    """One letter per superior authority: 「致 <superior>」, the evaluation results of its units stationed here."""
    bands = [b["label_zh"] for b in report["bands"]]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in (
        "单位", "企业评议（份）", "平均分", "最高分", "最低分", *bands, "驻莱单位排名"))
    letters = []
    for group in report["superiors"]:
        units = group["units"]
        names = "、".join(r["name"] or r["department"] for r in units)
        body = "\n".join("<tr>" + "".join(f"<td{cls}>{html.escape(str(v))}</td>" for cls, v in (
            ("", r["name"] or r["department"]), (' class="n"', r["evaluations"]), (' class="n"', _avg(r["average"])),
            (' class="n"', _avg(r["highest"])), (' class="n"', _avg(r["lowest"])),
            *[(' class="n"', r["distribution"].get(b, 0)) for b in bands],
            (' class="n"', "未参评" if r["rank"] is None else f"{r['rank']} / {r['ranked_units']}"))) + "</tr>"
            for r in units)
        letters.append(
            f'<section class="letter"><p class="to">致 {html.escape(group["superior"])}：</p>'
            f'<p class="text">现将贵单位所属驻莱单位（{html.escape(names)}）{html.escape(report["label_zh"])}'
            f"企业评议结果函告如下，请予督促落实。</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>")
    values = {
        "title": f"{report['label_zh']}驻莱单位企业评议结果",
        "period": html.escape(report["period"]),
        "rules": html.escape(report["rules_version"]),
        "generated_at": f"{clock.now():%Y-%m-%d %H:%M}",
        "bands": html.escape("、".join(f"{b['label_zh']}（{b['min']:g} 分及以上）" for b in report["bands"])),
        "count": str(len(report["rows"])),
        "letters": "\n".join(letters) or '<p class="text">本期无登记的驻莱单位（部门名录中未填写上级主管部门）。</p>',
    }
    return string.Template(STATIONED_TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def _download(body, mimetype: str, period: str, ext: str, disposition: str, stem: str = "scores",
              stem_zh: str = "考核结果") -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = (f'{disposition}; filename="{stem}_{period}.{ext}"; '
                                           f"filename*=UTF-8''{quote(f'{stem_zh}_{period}.{ext}')}")
    return resp


class ReportEndpoints:
    """Mixed into the scoring service (needs its `platform` and `settings`)."""

    @api("GET", "/api/v1/reports/scores", roles=("assessor", "monitor"), query=ReportQuery, response=ScoresOut,
         summary="a period's ranking as JSON, CSV (Excel) or a printable Chinese report with a chart per metric",
         tags=("scores",),
         responses={200: {"description": "the report; format by ?format= or the Accept header",
                          "content": {"application/json": {"schema": ScoresOut},
                                      "text/csv": _STRING, "text/html": _STRING}}})
    def scores_report(self, call):
        period = period_or_400(call.query["period"])
        fmt = call.query["format"] or MIMETYPES[call.request.accept_mimetypes.best_match(
            list(MIMETYPES), default="application/json")]
        with self.platform.session() as session:
            result = handlers.scores(session, self.settings.rules, period, clock.now())
        if fmt == "csv":
            return _download(to_csv(result), "text/csv", period.text, "csv", "attachment")
        if fmt == "html":
            return _download(to_html(result), "text/html", period.text, "html", "inline")
        return result

    @api("GET", "/api/v1/reports/stationed-units", roles=("assessor", "monitor"), query=ReportQuery,
         response=StationedOut, tags=("scores",),
         summary="驻莱单位: the enterprise evaluations of the units stationed in the city under a superior authority, "
                 "per unit (count, mean, distribution, rank among them), addressed to each superior; JSON, CSV or "
                 "printable HTML",
         responses={200: {"description": "the report; format by ?format= or the Accept header",
                          "content": {"application/json": {"schema": StationedOut},
                                      "text/csv": _STRING, "text/html": _STRING}}})
    def stationed_report(self, call):
        period = period_or_400(call.query["period"])
        fmt = call.query["format"] or MIMETYPES[call.request.accept_mimetypes.best_match(
            list(MIMETYPES), default="application/json")]
        with self.platform.session() as session:
            report = handlers.stationed_units(session, self.settings.rules, period, clock.now())
        if fmt == "csv":
            return _download(stationed_csv(report), "text/csv", period.text, "csv", "attachment", "stationed_units",
                             "驻莱单位企业评议")
        if fmt == "html":
            return _download(stationed_html(report), "text/html", period.text, "html", "inline", "stationed_units",
                             "驻莱单位企业评议")
        return report
