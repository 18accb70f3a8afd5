"""The Learning Portal: what a learner sees of their pathways, content, assessments and records."""
from __future__ import annotations

from flask import Flask

from cairn.nav import register_nav_link


def init_app(app: Flask) -> None:
    from pathways.portal import activities, learner  # noqa: F401 - register the routes
    from pathways.portal.blueprint import bp
    app.register_blueprint(bp)
    register_nav_link(app, "learner", "portal.home", "My learning", order=10)
    register_nav_link(app, "learner", "portal.catalogue", "Catalogue", order=20)
    register_nav_link(app, "learner", "portal.history", "Training history", order=30)
    register_nav_link(app, "learner", "portal.certificates", "Certificates", order=40)
