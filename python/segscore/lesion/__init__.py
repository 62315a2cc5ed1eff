"""Lesion-wise and detection metrics (connected components, matching, conventions, FROC)."""
