"""The exposure board (曝光台, seed III.2, #15), no key: the cases the supervising office exposed, desensitised,
with the department's rectification once done.

Layout: domain.py (what the board shows of a case: its state, its text desensitised), store.py (which cases are on
it, the page query with the moment of exposure from the history), usecases.py (`board`, `exposure`), schemas.py,
access.py (the throttle on unknown ids), endpoints.py (the `ExposureEndpoints` mixin of `AppealsService`, which
needs the service's `platform` and `settings`) and page/ (the page, its script and style sheet).
Rules and examples: docs/exposure.md.
"""

from .endpoints import ExposureEndpoints

__all__ = ["ExposureEndpoints"]
