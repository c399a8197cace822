"""The sanctions register (效能问责, seed III.3): every measure taken against a unit or a person, its source,
deciding body and document number; what each kind costs in the assessment; review (申辩/复核) and withdrawal.
(#16; docs/sanctions.md, ADR 0008.)"""

from .endpoints import SanctionEndpoints

__all__ = ["SanctionEndpoints"]
