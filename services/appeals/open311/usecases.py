"""The Open311 facade's use cases: filing a request through the one intake of every channel, and the public
look-ups (the offered services, requests, a filer's token). They answer rows; endpoints.py shows them in the
spec's shape (format.py)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from services.kernel.domain import Actor
from services.kernel.errors import BadRequest, NotFound

from .. import handlers
from . import store


class PublicCases(NamedTuple):
    """Public cases found: their rows, the public ids of the public cases they repeat, the category names."""

    rows: list[dict]
    public_ids: dict[int, str]
    names: dict[str, str]


def _not_offered(code: str) -> NotFound:
    # not offered (the discipline office's categories) or unknown: the same answer
    return NotFound(f"service_code {code} not found", message_zh="服务类型不存在")


def file_request(uow, settings, body: dict, actor: Actor, now: datetime, token: str) -> handlers.AppealRecord:
    """A request filed by an Open311 client (its form loaded as the intake's `AppealIn` body): taken in by the
    one intake, with the filer's `token` stored in the same transaction. 404 for a service code not offered."""
    offered(uow.session, settings, body["category"])
    try:
        _, record = handlers.take_in(uow, settings, body, actor, now, open311_token=token)
    except BadRequest as exc:
        if "category" in exc.errors:
            raise _not_offered(body["category"]) from None
        raise
    return record


def services(session, settings) -> list[dict]:
    """The dispatch rules of the categories offered, one per category."""
    return list(store.catalogue(session, settings.rules.discipline_office).values())


def offered(session, settings, service_code: str) -> None:
    """404 unless the facade offers `service_code`."""
    if service_code not in store.catalogue(session, settings.rules.discipline_office):
        raise _not_offered(service_code)


def find_requests(session, settings, filters: store.RequestFilters) -> PublicCases:
    """The public requests that meet the spec's filters, newest first."""
    return _public_cases(session, settings, store.conditions(filters), store.MAX_RESULTS)


def find_request(session, settings, request_id: str) -> PublicCases:
    """One public request by its public id; 404 when there is none."""
    found = _public_cases(session, settings, [store.a.c.public_id == request_id], 1)
    if not found.rows:
        raise NotFound(f"service_request_id {request_id} not found", message_zh="诉求不存在")
    return found


def resolve_token(session, token: str) -> str:
    """The public id of the request a filer's token stands for; 404 when there is none."""
    number = store.public_id_of_token(session, token)
    if number is None:
        raise NotFound(f"token {token} not found", message_zh="令牌不存在")
    return number


def _public_cases(session, settings, conds: list, limit: int) -> PublicCases:
    office = settings.rules.discipline_office
    rows, public_ids = store.public_requests(session, office, conds, limit)
    names = {code: rule["category_name"] for code, rule in store.catalogue(session, office).items()}
    return PublicCases(rows, public_ids, names)
