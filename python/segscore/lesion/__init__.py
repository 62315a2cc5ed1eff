"""Lesion-wise (instance-wise) scoring: instances, matching, conventions, aggregation."""

from .lesionwise import lesionwise
from .result import LesionResult

__all__ = ["LesionResult", "lesionwise"]
