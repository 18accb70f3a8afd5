"""The xAPI Learning Record Store. Knows nothing of pathways or LTI."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Attach the LRS's blueprints, CLI commands and error handling to ``app``."""
    from lrs import exchange, forwarding
    from lrs.cli import credentials_group
    from lrs.document_views import bp as documents_bp
    from lrs.http import init_http, register_xapi_blueprint
    from lrs.views import bp as statements_bp

    init_http(app)
    register_xapi_blueprint(app, statements_bp)
    register_xapi_blueprint(app, documents_bp)
    app.cli.add_command(credentials_group)
    forwarding.init_app(app)
    exchange.init_app(app)
    from lrs import admin
    admin.init_app(app)
