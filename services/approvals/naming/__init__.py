"""群众满意窗口 (#15): the standard a window must meet (a rule file, NAMING_RULES_FILE), the selection (评选) of
candidates from the record of a period with the evidence per criterion, the leading group's decision naming windows
(命名: the title 群众满意窗口 with its period and date, on the public list), and the quarterly re-check (复查) that
flags a named window no longer meeting the standard, whose title is revoked when that decision is recorded.

Upheld efficiency complaints come from appeals (`complaint.finding_recorded`), kept per department and day.

By layer: `domain` (periods, the standard and its verdict: pure), `store` (the tables and queries), `schemas` (the
HTTP API's), `usecases` (figures, candidates, decide, revoke, re-check, record a finding), `settings` (the rule
file) and `endpoints` (the mixin `NamingEndpoints` with the re-check timer and the findings' consumer)."""

from .endpoints import NamingEndpoints

__all__ = ["NamingEndpoints"]
