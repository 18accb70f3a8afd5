"""The learning domain: pathways, steps, audiences, assessments, certifications and progress."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Attach the pathways blueprints, CLI commands and the statement subscriber to ``app``."""
