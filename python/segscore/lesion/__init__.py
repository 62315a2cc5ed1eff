"""Lesion-wise and detection metrics: connected components, per-component statistics, the
(pred id, ref id) overlap table every lesion-wise convention is computed from, matching,
conventions, per-case results, aggregation, and FROC."""

from .aggregate import lesion_aggregate
from .components import ComponentStats, OverlapTable, component_stats, connected_components, overlap_table
from .lesionwise import lesionwise
from .result import LesionResult

__all__ = ["ComponentStats", "LesionResult", "OverlapTable", "component_stats", "connected_components",
           "lesion_aggregate", "lesionwise", "overlap_table"]
