"""The entrypoints of 好差评: parse, authorise, call one use case, shape the answer; and the timer that watches the
follow-ups' due times. Mixed into the service class (needs `platform`, `settings`, `public_access`)."""

from __future__ import annotations

from nameko.timer import timer
from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.http import api

from .. import handlers
from . import store, usecases
from .schemas import (
    FollowUpIn,
    PublicReviewIn,
    PublicReviewOut,
    ReviewOut,
    ReviewPage,
    ReviewsQuery,
    SummaryOut,
    SummaryQuery,
    WindowReviewIn,
)
from .settings import ReviewRulesProvider

READERS = ("monitor", "assessor", "department_handler")
CONFLICT = {409: "the application is still being handled, or its review was given (one per application; the "
                 "re-review only after a bad review's follow-up was reported)"}
PUBLIC = "public"


class ReviewEndpoints:
    """Reviews at the window and on the public page, the departments' follow-ups, the list and the summary."""

    review_rules = ReviewRulesProvider()

    def _record(self, find, data: dict, channel: str, by: str) -> tuple[bool, dict, str]:
        """`usecases.record` on the application `find(session)` returns (locked); a review racing another of the
        same application is judged again once the other committed (a retry of it answers as one)."""
        for attempt in (1, 2):
            try:
                with self.platform.unit_of_work() as uow:
                    app = find(uow.session)
                    created, row = usecases.record(uow, self.settings, self.review_rules, app, data, channel, by,
                                                   clock.now())
                return created, row, self.settings.departments.name(app["department"])
            except IntegrityError:
                if attempt == 2:
                    raise

    @api("POST", "/api/v1/applications/<int:application_id>/review", roles=("window_system",), body=WindowReviewIn,
         response=ReviewOut, status=201,
         summary="the applicant's review (好差评) at the window's evaluation device, once the application has an "
                 "outcome; a bad one starts the department's follow-up; retry-safe (the same review again: 200 "
                 "with it)", tags=("reviews",),
         responses={**CONFLICT, 404: "no such application", 200: "the same review was recorded before"})
    def review_at_window(self, call, application_id):
        created, row, _ = self._record(lambda s: usecases.application(s, application_id), call.body, "window",
                                       call.principal.name)
        return (201 if created else 200), usecases.present(row, self.settings.departments)

    @api("POST", "/public/v1/reviews", roles=None, body=PublicReviewIn, response=PublicReviewOut, status=201,
         summary="the applicant's review on the public page, with the application number and the receipt's query "
                 "code (no key); the answer holds nothing of the applicant; retry-safe",
         tags=("public",),
         responses={**CONFLICT, 404: "no application with this number and query code (the same answer for both)",
                    429: "too many failed look-ups from this address", 200: "the same review was recorded before"})
    def review_in_public(self, call):
        data = call.body
        address = call.request.remote_addr

        def find(session):
            row = self.public_access.application(session, data["application_no"], data["query_code"], address)
            return usecases.application(session, row["id"])

        created, row, name = self._record(find, data, "public", PUBLIC)
        return (201 if created else 200), usecases.public_answer(row, name)

    @api("POST", "/api/v1/reviews/<int:review_id>/follow-up", roles=("department_handler",), body=FollowUpIn,
         response=ReviewOut, status=201,
         summary="the department's report on a bad review's follow-up (核实整改反馈): what it verified and "
                 "rectified; its own department's only; then the applicant may review once more; retry-safe",
         tags=("reviews",),
         responses={404: "no such review, or another department's",
                    409: "the review asks for no follow-up, or it was reported already",
                    200: "the same report was recorded before"})
    def report_follow_up(self, call, review_id):
        with self.platform.unit_of_work() as uow:
            created, row = usecases.report_follow_up(uow, review_id, call.body["report"], call.principal.name,
                                                     clock.now(), scope=call.department_scope)
        return (201 if created else 200), usecases.present(row, self.settings.departments)

    @api("GET", "/api/v1/reviews", roles=READERS, query=ReviewsQuery, response=ReviewPage,
         summary="reviews, newest first (department handlers: their own department's only); follow_up overdue: "
                 "announced overdue and still pending", tags=("reviews",))
    def list_reviews(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            rows, total = usecases.list_reviews(s, query)
        return call.page([usecases.present(r, self.settings.departments) for r in rows], total)

    @api("GET", "/api/v1/reviews/summary", roles=READERS, query=SummaryQuery, response=SummaryOut,
         summary="a month's satisfaction per department, or per window (by=window: the application's responsible "
                 "window, 首问负责): the applications first reviewed in it by the level they count with (a re-review "
                 "replaces the first), the satisfaction rate (非常满意 + 满意 + 基本满意 over all); department "
                 "handlers: their own department's applications", tags=("reviews",))
    def review_summary(self, call):
        with self.platform.session() as s:
            return usecases.summary(s, self.settings.departments, call.query["month"], call.department_scope,
                                    by=call.query["by"])

    @api("GET", "/api/v1/reviews/<int:review_id>", roles=READERS, response=ReviewOut,
         summary="one review, with its follow-up", tags=("reviews",),
         responses={404: "no such review, or another department's"})
    def get_review(self, call, review_id):
        with self.platform.session() as s:
            return usecases.present(usecases.get(s, review_id, call.department_scope), self.settings.departments)

    @timer(interval=handlers.MONITOR_INTERVAL)
    def check_review_follow_ups(self):
        self.platform.drain_due(
            store.any_due, lambda uow, now: usecases.check_due(uow, self.settings, self.review_rules, now),
            usecases.CHECK_BATCH)
