"""Lesion-wise and detection metrics: connected components, per-component statistics, the
(pred id, ref id) overlap table every lesion-wise convention is computed from, and FROC."""

from .components import ComponentStats, OverlapTable, component_stats, connected_components, overlap_table

__all__ = ["ComponentStats", "OverlapTable", "component_stats", "connected_components", "overlap_table"]
