"""Hot issues for the joint meeting (热点问题 → 联席会议): what citizens called about most in a period and where,
against the period before, who keeps calling, which place keeps having the same problem; as JSON, as CSV
for Excel and as a one-page Chinese brief (HTML, A4); and its publication as `report.hot_issues_published`.

How it counts (the same in docs/hot-issues.md):
- `from` and `to` are calendar dates in Asia/Shanghai, both included: the period is [from 00:00, to+1 00:00).
  Default: the last 7 days, today included (to = today, from = to − 6); `to` alone: from = to − 6; `from`
  alone: to = today (or `from` itself, if later). from ≤ to, at most 366 days, dates in 2000–2099;
  otherwise 400 with field messages.
- The previous period has the same number of days and ends where this one starts.
- An appeal belongs to the period of its `received_at`. A row with status `duplicate` (a repeat call linked
  to an open case at intake) is not a case: it counts as one repeat call, in the period the call came in,
  under its own category and town-street (the duplicate rule makes them the original's).
- Per category and per town-street: cases, previous-period cases, change (absolute; percent with one
  decimal, null when the previous period had none), open (status neither closed nor duplicate, now),
  overdue (the overdue flag: the deadline passed; it stays set after closing), repeat calls.
  Listed are those with a case or a repeat call in either period; most cases first.
- Repeat callers: phone numbers with at least 2 appeals received in the period (repeat calls included),
  top 20, phone masked (138****5678); never the full number, in any format.
- Same place and problem: at least 3 cases of the same category, town-street and address (exact text);
  appeals without an address group per category and town-street, appeals with neither do not group.
  Top 20, each with its 10 latest case numbers.
- Publishing computes the report and writes the event to the outbox in one unit of work; `top_categories`
  are the codes of the (at most) 10 categories with most cases, `total` the number of cases.

Every figure is counted by the database over covering indexes (reports/store.py says how, and why so);
Python only adds up the few hundred category × town-street cells. bench/hot_issues.py measures it
over 1,000,000 appeals.

Layout: domain.py (the period, ranking, the event's payload), store.py (the queries), schemas.py, render.py (CSV,
the brief), usecases.py (`hot_issues`, `publish_hot_issues`), endpoints.py (the `HotIssueEndpoints` mixin).
"""

from .domain import GROUP_MIN, Period, resolve_period
from .endpoints import HotIssueEndpoints
from .render import to_csv, to_html
from .schemas import HotIssuesOut
from .usecases import EVENT_TYPE, hot_issues, publish_hot_issues

__all__ = ["EVENT_TYPE", "GROUP_MIN", "HotIssueEndpoints", "HotIssuesOut", "Period", "hot_issues", "publish_hot_issues",
           "resolve_period", "to_csv", "to_html"]
