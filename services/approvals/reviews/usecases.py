"""The use cases of 好差评, as plain functions of a unit of work (or a session), the settings and the command's data:
a review recorded (at the window or on the public page), a bad review's follow-up reported by its department,
the timer's check of the follow-ups' due times, and the reads that hold logic (one review, the monthly summary)."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from services.kernel import clock
from services.kernel.domain import IllegalTransition
from services.kernel.errors import BadRequest, NotFound
from services.kernel.privacy import scrub
from services.kernel.workcal import CalendarUnavailable

from .. import store as core
from ..windows import store as windows_store
from ..windows import usecases as windows_usecases
from . import domain, store
from .domain import FIRST, REREVIEW

log = logging.getLogger(__name__)

CHECK_BATCH = 200
# the summary's line of the applications whose steps named no window (by=window)
UNNAMED_WINDOW_ZH = "未登记窗口"


def present(row: dict, departments) -> dict:
    """A review as the keyed API shows it."""
    return {**row, "department_name": departments.name(row["department"]),
            "level_zh": domain.LEVEL_ZH.get(row["level"], row["level"]), "bad": domain.is_bad(row["level"]),
            "final": row["round"] == REREVIEW or not domain.is_bad(row["level"]),
            "aspects_zh": [domain.ASPECT_ZH.get(a, a) for a in row["aspects"] or ()],
            "follow_up_state_zh": domain.FOLLOW_UP_ZH.get(row["follow_up_state"]),
            "overdue": row["overdue_at"] is not None}


def public_answer(row: dict, department_name: str) -> dict:
    """What the applicant on the public page is told: the rating and what follows, nothing of theirs."""
    due = row["follow_up_due_at"]
    if row["round"] == REREVIEW:
        message = "感谢您的再次评价，本次评价为最终评价。"
    elif row["follow_up_state"] == "pending":
        when = f"，于 {due.astimezone(clock.TZ):%Y年%m月%d日} 前反馈" if due is not None else ""
        message = f"感谢您的评价。您的差评已转{department_name}核实整改{when}，整改反馈后您可再评价一次。"
    else:
        message = "感谢您的评价！"
    return {"application_no": row["application_no"], "round": row["round"],
            "final": row["round"] == REREVIEW or not domain.is_bad(row["level"]), "level": row["level"],
            "level_zh": domain.LEVEL_ZH[row["level"]], "aspects": list(row["aspects"] or ()),
            "reviewed_at": row["reviewed_at"], "follow_up_due_at": due, "message_zh": message}


def application(session, application_id: int) -> dict:
    """The application, locked (404 when there is none)."""
    row = core.get(session, application_id, lock=True)
    if row is None:
        raise NotFound(f"no application {application_id}", message_zh="申请不存在")
    return row


def _figures(row: dict) -> dict:
    return {"review_id": str(row["id"]), "application_id": str(row["application_id"]),
            "application_no": row["application_no"], "item_code": row["item_code"], "department": row["department"],
            "level": row["level"]}


def record(uow, settings, rules: domain.ReviewRules, app: dict, data: dict, channel: str, by: str,
           now: datetime) -> tuple[bool, dict]:
    """A review of the application `app` (its row, locked): (True, the review) once recorded and published as
    `review.recorded`; (False, the review) for a retry of the latest one (same level, text and aspects: nothing
    done). A bad first review starts its department's follow-up, due REVIEWS.FOLLOW_UP_DAYS working days after the
    day of the review; the re-review after the follow-up's report is the final one. 409 while the application is
    being handled, or once its review is given (see domain.next_round)."""
    s = uow.session
    reviews = store.of_application(s, app["id"])
    at = _when(settings, app, data.get("at"), now)
    text = (data.get("text") or "").strip() or None
    content = {"level": data["level"], "text": scrub(text, names=[app.get("applicant_name")]),
               "aspects": list(data.get("aspects") or ())}
    latest = reviews[-1] if reviews else None
    if domain.is_retry(latest, content):
        return False, latest
    rnd = domain.next_round(app["state"], reviews)
    bad = domain.is_bad(content["level"])
    values = {**content, "application_id": app["id"], "application_no": app["application_no"],
              "item_code": app["item_code"], "department": app["department"], "round": rnd, "channel": channel,
              "reviewed_at": at, "by": by, "updated_at": now,
              "final_level": content["level"] if rnd == FIRST else None,
              "replaces": reviews[0]["id"] if rnd == REREVIEW else None}
    if bad and rnd == FIRST:
        values.update(follow_up_state="pending", **_due(settings, rules, at, now))
    review_id = store.add(s, values)
    if rnd == REREVIEW:
        store.change(s, reviews[0]["id"], final_level=content["level"], follow_up_state="rereviewed",
                     rereview_id=review_id, check_at=None, updated_at=now)
    row = store.get(s, review_id)
    first_at = reviews[0]["reviewed_at"] if rnd == REREVIEW else at
    uow.publish("review.recorded", {
        **_figures(row), "bad": bad, "channel": channel, "round": rnd,
        "final": rnd == REREVIEW or not bad, "replaces": None if row["replaces"] is None else str(row["replaces"]),
        "aspects": content["aspects"], "reviewed_at": at, "at": first_at,
        "follow_up_due_at": row["follow_up_due_at"], "follow_up_days": rules.follow_up_days if
        row["follow_up_state"] else None}, department=app["department"])
    return True, row


def _when(settings, app: dict, at: datetime | None, now: datetime) -> datetime:
    """When the review was given: `at` as the window's device says (default now); 400 in the future, 409 before the
    application's outcome (a review rates a service given)."""
    if at is None:
        return now
    if at > now + settings.rules.future_tolerance:
        raise BadRequest({"at": ["cannot be in the future / 评价时间不能晚于当前时间"]})
    at = min(at, now)
    outcome = min((app[k] for k in ("refused_at", "decided_at", "ended_at") if app.get(k) is not None), default=None)
    if outcome is not None and at < outcome:
        raise IllegalTransition(f"`at` ({at.isoformat()}) is before the application's outcome ({outcome.isoformat()})",
                                "评价时间早于办件办结时间")
    return at


def _due(settings, rules: domain.ReviewRules, reviewed_at: datetime, now: datetime) -> dict:
    """The follow-up's due time and the timer's next look; a year the calendar does not know yet is asked
    again later."""
    try:
        due = domain.follow_up_due(settings.calendar, reviewed_at, rules.follow_up_days)
    except CalendarUnavailable as exc:
        log.warning("a review's follow-up waits for the calendar: %s", exc)
        return {"follow_up_due_at": None, "check_at": now + domain.CALENDAR_RETRY}
    return {"follow_up_due_at": due, "check_at": domain.check_after(due)}


def get(session, review_id: int, scope: str | None = None, *, lock: bool = False) -> dict:
    """One review (404 when missing or, for a caller confined to `scope`, another department's: the same)."""
    row = store.get(session, review_id, lock=lock)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no review {review_id}", message_zh="评价不存在")
    return row


def report_follow_up(uow, review_id: int, report: str, by: str, now: datetime, *, scope: str | None
                     ) -> tuple[bool, dict]:
    """The department's report on a bad review's follow-up (what it verified and rectified): (True, the review)
    once recorded and published as `review.follow_up_reported` (the applicant may now review once more); (False,
    it) for a retry of the same report. 409 for a review without a follow-up or one reported already."""
    s = uow.session
    row = get(s, review_id, scope, lock=True)
    if row["follow_up_state"] == "reported" and row["report"] == report:
        return False, row
    domain.require_reportable(row)
    store.change(s, review_id, follow_up_state="reported", report=report, reported_by=by, reported_at=now,
                 check_at=None, updated_at=now)
    row = store.get(s, review_id)
    uow.publish("review.follow_up_reported", {
        **_figures(row), "reviewed_at": row["reviewed_at"], "follow_up_due_at": row["follow_up_due_at"],
        "reported_at": now, "by": by, "overdue": row["overdue_at"] is not None}, department=row["department"])
    return True, row


def check_due(uow, settings, rules: domain.ReviewRules, now: datetime, limit: int = CHECK_BATCH) -> int:
    """Claim up to `limit` follow-ups whose moment has come: one without a due time gets it (the calendar); one
    past its due time and still pending is announced overdue, once (`review.follow_up_overdue`). Returns how
    many were claimed (the caller runs another batch while it is `limit`)."""
    s = uow.session
    claimed = store.claim_due(s, now, limit)
    for row in claimed:
        if row["follow_up_state"] != "pending":
            store.change(s, row["id"], check_at=None)
            continue
        due = row["follow_up_due_at"]
        if due is None:
            found = _due(settings, rules, row["reviewed_at"], now)
            store.change(s, row["id"], **found)
            if found["follow_up_due_at"] is None or now <= found["follow_up_due_at"]:
                continue
            due = found["follow_up_due_at"]
        if now <= due:
            store.change(s, row["id"], check_at=domain.check_after(due))
            continue
        store.change(s, row["id"], check_at=None)
        if row["overdue_at"] is not None or not domain.is_overdue(row["follow_up_state"], due, now):
            continue
        store.change(s, row["id"], overdue_at=now, updated_at=now)
        uow.publish(domain.OVERDUE_EVENT, {
            **_figures(row), "reviewed_at": row["reviewed_at"], "follow_up_due_at": due,
            "follow_up_days": rules.follow_up_days, "overdue_at": now}, department=row["department"])
    return len(claimed)


def list_reviews(session, query: dict) -> tuple[list[dict], int]:
    """A page of reviews; `from_` / `to` are days (Asia/Shanghai), both included."""
    query = dict(query)
    since, until = query.pop("from_", None), query.pop("to", None)
    return store.list_reviews(
        session, since=None if since is None else datetime.combine(since, time(), clock.TZ),
        until=None if until is None else datetime.combine(until + timedelta(days=1), time(), clock.TZ), **query)


def summary(session, departments, month: str, scope: str | None = None, by: str = "department") -> dict:
    """Per department (or per window: `by="window"`, the application's responsible window, 首问负责), the
    applications first reviewed in `month` (YYYY-MM, Asia/Shanghai) by the level they count with (a re-review
    replaces the first review's level), and the satisfaction rate; `scope`: one department's only."""
    year, mon = (int(x) for x in month.split("-"))
    since = datetime(year, mon, 1, tzinfo=clock.TZ)
    until = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=clock.TZ)
    query = store.summary_by_window if by == "window" else store.summary
    counts: dict[str | None, dict[str, int]] = {}
    for key, level, n in query(session, since, until, scope):
        counts.setdefault(key, {}).setdefault(level, 0)
        counts[key][level] += n
    overall: dict[str, int] = {}
    for levels in counts.values():
        for level, n in levels.items():
            overall[level] = overall.get(level, 0) + n

    def figures(levels: dict[str, int]) -> dict:
        full = {level: levels.get(level, 0) for level in domain.LEVELS}
        return {"total": sum(full.values()), "levels": full, "satisfied": sum(full[g] for g in domain.GOOD),
                "satisfaction_rate": domain.satisfaction_rate(full)}

    def line(code: str | None, levels: dict[str, int]) -> dict:
        return {"department": code, "department_name": departments.name(code) if code else "全部", **figures(levels)}

    if by == "window":
        register = {w["code"]: w for w in windows_store.list_windows(session)}

        def window_line(code: str | None) -> dict:
            window = register.get(code) if code is not None else None
            department = None if window is None else window["department"]
            return {"window": code, "window_name": window["name"] if window else UNNAMED_WINDOW_ZH,
                    "department": department,
                    "department_name": departments.name(department) if department else (
                        windows_usecases.COMPREHENSIVE_ZH if window else None),
                    **figures(counts[code])}

        return {"month": month, "by": by, "windows": [window_line(code) for code in sorted(counts, key=str)],
                "total": line(None, overall)}
    return {"month": month, "by": by, "departments": [line(code, counts[code]) for code in sorted(counts)],
            "total": line(None, overall)}
