"""The learning domain: pathways, steps, audiences, assessments, certifications and progress."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Attach the pathways blueprints, CLI commands and the statement subscriber to ``app``."""
    from pathways import projection
    try:
        from lrs.services import subscribe
    except ImportError:  # the LRS statement service is not on this branch yet
        subscribe = None
    if subscribe is not None:
        subscribe(app, projection.on_statements)
    from pathways import admin, portal
    admin.init_app(app)
    portal.init_app(app)
