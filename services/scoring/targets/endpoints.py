"""The entrypoints of target management (目标管理): parse, authorise, call one use case, shape the answer; and the
monitor's timer over the plans' and milestones' due moments. Mixed into the scoring service (needs `platform` and
`settings`: its work calendar)."""

from __future__ import annotations

from nameko.timer import timer
from werkzeug.wrappers import Response

from services.kernel import clock
from services.kernel.http import api

from . import render, store, usecases
from .schemas import (
    TargetBoardOut,
    TargetBoardQuery,
    TargetIn,
    TargetOut,
    TargetPage,
    TargetPatch,
    TargetPlanIn,
    TargetProgressIn,
    TargetsQuery,
)
from .settings import TargetRulesProvider

WRITERS = ("assessor",)
READERS = ("assessor", "monitor")
# a department handler reads the tasks its unit leads or co-leads (another's: 404, or absent from the list)
OWN_READERS = (*READERS, "department_handler")
LEAD = ("department_handler",)
CHECK_SECONDS = 0.5
NOT_FOUND = {404: "no such task (or, for a department handler, one its unit neither leads nor co-leads)"}
_HTML = {"schema": {"type": "string"}}


class TargetEndpoints:
    """Target management (目标管理). Mixed into the scoring service (needs `platform` and `settings`)."""

    target_rules = TargetRulesProvider()

    @api("POST", "/api/v1/targets", roles=WRITERS, body=TargetIn, response=TargetOut, status=201,
         summary="set a key task of the year with its 六定 (task, standard, dated milestones, lead and co-units, "
                 "steps, assessment); its lead unit's plan is due by TARGETS.PLAN_DUE (default 02-28)",
         tags=("targets",), responses={409: "the plan's due day needs a working-day calendar not loaded: give "
                                            "plan_due"})
    def create_target(self, call):
        with self.platform.unit_of_work() as uow:
            return usecases.create(uow, self.settings, self.target_rules, call.body, call.actor.name, clock.now())

    @api("GET", "/api/v1/targets", roles=OWN_READERS, query=TargetsQuery, response=TargetPage,
         summary="the key tasks, by year and id (department handlers: those their unit leads or co-leads)",
         tags=("targets",))
    def list_targets(self, call):
        query = dict(call.query)
        scope = call.department_scope
        if scope is not None:
            if query["department"] not in (None, scope):
                return call.page([], 0)
            query["department"] = scope
        with self.platform.session() as s:
            rows, total = usecases.list_targets(s, self.target_rules, query, clock.now())
        return call.page(rows, total)

    @api("GET", "/api/v1/targets/board", roles=READERS, query=TargetBoardQuery, response=TargetBoardOut,
         summary="every key task of the year on one page: lead unit, plan submitted / late / overdue, milestones "
                 "done / overdue / upcoming, a green / yellow / red light and why; JSON or the printable page "
                 "(format=html or Accept: text/html)", tags=("targets",),
         responses={200: {"description": "the board", "content": {"application/json": {"schema": TargetBoardOut},
                                                                  "text/html": _HTML}}})
    def target_board(self, call):
        fmt = call.query["format"] or (
            "html" if call.request.accept_mimetypes.best_match(["application/json", "text/html"],
                                                               default="application/json") == "text/html"
            else "json")
        with self.platform.session() as s:
            board = usecases.board(s, self.target_rules, call.query["year"], clock.now())
        if fmt == "html":
            return Response(render.to_html(board, self.target_rules), mimetype="text/html")
        return board

    @api("GET", "/api/v1/targets/<int:target_id>", roles=OWN_READERS, response=TargetOut,
         summary="one key task: its 六定, milestones, plans, progress reports and history", tags=("targets",),
         responses=NOT_FOUND)
    def get_target(self, call, target_id):
        with self.platform.session() as s:
            return usecases.view(s, self.target_rules, target_id, call.department_scope, clock.now())

    @api("PATCH", "/api/v1/targets/<int:target_id>", roles=WRITERS, body=TargetPatch, response=TargetOut,
         summary="change a key task (with a reason, kept in its history); state cancelled / active cancels or "
                 "resumes it", tags=("targets",),
         responses={**NOT_FOUND, 409: "a cancelled task (resume it first), the lead unit or plan due day after the "
                                      "plan, a milestone reported done removed or changed"})
    def change_target(self, call, target_id):
        with self.platform.unit_of_work() as uow:
            return usecases.change(uow, self.settings, self.target_rules, target_id, call.body, call.actor.name,
                                   clock.now())

    @api("POST", "/api/v1/targets/<int:target_id>/plan", roles=LEAD, body=TargetPlanIn, response=TargetOut, status=201,
         summary="the lead unit's implementation plan (实施方案) and assessment rules (考核细则), attachments as "
                 "links; late after its due day; a later one revises it; retry-safe", tags=("targets",),
         responses={**NOT_FOUND, 200: "the same plan was submitted before",
                    409: "a co-unit (only the lead unit submits), or a cancelled task"})
    def submit_target_plan(self, call, target_id):
        with self.platform.unit_of_work() as uow:
            created, row = usecases.submit_plan(uow, self.target_rules, target_id, call.body, call.actor.name,
                                                call.department_scope, clock.now())
        return (201 if created else 200), row

    @api("POST", "/api/v1/targets/<int:target_id>/progress", roles=LEAD, body=TargetProgressIn, response=TargetOut,
         status=201, summary="the lead unit's progress on a milestone (done, or not yet) with a note; retry-safe",
         tags=("targets",),
         responses={**NOT_FOUND, 200: "the same report was recorded before",
                    409: "a co-unit, a cancelled task, or a milestone reported done already"})
    def report_target_progress(self, call, target_id):
        with self.platform.unit_of_work() as uow:
            created, row = usecases.report_progress(uow, self.target_rules, target_id, call.body, call.actor.name,
                                                    call.department_scope, clock.now())
        return (201 if created else 200), row

    @timer(interval=CHECK_SECONDS)
    def check_targets(self):
        """A plan not submitted by the end of its due day, a milestone not reported done by the end of its day:
        overdue, announced once across instances (claimed with FOR UPDATE SKIP LOCKED)."""
        self.platform.drain_due(store.any_due, usecases.check_due, usecases.CHECK_BATCH)
