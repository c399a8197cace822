"""Reform figures (精简审批事项, 压减审批时限, seed II.8): the catalogue's history and the report of items and
limits per department and for the city. (#17; being built.)"""

from .endpoints import ReformEndpoints

__all__ = ["ReformEndpoints"]
