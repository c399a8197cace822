"""The exposure board's guard against walking ids: a client address that asks for too many cases not on the board
is refused for a while (429, services/kernel/throttle.py). Ids are random (80 bits), so a guesser finds nothing
anyway; the throttle keeps one from costing a query per guess."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from services.kernel.throttle import FailureThrottle

# unknown ids one client address may ask for in the window (EXPOSURE.FAILURES_PER_WINDOW, EXPOSURE.WINDOW_SECONDS)
FAILURES_PER_WINDOW = 20
WINDOW_SECONDS = 600.0


class ExposureThrottle(DependencyProvider):
    """`EXPOSURE` in the config: FAILURES_PER_WINDOW (20) and WINDOW_SECONDS (600); one throttle per container."""

    def setup(self):
        self.throttle = FailureThrottle.from_config(self.container.config.get("EXPOSURE"),
                                                    limit=FAILURES_PER_WINDOW, window=WINDOW_SECONDS)

    def get_dependency(self, worker_ctx):
        return self.throttle
