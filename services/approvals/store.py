"""Tables of the approvals service and the queries on them: the item catalogue, applications with their
clock columns, history, the monitor's indexed alarms (next check times) and the stored alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    false,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from services.kernel import clock
from services.kernel.alarms import Alarms
from services.kernel.db import Moment, kernel_tables, paged
from services.kernel.outcome import Event

from .domain import Application, Item

metadata = MetaData()
kernel_tables(metadata)

items = Table(
    "items", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("department", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("statutory_limit", Integer),
    Column("committed_limit", Integer),
    # [{code, name}]
    Column("materials", JSON, nullable=False, default=list),
    Column("fully_authorised", Boolean, nullable=False, default=True),
    Column("joint", Boolean, nullable=False, default=False),
    Column("warn_days_left", Integer),
    Column("warn_fraction", Float),
    # working days the applicant has to deliver a requested supplement (None: APPROVALS.SUPPLEMENT_LIMIT)
    Column("supplement_limit", Integer),
    # the public service guide (#15): where it is handled (办理地点); whether its decisions are disclosed (审批结果公开)
    Column("handling_place", String(200)),
    Column("public_results", Boolean, nullable=False, default=False, server_default=false()),
    # reform (#17): active, or retired (取消) / merged into another item (合并) from `ended_on` on
    Column("status", String(16), nullable=False, default="active", server_default="active"),
    Column("ended_on", Date),
    Column("merged_into", String(64)),
    Column("updated_at", Moment(), nullable=False),
)

# the catalogue's history (reform figures, #17): one row per change of an item, the item as it stands after it
# (name, department, kind, limits), the date it takes effect, the document that decided it and who recorded it
item_changes = Table(
    "item_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_code", String(64), nullable=False),
    # initial (the catalogue as found: seeded or migrated), added, changed, retired, merged
    Column("change", String(16), nullable=False),
    Column("effective_on", Date, nullable=False),
    Column("document", String(100)),
    Column("reason", Text),
    Column("name", String(200), nullable=False),
    Column("department", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("statutory_limit", Integer),
    Column("committed_limit", Integer),
    Column("joint", Boolean, nullable=False, default=False),
    Column("merged_into", String(64)),
    # the tracked figures before the change ({name, department, kind, statutory_limit, committed_limit, joint})
    Column("previous", JSON),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
    Index("ix_item_changes_item", "item_code", "id"),
    Index("ix_item_changes_effective", "effective_on"),
)

applications = Table(
    "applications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("application_no", String(32), unique=True),
    # printed on the receipt: with the number, the applicant's key to the progress query and the review (#15)
    Column("query_code", String(16)),
    # the window system's own reference: a repeat of the same submission answers with the existing one
    Column("external_ref", String(128), nullable=False, unique=True),
    Column("item_code", String(64), nullable=False),
    Column("department", String(64), nullable=False),
    Column("state", String(32), nullable=False),
    Column("applicant_name", String(200), nullable=False),
    Column("applicant_kind", String(16), nullable=False),
    # stored masked: the full number never leaves the window system
    Column("applicant_id_masked", String(64)),
    Column("materials", JSON, nullable=False, default=list),
    Column("missing", JSON, nullable=False, default=list),
    Column("service_point", String(32), nullable=False),
    Column("green_channel", Boolean, nullable=False, default=False),
    Column("project_code", String(64)),
    Column("received_at", Moment(), nullable=False),
    Column("last_action_at", Moment()),
    Column("supplement_count", Integer, nullable=False, default=0),
    Column("supplement_requested_at", Moment()),
    Column("supplement_outstanding", Boolean, nullable=False, default=False),
    Column("supplement_received_at", Moment()),
    Column("accepted_at", Moment()),
    Column("accepted_formally_at", Moment()),
    Column("deemed_accepted", Boolean, nullable=False, default=False),
    # the clock: started at acceptance (the received moment when deemed accepted), limit in working days
    Column("clock_started_at", Moment()),
    Column("limit_days", Integer),
    # the pauses: [{kind, started_at, ended_at}] (ISO moments)
    Column("special_procedures", JSON, nullable=False, default=list),
    Column("extension_days", Integer),
    Column("extension_approver", String(100)),
    Column("extension_reason", Text),
    Column("extended_at", Moment()),
    Column("due_at", Moment()),
    Column("clock_error", String(300)),
    Column("refused_at", Moment()),
    Column("refusal_reason", Text),
    Column("approved", Boolean),
    Column("decision_reason", Text),
    Column("decided_at", Moment()),
    Column("decided_in_time", Boolean),
    Column("delivered_at", Moment()),
    # ended without a decision (withdrawn, terminated, abandoned): when, and why
    Column("ended_at", Moment()),
    Column("end_reason", Text),
    # 首问负责 (#15): the window and badge of the first step that named a badge, set once (windows/domain.py)
    Column("first_window", String(64)),
    Column("first_badge", String(32)),
    Column("created_at", Moment(), nullable=False),
    Column("updated_at", Moment(), nullable=False),
)
Index("ix_applications_department_state", applications.c.department, applications.c.state)
Index("ix_applications_state_due", applications.c.state, applications.c.due_at)

history = Table(
    "application_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("application_id", Integer, ForeignKey("applications.id"), nullable=False, index=True),
    Column("at", Moment(), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(40), nullable=False),
    Column("from_state", String(32)),
    Column("to_state", String(32)),
    Column("details", JSON, nullable=False, default=dict),
)

# The monitor's next check times: one row per (application, kind), fired once, cancelled when moot.
alarm_times = Alarms(metadata, applications, "application_id")
alarms = alarm_times.table

# Every alert the monitors handle, whatever it is about (`subject`): an application; a submission refused before it
# became one (`subject_ref` its external_ref); a key project (its code); a joint case (its id). One listing, one
# acknowledge and resolve for all of them (the subjects: the contracts' ALERT_SUBJECTS).
alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(16), nullable=False, default="application"),
    Column("subject_ref", String(128), nullable=False),
    Column("application_id", Integer, ForeignKey("applications.id")),
    Column("project_code", String(64)),
    Column("joint_id", Integer),
    # None: a joint case's own clock belongs to the monitors, not to one department
    Column("department", String(64)),
    Column("level", String(16), nullable=False),
    Column("rule", String(120), nullable=False),
    Column("raised_at", Moment(), nullable=False),
    Column("details", JSON, nullable=False, default=dict),
    Column("state", String(16), nullable=False, default="open"),
    Column("acknowledged_by", String(100)),
    Column("acknowledged_at", Moment()),
    Column("resolved_by", String(100)),
    Column("resolved_at", Moment()),
    Column("note", Text),
    # one alert per rule and subject, whichever instance of the monitor sees it first
    UniqueConstraint("subject", "subject_ref", "rule", name="uq_alerts_subject_rule"),
)
Index("ix_alerts_department_level", alerts.c.department, alerts.c.level, alerts.c.state)
Index("ix_alerts_application", alerts.c.application_id)
Index("ix_alerts_project", alerts.c.project_code)

# The window system's own reference of an action it sent (`Idempotency-Key` / `action_ref`) and the answer it
# got, so that a retry is answered the same and acts once. Unique on the reference alone: a window system's
# references are its own sequence, whatever application they name. Written in the action's unit of work.
action_refs = Table(
    "action_refs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(128), nullable=False),
    Column("application_id", Integer, ForeignKey("applications.id"), nullable=False),
    Column("action", String(40), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", Moment(), nullable=False),
    UniqueConstraint("ref", name="uq_action_refs_ref"),
)
Index("ix_action_refs_created", action_refs.c.created_at)

_MOMENT_KEYS = ("started_at", "ended_at")


# -- the catalogue ------------------------------------------------------------------------------------


def item_of(row: dict) -> Item:
    return Item(code=row["code"], name=row["name"], department=row["department"], kind=row["kind"],
                statutory_limit=row["statutory_limit"], committed_limit=row["committed_limit"],
                materials=tuple(m["code"] for m in row["materials"] or ()),
                fully_authorised=row["fully_authorised"], joint=row["joint"],
                warn_days_left=row["warn_days_left"], warn_fraction=row["warn_fraction"],
                supplement_limit=row.get("supplement_limit"))


def list_items(session: Session) -> list[dict]:
    return [dict(r) for r in session.execute(select(items).order_by(items.c.code)).mappings()]


_ITEM = select(items).where(items.c.code == bindparam("code"))


def get_item(session: Session, code: str) -> dict | None:
    row = session.execute(_ITEM, {"code": code}).mappings().first()
    return dict(row) if row is not None else None


# what the history tracks: a change of any of these is recorded (materials, places, thresholds are not reform)
TRACKED = ("name", "department", "kind", "statutory_limit", "committed_limit", "joint")
# the item's life, changed by retiring or merging it only (reform/usecases.py), never by an upsert
_LIFE = ("status", "ended_on", "merged_into")


def upsert_item(session: Session, data: dict, at: datetime, record: dict | None = None) -> dict:
    """Add or change an item and record it in the item's history when a tracked figure changed. `record`:
    {effective_on, document, recorded_by} from the API (an "added" or "changed" entry); None when seeding (an
    "initial" entry dated the day of `at`, recorded by "seed")."""
    values = {c.name: data.get(c.name) for c in items.columns if c.name not in ("code", "updated_at", *_LIFE)}
    values["materials"] = [dict(m) for m in data.get("materials") or ()]
    values["fully_authorised"] = bool(data.get("fully_authorised", True))
    values["joint"] = bool(data.get("joint", False))
    values["public_results"] = bool(data.get("public_results", False))
    values["updated_at"] = at
    before = get_item(session, data["code"])
    if before is None:
        session.execute(insert(items).values(code=data["code"], **values))
    else:
        session.execute(update(items).where(items.c.code == data["code"]).values(**values))
    after = get_item(session, data["code"])
    if record is None:
        record = {"change": "initial", "effective_on": at.astimezone(clock.TZ).date(), "recorded_by": "seed"}
    elif before is not None and all(before[k] == after[k] for k in TRACKED):
        return after
    change = record.get("change") or ("added" if before is None else "changed")
    add_item_change(session, after, change, record, at,
                    previous=None if before is None else {k: before[k] for k in TRACKED})
    return after


def add_item_change(session: Session, item: dict, change: str, record: dict, at: datetime,
                    previous: dict | None = None) -> None:
    session.execute(insert(item_changes).values(
        item_code=item["code"], change=change, effective_on=record["effective_on"], document=record.get("document"),
        reason=record.get("reason"), merged_into=record.get("merged_into"), previous=previous,
        recorded_by=record["recorded_by"], recorded_at=at, **{k: item[k] for k in TRACKED}))


def end_item(session: Session, code: str, status: str, ended_on, merged_into: str | None, at: datetime) -> dict:
    """Mark an item retired or merged from `ended_on` on (its history entry is the caller's)."""
    session.execute(update(items).where(items.c.code == code).values(
        status=status, ended_on=ended_on, merged_into=merged_into, updated_at=at))
    return get_item(session, code)


def item_history(session: Session, code: str) -> list[dict]:
    q = select(item_changes).where(item_changes.c.item_code == code).order_by(item_changes.c.id)
    return [dict(r) for r in session.execute(q).mappings()]


def last_dated_change(session: Session, code: str):
    """The latest effective date among the item's changes after the initial entry (None: none)."""
    q = select(func.max(item_changes.c.effective_on)).where(item_changes.c.item_code == code,
                                                             item_changes.c.change != "initial")
    return session.execute(q).scalar()


def item_changes_page(session: Session, first, last, department: str | None, page: int, per_page: int
                      ) -> tuple[list[dict], int]:
    """The changes taking effect from `first` through `last` (dates), of one department or all, by date."""
    conds = [item_changes.c.effective_on >= first, item_changes.c.effective_on <= last]
    if department is not None:
        conds.append(item_changes.c.department == department)
    return paged(session, [item_changes], item_changes, conds, page, per_page,
                 item_changes.c.effective_on, item_changes.c.id)


def item_changes_through(session: Session, last) -> list[dict]:
    """Every change taking effect on or before `last` (and every initial entry), oldest first."""
    q = select(item_changes).where(or_(item_changes.c.effective_on <= last, item_changes.c.change == "initial"))
    return [dict(r) for r in session.execute(q.order_by(item_changes.c.effective_on, item_changes.c.id)).mappings()]


# -- applications -------------------------------------------------------------------------------------


def _load(row) -> dict:
    """A stored application as the domain reads it (the special procedures' moments as datetimes)."""
    out = dict(row)
    out["special_procedures"] = [
        {k: (datetime.fromisoformat(v).astimezone(clock.TZ) if k in _MOMENT_KEYS and v else v)
         for k, v in p.items()} for p in out.get("special_procedures") or ()]
    return out


def _dump(values: dict) -> dict:
    out = dict(values)
    if "special_procedures" in out:
        out["special_procedures"] = [jsonable(p) for p in out["special_procedures"] or ()]
    for key in ("materials", "missing"):
        if key in out:
            out[key] = list(out[key] or ())
    return out


_BY_ID = select(applications).where(applications.c.id == bindparam("aid"))
_BY_ID_LOCKED = {False: _BY_ID.with_for_update(), True: _BY_ID.with_for_update(skip_locked=True)}


def get(session: Session, application_id: int, *, lock: bool = False, skip_locked: bool = False) -> dict | None:
    """`skip_locked`: None when another transaction holds the application (the monitor then tries later)."""
    q = _BY_ID_LOCKED[skip_locked] if lock else _BY_ID
    row = session.execute(q, {"aid": application_id}).mappings().first()
    return _load(row) if row is not None else None


def calendar_pending(session: Session, open_states: tuple[str, ...], rule: str) -> list[int]:
    """Open applications whose clock, or a moment of the monitor, could not be computed for want of a calendar
    year: those with a clock error, and those with an unresolved alert of `rule` (calendar_unavailable)."""
    flagged = select(alerts.c.application_id).where(alerts.c.rule == rule, alerts.c.state != "resolved",
                                                    alerts.c.application_id.is_not(None))
    q = select(applications.c.id).where(applications.c.state.in_(open_states),
                                        or_(applications.c.clock_error.is_not(None), applications.c.id.in_(flagged)))
    return list(session.execute(q.order_by(applications.c.id)).scalars())


def unresolved_alerts(session: Session, application_id: int, rule: str | None = None) -> list[dict]:
    """An application's alerts not yet resolved (of `rule`; None: all of them), oldest first, locked."""
    q = select(alerts).where(alerts.c.application_id == application_id, alerts.c.state != "resolved")
    if rule is not None:
        q = q.where(alerts.c.rule == rule)
    return [dict(r) for r in session.execute(q.order_by(alerts.c.id).with_for_update()).mappings()]


def get_many(session: Session, ids: list[int]) -> dict[int, dict]:
    """Applications by id, locked for this transaction; those another transaction holds are skipped
    (absent from the answer), never waited for."""
    if not ids:
        return {}
    q = select(applications).where(applications.c.id.in_(ids)).with_for_update(skip_locked=True)
    return {r["id"]: _load(r) for r in session.execute(q).mappings()}


# Statements of the busy paths, built once: building a SQLAlchemy construct costs more than running it.
_BY_REF = select(applications).where(applications.c.external_ref == bindparam("ref"))
_INSERT_APPLICATION = insert(applications)
_SET_NUMBER = update(applications).where(applications.c.id == bindparam("aid")).values(
    application_no=bindparam("no"))
_INSERT_HISTORY = insert(history)


def find_by_ref(session: Session, external_ref: str) -> dict | None:
    row = session.execute(_BY_REF, {"ref": external_ref}).mappings().first()
    return _load(row) if row is not None else None


# what a new row holds in the columns an insert does not name (their defaults), so it need not be read back
_NEW_ROW = {c.name: (c.default.arg if c.default is not None and not callable(c.default.arg) else None)
            for c in applications.columns}
_NEW_ROW.update(materials=[], missing=[], special_procedures=[])
_MOMENT_COLUMNS = tuple(c.name for c in applications.columns if isinstance(c.type, Moment))


_BY_NUMBER = select(applications).where(applications.c.application_no == bindparam("no"))


def by_application_no(session: Session, application_no: str) -> dict | None:
    row = session.execute(_BY_NUMBER, {"no": application_no}).mappings().first()
    return _load(row) if row is not None else None


def insert_application(session: Session, values: dict) -> dict:
    """Insert a new application and give it its number; returns the row as `get` would read it."""
    dumped = _dump(values)
    new_id = session.execute(_INSERT_APPLICATION, dumped).inserted_primary_key[0]
    number = f"SP{values['received_at'].astimezone(clock.TZ):%Y%m%d}{new_id:06d}"
    session.execute(_SET_NUMBER, {"aid": new_id, "no": number})
    row = {**_NEW_ROW, **dumped, "id": new_id, "application_no": number}
    for name in _MOMENT_COLUMNS:  # as the database hands them back: in Asia/Shanghai
        if row[name] is not None:
            row[name] = row[name].astimezone(clock.TZ)
    return _load(row)


# one UPDATE statement per set of changed columns, built once (a window action changes the same few each time)
_UPDATES: dict[frozenset, Any] = {}


def update_application(session: Session, application_id: int, changes: dict) -> None:
    values = _dump(changes)
    key = frozenset(values)
    stmt = _UPDATES.get(key)
    if stmt is None:
        stmt = _UPDATES[key] = update(applications).where(applications.c.id == bindparam("_aid")).values(
            {name: bindparam(name, type_=applications.c[name].type) for name in values})
    session.execute(stmt, {**values, "_aid": application_id})


def list_applications(session: Session, *, department=None, state=None, ids=None, external_ref=None, page=1,
                      per_page=50):
    conds = []
    if external_ref is not None:
        conds.append(applications.c.external_ref == external_ref)
    if department is not None:
        conds.append(applications.c.department == department)
    if state is not None:
        conds.append(applications.c.state == state)
    if ids is not None:
        conds.append(applications.c.id.in_(ids))
    # green-channel applications first (priority in lists), then newest first
    rows, total = paged(session, [applications], applications, conds, page, per_page,
                        applications.c.green_channel.desc(), applications.c.id.desc())
    return [_load(r) for r in rows], total


def all_matching(session: Session, *, department=None, state=None, external_ref=None) -> list[dict]:
    conds = []
    if external_ref is not None:
        conds.append(applications.c.external_ref == external_ref)
    if department is not None:
        conds.append(applications.c.department == department)
    if state is not None:
        conds.append(applications.c.state == state)
    q = select(applications).order_by(applications.c.green_channel.desc(), applications.c.id.desc())
    if conds:
        q = q.where(and_(*conds))
    return [_load(r) for r in session.execute(q).mappings()]


# -- the window system's action references ---------------------------------------------------------------

_BY_ACTION_REF = select(action_refs).where(action_refs.c.ref == bindparam("ref"))


def find_action_ref(session: Session, ref: str) -> dict | None:
    row = session.execute(_BY_ACTION_REF, {"ref": ref}).mappings().first()
    return dict(row) if row is not None else None


def add_action_ref(session: Session, ref: str, application_id: int, action: str, request_hash: str, status: int,
                   response: Any, now: datetime) -> None:
    session.execute(insert(action_refs), {
        "ref": ref, "application_id": application_id, "action": action, "request_hash": request_hash,
        "status": status, "response": jsonable(response), "created_at": now})


def purge_action_refs(session: Session, before: datetime) -> int:
    """Forget the references stored before `before`: how many."""
    return session.execute(action_refs.delete().where(action_refs.c.created_at < before)).rowcount


def add_history(session: Session, application_id: int, at: datetime, recorded_at: datetime, actor, action: str,
                from_state: str | None, to_state: str | None, details: dict) -> None:
    session.execute(_INSERT_HISTORY, {
        "application_id": application_id, "at": at, "recorded_at": recorded_at, "actor": actor.name,
        "role": actor.role, "action": action, "from_state": from_state, "to_state": to_state,
        "details": jsonable(details)})


class ApplicationOutcomes:
    """How an application takes an outcome (the kernel's `OutcomeStore`, for `apply_outcome`): its columns, its
    history line, its alarms; and every event about it, the command's payload and the figures of the application
    as the outcome left it (`Application.event_figures`), routed to its department. `app`: the application
    before the outcome (its item, calendar and rules)."""

    state_column = "state"
    alarms = alarm_times

    def __init__(self, app: Application):
        self.app = app

    def update(self, session: Session, record_id: int, changes: dict[str, Any]) -> None:
        update_application(session, record_id, changes)

    def add_history(self, session: Session, record_id: int, *, at: datetime, now: datetime, actor, action: str,
                    from_state: str | None, to_state: str | None, details: dict[str, Any]) -> None:
        add_history(session, record_id, at, now, actor, action, from_state, to_state, details)

    def event(self, session, new_row: dict[str, Any], event: Event,
              at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        app = self.app
        new = Application(new_row, app.item, app.calendar, app.rules, app.now)
        return {**event.payload, **new.event_figures(at)}, {"department": new_row["department"]}


def history_of(session: Session, application_id: int) -> list[dict]:
    rows = session.execute(select(history).where(history.c.application_id == application_id).order_by(history.c.id))
    return [dict(r) for r in rows.mappings()]


# -- alarms -------------------------------------------------------------------------------------------


def schedule(session: Session, application_id: int, moments: list[tuple[str, datetime]]) -> None:
    """Replace the unfired alarms of an application with these moments (past ones fire at the next tick)."""
    alarm_times.schedule(session, application_id, moments)


def schedule_new(session: Session, application_id: int, moments: list[tuple[str, datetime]]) -> None:
    """The first alarms of a new application (it has none to replace)."""
    alarm_times.add(session, [(application_id, kind, at) for kind, at in moments])


_ANY_DUE_ALARM = select(alarms.c.id).where(alarms.c.fired_at.is_(None), alarms.c.cancelled.is_(False),
                                           alarms.c.fire_at <= bindparam("now", type_=Moment())).limit(1)


def alarm_due(session: Session, now: datetime) -> bool:
    """Whether any alarm is due: asked in a reader first, so that an idle tick never takes SQLite's write lock
    (which every window action needs)."""
    return session.execute(_ANY_DUE_ALARM, {"now": now}).first() is not None


def claim_due_alarms(session: Session, now: datetime, limit: int) -> list[dict]:
    """Alarms whose moment has come, claimed for this transaction (other instances skip them) and marked
    fired in it; each with `alarm_id`, `application_id`, `kind`, `fire_at`. Their applications are locked in the
    same statement, and alarms of an application a window action holds are skipped (the next tick takes them):
    an action locks its application, then its alarms; a monitor holding an alarm and then touching the application
    (giving a busy one's alarms back re-checks their foreign key) deadlocked with it on PostgreSQL."""
    return alarm_times.claim(session, now, limit, (applications.c.id.label("locked_application"),))


def unclaim(session: Session, alarm_ids: list[int]) -> None:
    """Give claimed alarms back, unfired (their application was busy): the next tick takes them."""
    alarm_times.unclaim(session, alarm_ids)


# -- alerts -------------------------------------------------------------------------------------------


# The same SQL on SQLite (3.35+) and PostgreSQL, as text: SQLAlchemy does not cache the compilation of its
# dialect-specific ON CONFLICT inserts, which cost a compilation per alert.
_RAISE_ALERT = text(
    "INSERT INTO alerts (subject, subject_ref, application_id, project_code, joint_id, department, level, rule, "
    "raised_at, details, state) VALUES (:subject, :subject_ref, :application_id, :project_code, :joint_id, "
    ":department, :level, :rule, :raised_at, :details, 'open') "
    "ON CONFLICT (subject, subject_ref, rule) DO NOTHING RETURNING id"
).bindparams(bindparam("raised_at", type_=Moment()), bindparam("details", type_=JSON()))


def raise_alert(session: Session, application_id: int, department: str, level: str, rule: str, at: datetime,
                details: dict) -> int | None:
    """Store an application's alert unless it has one for this rule already: its id, or None when it had."""
    return raise_subject_alert(session, "application", str(application_id), application_id=application_id,
                               department=department, level=level, rule=rule, at=at, details=details)


def raise_subject_alert(session: Session, subject: str, subject_ref: str, *, department: str | None, level: str,
                        rule: str, at: datetime, details: dict, application_id: int | None = None,
                        project_code: str | None = None, joint_id: int | None = None) -> int | None:
    """Store an alert unless (subject, subject_ref, rule) has one already: its id, or None when it had. A
    department's yellow or red card or irregularity is due for rectification (整改): its row goes in with it."""
    alert_id = session.execute(_RAISE_ALERT, {
        "subject": subject, "subject_ref": subject_ref, "application_id": application_id,
        "project_code": project_code, "joint_id": joint_id, "department": department, "level": level,
        "rule": rule, "raised_at": at, "details": jsonable(details)}).scalar_one_or_none()
    if alert_id is not None:
        _rectifications.expect(session, alert_id, department, level, at)
    return alert_id


def get_alert(session: Session, alert_id: int, *, lock: bool = False) -> dict | None:
    q = select(alerts).where(alerts.c.id == alert_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).mappings().first()
    return dict(row) if row is not None else None


def list_alerts(session: Session, *, page=1, per_page=50, **filters):
    """Alerts newest first; `filters`: column=value (None: any), e.g. application_id, department, subject."""
    conds = [alerts.c[name] == value for name, value in filters.items() if value is not None]
    return paged(session, [alerts], alerts, conds, page, per_page, alerts.c.id.desc())


def update_alert(session: Session, alert_id: int, **values) -> dict:
    session.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))
    return get_alert(session, alert_id)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value


def calendar_waiting(session: Session) -> list[tuple[str | None, int]]:
    """Open applications waiting for a calendar year (as `calendar_pending`: a clock error, or an unresolved
    calendar_unavailable alert), counted by their clock error (which names the year; None for an alert alone):
    what `/health` and `calendar.waiting` report (wired into the Platform in service.py)."""
    from .domain import CALENDAR_UNAVAILABLE, OPEN

    flagged = select(alerts.c.application_id).where(alerts.c.rule == CALENDAR_UNAVAILABLE,
                                                    alerts.c.state != "resolved", alerts.c.application_id.is_not(None))
    q = (select(applications.c.clock_error, func.count())
         .where(applications.c.state.in_(OPEN),
                or_(applications.c.clock_error.is_not(None), applications.c.id.in_(flagged)))
         .group_by(applications.c.clock_error))
    return [(error, count) for error, count in session.execute(q)]


# the rectifications' table is on our metadata, and every raised alert may need its row: imported last, since that
# module builds on this one
from .rectification import store as _rectifications  # noqa: E402
