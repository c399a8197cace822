"""Enforcement inspections (执法检查审核登记, seed II.8): registered before they happen, approved or refused by
the legal office, their results reported; irregularities detected as the data arrives. (#17; being built.)"""

from .endpoints import InspectionEndpoints

__all__ = ["InspectionEndpoints"]
