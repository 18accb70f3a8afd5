"""The xAPI Learning Record Store. Knows nothing of pathways or LTI."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Attach the LRS's blueprints, CLI commands and error handling to ``app``."""
    from lrs import exchange, forwarding
    forwarding.init_app(app)
    exchange.init_app(app)
