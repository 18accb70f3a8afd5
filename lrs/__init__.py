"""The xAPI Learning Record Store. Knows nothing of pathways or LTI."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Attach the LRS's blueprints, CLI commands and error handling to ``app``."""
    from cairn.errors import register_api_prefix
    from cairn.security import csrf
    from lrs.document_views import bp as documents_bp

    xapi_path = app.config["XAPI_PATH"]
    register_api_prefix(app, xapi_path)
    csrf.exempt(documents_bp)
    app.register_blueprint(documents_bp, url_prefix=xapi_path)
