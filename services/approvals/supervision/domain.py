"""The rules of a supervision order (pure): when it is checked, what an overdue one raises, and that only an open
application can be supervised."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services.kernel import clock
from services.kernel.privacy import excerpt, public_text

from ..domain import DECIDED, DELIVERED, OPEN, REFUSED, STATE_ZH, IllegalTransition

OVERDUE_LEVEL = "red"
OVERDUE_RULE = "supervision_overdue"
OVERDUE_EVENT = "monitor.supervision_overdue"
# derived from the application's state (see store): fulfilled when decided or delivered, closed when refused or
# ended without a decision (withdrawn, terminated, abandoned)
ORDER_STATES = ("open", "overdue", "fulfilled", "closed")


def check_moment(act_by: date) -> datetime:
    """The first instant after `act_by` (the whole day is the department's)."""
    return datetime.combine(act_by + timedelta(days=1), time(0), tzinfo=clock.TZ)


def overdue_rule(order_id: int) -> str:
    """The alert's rule: alerts are unique per (application, rule), so an order fires once."""
    return f"{OVERDUE_RULE}:{order_id}"


def require_open(state: str) -> None:
    """Only an open application can be supervised: 409 for a decided, delivered or refused one."""
    if state not in OPEN:
        raise IllegalTransition(f"the application is {state}: nothing to supervise", "申请已办结，无需督办")


def is_overdue(state: str) -> bool:
    """An order whose moment came with its application still open (decided in time: fulfilled; refused:
    closed; either way nothing is raised)."""
    return state in OPEN


# -- the exposure board (曝光台) ----------------------------------------------------------------------------
# An order the monitor exposes goes on the public board (served by appeals, which keeps what this service tells
# it): the public view of the order, published as `monitor.supervision_exposure` whenever it changes, each time
# with a higher revision. What the board was last told: RECTIFYING until the department acted, then RECTIFIED
# (final: nothing is published after it).
EXPOSURE_EVENT = "monitor.supervision_exposure"
RECTIFYING = "rectifying"
RECTIFIED = "rectified"
# the order's note as the board shows it: at most this many characters, desensitised first
MAX_PROBLEM_CHARS = 200


def is_rectified(app_state: str, overdue_alert_id: int | None, alert_state: str | None,
                 rectification_state: str | None) -> bool:
    """Whether the department has acted on an exposed order. Without an overdue alert: once its application left
    the open states (decided or delivered, refused, or ended). Once the order went overdue, its red card has to be
    rectified (整改): when a monitor accepted the department's report, or resolved the alert otherwise after the
    application left the open states."""
    if overdue_alert_id is None:
        return app_state not in OPEN
    if rectification_state == "accepted":
        return True
    return alert_state == "resolved" and app_state not in OPEN


def _day(moment: datetime | None) -> date | None:
    return moment.astimezone(clock.TZ).date() if moment is not None else None


def acted_on(app: dict) -> tuple[str, date | None]:
    """What the department did, in the board's words, when no rectification report says it, and the day."""
    state = app["state"]
    if state in (DECIDED, DELIVERED):
        day = _day(app["decided_at"])
        return f"已于{day.isoformat() if day else ''}作出审批决定，督办事项已办结", day
    if state == REFUSED:
        day = _day(app["refused_at"])
        return f"已于{day.isoformat() if day else ''}作出不予受理决定，督办事项已办结", day
    day = _day(app["ended_at"])
    return f"申请{STATE_ZH.get(state, state)}，督办事项已了结", day


def public_view(order: dict, app: dict, item_name: str | None, rectification: dict | None, now: datetime) -> dict:
    """The order as the public may see it (`monitor.supervision_exposure`'s payload without its revision): the
    note and the rectification desensitised (phones, id and card numbers, accounts; the applicant's name masked,
    whoever the applicant is, and the name of who corrected it); no application number, no applicant, no
    monitor's name."""
    names = [app["applicant_name"], rectification.get("corrected_by") if rectification else None]
    rectified = is_rectified(app["state"], order["overdue_alert_id"], order.get("alert_state"),
                             rectification["state"] if rectification else None)
    text = day = None
    if rectified:
        if rectification is not None and rectification["state"] == "accepted" and rectification["corrected"]:
            text, day = public_text(rectification["corrected"], names=names), _day(rectification["reviewed_at"])
        else:
            text, day = acted_on(app)
    return {
        "public_id": order["public_id"], "department": order["department"], "item_code": app["item_code"],
        "item_name": item_name, "problem": excerpt(public_text(order["note"], names=names), MAX_PROBLEM_CHARS),
        "exposed_at": order["exposed_at"], "act_by": order["act_by"], "rectified": rectified,
        "rectification": text, "rectified_on": day or (_day(now) if rectified else None), "changed_at": now,
    }
