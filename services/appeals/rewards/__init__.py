"""Rewarded reports (有奖投诉举报): the reward an upheld efficiency complaint carries to the person who reported it.
(#16; being built.)"""

from .endpoints import RewardEndpoints

__all__ = ["RewardEndpoints"]
