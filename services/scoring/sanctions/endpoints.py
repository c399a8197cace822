"""The entrypoints of the sanctions register: a mixin of the scoring service. Each parses, authorises, calls one use
case and shapes the answer; the consumers take measures in from appeals and approvals."""

from __future__ import annotations

import contextlib

from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.http import api
from services.kernel.messaging import AlreadyProcessed, consume_event

from . import usecases
from .schemas import ReviewDecisionIn, ReviewRequestIn, SanctionIn, SanctionOut, SanctionPage, SanctionsQuery
from .settings import SanctionRulesProvider

READERS = ("assessor", "monitor", "department_handler")  # a department handler: its own unit's measures only
WRITERS = ("assessor",)
REVIEWERS = ("department_handler", "assessor")
TAGS = ("sanctions",)
MISSING = {404: "no such measure (or, to a department handler, another unit's)"}


class SanctionEndpoints:
    """The sanctions register (效能问责). Mixed into the scoring service (needs `platform` and `settings`)."""

    sanction_rules = SanctionRulesProvider()

    # -- events in ------------------------------------------------------------------------------------------

    @consume_event("appeals", "efficiency_warning.issued")
    def on_efficiency_warning(self, event):
        # an upheld efficiency complaint: an entry, once per warning (its cost is the core ledger's fact)
        with contextlib.suppress(AlreadyProcessed), self.platform.consuming(event) as uow:
            usecases.record_warning(uow, self.sanction_rules, self.settings.calendar, event, clock.now())

    @consume_event("approvals", "accountability.concluded")
    def on_accountability_concluded(self, event):
        # a key project's accountability procedure ended: a measure enters the register; none due: nothing
        with contextlib.suppress(AlreadyProcessed), self.platform.consuming(event) as uow:
            usecases.record_accountability(uow, self.sanction_rules, self.settings.calendar, event, clock.now())

    # -- HTTP -----------------------------------------------------------------------------------------------

    @api("POST", "/api/v1/sanctions", roles=WRITERS, body=SanctionIn, response=SanctionOut, status=201,
         summary="enter a measure (处分/问责措施) in the register; retry-safe (the same kind and document number "
                 "saying the same again: 200 with it)", tags=TAGS,
         responses={200: "the same measure was entered before: as it is",
                    409: "the kind and document number name another measure already"})
    def record_sanction(self, call):
        for attempt in (1, 2):
            try:
                with self.platform.unit_of_work() as uow:
                    row, created = usecases.record_entered(uow, self.sanction_rules, self.settings.calendar,
                                                           call.body, call.actor.name, clock.now())
                return (201 if created else 200), row
            except IntegrityError:  # the same number entered at the same moment: judged again against the other
                if attempt == 2:
                    raise

    @api("GET", "/api/v1/sanctions", roles=READERS, query=SanctionsQuery, response=SanctionPage,
         summary="the register, newest decision first (department handlers: their own unit's)", tags=TAGS)
    def list_sanctions(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as session:
            items, total = usecases.find(session, query)
        return call.page(items, total)

    @api("GET", "/api/v1/sanctions/<int:sanction_id>", roles=READERS, response=SanctionOut,
         summary="one measure with its history (recorded, review asked for, decided: who, when, why)", tags=TAGS,
         responses=MISSING)
    def get_sanction(self, call, sanction_id):
        with self.platform.session() as session:
            return usecases.get(session, sanction_id, call.department_scope)

    @api("POST", "/api/v1/sanctions/<int:sanction_id>/review", roles=REVIEWERS, body=ReviewRequestIn,
         response=SanctionOut, status=201,
         summary="the sanctioned unit asks for review (申辩/复核) within SANCTIONS.REVIEW_DAYS working days of the "
                 "decision (its department handler, or the assessment office on its behalf); retry-safe", tags=TAGS,
         responses={**MISSING, 200: "the same request was made before: as it is",
                    409: "review was asked for already, or the time for it is over"})
    def request_review(self, call, sanction_id):
        with self.platform.unit_of_work() as uow:
            row, created = usecases.request_review(uow, self.sanction_rules, self.settings.calendar, sanction_id,
                                                   call.body["reason"], call.actor, call.department_scope,
                                                   clock.now())
        return (201 if created else 200), row

    @api("POST", "/api/v1/sanctions/<int:sanction_id>/review/decide", roles=WRITERS, body=ReviewDecisionIn,
         response=SanctionOut,
         summary="decide a review: upheld (the measure stands) or withdrawn (its cost voided: the score as if it "
                 "had never been); audited; retry-safe", tags=TAGS,
         responses={**MISSING, 409: "no review waits for a decision (or it was decided otherwise)"})
    def decide_review(self, call, sanction_id):
        with self.platform.unit_of_work() as uow:
            return usecases.decide_review(uow, sanction_id, call.body["decision"], call.body["note"],
                                          call.actor.name, clock.now())
