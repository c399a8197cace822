"""Tables of the appeals service and the queries on them."""

import time
from datetime import datetime

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
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.alarms import Alarms
from services.kernel.db import Moment, kernel_tables
from services.kernel.direct import Direct
from services.kernel.domain import Actor
from services.kernel.outcome import Event

from .domain import ALARM_ESCALATION, ALARM_WAIT_ESCALATION, CLOCKED, OPEN, WAITING

metadata = MetaData()
kernel_tables(metadata)

appeals = Table(
    "appeals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_no", String(32), unique=True),
    Column("channel", String(32), nullable=False),
    Column("external_ref", String(128)),
    Column("type", String(32), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("category", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("appellant_name", String(100)),
    Column("appellant_phone", String(32)),
    Column("anonymous", Boolean, nullable=False, default=False),
    Column("address", String(300)),
    Column("town_street", String(64)),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("attachments", JSON, nullable=False, default=list),
    Column("department", String(64)),
    # efficiency complaints: the department complained about (the case itself goes to the discipline office)
    Column("subject_department", String(64)),
    Column("status", String(32), nullable=False),
    Column("received_at", Moment(), nullable=False),
    Column("created_at", Moment(), nullable=False),
    Column("updated_at", Moment(), nullable=False),
    Column("dispatched_at", Moment()),
    Column("accepted_at", Moment()),
    Column("replied_at", Moment()),
    Column("closed_at", Moment()),
    # the deadline clock: started at dispatch, limit in working days (extensions included)
    Column("clock_started_at", Moment()),
    Column("limit_days", Integer),
    Column("due_at", Moment()),
    Column("clock_error", String(300)),
    Column("extension_used", Boolean, nullable=False, default=False),
    Column("extension_days", Integer),
    Column("extension_reason", Text),
    Column("reply", Text),
    Column("return_reason", Text),
    Column("return_count", Integer, nullable=False, default=0),
    Column("reopen_count", Integer, nullable=False, default=0),
    Column("repeat_count", Integer, nullable=False, default=0),
    Column("duplicate_of", Integer, ForeignKey("appeals.id")),
    Column("satisfaction", String(32)),
    Column("resolved", Boolean),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("urged_at", Moment()),
    Column("escalated_at", Moment()),
    Column("supervised_until", Date),
    Column("exposed", Boolean, nullable=False, default=False),
    Column("finding", String(16)),
    Column("finding_reasons", Text),
    Column("finding_person", String(100)),
    Column("reward", Boolean),
    Column("open311_token", String(40), unique=True),
    # shown by the Open311 facade (domain.is_public decides at intake); the exact address only if the citizen
    # agreed; public_id is what the facade shows instead of the case number, which counts up and can be walked
    Column("public", Boolean, nullable=False, default=False, server_default=false()),
    Column("public_address", Boolean, nullable=False, default=False, server_default=false()),
    Column("public_id", String(32)),
    # the department whose return waits for review, or was reviewed last (退单审核)
    Column("returned_by", String(64)),
    # the hotline centre's clock in a waiting status (domain.WAITING: return review, dispatch, call-back): when
    # the wait began and its due time (NULL while the calendar lacks the year)
    Column("waiting_since", Moment()),
    Column("wait_due_at", Moment()),
    # the department did not sign for the case within the acceptance limit of its latest dispatch
    Column("acceptance_overdue", Boolean, nullable=False, default=False, server_default=false()),
    # the operator's desk (#14): answered and closed on the call (直接办结); ended as invalid or withdrawn (the
    # status says which) with the kind of invalid call and the reason
    Column("closed_on_call", Boolean, nullable=False, default=False, server_default=false()),
    Column("invalid_kind", String(16)),
    Column("void_reason", Text),
    # merge and split (#14): the main case this one was merged into; the case this one was split off
    Column("merged_into", Integer),
    Column("split_from", Integer),
    UniqueConstraint("channel", "external_ref", name="uq_appeals_channel_ref"),
)
Index("ix_appeals_public_id", appeals.c.public_id, unique=True)
Index("ix_appeals_department_status", appeals.c.department, appeals.c.status)
Index("ix_appeals_split_from", appeals.c.split_from)
Index("ix_appeals_dup", appeals.c.appellant_phone, appeals.c.category, appeals.c.town_street,
      appeals.c.received_at)
# received_at alone: ix_appeals_caller (received_at, appellant_phone) serves it (migration 0002)

history = Table(
    "appeal_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appeal_id", Integer, ForeignKey("appeals.id"), nullable=False, index=True),
    Column("at", Moment(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(40), nullable=False),
    Column("from_status", String(32)),
    Column("to_status", String(32)),
    Column("details", JSON, nullable=False, default=dict),
)

# assisting departments (协办) of the case's current dispatch: each signs for its part and gives it; a re-dispatch
# replaces them (the history keeps what was)
assists = Table(
    "appeal_assists", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appeal_id", Integer, ForeignKey("appeals.id"), nullable=False, index=True),
    Column("department", String(64), nullable=False),
    Column("requested_at", Moment(), nullable=False),
    Column("accepted_at", Moment()),
    Column("replied_at", Moment()),
    Column("part", Text),
    UniqueConstraint("appeal_id", "department", name="uq_appeal_assists"),
)
# an assisting department's cases
Index("ix_appeal_assists_department", assists.c.department, assists.c.appeal_id)

dispatch_rules = Table(
    "dispatch_rules", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("category", String(64), nullable=False),
    # empty string: every town-street (NULL would defeat the unique constraint)
    Column("town_street", String(64), nullable=False, default=""),
    Column("department", String(64), nullable=False),
    Column("category_name", String(100), nullable=False),
    Column("description", Text),
    Column("updated_at", Moment(), nullable=False),
    UniqueConstraint("category", "town_street", name="uq_dispatch_rule"),
)

# Deadline alarms: one row per (appeal, kind), fired once by the monitor and cancelled when moot.
alarm_times = Alarms(metadata, appeals, "appeal_id")
alarms = alarm_times.table

# supervision orders (督办): their table and queries are in supervision/store.py


# -- queries and writes -----------------------------------------------------------------------------


def get(session: Session, appeal_id: int, *, lock: bool = False, skip_locked: bool = False) -> dict | None:
    q = select(appeals).where(appeals.c.id == appeal_id)
    if lock:
        q = q.with_for_update(skip_locked=skip_locked)
    row = session.execute(q).mappings().first()
    return dict(row) if row is not None else None


# Statements of the intake, built once: building a SQLAlchemy construct costs more than running it, and
# run Direct (services/kernel/direct.py): SQLAlchemy's execution costs more than SQLite's.
_BY_REF = Direct(select(appeals.c.id).where(appeals.c.channel == bindparam("channel"),
                                            appeals.c.external_ref == bindparam("ref")))
_INSERT_CASE = Direct(insert(appeals))
_INSERT_NUMBERED_CASE = Direct(insert(appeals), with_key=True)
_LAST_ID = Direct(select(func.max(appeals.c.id)))
_SET_CASE_NO = Direct(update(appeals).where(appeals.c.id == bindparam("aid")).values(case_no=bindparam("no")))
_INSERT_HISTORY = Direct(insert(history))
_DEFAULTS = {c.name: (c.default.arg if c.default is not None and not callable(c.default.arg) else None)
             for c in appeals.columns}


def blank_row(**values) -> dict:
    """A case as a dict of every column, with the table's defaults; the intake fills and inserts it."""
    row = dict(_DEFAULTS, attachments=[])
    row.update(values)
    return row


def insert_case(session: Session, row: dict, number) -> None:
    """Insert a new case and give it its number (`number(id, received_at)`), in place in `row`."""
    if _dialect(session) == "sqlite":
        # BEGIN IMMEDIATE holds the database's write lock: the next id is ours, and the case goes in numbered
        row["id"] = (_LAST_ID.first(session, {})[0] or 0) + 1
        row["case_no"] = number(row["id"], row["received_at"])
        _INSERT_NUMBERED_CASE.run(session, row)
        return
    row["id"] = _INSERT_CASE.run(session, {k: v for k, v in row.items() if k not in ("id", "case_no")})
    row["case_no"] = number(row["id"], row["received_at"])
    _SET_CASE_NO.run(session, {"aid": row["id"], "no": row["case_no"]})


def _dialect(session) -> str:
    return (session.dialect if hasattr(session, "dialect") else session.get_bind().dialect).name


def history_row(appeal_id: int, at: datetime, actor: Actor, action: str, from_status, to_status,
                details: dict) -> dict:
    return {"appeal_id": appeal_id, "at": at, "actor": actor.name, "role": actor.role, "action": action,
            "from_status": from_status, "to_status": to_status, "details": _jsonable(details)}


def find_by_ref(session: Session, channel: str, external_ref: str) -> dict | None:
    found = _BY_REF.first(session, {"channel": channel, "ref": external_ref})
    return get(session, found[0]) if found is not None else None


def case_no_of(session: Session, appeal_id: int | None) -> str | None:
    if appeal_id is None:
        return None
    return session.execute(select(appeals.c.case_no).where(appeals.c.id == appeal_id)).scalar_one_or_none()


def _open_duplicate_query(with_town: bool):
    town = appeals.c.town_street == bindparam("town") if with_town else appeals.c.town_street.is_(None)
    return Direct(
        select(appeals.c.id).where(appeals.c.appellant_phone == bindparam("phone"),
                                   appeals.c.category == bindparam("category"), town,
                                   appeals.c.received_at >= bindparam("since"),
                                   # constants in the SQL: an IN of bound values is re-rendered on every execution
                                   appeals.c.status.in_([literal_column(f"'{status}'") for status in OPEN]))
        .order_by(appeals.c.received_at.desc()).limit(1))


_OPEN_DUPLICATE = {True: _open_duplicate_query(True), False: _open_duplicate_query(False)}


def find_open_duplicate(session: Session, phone: str, category: str, town_street: str | None,
                        since: datetime) -> dict | None:
    """The open case this call repeats: same phone, category and town-street, received since `since`."""
    params = {"phone": phone, "category": category, "since": since}
    if town_street is not None:
        params["town"] = town_street
    found = _OPEN_DUPLICATE[town_street is not None].first(session, params)
    return get(session, found[0]) if found is not None else None


# a category's name in the catalogue: the town-street's own rule first, else the general one ('' sorts last)
_CATEGORY_NAME = Direct(select(dispatch_rules.c.category_name).where(
    dispatch_rules.c.category == bindparam("category"),
    dispatch_rules.c.town_street.in_([bindparam("town"), ""])).order_by(dispatch_rules.c.town_street.desc()).limit(1))


def category_name(session: Session, category: str | None, town_street: str | None = None) -> str | None:
    """The catalogue's Chinese name of `category` (道路设施), None for a category it does not hold (any more)."""
    if category is None:
        return None
    found = _CATEGORY_NAME.first(session, {"category": category, "town": town_street or ""})
    return found[0] if found is not None else None


def case_payload(session: Session, row: dict) -> dict:
    """The fields every appeal event carries (contracts `_Case`), the category with its name."""
    return {"appeal_id": str(row["id"]), "case_no": row["case_no"], "department": row["department"],
            "type": row["type"], "urgency": row["urgency"], "category": row["category"],
            "category_name": category_name(session, row["category"], row.get("town_street")),
            "due_at": row["due_at"]}


def add_history(session: Session, appeal_id: int, at: datetime, actor: Actor, action: str,
                from_status: str | None, to_status: str | None, details: dict) -> None:
    session.execute(history.insert().values(
        appeal_id=appeal_id, at=at, actor=actor.name, role=actor.role, action=action,
        from_status=from_status, to_status=to_status, details=details))


class AppealOutcomes:
    """How an appeal takes a command's `Outcome` (services/kernel/outcome.py `apply_outcome`): its row, its
    history, its alarms, and the figures every appeal event carries."""

    alarms = alarm_times
    state_column = "status"

    def update(self, session: Session, record_id: int, changes: dict) -> None:
        session.execute(update(appeals).where(appeals.c.id == record_id).values(**changes))

    def add_history(self, session: Session, record_id: int, *, at: datetime, now: datetime, actor: Actor,
                    action: str, from_state: str | None, to_state: str | None, details: dict) -> None:
        # the appeal's history has no column for `now`: a line says when it happened
        add_history(session, record_id, at, actor, action, from_state, to_state, _jsonable(details))

    def event(self, session: Session, new_row: dict, event: Event, at: datetime) -> tuple[dict, dict]:
        if event.type.startswith("efficiency_warning"):
            # a warning is about the unit complained about, not the case's department or its clock
            base = {"appeal_id": str(new_row["id"]), "case_no": new_row["case_no"]}
        else:
            base = case_payload(session, new_row)
        department = new_row["department"]
        if "department" in event.payload and event.payload["department"] is None:
            department = None  # the hotline centre's (its waits): no department's
        return {**base, **event.payload}, {"department": department, "occurred_at": at}


OUTCOMES = AppealOutcomes()


def _jsonable(details: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in details.items()}


def list_appeals(session: Session, *, page=1, per_page=50, sort=None, **filters):
    """A page of appeals matching the search filters (schemas.SearchFilters) and how many match. The search and
    its index live with the operator's desk (desk/store.py, which imports this module: imported here)."""
    from .desk import domain as desk_domain
    from .desk import store as desk_store

    if isinstance(filters.get("status"), str):
        filters["status"] = (filters["status"],)
    filters["terms"] = desk_domain.keyword_terms(filters.get("keyword"))
    return desk_store.search(session, filters, sort=sort, limit=per_page, offset=(page - 1) * per_page)


_ASSIST_OUT = ("department", "requested_at", "accepted_at", "replied_at", "part")


def assists_of(session: Session, appeal_id: int) -> list[dict]:
    """The assisting departments of the case, in the order named."""
    rows = session.execute(select(assists).where(assists.c.appeal_id == appeal_id).order_by(assists.c.id))
    return [{k: r[k] for k in _ASSIST_OUT} for r in rows.mappings()]


def replace_assists(session: Session, appeal_id: int, departments, at: datetime) -> None:
    session.execute(assists.delete().where(assists.c.appeal_id == appeal_id))
    if departments:
        session.execute(insert(assists), [{"appeal_id": appeal_id, "department": d, "requested_at": at}
                                          for d in departments])


def update_assist(session: Session, appeal_id: int, department: str, changes: dict) -> None:
    session.execute(update(assists).where(assists.c.appeal_id == appeal_id, assists.c.department == department)
                    .values(**changes))


def parts_of(session: Session, appeal_id: int) -> list[dict]:
    """The cases split off `appeal_id`, in the order they were made."""
    rows = session.execute(select(appeals).where(appeals.c.split_from == appeal_id).order_by(appeals.c.id))
    return [dict(r) for r in rows.mappings()]


def last_step_at(session: Session, row: dict) -> datetime:
    """When the case's latest step by a person or a system of record happened (the monitor's own lines do
    not count: a late report must be able to tell what happened before an alarm fired)."""
    latest = session.execute(select(func.max(history.c.at)).where(
        history.c.appeal_id == row["id"], history.c.role != "system")).scalar_one_or_none()
    return max(latest or row["received_at"], row["received_at"])


def history_of(session: Session, appeal_id: int) -> list[dict]:
    rows = session.execute(select(history).where(history.c.appeal_id == appeal_id).order_by(history.c.id))
    return [dict(r) for r in rows.mappings()]


_ALARM_CASE_COLUMNS = (appeals.c.id, appeals.c.case_no, appeals.c.department, appeals.c.type, appeals.c.urgency,
                       appeals.c.category, appeals.c.due_at, appeals.c.status, appeals.c.overdue, appeals.c.urged_at,
                       appeals.c.clock_started_at, appeals.c.limit_days, appeals.c.dispatched_at,
                       appeals.c.acceptance_overdue, appeals.c.waiting_since, appeals.c.wait_due_at,
                       appeals.c.returned_by)


def claim_due_alarms(session: Session, now: datetime, limit: int) -> list[tuple[dict, dict]]:
    """Alarms whose moment has come with their cases (read in the same query), claimed and marked fired."""
    rows = alarm_times.claim(session, now, limit, _ALARM_CASE_COLUMNS)
    return [({"id": r["alarm_id"], "kind": r["kind"], "fire_at": r["fire_at"]},
             {c.name: r[c.name] for c in _ALARM_CASE_COLUMNS}) for r in rows]


def pending_alarms(session: Session, appeal_id: int) -> list[tuple[int, str]]:
    """(id, kind) of a case's alarms that have neither fired nor been cancelled, locked. The caller holds the
    case: a monitor's claim running now skipped its alarms (`Alarms.claim` skips records a command holds) but
    may keep one locked to its commit, so this waits for it instead of skipping (the alarm is still due
    then, and the caller's to fire)."""
    t = alarms
    q = (select(t.c.id, t.c.kind).where(t.c.appeal_id == appeal_id, t.c.fired_at.is_(None), t.c.cancelled.is_(False))
         .with_for_update())
    return [(r.id, r.kind) for r in session.execute(q)]


def mark_alarms_fired(session: Session, alarm_ids: list[int], at: datetime) -> None:
    if alarm_ids:
        session.execute(update(alarms).where(alarms.c.id.in_(alarm_ids)).values(fired_at=at))


def cancel_alarms_of(session: Session, appeal_ids: list[int]) -> None:
    """Cancel the unfired alarms of these cases, in one statement."""
    if appeal_ids:
        session.execute(update(alarms).where(alarms.c.appeal_id.in_(appeal_ids), alarms.c.fired_at.is_(None),
                                             alarms.c.cancelled.is_(False)).values(cancelled=True))


def add_alarms(session: Session, entries) -> None:
    """Alarms of new cases or later stages, each (appeal id, kind, moment)."""
    alarm_times.add(session, entries)


def add_history_many(session: Session, rows: list[dict]) -> None:
    _INSERT_HISTORY.run_many(session, rows)


class Catalogue:
    """The dispatch rules as the intake needs them: category [+ town-street] → department."""

    def __init__(self, rules: list[dict]):
        self._departments = {(r["category"], r["town_street"] or ""): r["department"] for r in rules}
        self._categories = {r["category"] for r in rules}
        self._sent_to = {(r["category"], r["department"]) for r in rules}
        self._names = {(r["category"], r["town_street"] or ""): r["category_name"] for r in rules}

    def name_of(self, category: str | None, town_street: str | None = None) -> str | None:
        """The category's Chinese name (the town-street's rule's, else the general one's); None: not catalogued."""
        return self._names.get((category, town_street or "")) or self._names.get((category, ""))

    def knows(self, category: str) -> bool:
        return category in self._categories

    def goes_to(self, category: str, department: str) -> bool:
        """Whether some rule of `category` sends it to `department` (the discipline office's categories)."""
        return (category, department) in self._sent_to

    def department_for(self, category: str, town_street: str | None) -> str | None:
        """The most specific rule: category + town-street, else the category's general rule."""
        return (self._departments.get((category, town_street or ""))
                or self._departments.get((category, "")))


class CatalogueCache:
    """The catalogue read once and kept for `ttl` seconds (edits in this process take effect at once;
    edits through another instance of the service within `ttl`)."""

    def __init__(self, ttl: float = 5.0):
        self.ttl = ttl
        self._catalogue: Catalogue | None = None
        self._loaded_at = 0.0

    def current(self, session: Session) -> Catalogue:
        if self._catalogue is None or time.monotonic() - self._loaded_at > self.ttl:
            rows = session.execute(select(dispatch_rules)).mappings().all()
            self._catalogue = Catalogue([dict(r) for r in rows])
            self._loaded_at = time.monotonic()
        return self._catalogue

    def invalidate(self) -> None:
        self._catalogue = None


def confidential_categories(session: Session, discipline_office: str) -> set[str]:
    """Categories the catalogue sends to the discipline office (any rule, general or a town-street's): their
    cases name officials and are never public."""
    q = select(dispatch_rules.c.category).where(dispatch_rules.c.department == discipline_office).distinct()
    return set(session.execute(q).scalars())


def list_rules(session: Session) -> list[dict]:
    rows = session.execute(select(dispatch_rules).order_by(dispatch_rules.c.category, dispatch_rules.c.town_street))
    return [_rule_out(dict(r)) for r in rows.mappings()]


def _rule_out(rule: dict) -> dict:
    return {**rule, "town_street": rule["town_street"] or None}


def upsert_rule(session: Session, data: dict, at: datetime) -> dict:
    town = data.get("town_street") or ""
    existing = session.execute(select(dispatch_rules.c.id).where(
        dispatch_rules.c.category == data["category"], dispatch_rules.c.town_street == town)).scalar_one_or_none()
    values = dict(department=data["department"], category_name=data["category_name"],
                  description=data.get("description"), updated_at=at)
    if existing is None:
        rule_id = session.execute(dispatch_rules.insert().values(
            category=data["category"], town_street=town, **values)).inserted_primary_key[0]
    else:
        rule_id = existing
        session.execute(update(dispatch_rules).where(dispatch_rules.c.id == existing).values(**values))
    row = session.execute(select(dispatch_rules).where(dispatch_rules.c.id == rule_id)).mappings().one()
    return _rule_out(dict(row))


def delete_rule(session: Session, rule_id: int) -> bool:
    return session.execute(dispatch_rules.delete().where(dispatch_rules.c.id == rule_id)).rowcount > 0


def calendar_pending(session: Session) -> list[int]:
    """Cases that wait for a calendar year: a running clock without a due time (its limit runs into a year
    with no schedule), an urged case without an escalation alarm (its moment did), a hotline centre's wait
    without a due time, or one whose escalation alarm is missing (fired or not)."""
    escalation = select(alarms.c.appeal_id).where(alarms.c.kind == ALARM_ESCALATION, alarms.c.fired_at.is_(None),
                                                  alarms.c.cancelled.is_(False))
    wait_escalation = select(alarms.c.id).where(
        alarms.c.appeal_id == appeals.c.id, alarms.c.kind == ALARM_WAIT_ESCALATION, alarms.c.cancelled.is_(False),
        alarms.c.fire_at >= appeals.c.waiting_since).exists()
    q = select(appeals.c.id).where(or_(
        and_(appeals.c.status.in_(CLOCKED), or_(
            appeals.c.clock_error.is_not(None),
            and_(appeals.c.overdue.is_(True), appeals.c.urged_at.is_not(None), appeals.c.escalated_at.is_(None),
                 appeals.c.id.not_in(escalation)))),
        and_(appeals.c.status.in_(WAITING), appeals.c.waiting_since.is_not(None),
             or_(appeals.c.wait_due_at.is_(None), ~wait_escalation))))
    return list(session.execute(q.order_by(appeals.c.id)).scalars())


def is_clocked(row: dict) -> bool:
    return row["status"] in CLOCKED


def alarms_since(session: Session, appeal_id: int, kind: str, since: datetime) -> bool:
    """Whether the case has an alarm of `kind` (fired or not, not cancelled) for a moment from `since` on."""
    q = select(alarms.c.id).where(alarms.c.appeal_id == appeal_id, alarms.c.kind == kind,
                                  alarms.c.cancelled.is_(False), alarms.c.fire_at >= since).limit(1)
    return session.execute(q).first() is not None


# The hot-issue report (reports/store.py) counts on these, not on the table: it walks category × town-street cells
# and aggregates each over a range of received_at (bench/hot_issues.py: 1,000,000 appeals).
Index("ix_appeals_report", appeals.c.category, appeals.c.town_street, appeals.c.received_at, appeals.c.status,
      appeals.c.overdue, appeals.c.address)
Index("ix_appeals_caller", appeals.c.received_at, appeals.c.appellant_phone)


def calendar_waiting(session: Session) -> list[tuple[str | None, int]]:
    """Open cases without a due time for want of a calendar year, counted by their clock error (which names the
    year): what `/health` and `calendar.waiting` report (wired into the Platform in service.py)."""
    q = (select(appeals.c.clock_error, func.count()).where(appeals.c.status.in_(CLOCKED),
                                                          appeals.c.clock_error.is_not(None))
         .group_by(appeals.c.clock_error))
    # a hotline centre's wait (review, dispatch, call-back) without its due time: no error column names the
    # year, which is then the one after the last known
    hotline = select(func.count()).where(appeals.c.status.in_(WAITING), appeals.c.waiting_since.is_not(None),
                                         appeals.c.wait_due_at.is_(None))
    return [(error, count) for error, count in session.execute(q)] + [(None, session.execute(hotline).scalar_one())]
