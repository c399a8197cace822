"""好差评 (#15): every application rated at the window or on the public page, bad reviews followed up by the
department within working days, overdue follow-ups alerted.

By layer: `domain` (the levels, who may review when, the follow-up's due time), `store` (the table and its
queries), `schemas` (the HTTP API's), `usecases` (record a review, report a follow-up, check the due ones, the
summary), `settings` (REVIEWS in the config) and `endpoints` (the mixin `ReviewEndpoints` with the timer)."""

from .endpoints import ReviewEndpoints

__all__ = ["ReviewEndpoints"]
