"""Errors of the learning domain; ``cairn.errors`` turns them into JSON or HTML responses."""
from __future__ import annotations

from cairn.errors import CairnError, Conflict, Forbidden, NotFound

__all__ = ["InvalidInput", "Conflict", "Forbidden", "NotFound", "PathwayError"]


class PathwayError(CairnError):
    status = 422
    code = "pathway_error"


class InvalidInput(PathwayError):
    """A value breaks a domain rule; ``field`` names it (the API answers 422 with ``fields``)."""

    code = "invalid_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", details={"fields": {field: [message]}})
        self.field = field
