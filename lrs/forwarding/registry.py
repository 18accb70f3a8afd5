"""What forwarding needs to know from packages it may not import: which activities a pathway covers.

Kept free of other lrs imports so that ``lrs.services`` can re-export ``register_pathway_activities``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask
from sqlalchemy.orm import Session

PathwayActivities = Callable[[Session, str], Iterable[str]]
PATHWAY_ACTIVITIES_KEY = "lrs.pathway_activities"


def register_pathway_activities(app: Flask, resolve: PathwayActivities) -> None:
    """Let forwarding filter on a pathway: ``resolve(session, pathway_iri)`` gives its activity IRIs."""
    app.extensions[PATHWAY_ACTIVITIES_KEY] = resolve


def pathway_activities_of(app: Flask) -> PathwayActivities | None:
    return app.extensions.get(PATHWAY_ACTIVITIES_KEY)
