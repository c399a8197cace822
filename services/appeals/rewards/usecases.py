"""The use cases of rewarded reports (有奖投诉举报), as plain functions of a unit of work: record the reward of an
upheld report, record it paid, find them. Events carry no personal data: neither the reporter (who is paid) nor
who approved it — the case number, the units and the amount."""

from __future__ import annotations

from datetime import date, datetime

from services.kernel import clock
from services.kernel.errors import BadRequest, Forbidden, NotFound

from .. import store as core
from . import domain, store

RECORDED_EVENT = "complaint.reward_recorded"
PAID_EVENT = "complaint.reward_paid"


def check_actor(actor, discipline_office: str) -> None:
    """Monitors, and the handlers of the discipline office (the department that records the findings): 403 for a
    handler of another department."""
    if actor.role == "department_handler" and actor.department != discipline_office:
        raise Forbidden(f"only the discipline office ({discipline_office}) records rewards of reports",
                        message_zh="只有纪检监察机关可以登记举报奖励")


def _appeal(session, appeal_id: int, scope: str | None) -> dict:
    row = core.get(session, appeal_id, lock=True)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no appeal {appeal_id}", message_zh="诉求不存在")
    return row


def _not_after_today(field: str, day: date, now: datetime) -> None:
    today = now.astimezone(clock.TZ).date()
    if day > today:
        raise BadRequest({field: [f"must not be after today ({today.isoformat()}) / 不能晚于今天"]})


def view(reward: dict) -> dict:
    return {**reward, "amount": domain.to_yuan(reward["amount_fen"]), "state_zh": domain.STATE_ZH[reward["state"]]}


def _payload(reward: dict) -> dict:
    return {"reward_id": str(reward["id"]), "appeal_id": str(reward["appeal_id"]), "case_no": reward["case_no"],
            "department": reward["department"], "subject_department": reward["subject_department"],
            "amount": domain.to_yuan(reward["amount_fen"]), "approved_on": reward["approved_on"]}


def record_reward(uow, settings, appeal_id: int, data: dict, actor, scope: str | None, now: datetime) -> dict:
    """The reward of an upheld efficiency complaint, approved: 404 for an unknown case (or another department's),
    409 for a case that is not an upheld complaint or has its reward already, 400 for an approval dated after
    today. Publishes `complaint.reward_recorded`."""
    check_actor(actor, settings.rules.discipline_office)
    s = uow.session
    row = _appeal(s, appeal_id, scope)
    domain.check_rewardable(row)
    domain.check_new(store.reward_of(s, appeal_id))
    _not_after_today("approved_on", data["approved_on"], now)
    store.insert_reward(s, {
        "appeal_id": appeal_id, "subject_department": row["subject_department"],
        "amount_fen": domain.to_fen(data["amount"]), "state": domain.APPROVED, "approved_by": data["approved_by"],
        "approved_on": data["approved_on"], "recorded_by": actor.name, "recorded_at": now})
    reward = store.reward_of(s, appeal_id)
    uow.publish(RECORDED_EVENT, {**_payload(reward), "recorded_at": now}, department=row["department"])
    return view(reward)


def record_paid(uow, settings, appeal_id: int, paid_on: date, actor, scope: str | None, now: datetime) -> dict:
    """The approved reward, paid on `paid_on`: 409 before it was approved or when paid already, 400 for a day
    before the approval or after today. Publishes `complaint.reward_paid`."""
    check_actor(actor, settings.rules.discipline_office)
    s = uow.session
    row = _appeal(s, appeal_id, scope)
    reward = store.reward_of(s, appeal_id, lock=True)
    try:
        changes = domain.check_payable(reward, paid_on)
    except ValueError as exc:
        raise BadRequest({"paid_on": [str(exc)]}) from None
    _not_after_today("paid_on", paid_on, now)
    store.update_reward(s, reward["id"], {**changes, "paid_recorded_by": actor.name, "paid_recorded_at": now})
    reward = store.reward_of(s, appeal_id)
    uow.publish(PAID_EVENT, {**_payload(reward), "paid_on": paid_on, "paid_at": now}, department=row["department"])
    return view(reward)


def get_reward(session, settings, appeal_id: int, actor, scope: str | None) -> dict:
    check_actor(actor, settings.rules.discipline_office)
    row = core.get(session, appeal_id)
    reward = store.reward_of(session, appeal_id)
    if row is None or reward is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no reward of appeal {appeal_id}", message_zh="该诉求没有举报奖励记录")
    return view(reward)


def find_rewards(session, settings, query: dict, actor) -> tuple[list[dict], int]:
    check_actor(actor, settings.rules.discipline_office)
    rows, total = store.find(session, **query)
    return [view(r) for r in rows], total
