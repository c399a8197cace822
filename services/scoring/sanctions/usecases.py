"""The sanctions register's use cases, plain functions of a unit of work (or a reading session), the register's
rules and the command's data: recording a measure (by hand, or from appeals' efficiency_warning.issued and
approvals' accountability.concluded), its cost in the ledger, the review (申辩/复核) and its decision."""

from __future__ import annotations

import logging
from datetime import datetime

from services.kernel.clock import TZ
from services.kernel.contracts.scoring import SANCTION_KIND_ZH
from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.workcal import WorkCalendar

from .. import handlers, ledger
from .. import store as core
from ..domain import month_of
from . import store
from .domain import (
    IN_FORCE,
    LEDGER_CORE,
    LEDGER_NONE,
    LEDGER_OWN,
    SOURCE_ZH,
    STATE_ZH,
    TARGET_ZH,
    UNDER_REVIEW,
    VOID_CAUSE,
    WITHDRAWN,
    SanctionRules,
    body_problems,
    fact_detail,
    moment_of,
    review_due,
    review_open,
    same_measure,
    step,
)

log = logging.getLogger(__name__)

NOT_FOUND_ZH = "问责措施不存在"
WARNING_ORIGIN = "efficiency_warning:"
ACCOUNTABILITY_ORIGIN = "accountability:"


def _own_source(sanction_id: int) -> str:
    return f"sanction-{sanction_id}"


# -- what a reader sees -------------------------------------------------------------------------------------

def present(row: dict, history: list[dict]) -> dict:
    """A measure with its labels, its cost and its history (internal: the person's name is shown only to the
    assessment office, the monitors and the sanctioned unit itself)."""
    return {**row, "kind_zh": SANCTION_KIND_ZH[row["kind"]], "target_zh": TARGET_ZH[row["target"]],
            "source_zh": SOURCE_ZH[row["source"]], "state_zh": STATE_ZH[row["state"]],
            "costs_points": row["ledger"] != LEDGER_NONE, "disqualifies": row["criticism_id"] is not None,
            "history": history}


def _view(session, row: dict) -> dict:
    return present(row, store.history_of(session, [row["id"]])[row["id"]])


def get(session, sanction_id: int, scope: str | None) -> dict:
    """One measure with its history; another unit's is answered, to a department handler, as a missing one."""
    row = store.get(session, sanction_id)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no sanction {sanction_id}", message_zh=NOT_FOUND_ZH)
    return _view(session, row)


def find(session, query: dict) -> tuple[list[dict], int]:
    rows, total = store.page(session, **query)
    history = store.history_of(session, [r["id"] for r in rows])
    return [present(r, history[r["id"]]) for r in rows], total


# -- recording a measure ------------------------------------------------------------------------------------

def record_entered(uow, rules: SanctionRules, calendar: WorkCalendar, data: dict, by: str,
                   now: datetime) -> tuple[dict, bool]:
    """A measure entered by the assessment office: (view, created). The same kind and document number again is
    the same measure (a retry: answered as the first) when it says the same, else a 409."""
    s = uow.session
    errors = body_problems(data, rules.effects)
    if data["decided_on"] > now.astimezone(TZ).date():
        errors["decided_on"] = ["cannot be in the future / 决定日期不能晚于今天"]
    if errors:
        raise BadRequest(errors)
    existing = store.by_document(s, data["kind"], data["document_no"])
    if existing is not None:
        if same_measure(existing, data):
            return _view(s, existing), False
        raise Conflict(f"{data['document_no']} names another {data['kind']} measure already (sanction "
                       f"{existing['id']})", message_zh=f"文号“{data['document_no']}”已登记为另一项"
                                                        f"{SANCTION_KIND_ZH[data['kind']]}（编号 {existing['id']}）")
    handlers.require_department(s, data["department"])
    if data["source"] == "visit":
        visit = core.get_visit(s, int(data["source_ref"])) if data["source_ref"].isdigit() else None
        if visit is None:
            raise BadRequest({"source_ref": ["unknown visit finding; see GET /api/v1/visits / 未找到该暗访记录"]})
        if visit["department"] != data["department"]:
            raise BadRequest({"source_ref": ["the visit finding is about another unit / 该暗访记录不是该单位的问题"]})
    return _record(uow, rules, calendar, data, by, now, None, None), True


def record_warning(uow, rules: SanctionRules, calendar: WorkCalendar, event, now: datetime) -> dict | None:
    """appeals' efficiency_warning.issued (an upheld efficiency complaint): an entry, once per warning. Its cost is
    the fact the core ledger takes from the same event (ref: the warning id): pointed at, never written twice."""
    p = event.payload
    origin = WARNING_ORIGIN + p["warning_id"]
    if store.by_origin(uow.session, origin) is not None:
        return None
    person = (p.get("person") or "").strip() or None
    data = dict(kind="efficiency_warning", target="person" if person else "unit", department=p["unit"],
                person_name=person[:100] if person else None, post=None, source="complaint",
                source_ref=p["warning_id"][:100], deciding_body=None, document_no=None,
                decided_on=event.occurred_at.astimezone(TZ).date(), reason=p["reason"])
    return _record(uow, rules, calendar, data, "appeals", now, origin, p["warning_id"][:100])


def record_accountability(uow, rules: SanctionRules, calendar: WorkCalendar, event, now: datetime) -> dict | None:
    """approvals' accountability.concluded: with a measure, an entry (once per procedure); with none due, nothing in
    the register (logged)."""
    p = event.payload
    if p["outcome"] != "measure":
        log.info("accountability procedure %s of %s concluded with no measure due: nothing to register",
                 p["procedure_id"], p["department"])
        return None
    if not p.get("measure"):
        log.warning("accountability procedure %s concluded with a measure but names none: not registered",
                    p["procedure_id"])
        return None
    s = uow.session
    origin = ACCOUNTABILITY_ORIGIN + p["procedure_id"]
    if store.by_origin(s, origin) is not None:
        return None
    data = dict(kind=p["measure"], target=p.get("target") or "unit", department=p["department"], person_name=None,
                post=(p.get("post") or None) and p["post"][:100], source="project_accountability",
                source_ref=p["procedure_id"][:100], deciding_body=p.get("deciding_body"),
                document_no=(p.get("document_no") or None), decided_on=p["decided_on"], reason=p["reason"])
    note = None
    if data["document_no"] and store.by_document(s, data["kind"], data["document_no"]) is not None:
        # the office entered it by hand already, or the number is wrong: kept, the number in the history only
        log.warning("accountability procedure %s: %s %s is registered already; recorded without the number",
                    p["procedure_id"], data["kind"], data["document_no"])
        note = f"文号“{data['document_no']}”与登记簿中已有措施重复，本条未登记文号"
        data["document_no"] = None
    return _record(uow, rules, calendar, data, p["by"][:100], now, origin, None, note)


def _record(uow, rules: SanctionRules, calendar: WorkCalendar, data: dict, by: str, now: datetime,
            origin: str | None, core_ref: str | None, note: str | None = None) -> dict:
    s = uow.session
    kind, department = data["kind"], data["department"]
    effect = rules.effects[kind]
    due, clock_error = review_due(calendar, data["decided_on"], rules.review_days)
    kept = LEDGER_NONE
    if effect.efficiency_warning:
        kept = LEDGER_CORE if core_ref is not None else LEDGER_OWN
    row = store.insert_sanction(s, dict(
        kind=kind, target=data["target"], department=department, person_name=data.get("person_name"),
        post=data.get("post"), source=data["source"], source_ref=data.get("source_ref"), origin=origin,
        deciding_body=data.get("deciding_body"), document_no=data.get("document_no"), decided_on=data["decided_on"],
        reason=data["reason"], state=IN_FORCE, review_due_on=due, review_clock_error=clock_error, ledger=kept,
        ledger_ref=core_ref, criticism_id=None, recorded_by=by, recorded_at=now))
    moment = moment_of(data["decided_on"])
    if kept == LEDGER_OWN:
        handlers.own_facts(uow, "sanction", row["id"], department, month_of(moment), {"efficiency_warnings": 1},
                            moment, now, ref=_own_source(row["id"]),
                            detail=fact_detail(kind, data["target"], data.get("document_no"), data.get("post")))
    if effect.disqualifies:
        if core.get_department(s, department) is None:  # from an event: the register does not know the unit
            log.warning("sanction %s: unit %s is not in the department register; no criticism recorded",
                        row["id"], department)
        else:
            criticism = handlers.add_criticism(uow, dict(
                department=department, issued_at=moment, document=data.get("document_no") or f"问责登记第{row['id']}号",
                reason=data["reason"]), by, now)
            store.save(s, row["id"], {"criticism_id": criticism["id"]})
            row["criticism_id"] = criticism["id"]
    store.add_history(s, dict(sanction_id=row["id"], action="recorded", by=by, on_behalf=None, note=note, at=now))
    uow.publish("sanction.recorded", {
        "sanction_id": str(row["id"]), "kind": kind, "target": data["target"], "department": department,
        "post": data.get("post"), "source": data["source"], "source_ref": data.get("source_ref"),
        "deciding_body": data.get("deciding_body"), "document_no": data.get("document_no"),
        "decided_on": data["decided_on"], "review_due_on": due, "costs_points": kept != LEDGER_NONE,
        "disqualifies": row["criticism_id"] is not None, "recorded_at": now}, department=department)
    return _view(s, row)


# -- review (申辩/复核) ---------------------------------------------------------------------------------------

def request_review(uow, rules: SanctionRules, calendar: WorkCalendar, sanction_id: int, reason: str, actor,
                   scope: str | None, now: datetime) -> tuple[dict, bool]:
    """The sanctioned unit asks for review (its department handler, or the assessment office on its behalf),
    within the review days after the decision: (view, created). The same request again answers as the first; a
    second one, or one after the time, is a 409."""
    s = uow.session
    row = store.get(s, sanction_id, lock=True)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no sanction {sanction_id}", message_zh=NOT_FOUND_ZH)
    history = store.history_of(s, [sanction_id])[sanction_id]
    asked = [h for h in history if h["action"] == "review_requested"]
    if row["state"] == UNDER_REVIEW and asked and asked[-1]["note"] == reason:
        return present(row, history), False
    if row["state"] != IN_FORCE:
        raise Conflict(f"sanction {sanction_id} is {row['state']}: review was asked for already",
                       message_zh=f"该措施状态为“{STATE_ZH[row['state']]}”，已申请过复核，不能重复申请")
    due = row["review_due_on"]
    if due is None:  # the calendar could not say when it was recorded: it may now
        due, _ = review_due(calendar, row["decided_on"], rules.review_days)
    if not review_open(due, now.astimezone(TZ).date()):
        raise Conflict(f"the review of sanction {sanction_id} had to be asked for by {due}",
                       message_zh=f"申辩/复核须在决定作出后 {rules.review_days} 个工作日内（{due} 前）提出，已超过期限")
    state = step(row["state"], "request")
    if not store.change_state(s, sanction_id, row["state"], {"state": state}):
        raise Conflict(f"sanction {sanction_id} changed meanwhile", message_zh="该措施已申请过复核，不能重复申请")
    on_behalf = scope is None
    store.add_history(s, dict(sanction_id=sanction_id, action="review_requested", by=actor.name,
                              on_behalf=on_behalf, note=reason, at=now))
    uow.publish("sanction.review_requested", {
        "sanction_id": str(sanction_id), "kind": row["kind"], "department": row["department"],
        "on_behalf": on_behalf, "requested_at": now}, department=row["department"])
    return _view(s, {**row, "state": state}), True


def decide_review(uow, sanction_id: int, decision: str, note: str, by: str, now: datetime) -> dict:
    """The assessment office decides a review: the measure upheld, or withdrawn — then its facts are voided (cause
    sanction_withdrawn, this measure the reason) and the score is as if it had never been. The same decision again
    answers as the first; another, or one with no review asked for, is a 409."""
    s = uow.session
    row = store.get(s, sanction_id, lock=True)
    if row is None:
        raise NotFound(f"no sanction {sanction_id}", message_zh=NOT_FOUND_ZH)
    history = store.history_of(s, [sanction_id])[sanction_id]
    if row["state"] == decision and history and history[-1]["action"] == decision and history[-1]["note"] == note:
        return present(row, history)
    try:
        state = step(row["state"], decision)
    except ValueError:
        raise Conflict(f"sanction {sanction_id} is {row['state']}: no review waits for a decision",
                       message_zh=f"该措施状态为“{STATE_ZH[row['state']]}”，没有待决定的复核申请") from None
    if not store.change_state(s, sanction_id, row["state"], {"state": state}):
        raise Conflict(f"sanction {sanction_id} was decided meanwhile", message_zh="该复核申请已作出决定")
    if state == WITHDRAWN:
        _void_facts(s, row, note, by, now)
    store.add_history(s, dict(sanction_id=sanction_id, action=state, by=by, on_behalf=None, note=note, at=now))
    uow.publish("sanction.review_decided", {
        "sanction_id": str(sanction_id), "kind": row["kind"], "department": row["department"], "decision": state,
        "decided_at": now}, department=row["department"])
    return _view(s, {**row, "state": state})


def _facts_of(s, row: dict) -> list[dict]:
    found = []
    if row["ledger"] == LEDGER_OWN:
        found += store.facts_of_input(s, _own_source(row["id"]))
    elif row["ledger"] == LEDGER_CORE:
        found += [f for f in core.facts_about(s, "efficiency_warnings", {row["ledger_ref"]})
                  if f["department"] == row["department"]]
        if not found:  # appeals' event has not reached the ledger yet: it would count after the withdrawal
            raise Conflict(f"the efficiency warning {row['ledger_ref']} is not in the ledger yet; try again shortly",
                           message_zh="该效能告诫尚未计入考核台账，请稍后再试")
    if row["criticism_id"] is not None:
        found += store.facts_of_input(s, f"criticism-{row['criticism_id']}")
    return found


def _void_facts(s, row: dict, note: str, by: str, now: datetime) -> None:
    """Each fact of the measure gets a voiding entry (the fact stays); one voided already (an objection upheld)
    keeps its first."""
    done = {v["id"] for v in ledger.voided(s, department=row["department"])}
    what = f"{SANCTION_KIND_ZH[row['kind']]}{'（' + row['document_no'] + '）' if row['document_no'] else ''}"
    for f in _facts_of(s, row):
        if f["id"] not in done:
            core.add_fact_void(s, dict(fact_id=f["id"], cause=VOID_CAUSE, ref=str(row["id"]),
                                       reason=f"问责措施复核撤销（登记编号 {row['id']}，{what}）：{note}"[:4000],
                                       by=by, at=now, recorded_at=now))
            done.add(f["id"])
