"""The register of windows (窗口, #15) and the window-side rules it carries: every window of a service point with its
department (none: a comprehensive window, 综合窗口, that serves every department); the submission and every window
action may name the window and the staff member's badge number (佩证上岗), recorded on the history line; the first
step naming a badge makes that window and badge responsible for the application (首问负责).

By layer: `domain` (which window may act on which application, the history details, the first responsible),
`store` (the table and its queries), `schemas` (the HTTP API's), `usecases` (put and list windows, check a step's
window and badge, the names cache, the seed) and `endpoints` (the mixin `WindowEndpoints` with the seed provider)."""

from .endpoints import WindowEndpoints

__all__ = ["WindowEndpoints"]
