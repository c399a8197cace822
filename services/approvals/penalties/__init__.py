"""Major administrative penalties (重大行政处罚备案) and discretion (自由裁量权, seed II.8, #17): penalty decisions
filed by their departments, the major ones within a limit of working days; the catalogue of penalty bases holds the
discretion standard, and a penalty outside its band, a fine without a stated circumstance or a late filing is an
irregularity (an alert and `enforcement.irregularity`, once each).

By layer: `domain` (kinds, circumstances, what is major, the limit, the findings: pure), `store` (the tables and
their queries), `schemas` (the HTTP API's), `usecases` (put a basis, file a penalty, the timer's check, the seed),
`settings` (PENALTIES, SEED_PENALTY_BASES) and `endpoints` (the mixin `PenaltyEndpoints` with the timer)."""

from .endpoints import PenaltyEndpoints

__all__ = ["PenaltyEndpoints"]
