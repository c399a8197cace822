"""The entrypoints of rectifications (整改): parse, authorise, call one use case, shape the answer. Mixed into the
service class (needs `platform` and `settings`)."""

from __future__ import annotations

from nameko.timer import timer

from services.kernel import clock
from services.kernel.http import api

from .. import handlers
from . import store, usecases
from .schemas import AcceptIn, RectificationIn, RectificationOut, RectificationPage, RectificationsQuery, ReturnIn

SUBMITTERS = ("department_handler",)
REVIEWERS = ("monitor", "assessor")
READERS = ("monitor", "assessor", "department_handler")
CONFLICT = {409: "the alert is resolved, a report waits for review already, or none waits for review"}
NOT_FOUND = {404: "no such alert, or another department's"}


class RectificationEndpoints:
    """Rectification reports for alerts, their review, and the timer that watches their due times."""

    @api("POST", "/api/v1/alerts/<int:alert_id>/rectification", roles=SUBMITTERS, body=RectificationIn,
         response=RectificationOut, status=201,
         summary="the department's rectification report (整改报告) for an alert of its own; retry-safe (the same "
                 "report again while it waits for review: 200 and nothing done)",
         tags=("monitor",), responses={**CONFLICT, **NOT_FOUND, 200: "the same report was submitted before"})
    def submit_rectification(self, call, alert_id):
        with self.platform.unit_of_work() as uow:
            created, out = usecases.submit(uow, self.settings, alert_id, call.body, call.principal.name, clock.now(),
                                           scope=call.department_scope)
        return (201 if created else 200), out

    # by the rectification's id (the listing's, the answers' `id`)
    @api("GET", "/api/v1/rectifications/<int:rectification_id>", roles=READERS, response=RectificationOut,
         summary="one rectification: its alert, state, due time, the current report and every earlier one",
         tags=("monitor",), responses={404: "no such rectification, or another department's"})
    def get_rectification(self, call, rectification_id):
        with self.platform.session() as s:
            return usecases.get(s, rectification_id, call.department_scope)

    @api("POST", "/api/v1/alerts/<int:alert_id>/rectification/accept", roles=REVIEWERS, body=AcceptIn,
         response=RectificationOut,
         summary="accept the report waiting for review: the alert is resolved with it (monitor.alert_resolved); "
                 "retry-safe", tags=("monitor",), responses={**CONFLICT, **NOT_FOUND})
    def accept_rectification(self, call, alert_id):
        with self.platform.unit_of_work() as uow:
            return usecases.review(uow, self.settings, alert_id, "accept", call.body["note"], call.principal.name,
                                   clock.now())

    @api("POST", "/api/v1/alerts/<int:alert_id>/rectification/return", roles=REVIEWERS, body=ReturnIn,
         response=RectificationOut,
         summary="send the report back with a reason (退回); the department may submit again; retry-safe",
         tags=("monitor",), responses={**CONFLICT, **NOT_FOUND})
    def return_rectification(self, call, alert_id):
        with self.platform.unit_of_work() as uow:
            return usecases.review(uow, self.settings, alert_id, "return", call.body["reason"], call.principal.name,
                                   clock.now())

    @api("GET", "/api/v1/rectifications", roles=READERS, query=RectificationsQuery, response=RectificationPage,
         summary="rectifications, newest first (department handlers: their own only); state overdue: announced "
                 "overdue and still open", tags=("monitor",))
    def list_rectifications(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            rows, total = store.list_rectifications(s, **query)
        return call.page([usecases.present(r) for r in rows], total)

    @timer(interval=handlers.MONITOR_INTERVAL)
    def check_rectifications(self):
        self.platform.drain_due(store.any_due, lambda uow, now: usecases.check_due(uow, self.settings, now),
                                usecases.CHECK_BATCH)
