"""Models of `lrs`."""
