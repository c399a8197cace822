"""The hot-issue report's HTTP endpoints, a mixin of the appeals service: the report as JSON, CSV or the
brief, and its publication."""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.wrappers import Response

from services.kernel.http import api

from . import usecases
from .render import to_csv, to_html
from .schemas import HotIssuesOut, HotIssuesQuery, PeriodIn, PublishedOut

REPORT_ROLES = ("operator", "monitor", "assessor")
MIMETYPES = {"application/json": "json", "text/csv": "csv", "text/html": "html"}


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
            report = usecases.hot_issues(s, call.query["period"])
        if fmt == "csv":
            return _download(to_csv(report), "text/csv", report, "csv", "attachment")
        if fmt == "html":
            return _download(to_html(report), "text/html", report, "html", "inline")
        return report

    @api("POST", "/api/v1/reports/hot-issues/publish", roles=REPORT_ROLES, body=PeriodIn, response=PublishedOut,
         status=201, summary="publish the hot-issue summary of a period (event report.hot_issues_published)",
         tags=("reports",))
    def publish_hot_issues(self, call):
        period = call.body["period"]
        payload, event = usecases.publish_hot_issues(self.platform.session, self.platform.unit_of_work, period)
        return {**payload, "event_id": event["event_id"], "period_from": period.first, "period_to": period.last}
