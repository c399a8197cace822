"""The entrypoints of the satisfied windows (群众满意窗口): parse, authorise, call one use case, shape the answer;
the re-check timer and the consumer of appeals' findings. Mixed into the service class (needs `platform` and
`settings`)."""

from __future__ import annotations

import contextlib
import logging

from nameko.timer import timer
from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.errors import Conflict
from services.kernel.http import api
from services.kernel.messaging import AlreadyProcessed, consume_event

from .. import handlers
from . import usecases
from .schemas import (
    CandidatesOut,
    CandidatesQuery,
    DecisionIn,
    DecisionOut,
    PublicWindowsOut,
    RecheckPage,
    RechecksQuery,
    RevokeIn,
    TitleOut,
    TitlePage,
    TitlesQuery,
)
from .settings import NamingRulesProvider

log = logging.getLogger(__name__)

READERS = ("monitor", "assessor")  # and admin (an admin key passes everywhere)
DECIDERS = ("assessor",)  # the leading group's office records its decisions; and admin
TAGS = ("satisfied windows",)


class NamingEndpoints:
    """The standard, the candidates of a period, the decisions naming windows, their titles (public too), the
    quarterly re-check and the revocation."""

    naming_standard = NamingRulesProvider()

    @api("GET", "/api/v1/naming/candidates", roles=READERS, query=CandidatesQuery, response=CandidatesOut,
         summary="the selection (评选): every active window with its record over the period and, per criterion of "
                 "the standard (创建标准), met or not with the evidence (counts, rates, red cards' alert ids, upheld "
                 "complaints' case numbers)", tags=TAGS, responses={400: "not a period, or one not begun"})
    def naming_candidates(self, call):
        with self.platform.session() as s:
            return usecases.candidates(s, self.settings, self.naming_standard, call.query["period"], clock.now())

    @api("POST", "/api/v1/naming/decisions", roles=DECIDERS, body=DecisionIn, response=DecisionOut, status=201,
         summary="record the leading group's decision naming windows 群众满意窗口 for a period (who, when, which); "
                 "a window not meeting the standard only with override_reason; naming.window_named per window",
         tags=TAGS, responses={409: "a window was named for this period already (nothing recorded)"})
    def naming_decide(self, call):
        try:
            with self.platform.unit_of_work() as uow:
                return usecases.decide(uow, self.settings, self.naming_standard, call.body, call.principal.name,
                                       clock.now())
        except IntegrityError:
            raise Conflict("a window was named for this period meanwhile", message_zh="窗口已被命名") from None

    @api("GET", "/api/v1/naming/titles", roles=READERS, query=TitlesQuery, response=TitlePage,
         summary="the titles 群众满意窗口, active and revoked, newest first", tags=TAGS)
    def naming_titles(self, call):
        with self.platform.session() as s:
            return call.page(*usecases.list_titles(s, self.settings, call.query))

    @api("GET", "/api/v1/naming/titles/<int:title_id>", roles=READERS, response=TitleOut,
         summary="one title with the evidence it was named on", tags=TAGS, responses={404: "no such title"})
    def naming_title(self, call, title_id):
        with self.platform.session() as s:
            return usecases.get_title(s, self.settings, title_id)

    @api("POST", "/api/v1/naming/titles/<int:title_id>/revoke", roles=DECIDERS, body=RevokeIn, response=TitleOut,
         summary="record the leading group's decision revoking a title (撤销命名), with the reason; it leaves the "
                 "public list; naming.title_revoked", tags=TAGS,
         responses={404: "no such title", 409: "revoked already"})
    def naming_revoke(self, call, title_id):
        with self.platform.unit_of_work() as uow:
            return usecases.revoke(uow, self.settings, title_id, call.body, call.principal.name, clock.now())

    @api("GET", "/api/v1/naming/rechecks", roles=READERS, query=RechecksQuery, response=RecheckPage,
         summary="the quarterly re-checks (复查), newest first: by default the flags (failed, with the failing "
                 "criteria) and whether the title was revoked since", tags=TAGS)
    def naming_rechecks(self, call):
        with self.platform.session() as s:
            return call.page(*usecases.list_rechecks(s, self.naming_standard, call.query))

    @api("GET", "/public/v1/satisfied-windows", roles=None, response=PublicWindowsOut,
         summary="the windows holding the title 群众满意窗口: window, department, service point, period, date named; "
                 "no key", tags=("public",))
    def public_satisfied_windows(self, call):
        with self.platform.session() as s:
            return usecases.public_list(s, self.settings)

    @timer(interval=handlers.MONITOR_INTERVAL)
    def naming_recheck(self):
        now = clock.now()
        with self.platform.session() as s:
            if not usecases.any_recheck_due(s, now):
                return
        usecases.recheck_due(self.platform.db, self.naming_standard, now)

    @consume_event("appeals", "complaint.finding_recorded")
    def on_complaint_finding(self, event):
        with contextlib.suppress(AlreadyProcessed), self.platform.consuming(event) as uow:
            if usecases.record_finding(uow, event):
                log.info("upheld efficiency complaint %s against %s kept", event.payload["case_no"],
                         event.payload["subject_department"])
