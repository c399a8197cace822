"""The rules of rewarded reports (有奖投诉举报), pure: which case may carry a reward, how its amount is written, and
its two states (approved → paid, never back)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.kernel.domain import IllegalTransition

APPROVED, PAID = "approved", "paid"
STATES = (APPROVED, PAID)
STATE_ZH = {APPROVED: "已批准", PAID: "已发放"}
# the most one reward may be, in yuan (a typo of three zeros is refused rather than paid)
MAX_AMOUNT = Decimal("1000000.00")


def check_rewardable(appeal: dict) -> None:
    """IllegalTransition (409) unless the case is an efficiency complaint (投诉举报) whose finding upheld it."""
    if appeal["type"] != "efficiency_complaint":
        raise IllegalTransition("only an efficiency complaint (投诉举报) carries a reward",
                                "只有效能投诉举报才能给予举报奖励")
    if appeal["finding"] != "upheld":
        finding = appeal["finding"] or "not recorded yet"
        raise IllegalTransition(f"only an upheld efficiency complaint carries a reward (its finding: {finding})",
                                "只有经调查属实的投诉举报才能给予举报奖励")


def check_new(existing: dict | None) -> None:
    """IllegalTransition unless the case has no reward yet (one reward per report)."""
    if existing is not None:
        raise IllegalTransition("the reward of this report was recorded already", "该投诉举报已登记奖励，不能重复登记")


def check_payable(reward: dict | None, paid_on: date) -> dict:
    """The changes that record the reward paid on `paid_on`: IllegalTransition before it was approved or when it
    was paid already; ValueError (a bad field) for a payment dated before the approval."""
    if reward is None:
        raise IllegalTransition("no reward of this report was approved: it cannot be paid",
                                "该投诉举报尚未批准奖励，不能登记发放")
    if reward["state"] == PAID:
        raise IllegalTransition("the reward was paid already", "奖励已登记发放，不能重复登记")
    if paid_on < reward["approved_on"]:
        raise ValueError(f"the reward was approved on {reward['approved_on'].isoformat()}: it cannot be paid before "
                         f"/ 奖励于 {reward['approved_on'].isoformat()} 批准，发放日期不能早于批准日期")
    return {"state": PAID, "paid_on": paid_on}


def to_fen(amount: Decimal) -> int:
    """Yuan with at most two decimals → whole fen (分), kept exactly."""
    return int((amount * 100).to_integral_exact())


def to_yuan(fen: int) -> str:
    """Whole fen → yuan as written on the voucher: "500.00"."""
    return f"{Decimal(fen) / 100:.2f}"
