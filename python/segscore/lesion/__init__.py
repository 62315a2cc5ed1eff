"""Lesion-wise (instance-wise) scoring: connected components, per-component statistics, the
(pred id, ref id) overlap table, matching, conventions, per-case results and aggregation."""

from .aggregate import lesion_aggregate
from .components import ComponentStats, OverlapTable, component_stats, connected_components, overlap_table
from .lesionwise import lesionwise
from .result import LesionResult

__all__ = ["ComponentStats", "LesionResult", "OverlapTable", "component_stats", "connected_components",
           "lesion_aggregate", "lesionwise", "overlap_table"]
