"""The appeals service's use cases: plain functions of a unit of work (`uow.session`, `uow.publish`), the settings
and the command's data, returning the result. The JSON API, the Open311 facade and the timers call the same
function and shape its answer their own way; none of them decides anything about an appeal."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, update

from services.kernel import clock
from services.kernel.domain import SYSTEM, Actor, IllegalTransition
from services.kernel.errors import BadRequest, NotFound
from services.kernel.outcome import Outcome, apply_outcome
from services.kernel.privacy import scrub
from services.kernel.service import catch_up_with_calendar

from . import store
from .domain import (
    ALARM_ESCALATION,
    ALARM_WAIT_ESCALATION,
    AWAITING_DISPATCH,
    CORRECTABLE,
    DUPLICATE,
    WAITING,
    Appeal,
    escalation_moment,
    is_public,
    normalize_phone,
    reply_deadline,
    wait_clock,
)
from .supervision import usecases as supervision

# an `at` (or `received_at`) this far ahead of our clock is the sender's clock skew, not the future
FUTURE_TOLERANCE = timedelta(minutes=5)
# alarms the monitor fires in one transaction
ALARM_BATCH = 500

# A command of the domain on a loaded appeal, at `at`, by an actor: `lambda appeal, at, actor: appeal.reply(...)`
Command = Callable[[Appeal, datetime, Actor], Outcome]


class AppealRecord(NamedTuple):
    """An appeal as a use case leaves it: its row, and the case number of the case it repeats, if any."""

    row: dict
    duplicate_case_no: str | None = None


def case_no(appeal_id: int, received_at) -> str:
    # Readable on the phone: date of receipt and a running number.
    return f"MY{received_at.astimezone(clock.TZ):%Y%m%d}{appeal_id:06d}"


def load_appeal(settings, row: dict) -> Appeal:
    return Appeal(row, settings.calendar, settings.rules)


# -- reading ----------------------------------------------------------------------------------------

def visible(session, appeal_id: int, scope: str | None, *, lock: bool = False) -> dict:
    """The appeal `appeal_id` as stored; 404 when missing or, for a handler confined to `scope`, another
    department's (one answer for both, so that neither leaks the other)."""
    row = store.get(session, appeal_id, lock=lock)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no appeal {appeal_id}", message_zh="诉求不存在")
    return row


def find_appeals(session, query: dict) -> tuple[list[AppealRecord], int]:
    """A page of appeals (the filters of `store.list_appeals`) and the number of all that match."""
    rows, total = store.list_appeals(session, **query)
    return [AppealRecord(r, store.case_no_of(session, r["duplicate_of"])) for r in rows], total


def appeal_detail(session, appeal_id: int, scope: str | None) -> tuple[AppealRecord, list[dict]]:
    """One appeal and its history (an assisting department sees the case it assists on)."""
    row = store.get(session, appeal_id)
    assisting = store.assists_of(session, appeal_id) if row is not None else []
    if row is None or (scope is not None and row["department"] != scope
                       and scope not in {a["department"] for a in assisting}):
        raise NotFound(f"no appeal {appeal_id}", message_zh="诉求不存在")
    row["assisting"] = assisting
    return AppealRecord(row, store.case_no_of(session, row["duplicate_of"])), store.history_of(session, appeal_id)


# -- intake -----------------------------------------------------------------------------------------

def check_intake(settings, data: dict, now: datetime) -> None:
    """What can be refused about an intake without the database (400)."""
    if (data["received_at"] or now) > now + FUTURE_TOLERANCE:
        raise BadRequest({"received_at": ["cannot be in the future"]})
    # the unit an efficiency complaint names gets its finding and warning: one that exists
    settings.departments.require(data["subject_department"], "subject_department")
    if data.get("close_on_call") and data["type"] not in settings.rules.close_on_call_types:
        # refused here, not in the domain inside a group commit: a refusal must not roll its neighbours back
        raise BadRequest({"close_on_call": [
            f"only {', '.join(settings.rules.close_on_call_types)} can be closed on the call (直接办结)"]})


def receive_appeal(db, settings, data: dict, actor: Actor, now: datetime) -> tuple[bool, AppealRecord]:
    """An intake through the JSON API: concurrent intakes share one commit (`db.grouped`; the work may run twice,
    so it only writes). Checked first, so that a refused one does not roll its neighbours' group back."""
    check_intake(settings, data, now)
    return db.grouped(lambda uow: take_in(uow, settings, data, actor, now))


def take_in(uow, settings, data: dict, actor: Actor, now: datetime, *,
            open311_token: str | None = None) -> tuple[bool, AppealRecord]:
    """The one intake of every channel (the JSON API and the Open311 facade): (True, the new appeal: dispatched
    by the catalogue, or linked as a duplicate to the open case it repeats), or (False, the appeal this channel's
    `external_ref` was taken in as before). The busiest path of the service, so the case is built in memory and
    written with as few statements as it takes; run in a group commit, it may run twice and only writes."""
    check_intake(settings, data, now)
    received_at = data["received_at"] or now
    rules = settings.rules
    s = uow.session
    if data["external_ref"]:
        existing = store.find_by_ref(s, data["channel"], data["external_ref"])
        if existing is not None:
            return False, AppealRecord(existing, store.case_no_of(s, existing["duplicate_of"]))
    catalogue = settings.catalogue.current(s)
    if not catalogue.knows(data["category"]):
        raise BadRequest({"category": ["unknown category; see GET /api/v1/catalogue"]})
    appellant, location = data["appellant"], data["location"]
    anonymous = bool(appellant.get("anonymous"))
    is_complaint = data["type"] == "efficiency_complaint"
    public = is_public(data["channel"], data["public"], data["type"],
                       catalogue.goes_to(data["category"], rules.discipline_office))
    row = store.blank_row(
        channel=data["channel"], external_ref=data["external_ref"], type=data["type"],
        urgency=data["urgency"], category=data["category"], content=data["content"],
        appellant_name=None if anonymous else appellant.get("name"),
        appellant_phone=None if anonymous else normalize_phone(appellant.get("phone")),
        anonymous=anonymous,
        address=location.get("address"), town_street=location.get("town_street"),
        latitude=location.get("latitude"), longitude=location.get("longitude"),
        attachments=data["attachments"],
        subject_department=data["subject_department"] if is_complaint else None,
        status=AWAITING_DISPATCH, received_at=received_at, created_at=now, updated_at=now,
        open311_token=open311_token, public=public, public_address=public and data["public_address"],
        # random, not derived from the id: the facade's ids cannot be counted through
        public_id=secrets.token_hex(10),
    )
    history = [("intake", None, AWAITING_DISPATCH,
                {"channel": data["channel"], "external_ref": data["external_ref"]}, actor)]
    taken_at = min(received_at, now)

    original = None
    if row["appellant_phone"] and not is_complaint:
        original = store.find_open_duplicate(
            s, row["appellant_phone"], row["category"], row["town_street"],
            received_at - timedelta(days=rules.duplicate_window_days))
    if original is not None:
        return True, _link_duplicate(uow, row, history, original, actor, taken_at)

    if data.get("close_on_call"):
        # answered on the call (直接办结): never dispatched, no clock, no call-back; not a repeat of anything
        return True, _closed_on_call(uow, settings, row, history, data["close_on_call"]["answer"], actor, taken_at)

    return True, _enter(uow, settings, catalogue, row, history, taken_at)


def _enter(uow, settings, catalogue, row: dict, history: list, taken_at: datetime) -> AppealRecord:
    """A new case (an intake, a part split off a case) dispatched by the catalogue, or waiting for dispatch, and
    written with its history, alarms and events."""
    rules, s = settings.rules, uow.session
    is_complaint = row["type"] == "efficiency_complaint"
    department = rules.discipline_office if is_complaint else catalogue.department_for(
        row["category"], row["town_street"])
    if department == rules.discipline_office:  # whatever the category: the discipline office's case
        row.update(public=False, public_address=False)
    outcome = None
    if department is not None:
        # dispatched by the catalogue the moment it was received: a late report's clock started then
        outcome = load_appeal(settings, row).dispatch(department, taken_at, SYSTEM)
        history.append(("dispatch", AWAITING_DISPATCH, outcome.changes["status"], outcome.details, SYSTEM))
        row.update(outcome.changes)
        alarms = outcome.alarms
    else:
        # no rule for it: it waits for an operator to dispatch it, on the re-dispatch clock
        changes, alarms = load_appeal(settings, row).awaiting_dispatch(taken_at)
        row.update(changes)
    store.insert_case(s, row, case_no)
    store.add_history_many(s, [store.history_row(row["id"], taken_at, who, action, before, after, details)
                               for action, before, after, details, who in history])
    store.add_alarms(s, [(row["id"], kind, at) for kind, at in alarms.moments])
    # appeal.received first, then appeal.dispatched: consumers see a case's life in order
    uow.publish("appeal.received", {
        **store.case_payload(uow.session, row), "channel": row["channel"], "town_street": row["town_street"],
        "received_at": row["received_at"]}, department=row["department"], occurred_at=taken_at)
    if outcome is not None:
        _publish(uow, row, outcome, taken_at)
    if row["urgency"] == "emergency":
        # the contract scrubs the summary too; the appellant's name only the intake knows to mask
        summary = scrub(row["content"], names=[row["appellant_name"]])[:200]
        uow.publish("appeal.emergency", {**store.case_payload(uow.session, row), "town_street": row["town_street"],
                                         "summary": summary}, department=row["department"], occurred_at=taken_at)
    return AppealRecord(row)


def _closed_on_call(uow, settings, row: dict, history: list, answer: str, actor: Actor, at: datetime) -> AppealRecord:
    """An intake the operator answered on the call: taken in and closed at once (the domain says whether its type
    may be: 409 if not)."""
    s = uow.session
    outcome = load_appeal(settings, row).close_on_call(answer, at, actor)
    history.append(("close_on_call", AWAITING_DISPATCH, outcome.changes["status"], outcome.details, actor))
    row.update(outcome.changes)
    store.insert_case(s, row, case_no)
    store.add_history_many(s, [store.history_row(row["id"], at, who, action, before, after, details)
                               for action, before, after, details, who in history])
    uow.publish("appeal.received", {
        **store.case_payload(uow.session, row), "channel": row["channel"], "town_street": row["town_street"],
        "received_at": row["received_at"]}, department=None, occurred_at=at)
    _publish(uow, row, outcome, at)
    return AppealRecord(row)


def _link_duplicate(uow, row: dict, history: list, original: dict, actor: Actor, at: datetime) -> AppealRecord:
    """A repeat call: stored closed as a duplicate of the open case `original`, whose repeat count goes up."""
    s = uow.session
    row.update(status=DUPLICATE, duplicate_of=original["id"], department=original["department"],
               due_at=original["due_at"], closed_at=at)
    store.insert_case(s, row, case_no)
    count = (original["repeat_count"] or 0) + 1
    s.execute(update(store.appeals).where(store.appeals.c.id == original["id"]).values(
        repeat_count=count, updated_at=at))
    history.append(("linked_as_duplicate", AWAITING_DISPATCH, DUPLICATE, {"duplicate_of": original["case_no"]},
                    actor))
    rows = [store.history_row(row["id"], at, who, action, before, after, details)
            for action, before, after, details, who in history]
    rows.append(store.history_row(original["id"], at, actor, "repeat_linked", original["status"],
                                  original["status"], {"duplicate": row["case_no"], "repeat_count": count}))
    store.add_history_many(s, rows)
    uow.publish("appeal.duplicate_linked", {
        **store.case_payload(s, original), "duplicate_id": str(row["id"]), "duplicate_case_no": row["case_no"],
        "repeat_count": count}, department=original["department"], occurred_at=at)
    return AppealRecord(row, original["case_no"])


def _publish(uow, row: dict, outcome: Outcome, at: datetime) -> None:
    """The events of an outcome that is not written with `apply_outcome` (the intake's, an alarm's)."""
    for event in outcome.events:
        payload, route = store.OUTCOMES.event(uow.session, row, event, at)
        uow.publish(event.type, payload, **route)


# -- commands ---------------------------------------------------------------------------------------

def run_command(uow, settings, appeal_id: int, command: Command, actor: Actor, scope: str | None,
                at: datetime | None, now: datetime) -> AppealRecord:
    """A command on one appeal (dispatch, accept, return, reply, extension and its decision, call-back,
    supervision, finding) at `at` (when it happened; None: now): the appeal is loaded locked, a late report's
    due alarms fire first (`catch_up`), then the domain decides and its outcome is written. 400 for an `at`
    in the future, 404 for an appeal the actor may not see, 409 (IllegalTransition) when the appeal's state
    does not allow it or `at` is before its previous step; nothing is written then."""
    if at is not None and at > now + FUTURE_TOLERANCE:
        raise BadRequest({"at": ["cannot be in the future"]})
    row = visible(uow.session, appeal_id, scope, lock=True)
    row["assisting"] = store.assists_of(uow.session, appeal_id)
    if at is None:
        at = now
    else:
        at = min(at, now)  # within the tolerance: the sender's clock is a little ahead of ours
        previous = store.last_step_at(uow.session, row)
        if at < previous:
            raise IllegalTransition(
                f"`at` ({at.isoformat()}) is before the case's previous step ({previous.isoformat()})",
                f"办理时间早于该案件上一环节的时间（{previous.astimezone(clock.TZ):%Y-%m-%d %H:%M}）")
        row = catch_up(uow, settings, row, at, now)
    # the supervision orders' moments before this step (whether reported late or not: the step follows them)
    supervision.catch_up(uow, settings, row, at, now)
    outcome = command(load_appeal(settings, row), at, actor)
    row = apply_outcome(uow, store.OUTCOMES, row, outcome, actor, at, now)
    supervision.fulfil(uow, row, outcome.action, at)
    return AppealRecord(row, store.case_no_of(uow.session, row["duplicate_of"]))


def dispatch_appeal(uow, settings, appeal_id: int, department: str, assisting: list[str], actor: Actor,
                    at: datetime | None, now: datetime) -> AppealRecord:
    """An operator's (re-)dispatch to a lead department, with assisting departments (协办) or none: they replace the
    previous dispatch's, and each is told (appeal.assist_requested)."""
    settings.departments.require(department, "department")
    for code in assisting:
        settings.departments.require(code, "assisting")
    assisting = list(dict.fromkeys(assisting))
    record = run_command(uow, settings, appeal_id, lambda appeal, when, who: appeal.dispatch(
        department, when, who, tuple(assisting)), actor, None, at, now)
    row = record.row
    when = row["dispatched_at"]
    store.replace_assists(uow.session, appeal_id, assisting, when)
    for code in assisting:
        uow.publish("appeal.assist_requested", {**store.case_payload(uow.session, row), "department": code,
                                                "lead_department": row["department"]},
                    department=row["department"], occurred_at=when)
    row["assisting"] = store.assists_of(uow.session, appeal_id)
    return record


def assist_step(uow, settings, appeal_id: int, step: str, part: str | None, actor: Actor, scope: str | None,
                at: datetime | None, now: datetime) -> AppealRecord:
    """An assisting department's step on the case (协办: `accept` or `reply` with its `part`). 404 for a case this
    department does not assist on (the lead department: 409, it has its own steps)."""
    row = store.get(uow.session, appeal_id, lock=True)
    mine = [a for a in store.assists_of(uow.session, appeal_id) if a["department"] == scope] if row else []
    if row is None or (not mine and row["department"] != scope):
        raise NotFound(f"no appeal {appeal_id}", message_zh="诉求不存在")
    if not mine:
        raise IllegalTransition("the lead department signs for and replies to the case itself",
                                "主办单位请直接签收、答复案件")

    def command(appeal: Appeal, when: datetime, who: Actor) -> Outcome:
        outcome = appeal.assist(step, mine[0], part, when, who)
        store.update_assist(uow.session, appeal_id, scope, outcome.changes)
        return Outcome(outcome.action, {}, outcome.events, outcome.details)

    record = run_command(uow, settings, appeal_id, command, actor, None, at, now)
    record.row["assisting"] = store.assists_of(uow.session, appeal_id)
    return record


def merge_appeal(uow, settings, appeal_id: int, into: int, reason: str, actor: Actor, at: datetime | None,
                 now: datetime) -> AppealRecord:
    """Merge `appeal_id` into the main case `into` (合并): the case ends as merged (its alarms cancelled), the main's
    history names it. Both rows are locked in id order (no deadlock with a merge the other way round). 400 for a
    main case that does not exist or is this one."""
    s = uow.session
    if into == appeal_id:
        raise BadRequest({"into": ["a case cannot be merged into itself"]})
    for locked in sorted((appeal_id, into)):
        store.get(s, locked, lock=True)
    main = store.get(s, into)
    if main is None:
        raise BadRequest({"into": [f"no appeal {into}"]})
    record = run_command(uow, settings, appeal_id, lambda appeal, when, who: appeal.merge_into(main, reason, when, who),
                         actor, None, at, now)
    when = record.row["closed_at"]
    store.add_history(s, main["id"], when, actor, "merged_in", main["status"], main["status"],
                      {"merged": record.row["case_no"], "reason": reason})
    return record


def split_appeal(uow, settings, appeal_id: int, parts: list[dict], reason: str, actor: Actor, at: datetime | None,
                 now: datetime) -> tuple[AppealRecord, list[AppealRecord]]:
    """Split the other matters of a case into new cases (拆分): each a full case (its own number, the catalogue's
    dispatch, its own clock from `at`), linked to the origin, which keeps its first matter. A retry (the same parts
    again) answers the split already made; a second, different split of one case is 409."""
    s = uow.session
    row = visible(s, appeal_id, None, lock=True)
    existing = store.parts_of(s, appeal_id)
    if existing:
        if [(p["content"], p["category"], p["type"]) for p in existing] == \
                [(p["content"], p["category"], p["type"]) for p in parts]:
            return AppealRecord(row), [AppealRecord(p) for p in existing]
        raise IllegalTransition("this case was split already", "该案件已拆分过")
    catalogue = settings.catalogue.current(s)
    unknown = [str(i) for i, p in enumerate(parts) if not catalogue.knows(p["category"])]
    if unknown:
        raise BadRequest({"parts": [f"unknown category in part {', '.join(unknown)}; see GET /api/v1/catalogue"]})
    if row["type"] != "efficiency_complaint" and any(p["type"] == "efficiency_complaint" for p in parts):
        # a complaint needs the unit it is about: taken in as one, not split off
        raise BadRequest({"parts": ["an efficiency complaint is taken in as one (it names its unit)"]})
    made: list[str] = []

    def command(appeal: Appeal, when: datetime, who: Actor) -> Outcome:
        for part in parts:
            made.append(_split_part(uow, settings, catalogue, row, part, who, when).row["case_no"])
        return appeal.split_off(made, reason, who)

    record = run_command(uow, settings, appeal_id, command, actor, None, at, now)
    return record, [AppealRecord(p) for p in store.parts_of(s, appeal_id)]


def _split_part(uow, settings, catalogue, origin: dict, part: dict, actor: Actor, at: datetime) -> AppealRecord:
    """One matter split off `origin`: the caller, the place and the channel are the origin's."""
    public = origin["public"] and part["type"] not in ("efficiency_complaint",) and \
        not catalogue.goes_to(part["category"], settings.rules.discipline_office)
    row = store.blank_row(
        channel=origin["channel"], external_ref=None, type=part["type"], urgency=origin["urgency"],
        category=part["category"], content=part["content"], appellant_name=origin["appellant_name"],
        appellant_phone=origin["appellant_phone"], anonymous=origin["anonymous"], address=origin["address"],
        town_street=origin["town_street"], latitude=origin["latitude"], longitude=origin["longitude"],
        attachments=origin["attachments"] or [], subject_department=None, status=AWAITING_DISPATCH,
        received_at=origin["received_at"], created_at=at, updated_at=at, public=public,
        public_address=public and origin["public_address"], public_id=secrets.token_hex(10),
        split_from=origin["id"])
    history = [("split_off", None, AWAITING_DISPATCH, {"origin": origin["case_no"]}, actor)]
    return _enter(uow, settings, catalogue, row, history, at)


def correct_appeal(uow, settings, appeal_id: int, data: dict, actor: Actor, scope: str | None,
                   at: datetime | None, now: datetime) -> AppealRecord:
    """An operator's correction after intake (更正): 400 for an unknown category or nothing to change."""
    fields_ = {k: data[k] for k in CORRECTABLE if k in data}
    if "category" in fields_ and not settings.catalogue.current(uow.session).knows(fields_["category"]):
        raise BadRequest({"category": ["unknown category; see GET /api/v1/catalogue"]})

    def command(appeal: Appeal, when: datetime, who: Actor) -> Outcome:
        try:
            return appeal.correct(fields_, data["reason"], when, who)
        except ValueError as exc:
            raise BadRequest({k: [str(exc)] for k in fields_}) from None

    return run_command(uow, settings, appeal_id, command, actor, scope, at, now)


def record_supervision_order(uow, settings, appeal_id: int, order: dict, actor: Actor, scope: str | None,
                             at: datetime | None, now: datetime) -> AppealRecord:
    """A monitor's supervision order (督办): the appeal's command, and the order on record with its moments, in one
    transaction."""
    record = run_command(uow, settings, appeal_id, lambda appeal, when, who: appeal.supervise(
        order["act_by"], order["note"], order["exposed"], when, who), actor, scope, at, now)
    supervision.record(uow, settings, record.row, order, actor, min(at, now) if at is not None else now, now)
    return record


# -- the deadline alarms ----------------------------------------------------------------------------

def catch_up(uow, settings, row: dict, at: datetime, now: datetime) -> dict:
    """A late report's step at `at`: the appeal's alarms that were due before it fire first, at their real
    moments, as the monitor would have fired them had the report come in time (a reply sent in after the due
    time follows the overdue notice and the urging, as it did in fact; a call-back reported after its limit
    follows `appeal.callback_overdue`). Returns the row as it now is."""
    while True:  # an alarm may schedule another that is due before `at` too (overdue → escalation)
        pending = store.pending_alarms(uow.session, row["id"])
        if not pending:
            return row
        moments = load_appeal(settings, row).alarm_moments()
        due = sorted((moments[kind], alarm_id, kind) for alarm_id, kind in pending
                     if moments.get(kind) is not None and moments[kind] <= at)
        if not due:
            return row
        moment, alarm_id, kind = due[0]
        store.mark_alarms_fired(uow.session, [alarm_id], now)
        row = fire_alarm(uow, settings, row, kind, moment, now)


def fire_alarm(uow, settings, row: dict, kind: str, moment: datetime, now: datetime) -> dict:
    """One alarm's reaction at its real moment `moment`, written (the monitor writes a batch of them at once:
    `fire_due_alarms`). Returns the row as it now is."""
    outcome = load_appeal(settings, row).on_alarm(kind, moment)
    if outcome is None:
        return row
    if not outcome.changes:  # a warning changes nothing and leaves no history line: its event says it
        _publish(uow, row, outcome, moment)
        return row
    return apply_outcome(uow, store.OUTCOMES, row, outcome, SYSTEM, moment, now)


def fire_due_alarms(uow, settings, now: datetime, limit: int = ALARM_BATCH) -> int:
    """The deadline monitor's tick: the alarms whose moment has come (at most `limit`), each once, their
    reactions (`Appeal.on_alarm`) written in bulk — a burst of hundreds costs a few statements, not hundreds.
    The history lines are at `now`, when the monitor acted; the events at the moments they stand for. Returns
    how many alarms were claimed."""
    s = uow.session
    due = store.claim_due_alarms(s, now, limit)
    fired: list[tuple[dict, Outcome, datetime]] = []
    for alarm, row in due:
        appeal = load_appeal(settings, row)
        moment = appeal.claimed_alarm_moment(alarm["kind"], alarm["fire_at"], now)
        outcome = appeal.on_alarm(alarm["kind"], moment)
        if outcome is not None:
            fired.append((row, outcome, moment))
    changed: dict[frozenset, list[dict]] = {}
    history, cancelled, new_alarms = [], [], []
    for row, outcome, moment in fired:
        new = {**row, **outcome.changes}
        _publish(uow, new, outcome, moment)
        if not outcome.changes:
            continue
        changed.setdefault(frozenset(outcome.changes), []).append(
            {"aid": row["id"], **{f"new_{c}": v for c, v in outcome.changes.items()}})
        history.append(store.history_row(row["id"], now, SYSTEM, outcome.action, row["status"], new["status"],
                                         outcome.details))
        if outcome.alarms.cancel:
            cancelled.append(row["id"])
        new_alarms += [(row["id"], kind, at) for kind, at in outcome.alarms.moments]
    appeals = store.appeals
    for columns, params in changed.items():
        s.execute(update(appeals).where(appeals.c.id == bindparam("aid"))
                  .values(**{c: bindparam(f"new_{c}") for c in columns}, updated_at=now), params)
    store.add_history_many(s, history)
    store.cancel_alarms_of(s, cancelled)
    store.add_alarms(s, new_alarms)
    return len(due)


def recalculate_after_calendar(settings, reader, unit_of_work) -> None:
    """Once per calendar (the service reads it at start, so a new year comes with a restart): the open appeals
    whose due time, or escalation, waited for a year without schedule get them (`recalculate`), a batch at a
    time, each batch in a unit of work of its own (`unit_of_work()`; `reader()` finds them)."""
    def pending():
        with reader() as s:
            return store.calendar_pending(s)

    def recalculate_batch(ids):
        with unit_of_work() as uow:
            return recalculate(uow, settings, ids, clock.now())

    catch_up_with_calendar(settings, "cases", pending, recalculate_batch, ALARM_BATCH)


def recalculate(uow, settings, ids: list[int], now: datetime) -> tuple[int, int]:
    """After a calendar year was added: the open appeals of `ids` whose due time, or escalation, waited for it
    get it now, with their alarms (moments already past fire at the monitor's next tick); so do the hotline
    centre's waits (return review, dispatch, call-back) without a due time or an escalation. Returns
    (recalculated, skipped): each appeal is waited for, none is skipped."""
    s, done = uow.session, 0
    for appeal_id in ids:
        row = store.get(s, appeal_id, lock=True)
        if row is None:
            continue
        details = {"reason": "calendar"}
        if store.is_clocked(row) and row["clock_error"] is not None:
            dl = reply_deadline(settings.calendar, settings.rules, row["clock_started_at"], row["limit_days"])
            if dl.error is not None:
                continue  # still a year short
            s.execute(update(store.appeals).where(store.appeals.c.id == appeal_id).values(
                due_at=dl.due_at, clock_error=None, updated_at=now))
            store.add_alarms(s, [(appeal_id, kind, moment) for kind, moment in dl.alarms])
            details["due_at"] = dl.due_at.isoformat()
        elif store.is_clocked(row) and row["urged_at"] is not None and row["escalated_at"] is None:
            moment = escalation_moment(settings.calendar, settings.rules, row["urged_at"])
            if moment is None:
                continue
            store.add_alarms(s, [(appeal_id, ALARM_ESCALATION, moment)])
            details["escalation_at"] = moment.isoformat()
        elif row["status"] in WAITING and row["waiting_since"] is not None:
            wait = wait_clock(settings.calendar, settings.rules, row["status"], row["waiting_since"])
            if wait.due_at is None:
                continue
            if row["wait_due_at"] is None:  # the whole wait waited for the year
                s.execute(update(store.appeals).where(store.appeals.c.id == appeal_id).values(
                    wait_due_at=wait.due_at, updated_at=now))
                store.add_alarms(s, [(appeal_id, kind, moment) for kind, moment in wait.alarms])
                details["wait_due_at"] = wait.due_at.isoformat()
            else:  # only its escalation did
                moment = dict(wait.alarms).get(ALARM_WAIT_ESCALATION)
                if moment is None or store.alarms_since(s, appeal_id, ALARM_WAIT_ESCALATION, row["waiting_since"]):
                    continue
                store.add_alarms(s, [(appeal_id, ALARM_WAIT_ESCALATION, moment)])
                details["wait_escalation_at"] = moment.isoformat()
        else:
            continue
        store.add_history(s, appeal_id, now, SYSTEM, "recalculate", row["status"], row["status"], details)
        done += 1
    return done, 0


# -- the dispatch catalogue -------------------------------------------------------------------------

def dispatch_rules(session) -> list[dict]:
    """The dispatch catalogue: category [+ town-street] → department."""
    return store.list_rules(session)

# These open their own unit of work (`unit_of_work()`): the catalogue cache is emptied after the commit, or a
# request in between could cache the old rules again.

def put_rule(unit_of_work, settings, data: dict, now: datetime) -> dict:
    """Add or change a dispatch rule (400 for a department not in the register)."""
    settings.departments.require(data["department"], "department")
    with unit_of_work() as uow:
        rule = store.upsert_rule(uow.session, data, now)
    settings.catalogue.invalidate()
    return rule


def delete_rule(unit_of_work, settings, rule_id: int) -> None:
    """Remove a dispatch rule (404 when there is none)."""
    with unit_of_work() as uow:
        if not store.delete_rule(uow.session, rule_id):
            raise NotFound(f"no dispatch rule {rule_id}", message_zh="派单规则不存在")
    settings.catalogue.invalidate()
