"""App factories for benchmark servers that differ from production in one measured way."""
from __future__ import annotations

from flask import Flask

from cairn import create_app

# The key under which lrs.services.subscribe keeps the statement subscribers.
SUBSCRIBERS_KEY = "lrs.subscribers"


def create_app_without_projection() -> Flask:
    """Cairn with no statement subscribers: the baseline for what the progress projection costs."""
    app = create_app()
    app.extensions[SUBSCRIBERS_KEY] = []
    return app
