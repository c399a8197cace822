"""The entrypoints of rewarded reports (有奖投诉举报): record the reward of an upheld efficiency complaint, record it
paid, read one, list them. A mixin of the appeals service (needs `platform` and `settings`); each parses,
authorises, calls one use case (usecases.py) and shapes the answer."""

from __future__ import annotations

from services.kernel import clock
from services.kernel.http import api

from . import usecases
from .schemas import RewardIn, RewardOut, RewardPage, RewardPaidIn, RewardsQuery

# the monitors, and the discipline office's handlers (as the finding is recorded; another department's: 403)
ROLES = ("monitor", "department_handler")
CONFLICT = {409: "not an upheld efficiency complaint, its reward recorded already, or (paid) not approved yet or "
                 "paid already (reason in English and Chinese)",
            403: "a department handler not of the discipline office (APPEALS.DISCIPLINE_OFFICE)"}


class RewardEndpoints:
    """Rewarded reports (有奖投诉举报). Mixed into the appeals service (needs `platform` and `settings`)."""

    @api("POST", "/api/v1/appeals/<int:appeal_id>/reward", roles=ROLES, body=RewardIn, response=RewardOut,
         status=201, tags=("supervision",), responses=CONFLICT,
         summary="record the reward approved for the reporter of an upheld efficiency complaint (有奖投诉举报): "
                 "amount in yuan, who approved it and when; once per case")
    def record_reward(self, call, appeal_id):
        with self.platform.unit_of_work() as uow:
            return 201, usecases.record_reward(uow, self.settings, appeal_id, call.body, call.actor,
                                               call.department_scope, clock.now())

    @api("POST", "/api/v1/appeals/<int:appeal_id>/reward/paid", roles=ROLES, body=RewardPaidIn, response=RewardOut,
         tags=("supervision",), responses=CONFLICT,
         summary="record the approved reward paid (发放), on a day not before its approval")
    def record_reward_paid(self, call, appeal_id):
        with self.platform.unit_of_work() as uow:
            return usecases.record_paid(uow, self.settings, appeal_id, call.body["paid_on"], call.actor,
                                        call.department_scope, clock.now())

    @api("GET", "/api/v1/appeals/<int:appeal_id>/reward", roles=ROLES, response=RewardOut, tags=("supervision",),
         responses={403: CONFLICT[403]}, summary="the reward of a report (404: none recorded)")
    def get_reward(self, call, appeal_id):
        with self.platform.session() as s:
            return usecases.get_reward(s, self.settings, appeal_id, call.actor, call.department_scope)

    @api("GET", "/api/v1/rewards", roles=ROLES, query=RewardsQuery, response=RewardPage, tags=("supervision",),
         responses={403: CONFLICT[403]},
         summary="rewards of upheld reports, newest approval first: by the year approved, state (approved, paid) "
                 "and the case's department")
    def list_rewards(self, call):
        usecases.check_actor(call.actor, self.settings.rules.discipline_office)
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            return call.page(*usecases.find_rewards(s, self.settings, query, call.actor))
