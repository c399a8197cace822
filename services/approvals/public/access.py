"""A citizen's access to one application without a key: its number and the query code printed on the receipt.
Every wrong answer is the same 404 (an unknown number and a wrong code cannot be told apart), and an address that
fails too often is refused for a while (429, services/kernel/throttle.py)."""

from __future__ import annotations

import hmac

from nameko.extensions import DependencyProvider

from services.kernel.errors import NotFound
from services.kernel.throttle import FailureThrottle

from .. import store

# failures one client address may have in the window before it is refused (PUBLIC.FAILURES_PER_WINDOW,
# PUBLIC.WINDOW_SECONDS)
FAILURES_PER_WINDOW = 10
WINDOW_SECONDS = 600.0


class PublicAccess:
    def __init__(self, throttle: FailureThrottle):
        self.throttle = throttle

    def application(self, session, application_no: str, query_code: str, address: str | None) -> dict:
        """The application `application_no` if `query_code` is its code; else NotFound, the failure counted
        against `address`; TooManyRequests while `address` has failed too often (checked first: a right pair
        from a refused address is refused too, so that refusal says nothing about the pair)."""
        self.throttle.check(address)
        row = store.by_application_no(session, str(application_no or "")[:32])
        code = (row or {}).get("query_code")
        given = str(query_code or "").strip().upper()
        if row is None or not code or not hmac.compare_digest(code.encode(), given.encode()):
            self.throttle.failed(address)
            raise NotFound("no application with this number and query code",
                           message_zh="未找到该办件，请核对办件编号和查询码")
        return row


class PublicAccessProvider(DependencyProvider):
    """`PUBLIC` in the config: FAILURES_PER_WINDOW (10) and WINDOW_SECONDS (600), one throttle per container."""

    def setup(self):
        self.access = PublicAccess(FailureThrottle.from_config(self.container.config.get("PUBLIC"),
                                                               limit=FAILURES_PER_WINDOW, window=WINDOW_SECONDS))

    def get_dependency(self, worker_ctx):
        return self.access
