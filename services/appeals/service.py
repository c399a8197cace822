"""The appeals service (民意直通): one intake for every channel, dispatch by the catalogue, handling by the
departments, call-back, supervision, efficiency complaints, and the deadline monitor."""

import secrets
from datetime import timedelta

import eventlet
from nameko.timer import timer
from sqlalchemy import bindparam, insert, update

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.domain import SYSTEM, IllegalTransition
from services.kernel.errors import BadRequest, NotFound
from services.kernel.http import api
from services.kernel.privacy import scrub

# mixins imported as modules, so that `nameko run` finds only our class
from . import open311, reports, store
from .dependencies import AppealSettings
from .domain import (
    ALARM_ESCALATION,
    ALARM_FRACTION,
    ALARM_LAST_DAY,
    ALARM_OVERDUE,
    AWAITING_DISPATCH,
    DUPLICATE,
    STATUS_ZH,
    Case,
    deadline,
    escalation_moment,
    is_public,
    mask_name,
    mask_phone,
    normalize_phone,
)
from .schemas import (
    AppealDetailOut,
    AppealIn,
    AppealOut,
    AppealPage,
    AppealsQuery,
    At,
    CallbackIn,
    DispatchIn,
    ExtensionDecisionIn,
    ExtensionIn,
    FindingIn,
    ReasonIn,
    ReplyIn,
    RuleIn,
    RuleOut,
    SuperviseIn,
)

INTAKE = ("operator", "window_system")
READERS = ("operator", "window_system", "department_handler", "monitor")
HANDLER = ("department_handler",)
OPERATOR = ("operator",)
MONITOR = ("monitor",)
ALARM_BATCH = 500
MONITOR_INTERVAL = 0.2
CONFLICT = {409: "not allowed in the case's current state, or `at` before the case's previous step (reason in "
                 "English and Chinese)"}
# an `at` (or `received_at`) this far ahead of our clock is the sender's clock skew, not the future
FUTURE_TOLERANCE = timedelta(minutes=5)


def case_no(appeal_id: int, received_at) -> str:
    # Readable on the phone: date of receipt and a running number.
    return f"MY{received_at.astimezone(clock.TZ):%Y%m%d}{appeal_id:06d}"


def present(row: dict, *, personal: bool, duplicate_case_no: str | None = None) -> dict:
    """The API view of a case. Names and phones in full only for operators and the handling department."""
    name, phone = row["appellant_name"], row["appellant_phone"]
    if not personal:
        name, phone = mask_name(name), mask_phone(phone)
    return {
        **row,
        "status_zh": STATUS_ZH.get(row["status"], row["status"]),
        "appellant": {"name": name, "phone": phone, "anonymous": row["anonymous"]},
        "location": {k: row[k] for k in ("address", "town_street", "latitude", "longitude")},
        "clock": {"started_at": row["clock_started_at"], "limit_days": row["limit_days"], "due_at": row["due_at"],
                  "error": row["clock_error"], "overdue": row["overdue"], "urged_at": row["urged_at"],
                  "escalated_at": row["escalated_at"]},
        "extension": {"used": row["extension_used"], "pending_days": row["extension_days"],
                      "reason": row["extension_reason"]},
        "duplicate_of": duplicate_case_no,
        "attachments": row["attachments"] or [],
    }


def sees_personal_data(call, row: dict) -> bool:
    p = call.principal
    return p is not None and (p.role in ("operator", "admin")
                              or (p.role == "department_handler" and p.department == row["department"]))


class AppealsService(base.ServiceBase, open311.Open311Endpoints, reports.HotIssueEndpoints):
    """民意直通 — appeals from every channel, from intake to call-back."""

    name = "appeals"
    platform = base.Platform(store.metadata)
    settings = AppealSettings()

    # -- intake -------------------------------------------------------------------------------------

    @api("POST", "/api/v1/appeals", roles=INTAKE, body=AppealIn, response=AppealOut, status=201,
         summary="take in an appeal (idempotent by channel + external_ref; repeats are linked)", tags=("appeals",),
         responses={200: "this channel + external_ref was taken in before: the existing appeal"})
    def create_appeal(self, call):
        return self.take_in(call)

    def take_in(self, call, *, open311_token: str | None = None):
        """The one intake of every channel (the JSON API and the Open311 facade). The busiest path of the
        service, so the case is built in memory and written with as few statements as it takes."""
        data = call.body
        now = clock.now()
        actor = call.actor
        received_at = data["received_at"] or now
        if received_at > now + FUTURE_TOLERANCE:
            raise BadRequest({"received_at": ["cannot be in the future"]})
        settings = self.settings
        rules = settings.rules
        # the unit an efficiency complaint names gets its finding and warning: one that exists
        settings.departments.require(data["subject_department"], "subject_department")

        def work(uow):
            s = uow.session
            if data["external_ref"]:
                existing = store.find_by_ref(s, data["channel"], data["external_ref"])
                if existing is not None:
                    return 200, present(existing, personal=sees_personal_data(call, existing),
                                        duplicate_case_no=store.case_no_of(s, existing["duplicate_of"]))
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

            original = None
            if row["appellant_phone"] and not is_complaint:
                original = store.find_open_duplicate(
                    s, row["appellant_phone"], row["category"], row["town_street"],
                    received_at - timedelta(days=rules.duplicate_window_days))
            if original is not None:
                return 201, self._link_duplicate(uow, row, history, original, actor,
                                                  min(received_at, now), call)

            department = rules.discipline_office if is_complaint else catalogue.department_for(
                row["category"], row["town_street"])
            if department == rules.discipline_office:  # whatever the category: the discipline office's case
                row.update(public=False, public_address=False)
            outcome = None
            if department is not None:
                # dispatched by the catalogue the moment it was received: a late report's clock started then
                outcome = Case(row, settings.calendar, rules).dispatch(department, min(received_at, now), SYSTEM)
                history.append(("dispatch", AWAITING_DISPATCH, outcome.changes["status"], outcome.details, SYSTEM))
                row.update(outcome.changes)
            store.insert_case(s, row, case_no)
            taken_at = min(received_at, now)
            store.add_history_many(s, [store.history_row(row["id"], taken_at, who, action, before, after, details)
                                       for action, before, after, details, who in history])
            if outcome is not None:
                store.add_alarms(s, [(row["id"], k, at) for k, at in outcome.alarms.alarms])
            # appeal.received first, then appeal.dispatched: consumers see a case's life in order
            self._publish_received(uow, row, taken_at)
            if outcome is not None:
                for event_type, extra in outcome.events:
                    uow.publish(event_type, {**store.case_payload(row), **extra}, department=department,
                                occurred_at=taken_at)
            if row["urgency"] == "emergency":
                # the contract scrubs the summary too; the appellant's name only the intake knows to mask
                summary = scrub(row["content"], names=[row["appellant_name"]])[:200]
                uow.publish("appeal.emergency", {**store.case_payload(row), "town_street": row["town_street"],
                                                 "summary": summary}, department=row["department"],
                            occurred_at=taken_at)
            return 201, present(row, personal=sees_personal_data(call, row))

        # concurrent intakes share one commit; the work may run twice (see GroupCommit), so it only writes
        return self.platform.grouped(work)

    def _publish_received(self, uow, row, taken_at=None):
        uow.publish("appeal.received", {
            **store.case_payload(row), "channel": row["channel"], "town_street": row["town_street"],
            "received_at": row["received_at"]}, department=row["department"], occurred_at=taken_at)

    def _link_duplicate(self, uow, row, history, original, actor, at, call):
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
            **store.case_payload(original), "duplicate_id": str(row["id"]), "duplicate_case_no": row["case_no"],
            "repeat_count": count}, department=original["department"], occurred_at=at)
        return present(row, personal=sees_personal_data(call, row), duplicate_case_no=original["case_no"])

    # -- reading ------------------------------------------------------------------------------------

    @api("GET", "/api/v1/appeals", roles=READERS, query=AppealsQuery, response=AppealPage,
         summary="appeals, newest first (department handlers: their department's only)", tags=("appeals",))
    def list_appeals(self, call):
        query = call.scoped_query()
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            rows, total = store.list_appeals(s, **query)
            items = [present(r, personal=False, duplicate_case_no=store.case_no_of(s, r["duplicate_of"]))
                     for r in rows]
        return call.page(items, total)

    @api("GET", "/api/v1/appeals/<int:appeal_id>", roles=READERS, response=AppealDetailOut,
         summary="one appeal with its history", tags=("appeals",))
    def get_appeal(self, call, appeal_id):
        with self.platform.session() as s:
            row = self._visible(call, s, appeal_id)
            out = present(row, personal=sees_personal_data(call, row),
                          duplicate_case_no=store.case_no_of(s, row["duplicate_of"]))
            out["history"] = store.history_of(s, appeal_id)
        return out

    def _visible(self, call, session, appeal_id, lock=False):
        row = store.get(session, appeal_id, lock=lock)
        # one answer for "missing" and "another department's", so that neither leaks the other
        not_found = NotFound(f"no appeal {appeal_id}", message_zh="诉求不存在")
        if row is None:
            raise not_found
        call.require_department(row["department"], not_found)
        return row

    # -- commands -----------------------------------------------------------------------------------

    def _command(self, call, appeal_id, run, also=None):
        """Load the case (locked), run a domain command at the body's `at` (default now), write its outcome
        (and `also(session, at)`) in one transaction; 409 when not allowed now."""
        now = clock.now()
        at = (call.body or {}).get("at")
        if at is not None and at > now + FUTURE_TOLERANCE:
            raise BadRequest({"at": ["cannot be in the future"]})
        actor = call.actor
        with self.platform.unit_of_work() as uow:
            row = self._visible(call, uow.session, appeal_id, lock=True)
            if at is None:
                at = now
            else:
                at = min(at, now)  # within the tolerance: the sender's clock is a little ahead of ours
                previous = store.last_step_at(uow.session, row)
                if at < previous:
                    raise IllegalTransition(
                        f"`at` ({at.isoformat()}) is before the case's previous step ({previous.isoformat()})",
                        f"办理时间早于该案件上一环节的时间（{previous.astimezone(clock.TZ):%Y-%m-%d %H:%M}）")
                row = self._catch_up(uow, row, at, now)
            case = Case(row, self.settings.calendar, self.settings.rules)
            outcome = run(case, at, actor)  # IllegalTransition: 409, and the transaction rolls back
            row = store.apply(uow, row, outcome, actor, at, now)
            if also is not None:
                also(uow.session, at)
            return present(row, personal=sees_personal_data(call, row),
                           duplicate_case_no=store.case_no_of(uow.session, row["duplicate_of"]))

    def _catch_up(self, uow, row: dict, at, now) -> dict:
        """A late report's step at `at`: the case's alarms that were due before it fire first, at their real
        moments, as the monitor would have fired them had the report come in time (a reply sent in after the
        due time follows the overdue notice and the urging, as it did in fact)."""
        if not store.is_clocked(row) or row["due_at"] is None:
            return row
        settings = self.settings
        pending = store.pending_alarms(uow.session, row["id"])
        if not pending:
            return row
        moments = dict(deadline(settings.calendar, settings.rules, row["clock_started_at"], row["limit_days"]).alarms)
        fired = []
        for alarm_id, kind in sorted(pending, key=lambda p: moments.get(p[1]) or now):
            moment = moments.get(kind)
            if kind == ALARM_ESCALATION and row["urged_at"] is not None:
                moment = escalation_moment(settings.calendar, settings.rules, row["urged_at"])
            if moment is None or moment > at:
                continue
            fired.append(alarm_id)
            row = self._fire_late(uow, row, kind, moment, now)
            if kind == ALARM_OVERDUE:  # the escalation it schedules may be due before `at` as well
                escalate_at = escalation_moment(settings.calendar, settings.rules, moment)
                if escalate_at is not None and escalate_at <= at:
                    row = self._fire_late(uow, row, ALARM_ESCALATION, escalate_at, now)
                else:
                    store.add_alarms(uow.session, [(row["id"], ALARM_ESCALATION, escalate_at)])
        store.mark_alarms_fired(uow.session, fired, now)
        return row

    def _fire_late(self, uow, row: dict, kind: str, moment, now) -> dict:
        """One alarm's effects at its real moment `moment` (the monitor's, for a step reported late)."""
        payload = store.case_payload(row)
        department = row["department"]
        changes = {}
        if kind in (ALARM_LAST_DAY, ALARM_FRACTION):
            uow.publish("appeal.deadline_warning", {**payload, "kind": "last_day" if kind == ALARM_LAST_DAY
                                                    else "fraction"}, department=department, occurred_at=moment)
        elif kind == ALARM_OVERDUE:
            changes = {"overdue": True, "urged_at": moment}
            uow.publish("appeal.overdue", payload, department=department, occurred_at=moment)
            uow.publish("appeal.urged", payload, department=department, occurred_at=moment)
        elif kind == ALARM_ESCALATION and row["overdue"]:
            changes = {"escalated_at": moment}
            uow.publish("appeal.escalated", {**payload, "urged_at": row["urged_at"]}, department=department,
                        occurred_at=moment)
        else:
            return row
        if changes:
            uow.session.execute(update(store.appeals).where(store.appeals.c.id == row["id"]).values(
                **changes, updated_at=now))
        action = {ALARM_OVERDUE: "overdue_urged", ALARM_ESCALATION: "escalated"}.get(kind)
        if action:
            store.add_history_many(uow.session, [{**self._system_history(row, now, action), "at": moment}])
        return {**row, **changes}

    @api("POST", "/api/v1/appeals/<int:appeal_id>/dispatch", roles=OPERATOR, body=DispatchIn, response=AppealOut,
         summary="(re-)dispatch to a department", tags=("handling",), responses=CONFLICT)
    def dispatch(self, call, appeal_id):
        self.settings.departments.require(call.body["department"], "department")
        return self._command(call, appeal_id, lambda c, at, a: c.dispatch(call.body["department"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/accept", roles=HANDLER, body=At, response=AppealOut,
         summary="sign for the case (签收)", tags=("handling",), responses=CONFLICT)
    def accept(self, call, appeal_id):
        return self._command(call, appeal_id, lambda c, at, a: c.accept(at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/return", roles=HANDLER, body=ReasonIn, response=AppealOut,
         summary="return as misassigned (退回), with a reason", tags=("handling",), responses=CONFLICT)
    def return_case(self, call, appeal_id):
        return self._command(call, appeal_id, lambda c, at, a: c.return_(call.body["reason"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/reply", roles=HANDLER, body=ReplyIn, response=AppealOut,
         summary="answer the appellant (答复)", tags=("handling",), responses=CONFLICT)
    def reply(self, call, appeal_id):
        return self._command(call, appeal_id, lambda c, at, a: c.reply(call.body["reply"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/extension", roles=HANDLER, body=ExtensionIn, response=AppealOut,
         summary="ask for an extension, before the deadline (延期申请)", tags=("handling",), responses=CONFLICT)
    def request_extension(self, call, appeal_id):
        b = call.body
        return self._command(call, appeal_id, lambda c, at, a: c.request_extension(b["days"], b["reason"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/extension/decision", roles=OPERATOR, body=ExtensionDecisionIn,
         response=AppealOut, summary="approve or deny the pending extension", tags=("handling",),
         responses=CONFLICT)
    def decide_extension(self, call, appeal_id):
        b = call.body
        return self._command(call, appeal_id, lambda c, at, a: c.decide_extension(b["approved"], b["note"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/callback", roles=OPERATOR, body=CallbackIn, response=AppealOut,
         summary="record the call-back (回访); unsatisfied reopens once, else the case closes", tags=("handling",),
         responses=CONFLICT)
    def callback(self, call, appeal_id):
        b = call.body
        return self._command(call, appeal_id,
                             lambda c, at, a: c.record_callback(b["satisfaction"], b["resolved"], at, a))

    @api("POST", "/api/v1/appeals/<int:appeal_id>/supervise", roles=MONITOR, body=SuperviseIn, response=AppealOut,
         summary="order the department to act by a date (督办); exposed: on the media board", tags=("supervision",),
         responses=CONFLICT)
    def supervise(self, call, appeal_id):
        b = call.body

        def record_order(session, now):
            session.execute(insert(store.supervision_orders).values(
                appeal_id=appeal_id, ordered_at=now, ordered_by=call.principal.name, act_by=b["act_by"],
                note=b["note"], exposed=b["exposed"]))

        return self._command(call, appeal_id,
                             lambda c, at, a: c.supervise(b["act_by"], b["note"], b["exposed"], at, a), record_order)

    @api("POST", "/api/v1/appeals/<int:appeal_id>/finding", roles=("monitor", "department_handler"), body=FindingIn,
         response=AppealOut, summary="the finding of an efficiency complaint (有案必查、查必有果)",
         tags=("supervision",), responses=CONFLICT)
    def finding(self, call, appeal_id):
        b = call.body
        warning_id = f"EW-{appeal_id}"
        return self._command(call, appeal_id, lambda c, at, a: c.record_finding(
            b["finding"], b["reasons"], b["person"], b["reward"], at, a, warning_id))

    # -- the dispatch catalogue ---------------------------------------------------------------------

    @api("GET", "/api/v1/catalogue", roles=(), response=RuleOut, many=True,
         summary="the dispatch catalogue: category [+ town-street] → department", tags=("catalogue",))
    def list_catalogue(self, call):
        with self.platform.session() as s:
            return store.list_rules(s)

    @api("PUT", "/api/v1/catalogue", roles=OPERATOR, body=RuleIn, response=RuleOut,
         summary="add or change a dispatch rule", tags=("catalogue",))
    def put_rule(self, call):
        self.settings.departments.require(call.body["department"], "department")
        with self.platform.unit_of_work() as uow:
            rule = store.upsert_rule(uow.session, call.body, clock.now())
        self.settings.catalogue.invalidate()
        return rule

    @api("DELETE", "/api/v1/catalogue/<int:rule_id>", roles=OPERATOR, summary="remove a dispatch rule",
         tags=("catalogue",), status=204)
    def delete_rule(self, call, rule_id):
        with self.platform.unit_of_work() as uow:
            if not store.delete_rule(uow.session, rule_id):
                raise NotFound(f"no dispatch rule {rule_id}", message_zh="派单规则不存在")
        self.settings.catalogue.invalidate()
        return 204, None

    # -- the deadline monitor -----------------------------------------------------------------------

    # At start (and, harmlessly, every hour after): the calendar is read when the service starts, so a
    # year added to CALENDAR_FILE arrives with a restart. Then the open cases whose due time, or escalation,
    # could not be computed for want of that year get them now (moments already past fire at the next tick).
    @timer(interval=3600, eager=True)
    def recalculate_after_calendar(self):
        def pending():
            with self.platform.session() as s:
                return store.calendar_pending(s)

        base.catch_up_with_calendar(self.settings, "cases", pending, self._recalculate, ALARM_BATCH)

    def _recalculate(self, ids: list[int]) -> tuple[int, int]:
        """(recalculated, skipped): each case is waited for, none is skipped."""
        settings, now, done = self.settings, clock.now(), 0
        with self.platform.unit_of_work() as uow:
            s = uow.session
            for appeal_id in ids:
                row = store.get(s, appeal_id, lock=True)
                if row is None or not store.is_clocked(row):
                    continue
                details = {"reason": "calendar"}
                if row["clock_error"] is not None:
                    dl = deadline(settings.calendar, settings.rules, row["clock_started_at"], row["limit_days"])
                    if dl.error is not None:
                        continue  # still a year short
                    s.execute(update(store.appeals).where(store.appeals.c.id == appeal_id).values(
                        due_at=dl.due_at, clock_error=None, updated_at=now))
                    store.add_alarms(s, [(appeal_id, kind, moment) for kind, moment in dl.alarms])
                    details["due_at"] = dl.due_at.isoformat()
                elif row["urged_at"] is not None and row["escalated_at"] is None:
                    moment = escalation_moment(settings.calendar, settings.rules, row["urged_at"])
                    if moment is None:
                        continue
                    store.add_alarms(s, [(appeal_id, ALARM_ESCALATION, moment)])
                    details["escalation_at"] = moment.isoformat()
                else:
                    continue
                store.add_history(s, appeal_id, now, SYSTEM, "recalculate", row["status"], row["status"], details)
                done += 1
        return done, 0

    # every 0.2 s: an idle tick is one indexed query, and a due alarm waits at most one interval
    @timer(interval=MONITOR_INTERVAL)
    def fire_alarms(self):
        """Warnings, overdue + urging, escalation: each once, when its moment has come."""
        while self._fire_batch() >= ALARM_BATCH:
            eventlet.sleep(0)  # let the relay publish this batch while the next is prepared

    def _fire_batch(self) -> int:
        now = clock.now()
        settings = self.settings
        with self.platform.unit_of_work() as uow:
            s = uow.session
            due = store.claim_due_alarms(s, now, ALARM_BATCH)
            overdue, escalated, history, new_alarms = [], [], [], []
            for alarm, row in due:
                if not store.is_clocked(row):
                    continue
                payload = store.case_payload(row)
                kind = alarm["kind"]
                if kind in (ALARM_LAST_DAY, ALARM_FRACTION):
                    uow.publish("appeal.deadline_warning",
                                {**payload, "kind": "last_day" if kind == ALARM_LAST_DAY else "fraction"},
                                department=row["department"])
                elif kind == ALARM_OVERDUE:
                    # the moment it became overdue, also when a late report's alarm fired after its grace
                    urged_at = row["due_at"] + timedelta(microseconds=1) if row["due_at"] else alarm["fire_at"]
                    overdue.append({"aid": row["id"], "urged": urged_at})
                    history.append(self._system_history(row, now, "overdue_urged"))
                    uow.publish("appeal.overdue", payload, department=row["department"], occurred_at=urged_at)
                    uow.publish("appeal.urged", payload, department=row["department"], occurred_at=urged_at)
                    at = escalation_moment(settings.calendar, settings.rules, urged_at)
                    if at is not None:
                        new_alarms.append((row["id"], ALARM_ESCALATION, at))
                elif kind == ALARM_ESCALATION and row["overdue"]:
                    # the moment it was due, also when a late report's alarm fired after its grace
                    moment = min(now, (row["urged_at"] and escalation_moment(
                        settings.calendar, settings.rules, row["urged_at"])) or now)
                    escalated.append({"aid": row["id"], "at": moment})
                    history.append(self._system_history(row, now, "escalated"))
                    uow.publish("appeal.escalated", {**payload, "urged_at": row["urged_at"]},
                                department=row["department"], occurred_at=moment)
            appeals = store.appeals
            if overdue:
                s.execute(update(appeals).where(appeals.c.id == bindparam("aid"))
                          .values(overdue=True, urged_at=bindparam("urged"), updated_at=now), overdue)
            if escalated:
                s.execute(update(appeals).where(appeals.c.id == bindparam("aid"))
                          .values(escalated_at=bindparam("at"), updated_at=now), escalated)
            store.add_history_many(s, history)
            store.add_alarms(s, new_alarms)
        return len(due)

    @staticmethod
    def _system_history(row, now, action):
        return {"appeal_id": row["id"], "at": now, "actor": SYSTEM.name, "role": SYSTEM.role, "action": action,
                "from_status": row["status"], "to_status": row["status"], "details": {}}
