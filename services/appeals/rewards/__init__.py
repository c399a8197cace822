"""Rewarded reports (有奖投诉举报, #16): the reward an upheld efficiency complaint carries to the person who reported
it — approved (amount, by whom, on which day), then paid — once per case, without any personal data in its
answers and events.

domain.py the rules (which case, the amount, approved → paid) · store.py the table and its queries · schemas.py
the HTTP schemas · usecases.py record, pay, find · endpoints.py the mixin `RewardEndpoints`."""

from .endpoints import RewardEndpoints

__all__ = ["RewardEndpoints"]
