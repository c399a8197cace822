"""Where the satisfied windows are kept (on the approvals' metadata): the leading group's decisions, the titles they
gave (unique per period and window), the quarterly re-checks (unique per title and quarter, so that one instance's
check commits however many try), the upheld efficiency complaints learnt from appeals; and the figures' queries."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.kernel.db import Moment, paged

from .. import store as core
from ..reviews.domain import FIRST
from ..reviews.store import reviews
from ..windows.store import windows

naming_decisions = Table(
    "naming_decisions", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("period", String(8), nullable=False),
    # the leading group's decision: who decided (the group), when, its document number, which windows
    Column("decided_by", String(200), nullable=False),
    Column("decided_at", Moment(), nullable=False),
    Column("document_no", String(100)),
    Column("windows", JSON, nullable=False, default=list),
    Column("override_reason", Text),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
)

naming_titles = Table(
    "naming_titles", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", Integer, ForeignKey("naming_decisions.id"), nullable=False),
    Column("period", String(8), nullable=False),
    Column("window", String(64), nullable=False),
    Column("department", String(64)),
    Column("named_at", Moment(), nullable=False),
    Column("named_on", Date, nullable=False),
    # whether the window met the standard over the period when named; if not, why it was named all the same
    Column("met", Boolean, nullable=False),
    Column("override_reason", Text),
    Column("criteria", JSON, nullable=False, default=list),
    Column("state", String(16), nullable=False),  # active, revoked
    Column("revoked_at", Moment()),
    Column("revoked_by", String(200)),
    Column("revoke_reason", Text),
    Column("revoke_recorded_by", String(100)),
    Column("recheck_id", Integer),
    Column("updated_at", Moment(), nullable=False),
    UniqueConstraint("period", "window", name="uq_naming_titles_period_window"),
)
Index("ix_naming_titles_state", naming_titles.c.state, naming_titles.c.named_at)

naming_rechecks = Table(
    "naming_rechecks", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title_id", Integer, ForeignKey("naming_titles.id"), nullable=False),
    Column("window", String(64), nullable=False),
    Column("quarter", String(8), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("failing", JSON, nullable=False, default=list),
    Column("criteria", JSON, nullable=False, default=list),
    Column("checked_at", Moment(), nullable=False),
    UniqueConstraint("title_id", "quarter", name="uq_naming_rechecks_title_quarter"),
)
Index("ix_naming_rechecks_quarter", naming_rechecks.c.quarter)

# upheld efficiency complaints (complaint.finding_recorded with finding upheld), per department and day
upheld_complaints = Table(
    "upheld_complaints", core.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("department", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("appeal_id", String(64), nullable=False),
    Column("case_no", String(64), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("recorded_at", Moment(), nullable=False),
    UniqueConstraint("event_id", name="uq_upheld_complaints_event"),
)
Index("ix_upheld_complaints_department_day", upheld_complaints.c.department, upheld_complaints.c.day)

_t, _r, _d = naming_titles.c, naming_rechecks.c, naming_decisions.c


# -- the figures --------------------------------------------------------------------------------------------------


def active_windows(session: Session) -> list[dict]:
    rows = session.execute(select(windows).where(windows.c.active.is_(True)).order_by(windows.c.code)).mappings()
    return [dict(r) for r in rows]


def levels_by_window(session: Session, since: datetime, until: datetime, codes: list[str]
                     ) -> dict[str, dict[str, int]]:
    """Per responsible window (首问负责): the applications first reviewed in [since, until), by the level they count
    with (the re-review's where there is one)."""
    c, a = reviews.c, core.applications.c
    rows = session.execute(
        select(a.first_window, c.final_level, func.count())
        .select_from(reviews.join(core.applications, a.id == c.application_id))
        .where(c.round == FIRST, c.reviewed_at >= since, c.reviewed_at < until, a.first_window.in_(codes))
        .group_by(a.first_window, c.final_level))
    out: dict[str, dict[str, int]] = {}
    for window, level, n in rows:
        out.setdefault(window, {})[level] = n
    return out


def red_cards_by_window(session: Session, since: datetime, until: datetime, codes: list[str]
                        ) -> dict[str, list[int]]:
    """Per responsible window: the ids of the red cards raised in [since, until) on its applications."""
    al, a = core.alerts.c, core.applications.c
    rows = session.execute(
        select(a.first_window, al.id).select_from(core.alerts.join(core.applications, a.id == al.application_id))
        .where(al.level == "red", al.raised_at >= since, al.raised_at < until, a.first_window.in_(codes))
        .order_by(al.id))
    out: dict[str, list[int]] = {}
    for window, alert_id in rows:
        out.setdefault(window, []).append(alert_id)
    return out


def decided_by_window(session: Session, since: datetime, until: datetime, codes: list[str]
                      ) -> dict[str, tuple[int, int]]:
    """Per responsible window: (decided in [since, until), of which in time)."""
    a = core.applications.c
    in_time = func.sum(func.cast(a.decided_in_time, Integer))
    rows = session.execute(
        select(a.first_window, func.count(), in_time)
        .where(a.decided_at >= since, a.decided_at < until, a.decided_in_time.is_not(None),
               a.first_window.in_(codes))
        .group_by(a.first_window))
    return {w: (n, int(k or 0)) for w, n, k in rows}


def upheld_by_department(session: Session, first: date, last: date) -> dict[str, list[str]]:
    """Per department: the case numbers of the efficiency complaints upheld against it on days first … last."""
    u = upheld_complaints.c
    rows = session.execute(select(u.department, u.case_no).where(u.day >= first, u.day <= last)
                           .order_by(u.day, u.id))
    out: dict[str, list[str]] = {}
    for department, case_no in rows:
        out.setdefault(department, []).append(case_no)
    return out


def add_upheld(session: Session, values: dict) -> None:
    session.execute(insert(upheld_complaints).values(**values))


# -- decisions and titles ------------------------------------------------------------------------------------------


def add_decision(session: Session, values: dict) -> int:
    return session.execute(insert(naming_decisions).values(**values)).inserted_primary_key[0]


def add_title(session: Session, values: dict) -> int:
    return session.execute(insert(naming_titles).values(**values)).inserted_primary_key[0]


def titles_of(session: Session, period: str, codes: list[str]) -> list[dict]:
    rows = session.execute(select(naming_titles).where(_t.period == period, _t.window.in_(codes))).mappings()
    return [dict(r) for r in rows]


_TITLE_COLUMNS = (*naming_titles.c, _d.decided_by, _d.document_no, _d.decided_at)
_TITLE_JOIN = naming_titles.join(naming_decisions, _d.id == _t.decision_id)


def get_title(session: Session, title_id: int, *, lock: bool = False) -> dict | None:
    q = select(*_TITLE_COLUMNS).select_from(_TITLE_JOIN).where(_t.id == title_id)
    if lock:
        q = q.with_for_update(of=naming_titles)
    row = session.execute(q).mappings().first()
    return None if row is None else dict(row)


def change_title(session: Session, title_id: int, **values) -> None:
    session.execute(update(naming_titles).where(_t.id == title_id).values(**values))


def list_titles(session: Session, *, state=None, period=None, window=None, page=1, per_page=50
                ) -> tuple[list[dict], int]:
    conds = []
    if state is not None:
        conds.append(_t.state == state)
    if period is not None:
        conds.append(_t.period == period)
    if window is not None:
        conds.append(_t.window == window)
    return paged(session, _TITLE_COLUMNS, _TITLE_JOIN, conds, page, per_page, _t.named_at.desc(), _t.id.desc())


def public_titles(session: Session) -> list[dict]:
    """The active titles with their windows (name, department, service point), newest first."""
    w = windows.c
    rows = session.execute(
        select(_t.id, _t.period, _t.named_on, _t.window, w.name, w.department, w.service_point)
        .select_from(naming_titles.join(windows, w.code == _t.window)).where(_t.state == "active")
        .order_by(_t.named_on.desc(), _t.window)).mappings()
    return [dict(r) for r in rows]


# -- re-checks ----------------------------------------------------------------------------------------------------


def due_for_recheck(session: Session, quarter: str, quarter_end: datetime, limit: int | None = None) -> list[dict]:
    """Active titles named before the quarter ended and not yet checked over it."""
    checked = select(_r.title_id).where(_r.quarter == quarter)
    q = (select(naming_titles).where(_t.state == "active", _t.named_at < quarter_end, _t.id.not_in(checked))
         .order_by(_t.id))
    if limit is not None:
        q = q.limit(limit)
    return [dict(r) for r in session.execute(q).mappings()]


def add_recheck(session: Session, values: dict) -> int:
    """Raises IntegrityError when the title was checked over the quarter (another instance committed it first)."""
    return session.execute(insert(naming_rechecks).values(**values)).inserted_primary_key[0]


def open_flag(session: Session, title_id: int) -> dict | None:
    """The title's latest failed re-check."""
    row = session.execute(select(naming_rechecks).where(_r.title_id == title_id, _r.passed.is_(False))
                          .order_by(_r.id.desc()).limit(1)).mappings().first()
    return None if row is None else dict(row)


_RECHECK_COLUMNS = (*naming_rechecks.c, _t.period, _t.state.label("title_state"), _t.department)
_RECHECK_JOIN = naming_rechecks.join(naming_titles, _t.id == _r.title_id)


def list_rechecks(session: Session, *, outcome="failed", quarter=None, window=None, page=1, per_page=50
                  ) -> tuple[list[dict], int]:
    conds = []
    if outcome != "all":
        conds.append(_r.passed.is_(outcome == "passed"))
    if quarter is not None:
        conds.append(_r.quarter == quarter)
    if window is not None:
        conds.append(_r.window == window)
    return paged(session, _RECHECK_COLUMNS, _RECHECK_JOIN, conds, page, per_page, _r.checked_at.desc(), _r.id.desc())
