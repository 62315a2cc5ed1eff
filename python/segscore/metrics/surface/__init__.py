"""Boundary metrics: named conventions, directed boundary distances (`SurfaceDistances`) and
the one-call-per-metric functional API."""
