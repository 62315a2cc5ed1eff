"""Lesion-wise building blocks: connected components, per-component statistics and the
(pred id, ref id) overlap table every lesion-wise convention is computed from."""

from .components import ComponentStats, OverlapTable, component_stats, connected_components, overlap_table

__all__ = ["ComponentStats", "OverlapTable", "component_stats", "connected_components", "overlap_table"]
