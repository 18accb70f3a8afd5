"""Statements in and out of Cairn as files: export (JSON-lines, CSV) and import (JSON, JSON-lines)."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Attach the export/import admin pages and ``cairn statements export|import``."""
    from cairn.nav import register_nav_link
    from lrs.exchange.cli import statements_group
    from lrs.exchange.views import bp
    app.register_blueprint(bp)
    app.cli.add_command(statements_group)
    register_nav_link(app, "admin", "lrs_exchange.export_page", "Export statements", order=61,
                      section="lrs_exchange.export")
    register_nav_link(app, "admin", "lrs_exchange.import_page", "Import statements", order=62,
                      section="lrs_exchange.import")
