"""The console's tables (in notify's database) and their queries: alerts as the console keeps them, the feed of
lines the open pages show, the single-use stream tokens, and the services' counts of records waiting for a
calendar year."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from services.kernel.db import Moment

from ..messages import department_label
from ..store import metadata
from .domain import (
    LEVELS,
    PREFIXED,
    SUBJECTS,
    alert_view,
    changes_of,
    light,
    rectification_changes,
    rectification_view,
    subject_of,
)

console_alerts = Table(
    "console_alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(16), nullable=False),
    Column("alert_id", String(80), nullable=False),  # the owner's id of the alert
    Column("kind", String(100), nullable=False),  # the event type that raised it
    Column("level", String(16), nullable=False),
    Column("department", String(64)),
    Column("ref_no", String(100)),  # application no. or case no.
    Column("ref_id", String(64)),  # application id or appeal id
    Column("rule", String(300)),
    Column("title_zh", String(500), nullable=False),
    Column("state", String(16), nullable=False),
    Column("raised_at", Moment(), nullable=False),
    Column("updated_at", Moment(), nullable=False),
    Column("acknowledged_by", String(100)),
    Column("resolved_by", String(100)),
    Column("note", Text),
    # a command sent to the owner and not yet answered by its event
    Column("pending_action", String(16)),
    UniqueConstraint("owner", "alert_id", name="uq_console_alerts_owner_alert"),
)
Index("ix_console_alerts_state_department", console_alerts.c.state, console_alerts.c.department)

console_feed = Table(
    "console_feed", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("console_alert_id", Integer, nullable=False),
    Column("text_zh", String(1000), nullable=False),
    Column("occurred_at", Moment(), nullable=False),
)

# the latest `calendar.waiting` of each service node (service, its DEPARTMENT or ""): newer `at` wins
console_calendar = Table(
    "console_calendar", metadata,
    Column("service", String(16), primary_key=True),
    Column("department", String(64), primary_key=True),
    Column("waiting", Integer, nullable=False),
    Column("missing_years", String(200), nullable=False),  # "2027" or "2027,2028"
    Column("reported_at", Moment(), nullable=False),  # the event's `at`
    Column("updated_at", Moment(), nullable=False),
)

# per alert of approvals: its rectification as its events told it (one row per owner and alert)
console_rectifications = Table(
    "console_rectifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(16), nullable=False),
    Column("alert_id", String(80), nullable=False),
    Column("rectification_id", String(80), nullable=False),
    Column("department", String(64), nullable=False),
    Column("level", String(16), nullable=False),
    Column("ref_no", String(100)),
    Column("rule", String(300)),
    Column("state", String(16), nullable=False),
    # how far the events went: (round, step) — step 0 overdue without a report, 1 submitted, 2 reviewed
    Column("round", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("due_at", Moment()),
    Column("submitted_by", String(100)),
    Column("submitted_at", Moment()),
    Column("attachments_count", Integer),
    Column("reviewed_by", String(100)),
    Column("review_note", Text),
    # a decision sent to the owner and not yet answered by its event
    Column("pending_decision", String(16)),
    Column("updated_at", Moment(), nullable=False),
    UniqueConstraint("owner", "alert_id", name="uq_console_rectifications_owner_alert"),
)
Index("ix_console_rectifications_state", console_rectifications.c.state, console_rectifications.c.department)

console_stream_tokens = Table(
    "console_stream_tokens", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("key_id", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("expires_at", Moment(), nullable=False),
)


# -- alerts and the feed ---------------------------------------------------------------------------------------


def _fit(values: dict) -> dict:
    """Texts cut to their columns (PostgreSQL refuses what does not fit; a long summary is no reason to fail)."""
    out = {}
    for key, value in values.items():
        length = getattr(console_alerts.c[key].type, "length", None)
        out[key] = value[:length] if isinstance(value, str) and length else value
    return out


def upsert_alert(session, owner: str, alert_id: str, values: dict, state: str, now) -> int:
    """Insert the alert, or bring it forward (`domain.changes_of`); its console id."""
    values = _fit(values)
    row = session.execute(select(console_alerts).where(
        console_alerts.c.owner == owner, console_alerts.c.alert_id == alert_id)).mappings().first()
    if row is None:
        return session.execute(insert(console_alerts).values(
            owner=owner, alert_id=alert_id, state=state, updated_at=now, **values)).inserted_primary_key[0]
    changes = {"updated_at": now, **changes_of(row, values, state)}
    session.execute(update(console_alerts).where(console_alerts.c.id == row["id"]).values(**changes))
    return row["id"]


def resolve_appeal_alerts(session, appeal_id: str, now, rules: tuple[str, ...] | None = None) -> list[int]:
    """Resolve the console alerts of an appeal not resolved yet (only those of `rules`, if given); their ids."""
    q = select(console_alerts.c.id).where(console_alerts.c.owner == "appeals", console_alerts.c.ref_id == appeal_id,
                                          console_alerts.c.state != "resolved")
    if rules is not None:
        q = q.where(console_alerts.c.rule.in_(rules))
    ids = session.execute(q).scalars().all()
    if ids:
        session.execute(update(console_alerts).where(console_alerts.c.id.in_(ids)).values(
            state="resolved", updated_at=now, pending_action=None))
    return ids


def add_feed_line(session, event, item: int, text: str) -> int:
    return session.execute(insert(console_feed).values(
        event_id=event.event_id, event_type=event.event_type, console_alert_id=item, text_zh=text[:1000],
        occurred_at=event.occurred_at)).inserted_primary_key[0]


def alert_for_update(session, item_id: int) -> dict | None:
    row = session.execute(select(console_alerts).where(console_alerts.c.id == item_id)
                          .with_for_update()).mappings().first()
    return None if row is None else dict(row)


def mark_pending(session, item_id: int, action: str, now) -> None:
    session.execute(update(console_alerts).where(console_alerts.c.id == item_id).values(
        pending_action=action, updated_at=now))


def subject_condition(subject: str):
    """The alerts about `subject` (domain.subject_of, in SQL): by owner and the `ref_id` prefix of projects, joint
    cases, inspections and penalties."""
    c = console_alerts.c
    if subject == "appeal":
        return c.owner == "appeals"
    if subject in PREFIXED:
        return and_(c.owner == "approvals", c.ref_id.like(f"{subject}:%"))
    return and_(c.owner == "approvals", or_(c.ref_id.is_(None), and_(
        *(c.ref_id.not_like(f"{prefix}:%") for prefix in PREFIXED))))


def list_alerts(session, *, department=None, level=None, subject=None, state="active", limit=200,
                names: dict[str, str] | None = None) -> list[dict]:
    q = select(console_alerts).order_by(console_alerts.c.raised_at.desc(), console_alerts.c.id.desc())
    if department is not None:
        q = q.where(console_alerts.c.department == department)
    if subject is not None:
        q = q.where(subject_condition(subject))
    if level is not None:
        q = q.where(console_alerts.c.level == level)
    if state == "active":
        q = q.where(console_alerts.c.state != "resolved")
    elif state != "all":
        q = q.where(console_alerts.c.state == state)
    return [alert_view(r, names) for r in session.execute(q.limit(limit)).mappings()]


def board(session, names: dict[str, str] | None = None) -> list[dict]:
    """Per department: alerts not yet resolved, by level and by subject, and the light."""
    c = console_alerts.c
    rows = session.execute(
        select(c.department, c.level, c.owner, c.ref_id, func.count())
        .where(c.state != "resolved")
        .group_by(c.department, c.level, c.owner, c.ref_id)).all()
    seen = session.execute(select(c.department).distinct()).scalars().all()
    depts: dict[str, dict] = {d or "": {"department": d or "", "department_name": department_label(names, d) or "",
                                        "counts": {lv: 0 for lv in LEVELS},
                                        "subjects": {sj: 0 for sj in SUBJECTS}, "total": 0} for d in seen}
    for dept, level, owner, ref_id, n in rows:
        entry = depts[dept or ""]
        entry["counts"][level] = entry["counts"].get(level, 0) + n
        entry["subjects"][subject_of(owner, ref_id)] += n
        entry["total"] += n
    for entry in depts.values():
        entry["light"] = light(entry["counts"], entry["total"])
    order = {"red": 0, "yellow": 1, "green": 2}
    return sorted(depts.values(), key=lambda e: (order[e["light"]], -e["total"], e["department"]))


def feed_after(session, after: int, limit: int = 100, names: dict[str, str] | None = None) -> list[dict]:
    lines = session.execute(select(console_feed).where(console_feed.c.id > after)
                            .order_by(console_feed.c.id).limit(limit)).mappings().all()
    return _with_alerts(session, lines, names)


def feed_latest(session, limit: int, names: dict[str, str] | None = None) -> list[dict]:
    lines = session.execute(select(console_feed).order_by(console_feed.c.id.desc()).limit(limit)).mappings().all()
    return _with_alerts(session, lines[::-1], names)


def last_feed_id(session) -> int:
    return session.execute(select(func.coalesce(func.max(console_feed.c.id), 0))).scalar_one()


def _with_alerts(session, lines, names: dict[str, str] | None = None) -> list[dict]:
    """Each feed line with its alert as it is now."""
    ids = {line["console_alert_id"] for line in lines}
    alerts = {r["id"]: alert_view(r, names) for r in session.execute(
        select(console_alerts).where(console_alerts.c.id.in_(ids))).mappings()} if ids else {}
    return [{**line, "alert": alerts[line["console_alert_id"]]} for line in lines]


# -- rectifications ---------------------------------------------------------------------------------------------


def upsert_rectification(session, event_type: str, p: dict, now) -> int:
    """Take a rectification event into the alert's row (`domain.rectification_changes`); its console id. A report
    of an alert the console shows resolved already is closed."""
    t = console_rectifications
    key = (t.c.owner == "approvals", t.c.alert_id == str(p["alert_id"]))
    row = session.execute(select(t).where(*key).with_for_update()).mappings().first()
    changes = rectification_changes(None if row is None else dict(row), event_type, p)
    ref_no = p.get("application_no") or p.get("external_ref") or p.get("project_code") or p.get("joint_id")
    common = {"rectification_id": str(p["rectification_id"]), "department": p["department"], "level": p["level"],
              "ref_no": ref_no and str(ref_no)[:100], "rule": (p.get("rule") or "")[:300],
              "due_at": p.get("rectification_due_at"), "updated_at": now}
    if row is None:
        values = {"overdue": False, "submitted_by": None, "pending_decision": None, **common, **changes}
        resolved = session.execute(select(console_alerts.c.id).where(
            console_alerts.c.owner == "approvals", console_alerts.c.alert_id == str(p["alert_id"]),
            console_alerts.c.state == "resolved")).first()
        if resolved is not None and values["state"] in ("pending", "submitted", "returned"):
            values["state"] = "closed"
        return session.execute(insert(t).values(owner="approvals", alert_id=str(p["alert_id"]), **values)
                               ).inserted_primary_key[0]
    session.execute(update(t).where(t.c.id == row["id"]).values(**common, **changes))
    return row["id"]


def close_rectification(session, owner: str, alert_id: str, now) -> None:
    """The alert was resolved (not by accepting a report): a rectification still open is closed."""
    t = console_rectifications
    session.execute(update(t).where(t.c.owner == owner, t.c.alert_id == alert_id,
                                    t.c.state.in_(("pending", "submitted", "returned")))
                    .values(state="closed", pending_decision=None, updated_at=now))


def console_alert_id(session, owner: str, alert_id: str) -> int | None:
    return session.execute(select(console_alerts.c.id).where(
        console_alerts.c.owner == owner, console_alerts.c.alert_id == alert_id)).scalar_one_or_none()


def rectification_for_update(session, item_id: int) -> dict | None:
    row = session.execute(select(console_rectifications).where(console_rectifications.c.id == item_id)
                          .with_for_update()).mappings().first()
    return None if row is None else dict(row)


def mark_decision_pending(session, item_id: int, decision: str, now) -> None:
    session.execute(update(console_rectifications).where(console_rectifications.c.id == item_id).values(
        pending_decision=decision, updated_at=now))


def list_rectifications(session, *, state="submitted", department=None, limit=200,
                        names: dict[str, str] | None = None) -> list[dict]:
    t = console_rectifications
    q = select(t).order_by(t.c.updated_at.desc(), t.c.id.desc())
    if state == "overdue":
        q = q.where(t.c.overdue.is_(True), t.c.state.in_(("pending", "submitted", "returned")))
    elif state != "all":
        q = q.where(t.c.state == state)
    if department is not None:
        q = q.where(t.c.department == department)
    return [rectification_view(r, names) for r in session.execute(q.limit(limit)).mappings()]


def count_rectifications(session, state: str = "submitted") -> int:
    t = console_rectifications
    return session.execute(select(func.count()).select_from(t).where(t.c.state == state)).scalar_one()


# -- stream tokens ---------------------------------------------------------------------------------------------


def save_stream_token(session, digest: str, key_id: str, name: str, expires_at, now) -> None:
    """Store a token's digest (dropping the expired ones)."""
    session.execute(delete(console_stream_tokens).where(console_stream_tokens.c.expires_at < now))
    session.execute(insert(console_stream_tokens).values(token_sha256=digest, key_id=key_id, name=name,
                                                         expires_at=expires_at))


def take_stream_token(session, digest: str) -> dict | None:
    """The grant of a token, deleted as it is read; None when unknown or already taken. Single use: whoever
    deletes the row opens the stream; the URL replayed (from a log, a proxy, the browser's history) or raced
    finds nothing."""
    grant = session.execute(select(console_stream_tokens).where(
        console_stream_tokens.c.token_sha256 == digest).with_for_update()).mappings().first()
    used = grant is not None and session.execute(delete(console_stream_tokens).where(
        console_stream_tokens.c.token_sha256 == digest)).rowcount == 1
    return dict(grant) if used else None


# -- records waiting for a calendar year -----------------------------------------------------------------------


def save_calendar_waiting(session, service: str, department: str | None, waiting: int, missing_years: list[int],
                          at, now) -> bool:
    """Keep a service node's count unless a newer one is kept already (a late event changes nothing; of two with
    the same `at`, the later to arrive, as one instance publishes them in order); True when it was kept."""
    key = (console_calendar.c.service == service, console_calendar.c.department == (department or ""))
    row = session.execute(select(console_calendar.c.reported_at).where(*key).with_for_update()).first()
    values = {"waiting": waiting, "missing_years": ",".join(str(y) for y in sorted(set(missing_years)))[:200],
              "reported_at": at, "updated_at": now}
    if row is None:
        session.execute(insert(console_calendar).values(service=service, department=department or "", **values))
        return True
    if at < row.reported_at:
        return False
    session.execute(update(console_calendar).where(*key).values(**values))
    return True


def calendar_waiting(session) -> list[dict]:
    """The service nodes whose records wait for a calendar year (count above 0), as last reported."""
    rows = session.execute(select(console_calendar).where(console_calendar.c.waiting > 0)
                           .order_by(console_calendar.c.department, console_calendar.c.service)).mappings()
    return [{**r, "missing_years": [int(y) for y in r["missing_years"].split(",") if y]} for r in rows]
