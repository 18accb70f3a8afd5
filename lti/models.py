"""Models of `lti`."""
