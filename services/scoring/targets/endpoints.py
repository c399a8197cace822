"""The entrypoints of target management: a mixin of the scoring service."""

from __future__ import annotations


class TargetEndpoints:
    """Target management (目标管理). Mixed into the scoring service (needs `platform` and `settings`)."""
