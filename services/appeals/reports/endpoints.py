"""The hot-issue report's entrypoints, a mixin of the appeals service: the report as JSON, CSV or the brief, its
publication by hand, and the timer that publishes it on the schedule (REPORTS.HOT_ISSUES_SCHEDULE)."""

from __future__ import annotations

from urllib.parse import quote

from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.http import api

from . import usecases
from .domain import Schedule
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


# -- the schedule -----------------------------------------------------------------------------------

class ReportSchedule(DependencyProvider):
    """`REPORTS` of the config as a `Schedule`, read once per container; a bad setting stops the start."""

    def setup(self):
        self.schedule = Schedule.from_config(self.container.config.get("REPORTS"))

    def get_dependency(self, worker_ctx):
        return self.schedule


class ScheduleTimer(Timer):
    """Every REPORTS.HOT_ISSUES_CHECK_SECONDS (60), and once at start."""

    def __init__(self, **kwargs):
        super().__init__(interval=Schedule.check_seconds, eager=True, **kwargs)

    def setup(self):
        self.interval = Schedule.from_config(self.container.config.get("REPORTS")).check_seconds


# -- the endpoints ----------------------------------------------------------------------------------

_STRING = {"schema": {"type": "string"}}


class HotIssueEndpoints:
    """Mixed into the appeals service: `self.platform` is its database."""

    report_schedule = ReportSchedule()

    @api("GET", "/api/v1/reports/hot-issues", roles=REPORT_ROLES, query=HotIssuesQuery, response=HotIssuesOut,
         summary="hot issues for the joint meeting (热点问题汇总): JSON, CSV (Excel) or a one-page Chinese brief",
         tags=("reports",),
         responses={200: {"description": "the report; format by ?format= or the Accept header",
                          "content": {"application/json": {"schema": HotIssuesOut},
                                      "text/csv": _STRING, "text/html": _STRING}}})
    def hot_issues_report(self, call):
        fmt = call.query["format"] or negotiate(call.request)
        with self.platform.session() as s:
            report = usecases.hot_issues(s, call.query["period"], register=self.settings.departments)
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

    # Fires in every instance: the publication's unique key in the database lets one of them publish a period.
    @ScheduleTimer.decorator
    def publish_hot_issues_on_schedule(self):
        """The weekly and monthly briefs, each once, shortly after its period ended."""
        if self.report_schedule.kinds:
            usecases.publish_scheduled(self.platform.session, self.platform.unit_of_work, self.report_schedule,
                                       clock.now())
