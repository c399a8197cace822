"""The exposure board's use cases: a page of the board and one case on it, as the public sees them."""

from __future__ import annotations

from services.kernel.errors import NotFound
from services.kernel.throttle import FailureThrottle

from . import domain, store


def not_on_board(public_id: str) -> NotFound:
    # unknown, never exposed, confidential or voided: one answer, so that none of them can be told apart
    return NotFound(f"no exposed case {public_id}", message_zh="曝光台上没有该案件")


def board(session, settings, labels, page: int, per_page: int) -> tuple[list[dict], int]:
    """A page of the board (newest exposure first) as the public sees it, and how many cases are on it."""
    rows, total = store.board(session, settings.rules.discipline_office, page, per_page)
    return [domain.entry_of(kind, row, labels) for kind, row in rows], total


def exposure(session, settings, labels, public_id: str, throttle: FailureThrottle, address: str | None) -> dict:
    """One case on the board by its public id; NotFound otherwise, counted against the client's `address`, which
    is refused (TooManyRequests) once it has failed too often (checked first, so that a refusal says nothing)."""
    throttle.check(address)
    found = store.one(session, settings.rules.discipline_office, public_id) \
        if domain.PUBLIC_ID.fullmatch(public_id) else None
    if found is None:
        throttle.failed(address)
        raise not_on_board(public_id)
    return domain.entry_of(*found, labels)


def record_supervision(uow, payload: dict, now) -> bool:
    """Keep what approvals told of an exposed supervision order (`monitor.supervision_exposure`): its latest
    revision. Whether it changed the board (False: an older revision arriving late)."""
    values = {key: payload[key] for key in (
        "public_id", "revision", "department", "item_code", "item_name", "problem", "exposed_at", "act_by",
        "rectified", "rectification", "rectified_on")}
    return store.keep_supervision(uow.session, {**values, "updated_at": now})
