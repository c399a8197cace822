"""The rules of 好差评 (pure): the five levels and which are bad, the aspects a review may criticise, which
applications may be reviewed and when a second review is the re-review, and the follow-up's due time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from services.kernel import clock
from services.kernel.contracts.approvals import REVIEW_CHANNELS, REVIEW_LEVELS
from services.kernel.workcal import WorkCalendar, local_date

from .. import domain as core
from ..domain import IllegalTransition

LEVELS = REVIEW_LEVELS
LEVEL_ZH = {"very_satisfied": "非常满意", "satisfied": "满意", "basically_satisfied": "基本满意",
            "unsatisfied": "不满意", "very_unsatisfied": "非常不满意"}
GOOD = LEVELS[:3]  # counted as satisfied (the satisfaction rate's numerator)
BAD = LEVELS[3:]  # 差评: a follow-up by the department
ASPECTS = ("attitude", "efficiency", "materials", "guidance", "integrity", "other")
ASPECT_ZH = {"attitude": "服务态度", "efficiency": "办事效率", "materials": "材料要求", "guidance": "一次告知",
             "integrity": "廉洁", "other": "其他"}
CHANNELS = REVIEW_CHANNELS  # the window's evaluation device, or the public page with the query code
MAX_TEXT = 500
FIRST, REREVIEW = 1, 2

# An application is reviewed once the applicant has an outcome of it: not accepted (不予受理), decided or
# delivered, or ended without a decision (withdrawn, terminated, deemed withdrawn). While it is being handled
# (submitted, waiting for a supplement, accepted) a review would rate a service not yet given.
REVIEWABLE = (core.REFUSED, core.DECIDED, core.DELIVERED, *core.ENDED)

# the follow-up of a bad first review: pending (the department's report is awaited) · reported (reported; the
# applicant may review once more) · rereviewed (the re-review came)
FOLLOW_UP_STATES = ("pending", "reported", "rereviewed")
# the list's filter: a state, `overdue` (announced overdue and still pending) or `none` (no follow-up)
FOLLOW_UP_FILTERS = (*FOLLOW_UP_STATES, "overdue", "none")
FOLLOW_UP_ZH = {"pending": "待核实整改", "reported": "已反馈", "rereviewed": "已复评"}
OVERDUE_EVENT = "review.follow_up_overdue"
DEFAULT_FOLLOW_UP_DAYS = 15
# how long the timer waits before asking again for a due time the calendar could not give (a year not loaded)
CALENDAR_RETRY = timedelta(hours=1)
_US = timedelta(microseconds=1)


def is_bad(level: str) -> bool:
    return level in BAD


@dataclass(frozen=True)
class ReviewRules:
    """REVIEWS.FOLLOW_UP_DAYS: working days the department has for a bad review's follow-up (default 15, the
    national 好差评 rule's 15 working days for rectification and feedback)."""

    follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS

    @classmethod
    def from_config(cls, cfg: dict | None) -> ReviewRules:
        value = (cfg or {}).get("FOLLOW_UP_DAYS")
        if value is None or value == "":
            return cls()
        try:
            days = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"REVIEWS.FOLLOW_UP_DAYS must be a whole number of working days, not {value!r}") \
                from None
        if days < 1:
            raise ValueError(f"REVIEWS.FOLLOW_UP_DAYS must be at least 1, not {value!r}")
        return cls(follow_up_days=days)


def follow_up_due(calendar: WorkCalendar, reviewed_at: datetime, days: int) -> datetime:
    """The end (Asia/Shanghai) of the `days`-th working day after the day of the review (CalendarUnavailable
    past the known years)."""
    last_day = calendar.add_working_days(local_date(reviewed_at), days)
    return datetime.combine(last_day, time.max, tzinfo=clock.TZ)


def check_after(due: datetime) -> datetime:
    """The first instant after the due time: the whole last day is the department's."""
    return due + _US


def next_round(state: str, reviews: list[dict]) -> int:
    """The round a new review of an application in `state` with its `reviews` (oldest first) would be: FIRST, or
    REREVIEW once the department reported the follow-up of a bad first review; IllegalTransition (409) when the
    application is still being handled or its review is given (and final, or waiting for the follow-up)."""
    if state not in REVIEWABLE:
        raise IllegalTransition(
            f"the application is {state}: it is reviewed once it has an outcome (refused, decided, delivered or "
            f"ended)", f"办件{core.STATE_ZH.get(state, state)}，办结后方可评价")
    if not reviews:
        return FIRST
    first = reviews[0]
    if len(reviews) == 1 and first["follow_up_state"] == "reported":
        return REREVIEW
    if first["follow_up_state"] == "pending":
        raise IllegalTransition("the application was reviewed; its follow-up is under way, the applicant may "
                                "review once more after the department reports it",
                                "该办件已评价，差评正在核实整改，整改反馈后可再评价一次")
    raise IllegalTransition("the application was reviewed already (one review per application)",
                            "该办件已评价，每件只能评价一次")


def is_retry(latest: dict | None, content: dict) -> bool:
    """Whether a review with `content` (level, scrubbed text, aspects) repeats the application's `latest` one: a
    retry, answered with it. Not once the follow-up of a bad first review was reported: then the same content is
    the re-review."""
    if latest is None or (latest["round"] == FIRST and latest["follow_up_state"] in ("reported", "rereviewed")):
        return False
    return (latest["level"], latest["text"] or None, sorted(latest["aspects"] or ())) == (
        content["level"], content["text"] or None, sorted(content["aspects"] or ()))


def require_reportable(review: dict) -> None:
    """A follow-up is reported for a bad first review whose follow-up is pending (overdue or not)."""
    state = review["follow_up_state"]
    if state is None:
        raise IllegalTransition("this review asks for no follow-up (not a bad first review)",
                                "该评价无需核实整改（仅首次差评需要）")
    if state != "pending":
        raise IllegalTransition(f"the follow-up was reported already ({state})",
                                f"该差评已反馈整改情况（{FOLLOW_UP_ZH.get(state, state)}）")


def is_overdue(state: str | None, due: datetime | None, now: datetime) -> bool:
    return state == "pending" and due is not None and now > due


def satisfaction_rate(counts: dict[str, int]) -> float | None:
    """非常满意 + 满意 + 基本满意 over all, in percent (two decimals); None with no review."""
    total = sum(counts.get(level, 0) for level in LEVELS)
    if not total:
        return None
    good = sum(counts.get(level, 0) for level in GOOD)
    return round(100.0 * good / total, 2)
