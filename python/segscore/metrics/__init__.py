"""Segmentation metrics of one case: the counting pass (case), overlap metrics, exact
distance transforms (edt), empty-mask policies (empty), evaluate, and the boundary metrics
(surface/: conventions, directed distances, the functional API)."""
