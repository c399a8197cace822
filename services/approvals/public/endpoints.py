"""The public face's entrypoints (no key), mixed into the approvals service: the JSON routes under /public/v1 and
the page at /public/ with its script and style sheet. Each parses, calls one use case and shapes the answer."""

from __future__ import annotations

from pathlib import Path

from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.http import api

from . import usecases
from .access import PublicAccessProvider
from .schemas import GuideItemOut, GuideOut, GuideQuery, ProgressIn, ProgressOut, ResultsPage, ResultsQuery

STATIC = Path(__file__).resolve().parent / "static"
# our own script, style sheet and JSON only: nothing injected runs, nothing is fetched from elsewhere
CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
TAGS = ("public",)
PAGE = {200: {"description": "the page", "content": {"text/html": {}}}}
PROGRESS_ERRORS = {
    404: "no application with this number and query code: one answer for an unknown number and a wrong code",
    429: {"description": "this address failed too often lately (PUBLIC.FAILURES_PER_WINDOW in PUBLIC.WINDOW_SECONDS)"
                         "; wait Retry-After seconds",
          "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
}


def _file(name: str, content_type: str) -> Response:
    resp = Response((STATIC / name).read_bytes(), content_type=content_type)
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _page() -> Response:
    resp = _file("index.html", "text/html; charset=utf-8")
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


class PublicEndpoints:
    """Mixed into the approvals service (needs `platform`, `settings`)."""

    public_access = PublicAccessProvider()

    # -- the service guide (办事指南) ---------------------------------------------------------------------

    @api("GET", "/public/v1/guide", roles=None, query=GuideQuery, response=GuideOut,
         summary="the service guide (办事指南): every approval item with its department, materials, statutory and "
                 "committed limits, where it is handled and whether the window decides it; no key", tags=TAGS)
    def service_guide(self, call):
        with self.platform.session() as s:
            return usecases.guide(s, self.settings, call.query["department"], call.query["q"])

    @api("GET", "/public/v1/guide/<code>", roles=None, response=GuideItemOut,
         summary="one item of the service guide; no key", tags=TAGS, responses={404: "no such item"})
    def service_guide_item(self, call, code):
        with self.platform.session() as s:
            return usecases.guide_item(s, self.settings, code)

    # -- the progress query (办件进度查询) ----------------------------------------------------------------

    @api("POST", "/public/v1/progress", roles=None, body=ProgressIn, response=ProgressOut,
         summary="the progress query (办件进度查询) by application number and the receipt's query code: state, steps "
                 "with dates, due date, light; never the applicant. A POST, so that the code stays out of URLs and "
                 "access logs; no key", tags=TAGS, responses=PROGRESS_ERRORS)
    def progress_query(self, call):
        # the address the connection comes from: behind a reverse proxy, the proxy must pass the client's (docs)
        address = call.request.remote_addr
        with self.platform.session() as s:
            return usecases.progress(s, self.settings, self.public_access, call.body["application_no"],
                                     call.body["query_code"], address, clock.now())

    # -- the results (审批结果公开) ------------------------------------------------------------------------

    @api("GET", "/public/v1/results", roles=None, query=ResultsQuery, response=ResultsPage,
         summary="the results disclosure (审批结果公开): decisions on the items whose results are public, newest "
                 "first; enterprise applicants by name, persons never (个人); at most 366 days per query; no key",
         tags=TAGS)
    def results_disclosure(self, call):
        with self.platform.session() as s:
            return usecases.results(s, self.settings, call.query)

    # -- the page -----------------------------------------------------------------------------------------

    @api("GET", "/public/", roles=None, summary="the public page (政务公开): guide, progress query, results; Chinese, "
         "phone-sized, self-contained", tags=TAGS, responses=PAGE)
    def public_page(self, call):
        return _page()

    # werkzeug's own redirect of /public would come without its Location (kernel/http.py answers routing in JSON)
    @api("GET", "/public", roles=None, status=308, summary="to the public page, /public/", tags=TAGS,
         responses={308: {"description": "to /public/", "headers": {"Location": {"schema": {"type": "string"}}}}})
    def public_page_bare(self, call):
        return Response(status=308, headers={"Location": "/public/"})

    @api("GET", "/public/index.html", roles=None, summary="the public page, by its file name", tags=TAGS,
         responses=PAGE)
    def public_page_file(self, call):
        return _page()

    @api("GET", "/public/app.js", roles=None, summary="the public page's script", tags=TAGS)
    def public_script(self, call):
        return _file("app.js", "text/javascript; charset=utf-8")

    @api("GET", "/public/app.css", roles=None, summary="the public page's style sheet", tags=TAGS)
    def public_style(self, call):
        return _file("app.css", "text/css; charset=utf-8")
