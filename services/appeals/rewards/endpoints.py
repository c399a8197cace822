"""The entrypoints of rewarded reports: a mixin of the appeals service."""

from __future__ import annotations


class RewardEndpoints:
    """Rewarded reports (有奖投诉举报). Mixed into the appeals service (needs `platform` and `settings`)."""
