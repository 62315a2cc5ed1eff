"""Connected components against cc3d (connected-components-3d) and scipy.ndimage.label."""
