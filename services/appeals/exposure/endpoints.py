"""The exposure board's routes, a mixin of the appeals service (it needs the service's `platform` and `settings`):
the JSON answers under /public/v1, the page and its script and style sheet. No key: each parses, calls one use
case and shapes the answer."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.errors import NotFound
from services.kernel.http import api
from services.kernel.messaging import AlreadyProcessed, consume_event

from . import usecases
from .access import ExposureThrottle
from .schemas import ExposureOut, ExposurePage, ExposuresQuery

PAGE_DIR = Path(__file__).resolve().parent / "page"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# only our own script, style sheet and API: nothing injected runs, nothing is fetched from outside
CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
log = logging.getLogger(__name__)
TAGS = ("public",)
NOT_ON_BOARD = {404: "no such case on the board: unknown, never exposed, or never shown (efficiency complaints, the "
                     "discipline office's cases, invalid or withdrawn cases) — one answer for all",
                429: {"description": "this address asked for too many cases not on the board lately; "
                                     "Retry-After says when it may again",
                      "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}}}


def _with_headers(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


class ExposureEndpoints:
    """Mixed into the appeals service (needs `platform`, `settings`)."""

    exposure_throttle = ExposureThrottle()

    @api("GET", "/public/v1/exposures", roles=None, query=ExposuresQuery, response=ExposurePage,
         summary="the exposure board (曝光台), no key: the cases the supervising office exposed, newest exposure "
                 "first, desensitised, with the department's rectification once closed (docs/exposure.md)",
         tags=TAGS)
    def exposure_board(self, call):
        q = call.query
        with self.platform.session() as s:
            items, total = usecases.board(s, self.settings, self.settings.labels(self.platform), q["page"],
                                          q["per_page"])
        return call.page(items, total)

    @api("GET", "/public/v1/exposures/<public_id>", roles=None, response=ExposureOut,
         summary="one case on the exposure board by its public id, no key", tags=TAGS, responses=NOT_ON_BOARD)
    def exposure_case(self, call, public_id):
        labels = self.settings.labels(self.platform)
        with self.platform.session() as s:
            return usecases.exposure(s, self.settings, labels, public_id, self.exposure_throttle,
                                     call.request.remote_addr)

    @api("GET", "/public/exposures", roles=None, summary="the exposure board's page (曝光台; Chinese, phone-sized, "
         "no external resources)", tags=TAGS, responses={200: {"description": "the page",
                                                               "content": {"text/html": {}}}})
    def exposure_page(self, call):
        resp = Response((PAGE_DIR / "exposures.html").read_bytes(), content_type="text/html; charset=utf-8")
        resp.headers["Content-Security-Policy"] = CSP
        return _with_headers(resp)

    @api("GET", "/public/exposures/static/<name>", roles=None, summary="the exposure board page's script and style "
         "sheet", tags=TAGS, responses={404: "no such file"})
    def exposure_static(self, call, name):
        path = PAGE_DIR / name
        # only plain files directly under page/ with a known type: no "..", no sub-directories, not the page
        if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
            raise NotFound(f"no such file: {name}", message_zh="文件不存在")
        return _with_headers(Response(path.read_bytes(), content_type=STATIC_TYPES[path.suffix]))

    @consume_event("approvals", "monitor.supervision_exposure")
    def on_supervision_exposure(self, event):
        """A supervision order of approvals exposed, or its department acted: the board keeps the latest."""
        with contextlib.suppress(AlreadyProcessed), self.platform.consuming(event) as uow:
            if not usecases.record_supervision(uow, event.payload, clock.now()):
                log.info("exposed supervision order %s: revision %s came after a later one, ignored",
                         event.payload["public_id"], event.payload["revision"])
