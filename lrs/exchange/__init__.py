"""Statements in and out of Cairn as files: export (JSON-lines, CSV) and import (JSON, JSON-lines)."""
from __future__ import annotations

from flask import Flask

from lrs.exchange.cli import statements_group
from lrs.exchange.views import bp


def init_app(app: Flask) -> None:
    """Attach the export/import admin pages and ``cairn statements export|import``."""
    app.register_blueprint(bp)
    app.cli.add_command(statements_group)
