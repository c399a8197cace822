"""What every service's domain model shares: who acts, and the refusal of a state change (HTTP 409)."""

from dataclasses import dataclass


class IllegalTransition(Exception):
    """A state change not allowed now, with the reason in English and Chinese. The HTTP layer answers 409."""

    status = 409

    def __init__(self, message: str, message_zh: str):
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    department: str | None = None


SYSTEM = Actor("system", "system")
