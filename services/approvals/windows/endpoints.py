"""The entrypoints of the register of windows: parse, authorise, call one use case, shape the answer; and the seed
of an empty register at start (SEED_WINDOWS). Mixed into the service class (needs `platform` and `settings`)."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from services.kernel import clock
from services.kernel.http import api
from services.kernel.service import Platform

from . import usecases
from .schemas import WindowIn, WindowOut, WindowsQuery

EDITORS = ("operator",)  # as the catalogue's


class WindowSeed(DependencyProvider):
    """Loads SEED_WINDOWS (a YAML list of windows) into an empty register at start (make run: the demo windows).
    Dependencies start before entrypoints: the register is there before the first request."""

    def start(self):
        path = self.container.config.get("SEED_WINDOWS")
        if path:
            usecases.seed(Platform.of(self.container).db, path)

    def get_dependency(self, worker_ctx):
        return None


class WindowEndpoints:
    """The register of windows (窗口): code, name, department (none: 综合窗口), service point, active."""

    window_seed = WindowSeed()

    @api("GET", "/api/v1/windows", roles=(), query=WindowsQuery, response=WindowOut, many=True,
         summary="the register of windows (窗口), by code; department: its windows and the comprehensive ones",
         tags=("windows",))
    def list_windows(self, call):
        with self.platform.session() as s:
            return usecases.list_windows(s, self.settings, call.query)

    @api("PUT", "/api/v1/windows", roles=EDITORS, body=WindowIn, response=WindowOut,
         summary="add or change a window (by code); an inactive window names no new step", tags=("windows",))
    def put_window(self, call):
        return usecases.put_window(self.platform, self.settings, call.body, clock.now())
