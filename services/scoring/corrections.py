"""The entrypoints of corrections (更正): an evaluation, a visit finding, a criticism or an adjustment entered
wrongly is voided or corrected with a reason and the assessor's name (handlers.correct_item); each input shows its
corrections, and the audit list shows them all. A mixin of the scoring service (needs `platform`)."""

from __future__ import annotations

from services.kernel import clock
from services.kernel.http import api

from . import handlers
from .schemas import (
    AdjustmentCorrectIn,
    AdjustmentOut,
    CorrectionOut,
    CorrectionsQuery,
    CriticismCorrectIn,
    CriticismOut,
    EvaluationCorrectIn,
    EvaluationOut,
    VisitCorrectIn,
    VisitOut,
    VoidIn,
)

READERS = ("assessor", "monitor")
OWN_READERS = (*READERS, "department_handler")
WRITERS = ("assessor",)
HIDDEN = "（不公开）"  # who evaluated or visited a department is not shown to it
CHANGED = {404: "no such input", 409: "voided already, or the change touches a closed period (reopen it first), "
                                      "or (evaluation) the corrected enterprise, department and period has one"}
VOIDED = {404: "no such input", 409: "voided already (another reason), or it counts in a closed period (reopen it "
                                     "first)"}
SEEN = {404: "no such input (or another department's)"}


def _hidden(kind: str, view: dict) -> dict:
    """An input as its department sees it: without the enterprise or the visitor, before or after."""
    key = {"evaluation": "enterprise", "visit": "visitor"}.get(kind)
    if key is None:
        return view

    def masked(d):
        return None if d is None else {**d, key: HIDDEN}

    return {**masked(view), "corrections": [{**c, "before": masked(c["before"]), "after": masked(c["after"]),
                                             "by": HIDDEN, "assessor": HIDDEN} for c in view["corrections"]]}


class CorrectionEndpoints:
    """更正: void or correct an own input; the ranking follows; both the original and the change are kept."""

    def _change(self, call, kind: str, item_id: int, action: str) -> dict:
        with self.platform.unit_of_work() as uow:
            view = handlers.correct_item(uow, kind, item_id, action, call.body, call.actor.name, clock.now())
        return handlers.visit_view(view, clock.now()) if kind == "visit" else view

    def _one(self, call, kind: str, item_id: int) -> dict:
        with self.platform.session() as session:
            view = handlers.get_item(session, kind, item_id, call.department_scope)
        if kind == "visit":
            view = handlers.visit_view(view, clock.now())
        return view if call.department_scope is None else _hidden(kind, view)

    # -- enterprise evaluations -------------------------------------------------------------------

    @api("GET", "/api/v1/evaluations/<int:item_id>", roles=OWN_READERS, response=EvaluationOut, tags=("corrections",),
         summary="one enterprise evaluation with its corrections (department handlers: their own, the enterprise "
                 "not shown)", responses=SEEN)
    def get_evaluation(self, call, item_id):
        return self._one(call, "evaluation", item_id)

    @api("POST", "/api/v1/evaluations/<int:item_id>/void", roles=WRITERS, body=VoidIn, response=EvaluationOut,
         tags=("corrections",), summary="void an evaluation entered wrongly (reason, assessor): it no longer counts",
         responses=VOIDED)
    def void_evaluation(self, call, item_id):
        return self._change(call, "evaluation", item_id, "void")

    @api("POST", "/api/v1/evaluations/<int:item_id>/correct", roles=WRITERS, body=EvaluationCorrectIn,
         response=EvaluationOut, tags=("corrections",), responses=CHANGED,
         summary="correct an evaluation (changes: enterprise, department, period, scores; reason, assessor)")
    def correct_evaluation(self, call, item_id):
        return self._change(call, "evaluation", item_id, "correct")

    # -- visit findings ---------------------------------------------------------------------------

    @api("GET", "/api/v1/visits/<int:item_id>", roles=OWN_READERS, response=VisitOut, tags=("corrections",),
         summary="one visit finding with its corrections (department handlers: their own, the visitor not shown)",
         responses=SEEN)
    def get_visit(self, call, item_id):
        return self._one(call, "visit", item_id)

    @api("POST", "/api/v1/visits/<int:item_id>/void", roles=WRITERS, body=VoidIn, response=VisitOut,
         tags=("corrections",), responses=VOIDED,
         summary="void a visit finding entered wrongly: it no longer counts, its rectification clock stops")
    def void_visit(self, call, item_id):
        return self._change(call, "visit", item_id, "void")

    @api("POST", "/api/v1/visits/<int:item_id>/correct", roles=WRITERS, body=VisitCorrectIn, response=VisitOut,
         tags=("corrections",), responses=CHANGED,
         summary="correct a visit finding (changes: department, point_code, finding, due_at; reason, assessor)")
    def correct_visit(self, call, item_id):
        return self._change(call, "visit", item_id, "correct")

    # -- criticisms -------------------------------------------------------------------------------

    @api("GET", "/api/v1/criticisms/<int:item_id>", roles=OWN_READERS, response=CriticismOut, tags=("corrections",),
         summary="one public criticism with its corrections (department handlers: their own)", responses=SEEN)
    def get_criticism(self, call, item_id):
        return self._one(call, "criticism", item_id)

    @api("POST", "/api/v1/criticisms/<int:item_id>/void", roles=WRITERS, body=VoidIn, response=CriticismOut,
         tags=("corrections",), responses=VOIDED,
         summary="void a criticism entered wrongly: the unit may be an advanced unit again")
    def void_criticism(self, call, item_id):
        return self._change(call, "criticism", item_id, "void")

    @api("POST", "/api/v1/criticisms/<int:item_id>/correct", roles=WRITERS, body=CriticismCorrectIn,
         response=CriticismOut, tags=("corrections",), responses=CHANGED,
         summary="correct a criticism (changes: department, issued_at, document, reason; reason, assessor)")
    def correct_criticism(self, call, item_id):
        return self._change(call, "criticism", item_id, "correct")

    # -- adjustments ------------------------------------------------------------------------------

    @api("GET", "/api/v1/adjustments/<int:item_id>", roles=READERS, response=AdjustmentOut, tags=("corrections",),
         summary="one manual adjustment with its corrections", responses=SEEN)
    def get_adjustment(self, call, item_id):
        return self._one(call, "adjustment", item_id)

    @api("POST", "/api/v1/adjustments/<int:item_id>/void", roles=WRITERS, body=VoidIn, response=AdjustmentOut,
         tags=("corrections",), responses=VOIDED, summary="void an adjustment entered wrongly")
    def void_adjustment(self, call, item_id):
        return self._change(call, "adjustment", item_id, "void")

    @api("POST", "/api/v1/adjustments/<int:item_id>/correct", roles=WRITERS, body=AdjustmentCorrectIn,
         response=AdjustmentOut, tags=("corrections",), responses=CHANGED,
         summary="correct an adjustment (changes: department, period, value, reason, approved_by; reason, assessor)")
    def correct_adjustment(self, call, item_id):
        return self._change(call, "adjustment", item_id, "correct")

    # -- the audit trail --------------------------------------------------------------------------

    @api("GET", "/api/v1/corrections", roles=READERS, query=CorrectionsQuery, response=CorrectionOut, many=True,
         tags=("corrections",), summary="every void and correction of an own input, oldest first, each with the "
                                        "input before and after, the reason and the assessor")
    def list_corrections(self, call):
        with self.platform.session() as session:
            return handlers.find_corrections(session, call.query)
