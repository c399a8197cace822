"""The deployment's services, in one place: `make run`, `deploy/`, the drills and the tests read this list
instead of keeping copies. Names only (the kernel imports no service): `nameko run` takes `entrypoint`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    port: int  # the default HTTP port (`<NAME>_HTTP` overrides it)
    service_class: str

    @property
    def entrypoint(self) -> str:
        """What `nameko run` is given: `services.<name>.service:<Class>`."""
        return f"services.{self.name}.service:{self.service_class}"

    @property
    def config_path(self) -> str:
        """The shipped config, relative to the repository root."""
        return f"services/{self.name}/config.yaml"


SERVICES: dict[str, ServiceInfo] = {s.name: s for s in (
    ServiceInfo("appeals", 8001, "AppealsService"),
    ServiceInfo("approvals", 8002, "ApprovalsService"),
    ServiceInfo("scoring", 8003, "ScoringService"),
    ServiceInfo("notify", 8004, "NotifyService"),
)}
PORTS: dict[str, int] = {name: s.port for name, s in SERVICES.items()}
