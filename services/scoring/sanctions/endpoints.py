"""The entrypoints of the sanctions register: a mixin of the scoring service."""

from __future__ import annotations


class SanctionEndpoints:
    """The sanctions register (效能问责). Mixed into the scoring service (needs `platform` and `settings`)."""
