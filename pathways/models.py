"""Models of `pathways`."""
