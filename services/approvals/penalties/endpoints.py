"""The entrypoints of penalties: parse, authorise, call one use case, shape the answer; and the timer that works out
the filing limits that waited for the calendar. Mixed into the service class (needs `platform` and `settings`)."""

from __future__ import annotations

from nameko.timer import timer
from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.http import api

from .. import handlers
from . import store, usecases
from .schemas import PenaltiesQuery, PenaltyBaseIn, PenaltyBaseOut, PenaltyIn, PenaltyOut, PenaltyPage
from .settings import PenaltyBasesSeed, PenaltyRulesProvider

EDITORS = ("monitor",)  # and admin (every route)
READERS = ("monitor", "assessor", "department_handler")
FILERS = ("department_handler",)


class PenaltyEndpoints:
    """The catalogue of penalty bases with the discretion standard, and the filing of penalty decisions."""

    penalty_rules = PenaltyRulesProvider()
    penalty_bases_seed = PenaltyBasesSeed()

    @api("GET", "/api/v1/penalty-bases", roles=READERS, response=PenaltyBaseOut, many=True,
         summary="the catalogue of penalty bases (处罚依据) with their discretion standard (自由裁量基准), by code",
         tags=("penalties",))
    def list_penalty_bases(self, call):
        with self.platform.session() as s:
            return [usecases.present_basis(b) for b in store.list_bases(s)]

    @api("PUT", "/api/v1/penalty-bases/<code>", roles=EDITORS, body=PenaltyBaseIn, response=PenaltyBaseOut,
         status=200, summary="a penalty basis created or replaced: the law and article, the kinds it allows and the "
                             "fine's range per circumstance (轻微/一般/严重); penalties filed before keep "
                             "their findings",
         tags=("penalties",), responses={201: "a new basis"})
    def put_penalty_basis(self, call, code):
        with self.platform.unit_of_work() as uow:
            created, row = usecases.put_basis(uow, code, call.body, call.principal.name, clock.now())
        return (201 if created else 200), usecases.present_basis(row)

    @api("POST", "/api/v1/penalties", roles=FILERS, body=PenaltyIn, response=PenaltyOut, status=201,
         summary="a penalty decision filed by its department (重大行政处罚备案; every decision may be filed, a major "
                 "one within PENALTIES.FILING_DAYS working days): late filing, a penalty outside its discretion "
                 "band and a fine without a stated circumstance are alerted once each; retry-safe by case number",
         tags=("penalties",),
         responses={200: "the same filing was recorded before", 409: "the case number was filed with other content"})
    def file_penalty(self, call):
        department = call.principal.department
        for attempt in (1, 2):
            try:
                with self.platform.unit_of_work() as uow:
                    created, row = usecases.file_penalty(uow, self.settings, self.penalty_rules, call.body,
                                                         department, call.principal.name, clock.now())
                    names = usecases.basis_names(uow.session)
                break
            except IntegrityError:  # the same case number filed at the same moment: judged again as a retry
                if attempt == 2:
                    raise
        return (201 if created else 200), usecases.present(row, self.settings.departments, names)

    @api("GET", "/api/v1/penalties", roles=READERS, query=PenaltiesQuery, response=PenaltyPage,
         summary="filed penalties, the latest decided first (department handlers: their own department's only)",
         tags=("penalties",))
    def list_penalties(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            rows, total = usecases.list_penalties(s, query)
            names = usecases.basis_names(s)
        return call.page([usecases.present(r, self.settings.departments, names) for r in rows], total)

    @api("GET", "/api/v1/penalties/<int:penalty_id>", roles=READERS, response=PenaltyOut,
         summary="one filed penalty", tags=("penalties",),
         responses={404: "no such penalty, or another department's"})
    def get_penalty(self, call, penalty_id):
        with self.platform.session() as s:
            row = usecases.get(s, penalty_id, call.department_scope)
            return usecases.present(row, self.settings.departments, usecases.basis_names(s))

    @timer(interval=handlers.MONITOR_INTERVAL)
    def check_penalty_limits(self):
        self.platform.drain_due(
            store.any_due, lambda uow, now: usecases.check_due(uow, self.settings, self.penalty_rules, now),
            usecases.CHECK_BATCH)
