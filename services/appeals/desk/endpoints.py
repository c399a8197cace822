"""The entrypoints of the operator's desk, a mixin of the appeals service (needs `platform`): a caller's history
and the export of a searched list. The search itself is GET /api/v1/appeals (service.py `list_appeals`)."""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.http import api

from ..domain import mask_phone
from ..views import listed, shown
from . import usecases
from .render import filter_summary, to_csv, to_html
from .schemas import CallerHistoryOut, CallerQuery, ExportQuery

OPERATOR = ("operator",)
READERS = ("operator", "window_system", "department_handler", "monitor")
_STRING = {"schema": {"type": "string"}}


def _download(body: bytes | str, mimetype: str, ext: str, disposition: str) -> Response:
    stamp = f"{clock.now().astimezone(clock.TZ):%Y%m%d-%H%M}"
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = (f'{disposition}; filename="appeals_{stamp}.{ext}"; '
                                           f"filename*=UTF-8''{quote(f'诉求清单_{stamp}.{ext}')}")
    resp.headers["Cache-Control"] = "no-store"  # citizens' text, names and numbers (masked)
    return resp


class DeskEndpoints:
    """The hotline operator's desk: a caller's history, the export of a searched list."""

    @api("GET", "/api/v1/callers/<phone>/appeals", roles=OPERATOR, query=CallerQuery, response=CallerHistoryOut,
         tags=("appeals",),
         summary="all appeals of one caller (by the number in any spelling), newest first, with repeat counts: "
                 "all, open, last 30 days, per category")
    def caller_history(self, call, phone):
        with self.platform.session() as s:
            history = usecases.caller_history(s, phone, call.query["page"], call.query["per_page"], clock.now())
        labels = self.settings.labels(self.platform)
        return {**history, "items": [shown(call, r, labels) for r in history.pop("records")]}

    @api("GET", "/api/v1/appeals/export", roles=READERS, query=ExportQuery, tags=("appeals",),
         summary="the searched list (the filters of GET /api/v1/appeals) as CSV for Excel or a printable HTML list, "
                 "at most 10,000 appeals (more: 400), personal data masked as in the list",
         responses={200: {"description": "the list; format by ?format= (csv: UTF-8 with a BOM)",
                          "content": {"text/csv": _STRING, "text/html": _STRING}}})
    def export_appeals(self, call):
        usecases.check_allowed(call.query, call.actor.role)
        query = call.scoped_query()
        now = clock.now()
        with self.platform.session() as s:
            records = usecases.export_rows(s, query, call.actor.role) if query is not None else []
        labels = self.settings.labels(self.platform)
        cases = [listed(r, labels) for r in records]
        if call.query["format"] == "html":
            phone = call.query.get("phone")
            summary = filter_summary(call.query, mask_phone(phone) if phone else None, labels)
            return _download(to_html(cases, summary, now), "text/html", "html", "inline")
        return _download(to_csv(cases), "text/csv", "csv", "attachment")
