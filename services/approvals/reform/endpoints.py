"""The entrypoints of reform (精简审批事项, 压减审批时限): retiring and merging items, the catalogue's history, the
year's changes and the report. A mixin of the approvals service (needs `platform` and `settings`)."""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.http import api

from . import domain, usecases
from .render import to_csv, to_html
from .schemas import (
    ItemChangePage,
    ItemChangesQuery,
    ItemHistoryOut,
    ItemMergeIn,
    ItemRetireIn,
    ReformReportOut,
    ReformReportQuery,
)

EDITORS = ("operator",)  # the catalogue's editors, as for PUT /api/v1/items; and admin
REPORT_ROLES = ("monitor", "assessor", "operator")  # and admin
TAGS = ("catalogue",)
MIMETYPES = {"application/json": "json", "text/csv": "csv", "text/html": "html"}
_STRING = {"schema": {"type": "string"}}
_ENDED = {404: "no such item", 409: "the item is retired or merged already, or effective_on is before its last "
                                     "recorded change"}


def _download(body: bytes | str, mimetype: str, year: int, ext: str, disposition: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = (f'{disposition}; filename="reform_{year}.{ext}"; '
                                           f"filename*=UTF-8''{quote(f'审批事项精简情况_{year}.{ext}')}")
    return resp


class ReformEndpoints:
    """Mixed into the approvals service."""

    @api("POST", "/api/v1/items/<code>/retire", roles=EDITORS, body=ItemRetireIn, response=ItemHistoryOut,
         summary="retire an item (取消审批事项) from effective_on, with the deciding document and the reason; from "
                 "that day it takes no new application (409 at submission)", tags=TAGS, responses=_ENDED)
    def retire_item(self, call, code):
        with self.platform.unit_of_work() as uow:
            usecases.end(uow, self.settings, code, domain.RETIRED, call.body, call.principal.name, clock.now())
            return usecases.history(uow.session, self.settings, code)

    @api("POST", "/api/v1/items/<code>/merge", roles=EDITORS, body=ItemMergeIn, response=ItemHistoryOut,
         summary="merge an item into another (合并审批事项) from effective_on, with the deciding document; from that "
                 "day it takes no new application", tags=TAGS,
         responses={**_ENDED, 400: "into: not an item",
                    409: "the item or the target is retired or merged, the target is the item itself, or "
                         "effective_on is before the item's last recorded change"})
    def merge_item(self, call, code):
        with self.platform.unit_of_work() as uow:
            usecases.end(uow, self.settings, code, domain.MERGED, call.body, call.principal.name, clock.now())
            return usecases.history(uow.session, self.settings, code)

    @api("GET", "/api/v1/items/<code>/history", roles=(), response=ItemHistoryOut,
         summary="an item and its history (initial, added, changed, retired, merged), oldest first", tags=TAGS,
         responses={404: "no such item"})
    def item_history(self, call, code):
        with self.platform.session() as s:
            return usecases.history(s, self.settings, code)

    @api("GET", "/api/v1/catalogue-changes", roles=(), query=ItemChangesQuery, response=ItemChangePage,
         summary="the catalogue's changes taking effect in a year, by date (initial entries included), of one "
                 "department or all", tags=TAGS)
    def catalogue_changes(self, call):
        with self.platform.session() as s:
            return call.page(*usecases.changes(s, self.settings, call.query))

    @api("GET", "/api/v1/reports/reform", roles=REPORT_ROLES, query=ReformReportQuery, response=ReformReportOut,
         summary="the reform report (精简审批事项、压减审批时限) of a year, per department and for the city: JSON, "
                 "CSV or a printable Chinese page", tags=("reports",),
         responses={200: {"description": "the report; format by ?format= or the Accept header",
                          "content": {"application/json": {"schema": ReformReportOut},
                                      "text/csv": _STRING, "text/html": _STRING}},
                    400: "a year not begun"})
    def reform_report(self, call):
        fmt = call.query["format"] or MIMETYPES[call.request.accept_mimetypes.best_match(
            list(MIMETYPES), default="application/json")]
        year = call.query["year"]
        with self.platform.session() as s:
            report = usecases.report(s, self.settings, year, clock.now())
        if fmt == "csv":
            return _download(to_csv(report), "text/csv", year, "csv", "attachment")
        if fmt == "html":
            return _download(to_html(report), "text/html", year, "html", "inline")
        return report
