"""Lesion-wise (instance-wise) scoring: instances, matching, conventions, aggregation."""

from .aggregate import lesion_aggregate
from .lesionwise import lesionwise
from .result import LesionResult

__all__ = ["LesionResult", "lesion_aggregate", "lesionwise"]
