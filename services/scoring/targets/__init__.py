"""Target management (目标管理, seed III.1): the year's key tasks with their lead units and the 六定, the
implementation plans due by a date, progress against the schedule, monitored. (#16; being built.)"""

from .endpoints import TargetEndpoints

__all__ = ["TargetEndpoints"]
