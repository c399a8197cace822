"""The approvals service's use cases, as plain functions of the settings, the command's data and a unit of work
(or `db`, what gives units of work: the service's platform, or a `Database`, where a use case needs more than
one): an HTTP endpoint, an event consumer and a timer that mean the same thing call the same function. Each
loads, asks the domain (domain.py) what to do, and writes the answer through the store (store.py) and the
outbox in one unit of work.

- applications: `receive_application` (the window's submission), `submit` (one, in the caller's unit of
  work), `run_action` (a window action), `apply` (an outcome written), `alert_refused_submission`
- the monitor: `fire_due_alarms` / `fire_alarm` (a due alarm), `raise_alert`, `alert_irregularity`,
  `catch_up_with_calendar` / `recalculate` (moments that waited for a calendar year)
- alerts: `act_on_alert` (acknowledge, resolve), `change_alert`; their rectifications: rectification/usecases.py
- the window system's references of its actions: `ActionRef` (given to `run_action`, which answers a `Replay`
  of a reference seen before), `purge_action_refs` (the monitor's hourly timer)
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel import service as kernel_service
from services.kernel.domain import SYSTEM
from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.outcome import apply_outcome

from . import store
from .domain import (
    ALARM_KINDS,
    CALENDAR_UNAVAILABLE,
    ENDED,
    OPEN,
    STATE_ZH,
    ActionOutcome,
    Alert,
    Application,
    IllegalTransition,
    Irregularity,
)
from .domain import submit as domain_submit
from .rectification import store as rectification_store
from .reform import domain as reform_domain
from .reform import usecases as reform_usecases
from .views import find_visible, mask_id_number, present
from .windows import domain as windows_domain
from .windows import usecases as windows

log = logging.getLogger(__name__)

# an alert action: the states it may start from, and the event it publishes
ALERT_ACTIONS = {
    "acknowledge": (("open",), "monitor.alert_acknowledged"),
    "resolve": (("open", "acknowledged"), "monitor.alert_resolved"),
}

# A window action: the `Application` command of that name and the fields of the command's data it takes, in
# order (then `at` and the actor). `deem_accepted` is the monitor's act (`fire_alarm`), for a caller that means it.
ACTIONS: dict[str, tuple[str, ...]] = {
    "accept": (),
    "refuse": ("reason",),
    "request_supplement": ("missing", "note"),
    "supplement_received": (),
    "start_special_procedure": ("kind",),
    "end_special_procedure": (),
    "extend": ("days", "approver", "reason"),
    "decide": ("approved", "reason"),
    "deliver": (),
    "withdraw": ("reason",),
    "terminate": ("reason",),
    "deem_accepted": (),
}

ALARM_BATCH = 100  # small batches: the first events go out while later ones are prepared
# the monitor's timers tick every 0.2 s: an idle tick is one indexed query, a due alarm waits at most one interval
MONITOR_INTERVAL = 0.2


class Done(NamedTuple):
    """A command carried out: the application as it now is, the outcome written, and the answer stored under
    the window system's reference (`run_action`'s `answer`, else None)."""

    app: Application
    outcome: ActionOutcome
    answer: Any = None


class Replay(NamedTuple):
    """The answer stored under a window system's reference of an action, given again: nothing was done."""

    status: int
    body: Any


class ActionRef(NamedTuple):
    """The window system's own reference of an action (`Idempotency-Key` / `action_ref`) and the digest of what it
    asked: the application, the action and the body's fields (`at` as an instant, absent and null alike)."""

    ref: str
    digest: str

    @classmethod
    def of(cls, ref: str, application_id: int, action: str, data: dict) -> ActionRef:
        fields = {k: (v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v)
                  for k, v in data.items() if k != "action_ref" and v is not None}
        content = json.dumps({"application_id": application_id, "action": action, "fields": fields},
                             sort_keys=True, ensure_ascii=False, default=str)
        return cls(ref, hashlib.sha256(content.encode()).hexdigest())


def replay(stored: dict, ref: ActionRef) -> Replay:
    """The stored answer of this reference, or 409 when the reference was used for another request."""
    if stored["request_hash"] != ref.digest:
        raise Conflict(f"action_ref {ref.ref!r} was used before for another request ({stored['action']}); send a "
                       f"new reference for a new action",
                       message_zh="该业务流水号（action_ref）已用于另一项不同的办理操作，新的操作请使用新的流水号",
                       details={"field": "action_ref", "action": stored["action"]})
    return Replay(stored["status"], stored["response"])


def event_figures(app: Application, at: datetime) -> dict:
    """The application and clock figures every event carries (scoring needs them)."""
    return app.event_figures(at)


def load_application(settings, session, row: dict, now: datetime, items: dict | None = None) -> Application:
    """The aggregate of a stored application (`items`: a cache of catalogue items shared by a batch)."""
    items = {} if items is None else items
    if row["item_code"] not in items:
        items[row["item_code"]] = settings.items.get(session, row["item_code"])
    return Application(row, items[row["item_code"]], settings.calendar, settings.rules, now)


# -- the catalogue and applications -------------------------------------------------------------------


def put_item(db, settings, data: dict, now: datetime, by: str = "system") -> dict:
    """Add or change a catalogue item, recorded in its history (reform, #17: `document`, `effective_on`, `by`);
    this instance forgets the items it cached (others within seconds). 409 for a retired or merged item."""
    with db.unit_of_work() as uow:
        record = reform_usecases.record_of_edit(uow.session, data, by, now)
        out = store.upsert_item(uow.session, data, now, record)
    settings.items.forget()
    return out


def list_applications(db, settings, query: dict, now: datetime) -> tuple[list[dict], int]:
    """A page of applications' views (`query`: the filters, `page`, `per_page` and the clock's `light`) and how
    many match. The light is computed, not stored: filtered here (first cut; an index comes with the benchmark)."""
    query = dict(query)
    page, per_page, light = query.pop("page"), query.pop("per_page"), query.pop("light")
    items: dict = {}
    with db.session() as s:
        names = windows.names_of(settings).warm(s)

        def view(r):
            return present(r, load_application(settings, s, r, now, items), now, settings.departments, names)

        if light is None:
            rows, total = store.list_applications(s, **query, page=page, per_page=per_page)
            return [view(r) for r in rows], total
        views = [view(r) for r in store.all_matching(s, **query)]
    views = [v for v in views if v["clock"] is not None and v["clock"]["light"] == light]
    return views[(page - 1) * per_page: page * per_page], len(views)


def application_detail(db, settings, application_id: int, now: datetime, *, scope: str | None = None) -> dict:
    """One application's view with its history (404 for another department's, as for a missing one)."""
    with db.session() as s:
        row = find_visible(s, application_id, scope)
        names = windows.names_of(settings).warm(s)
        history = [{**h, "window": h["details"].get("window"), "badge": h["details"].get("badge"),
                    "window_name": names.name(h["details"]["window"]) if h["details"].get("window") else None}
                   for h in store.history_of(s, application_id)]
        return {**present(row, load_application(settings, s, row, now), now, settings.departments, names),
                "history": history}


# the receipt's query code: 8 characters no one misreads on paper (no 0/O, 1/I/L), about 40 bits
QUERY_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
QUERY_CODE_LENGTH = 8


def new_query_code() -> str:
    return "".join(secrets.choice(QUERY_CODE_ALPHABET) for _ in range(QUERY_CODE_LENGTH))


def receive_application(db, settings, data: dict, actor, now: datetime) -> tuple[bool, Application]:
    """An application received at a window (`POST /api/v1/applications`): `submit` in a unit of work of its own.
    A submission refused as irregular is alerted in another (`alert_refused_submission`) and the refusal
    re-raised; the same external_ref submitted at the same moment by a retry answers with the one that won."""
    try:
        with db.unit_of_work() as uow:
            return submit(uow, settings, data, actor, now)
    except IllegalTransition as exc:
        with db.unit_of_work() as uow:
            alert_refused_submission(uow, settings, data, exc, now)
        raise
    except IntegrityError:
        with db.session() as s:
            existing = store.find_by_ref(s, data["external_ref"])
            if existing is None:
                raise
            return False, load_application(settings, s, existing, now)


def alert_figures(settings, session, alert: dict, now: datetime) -> dict:
    """What an alert's events say about its subject: an application's figures, or the project, joint case or
    refused submission it names."""
    if alert["application_id"] is not None:
        row = store.get(session, alert["application_id"])
        return load_application(settings, session, row, now).event_figures(now)
    figures = {"subject": alert["subject"], "department": alert["department"],
               "project_code": alert["project_code"],
               "joint_id": None if alert["joint_id"] is None else str(alert["joint_id"])}
    if alert["subject"] == "submission":
        figures.update(external_ref=alert["subject_ref"], item_code=alert["details"].get("item_code"))
    elif alert["subject"] in ("inspection", "penalty"):
        # enforcement (#17): its id, and its registration or case number where the raising use case kept it
        figures.update(subject_ref=alert["subject_ref"], reference_no=(alert["details"] or {}).get("reference_no"))
    return figures


def change_alert(uow, settings, alert: dict, values: dict, event_type: str, by: str, *,
                 figures: dict | None = None, extra: dict | None = None) -> dict:
    """Change a stored alert and publish `event_type` (who, the note, the subject's figures: `figures` when the
    caller has them; `extra`: more fields of the event) in `uow`. A resolved alert's open rectification is
    closed (an accepted one was marked so before)."""
    now = values.get("resolved_at") or values.get("acknowledged_at") or clock.now()
    out = store.update_alert(uow.session, alert["id"], **values)
    if values.get("state") == "resolved":
        rectification_store.close_for_alert(uow.session, alert["id"], now)
    if figures is None:
        figures = alert_figures(settings, uow.session, alert, now)
    uow.publish(event_type, {
        **figures, "alert_id": str(alert["id"]), "level": out["level"],
        "rule": out["rule"], "raised_at": out["raised_at"], "by": by, "note": out["note"],
        **{k: values[k] for k in ("resolved_at", "acknowledged_at") if k in values}, **(extra or {})},
        department=alert["department"])
    return out


def act_on_alert(uow, settings, alert_id: int, action: str, by: str, note: str | None, now: datetime, *,
                 department: Any = None) -> dict:
    """A monitor's acknowledge or resolve (纠错) of an alert, from the HTTP API or the console alike: 404 for an
    unknown alert, 409 (IllegalTransition) when its state does not allow the action. `department` (a console
    command: the city's console reaches every node): an alert of another department is not this node's."""
    allowed, event_type = ALERT_ACTIONS[action]
    alert = store.get_alert(uow.session, alert_id, lock=True)
    if alert is None:
        raise NotFound(f"no alert {alert_id}", message_zh="告警不存在")
    if department is not None and alert["department"] != department:
        raise IllegalTransition(f"alert {alert_id} of {department} is not this node's", "告警不属于本节点")
    if alert["state"] not in allowed:
        raise IllegalTransition(f"the alert is {alert['state']}", "告警当前状态不允许此操作")
    if action == "resolve":
        values = {"state": "resolved", "resolved_by": by, "resolved_at": now, "note": note}
    else:
        values = {"state": "acknowledged", "acknowledged_by": by, "acknowledged_at": now}
        if note:
            values["note"] = note
    return change_alert(uow, settings, alert, values, event_type, by)


def submit(uow, settings, data: dict, actor, now: datetime) -> tuple[bool, Application]:
    """An application received at a window, in the caller's unit of work (a joint approval submits several in
    one): (True, the new application), or (False, the existing one of this external_ref). 400 for an unknown
    item; IllegalTransition (409) for a submission dated in the future."""
    at = data["at"] or now
    s = uow.session
    existing = store.find_by_ref(s, data["external_ref"])
    if existing is not None:
        return False, load_application(settings, s, existing, now)
    item = settings.items.get(s, data["item_code"])
    if item is None:
        raise BadRequest({"item_code": ["unknown approval item; see GET /api/v1/items"]})
    refuse_ended_item(s, item.code, at)
    window, badge = windows.check_step(s, data, item.department)  # 佩证上岗; data of a joint case names neither
    windows.names_of(settings).warm(s)  # the answer names the responsible window
    outcome = domain_submit(item, at, actor, settings.calendar, settings.rules, materials=data["materials"], now=now)
    applicant = data["applicant"]
    row = store.insert_application(s, {
        **outcome.changes, "external_ref": data["external_ref"], "applicant_name": applicant["name"],
        "applicant_kind": applicant["kind"], "applicant_id_masked": mask_id_number(applicant["id_number"]),
        "service_point": data["service_point"], "green_channel": data["green_channel"],
        "project_code": data["project_code"], "query_code": new_query_code(), "created_at": now, "updated_at": now,
        **windows_domain.first_responsible(None, window, badge)})
    app = Application(row, item, settings.calendar, settings.rules, now)
    store.add_history(s, row["id"], at, now, actor, "submit", None, row["state"],
                      {**outcome.details, **step_details(None, window, badge)})
    store.schedule_new(s, row["id"], outcome.alarms.moments)
    outcomes = store.ApplicationOutcomes(app)
    for event in outcome.events:
        payload, route = outcomes.event(s, row, event, at)
        uow.publish(event.type, {**payload, "service_point": row["service_point"]}, **route)
    for irregularity in outcome.irregularities:  # a late report (迟报) of the submission
        alert_irregularity(uow, app, irregularity, now, refused=False)
    return True, app


def refuse_ended_item(session, code: str, at: datetime) -> None:
    """A retired or merged item (reform, #17) takes no application received on or after its ending's day: 409.
    Read from the table, not the item cache, so that a retirement applies at once in every instance."""
    row = store.get_item(session, code)
    if row is not None and not reform_domain.takes_applications(row["status"], row["ended_on"],
                                                                at.astimezone(clock.TZ).date()):
        into = f"; apply for {row['merged_into']}" if row["merged_into"] else ""
        into_zh = f"，请申请 {row['merged_into']}" if row["merged_into"] else ""
        word = "merged" if row["status"] == reform_domain.MERGED else "retired"
        raise Conflict(f"item {code} is {word} from {row['ended_on']}{into}",
                       message_zh=f"审批事项 {code} 已于 {row['ended_on']} 起{reform_domain.CHANGE_ZH[row['status']]}"
                                  f"，不再受理{into_zh}")


def alert_refused_submission(uow, settings, data: dict, exc: IllegalTransition, now: datetime) -> None:
    """A submission refused as irregular (dated in the future) never became an application; the irregularity is
    the monitors' business all the same: an alert about the submission (its external_ref; the item's
    department) and `monitor.irregularity`. The caller gives a unit of work of its own (the refused one rolled
    back). One alert per submission and code (the rule is the code): the window system's retry of the same
    submission, whenever it comes, raises nothing more."""
    if not exc.irregularities:
        return
    item = settings.items.get(uow.session, data["item_code"])
    if item is None:
        return
    for irregularity in exc.irregularities:
        rule = irregularity.code
        submission = {"external_ref": data["external_ref"], "item_code": item.code, "department": item.department}
        alert_id = store.raise_subject_alert(
            uow.session, "submission", data["external_ref"], department=item.department, level="irregularity",
            rule=rule, at=now, details={**irregularity.as_dict(), "refused": True, **submission,
                                        "service_point": data["service_point"]})
        if alert_id is not None:
            uow.publish("monitor.irregularity", {
                **submission, "subject": "submission", "alert_id": str(alert_id), "level": "irregularity",
                "rule": rule, "raised_at": now, "code": irregularity.code,
                "description_zh": irregularity.description_zh, "severity": irregularity.severity,
                "at": irregularity.at, "refused": True}, department=item.department)


def apply(uow, app: Application, outcome: ActionOutcome, actor, at: datetime, now: datetime) -> Application:
    """Write an outcome (the kernel's `apply_outcome`: the changes, one history line, the alarms, the events) and
    alert its irregularities — one transaction. An outcome that ends the application (withdrawn, terminated,
    abandoned) resolves its open alerts first, as `system`. Returns the application as it now is."""
    row = apply_outcome(uow, store.ApplicationOutcomes(app), app.row, outcome, actor, at, now)
    new = Application(row, app.item, app.calendar, app.rules, now)
    if new.state in ENDED and app.state not in ENDED:
        resolve_open_alerts(uow, new, f"申请{STATE_ZH[new.state]}：{row['end_reason']}", now)
    for irregularity in outcome.irregularities:
        alert_irregularity(uow, new, irregularity, now, refused=False)
    return new


def run_action(db, settings, application_id: int, action: str, data: dict, actor, now: datetime, *,
               scope: str | None = None, ref: ActionRef | None = None,
               shape: Callable[[Application], Any] | None = None) -> Done | Replay:
    """A window action (`ACTIONS`) on an application, at `data["at"]` (else now): loaded locked, the domain
    command run, its outcome applied, in one unit of work. `scope`: the department a caller is confined to (404
    for another's application, as for a missing one). A refusal (IllegalTransition, 409) that revealed
    irregularities stores and publishes them in a unit of work of their own, since the refused action's own
    rolled back, and is re-raised.

    `shape`: the answer of the application as it now is (`Done.answer`). `ref`: the window system's reference of
    the action. Seen before with the same content: the stored answer (`Replay`) and nothing done; with other
    content: 409. Otherwise the answer is stored under it in the action's unit of work. A success is stored, and a
    refusal that recorded irregularities (`record_refusal`); any other refused action changed nothing and is
    judged again when retried (the state may have changed meanwhile)."""
    at = data.get("at") or now
    try:
        with db.unit_of_work() as uow:
            row = find_visible(uow.session, application_id, scope, lock=True)
            if ref is not None:  # looked up under the application's lock: an identical request waits, then replays
                stored = store.find_action_ref(uow.session, ref.ref)
                if stored is not None:
                    return replay(stored, ref)
            app = load_application(settings, uow.session, row, now)
            window, badge = windows.check_step(uow.session, data, row["department"])  # 佩证上岗
            args = [data[name] for name in ACTIONS[action]]
            outcome = getattr(app, action)(*args, at, actor)
            outcome.details = {**outcome.details, **step_details(row, window, badge)}
            outcome.changes = {**outcome.changes, **windows_domain.first_responsible(row, window, badge)}
            new = apply(uow, app, outcome, actor, at, now)
            windows.names_of(settings).warm(uow.session)  # the answer names the responsible window
            answer = None if shape is None else shape(new)
            if ref is not None:
                store.add_action_ref(uow.session, ref.ref, application_id, action, ref.digest, 200, answer, now)
            return Done(new, outcome, answer)
    except IntegrityError:
        # the last line of defence: the same reference stored meanwhile (on another application's lock)
        if ref is None:
            raise
        with db.session() as s:
            stored = store.find_action_ref(s, ref.ref)
        if stored is None:
            raise
        return replay(stored, ref)
    except IllegalTransition as exc:
        if exc.irregularities:
            record_refusal(db, settings, application_id, action, exc, ref, now)
        raise


def step_details(row: dict | None, window: str | None, badge: str | None) -> dict:
    """What a step's history line says of its window and badge (佩证上岗), and 首问负责 on the step that makes them
    responsible (`row`: the application before the step, None: a submission)."""
    details = windows_domain.step_details(window, badge)
    if windows_domain.first_responsible(row, window, badge):
        details["first_responsible"] = windows_domain.FIRST_RESPONSIBLE_ZH
    return details


def record_refusal(db, settings, application_id: int, action: str, exc: IllegalTransition, ref: ActionRef | None,
                   now: datetime) -> None:
    """A refusal that revealed irregularities (a second extension, a second supplement request): the
    irregularities stored and published, and — since the refusal had that effect — the 409 stored under the
    window system's reference, so that its retry is answered the same and records nothing twice. A retry that
    got there first (the reference stored meanwhile) recorded them itself."""
    try:
        with db.unit_of_work() as uow:
            app = load_application(settings, uow.session, store.get(uow.session, application_id), now)
            for irregularity in exc.irregularities:
                alert_irregularity(uow, app, irregularity, now, refused=True)
            if ref is not None:
                body = {"error": {"code": "conflict", "message": exc.message, "message_zh": exc.message_zh}}
                store.add_action_ref(uow.session, ref.ref, application_id, action, ref.digest, exc.status, body,
                                     now)
    except IntegrityError:
        if ref is None:
            raise


def resolve_open_alerts(uow, app: Application, note: str, now: datetime) -> int:
    """Every alert of an ended application not yet resolved, resolved by `system` with `note` (the reason), each
    announced as `monitor.alert_resolved` like a monitor's resolution: how many."""
    alerts = store.unresolved_alerts(uow.session, app.row["id"])
    figures = app.event_figures(now)
    for alert in alerts:
        change_alert(uow, None, alert, {"state": "resolved", "resolved_by": SYSTEM.name, "resolved_at": now,
                                        "note": note}, "monitor.alert_resolved", SYSTEM.name, figures=figures)
    return len(alerts)


def alert_irregularity(uow, app: Application, irregularity: Irregularity, now: datetime, *, refused: bool) -> None:
    """An irregularity of an application as an alert and `monitor.irregularity`; its rule (code, scope and at)
    identifies it, so the same one reported twice is one alert."""
    rule = irregularity.rule
    details = {**irregularity.as_dict(), "refused": refused}
    alert_id = store.raise_alert(uow.session, app.row["id"], app.row["department"], "irregularity", rule, now,
                                 details)
    if alert_id is None:
        return
    uow.publish("monitor.irregularity", {
        **app.event_figures(now), "alert_id": str(alert_id), "level": "irregularity", "rule": rule,
        "raised_at": now, "code": irregularity.code, "description_zh": irregularity.description_zh,
        "severity": irregularity.severity, "at": irregularity.at, "refused": refused},
        department=app.row["department"])


def purge_action_refs(db, settings, now: datetime) -> int:
    """Forget the window system's references older than `ACTION_REFS.KEEP_DAYS`: how many."""
    with db.unit_of_work() as uow:
        return store.purge_action_refs(uow.session, now - timedelta(days=settings.action_refs_keep_days))


# -- the monitor ----------------------------------------------------------------------------------------


def fire_due_alarms(db, settings, now: datetime, limit: int = ALARM_BATCH) -> int:
    """Claim up to `limit` alarms due at `now` and fire each (`fire_alarm`), in one unit of work: how many were
    handled. Asked in a reader first, so that an idle tick never takes SQLite's write lock. A window action
    holding an application waits for these alarm rows: never wait for it in turn (a deadlock on PostgreSQL),
    give its alarms back for the next tick instead."""
    with db.session() as s:
        if not store.alarm_due(s, now):
            return 0
    with db.unit_of_work() as uow:
        s = uow.session
        due = store.claim_due_alarms(s, now, limit)
        rows = store.get_many(s, sorted({alarm["application_id"] for alarm in due}))
        items: dict = {}
        busy = []
        for alarm in due:
            row = rows.get(alarm["application_id"])
            if row is None:
                busy.append(alarm["alarm_id"])
                continue
            fire_alarm(uow, load_application(settings, s, row, now, items), alarm["kind"], now)
        store.unclaim(s, busy)
    return len(due) - len(busy)


def fire_alarm(uow, app: Application, kind: str, now: datetime) -> None:
    """A due alarm of `app`: what the domain makes of it (`Application.on_alarm`), written in `uow`."""
    if kind not in ALARM_KINDS:
        log.warning("unknown alarm kind %s of application %s", kind, app.row["id"])
        return
    reaction = app.on_alarm(kind, now)
    if isinstance(reaction, ActionOutcome):
        apply(uow, app, reaction, SYSTEM, reaction.at or now, now)
    elif isinstance(reaction, Alert):
        raise_alert(uow, app, reaction, now)
    elif isinstance(reaction, Irregularity):
        alert_irregularity(uow, app, reaction, now, refused=False)


def raise_alert(uow, app: Application, alert: Alert, now: datetime) -> int | None:
    """A warning or card about an application, stored (once per application and rule) with the clock figures,
    and announced by its event: the alert's id, or None when it had been raised before."""
    figures = app.event_figures(now)
    details = {**alert.details, **{k: figures.get(k) for k in ("due_at", "limit_days", "elapsed_days",
                                                               "remaining_days")}}
    alert_id = store.raise_alert(uow.session, app.row["id"], app.row["department"], alert.level, alert.rule, now,
                                 details)
    if alert_id is not None:
        uow.publish(alert.event_type, {**figures, "alert_id": str(alert_id), "level": alert.level,
                                       "rule": alert.rule, "raised_at": now}, department=app.row["department"])
    return alert_id


def catch_up_with_calendar(db, settings) -> None:
    """Once per calendar: the open applications whose clock or monitor moments could not be computed for want
    of a calendar year get them now (`recalculate`); rows a window action held are looked at again next time."""

    def pending():
        with db.session() as s:
            return store.calendar_pending(s, OPEN, CALENDAR_UNAVAILABLE)

    kernel_service.catch_up_with_calendar(settings, "applications", pending,
                                          lambda ids: recalculate(db, settings, ids, clock.now()), ALARM_BATCH)


def recalculate(db, settings, ids: list[int], now: datetime) -> tuple[int, int]:
    """The clock and the monitor's moments of these applications computed again (`Application.recalculated`),
    and their calendar_unavailable alerts resolved by the system: (recalculated, skipped because another
    transaction held them)."""
    done = 0
    with db.unit_of_work() as uow:
        s = uow.session
        items: dict = {}
        rows = store.get_many(s, ids)
        for row in rows.values():
            app = load_application(settings, s, row, now, items)
            outcome = app.recalculated(now)
            if outcome is None:
                continue  # still a year short, or closed meanwhile
            apply(uow, app, outcome, SYSTEM, now, now)
            for alert in store.unresolved_alerts(s, row["id"], CALENDAR_UNAVAILABLE):
                change_alert(uow, settings, alert, {"state": "resolved", "resolved_by": SYSTEM.name,
                                                    "resolved_at": now, "note": "节假日安排已载入，期限已重新计算"},
                             "monitor.alert_resolved", SYSTEM.name)
            done += 1
    return done, len(ids) - len(rows)
