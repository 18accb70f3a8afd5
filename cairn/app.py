"""The composition root: the only place that knows every package."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, redirect, render_template, url_for
from werkzeug.routing import IntegerConverter, Map

from cairn import db, errors, nav, security
from cairn.accounts.sessions import DatabaseSessionInterface, purge_task
from cairn.settings import load_settings


class IdConverter(IntegerConverter):
    """Werkzeug's ``int`` converter, at most the largest INTEGER (2**31 - 1)."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002 - its names
                 max: int | None = 2**31 - 1, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, max, signed)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Cairn application from ``CAIRN_*`` settings, overridden by ``config``."""
    app = Flask("cairn", instance_relative_config=False)
    # Before any route: every ``<int:...>`` in a path is an id, and an id no INTEGER column holds
    # names nothing (404); SQLite could not even bind it (a 500 before).
    app.url_map.converters["int"] = IdConverter
    settings = load_settings(overrides=config)
    app.config.update(settings)
    development = settings["ENV"] in {"development", "test"} or bool(settings.get("TESTING"))
    app.config["SESSION_COOKIE_SECURE"] = settings.get("SESSION_COOKIE_SECURE", not development)
    # LTI launches arrive as cross-site POSTs inside an iframe: the cookie must be sendable there,
    # which browsers allow only for Secure cookies (so plain-HTTP development keeps Lax).
    app.config["SESSION_COOKIE_SAMESITE"] = settings.get(
        "SESSION_COOKIE_SAMESITE", "None" if app.config["SESSION_COOKIE_SECURE"] else "Lax")
    app.config["MAX_CONTENT_LENGTH"] = settings.get("MAX_CONTENT_LENGTH", 64 * 1024 * 1024)
    logging.basicConfig(level=settings["LOG_LEVEL"])

    db.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    nav.init_app(app)
    app.session_interface = DatabaseSessionInterface()
    # ``cairn worker`` (defined by lrs, which runs every registered task) sweeps expired sessions.
    app.extensions.setdefault("cairn.worker_tasks", []).append(purge_task)
    app.extensions["cairn.demo_loaders"] = []
    from cairn.auth import current_user
    app.context_processor(lambda: {"current_user": current_user})

    from cairn import cli
    from cairn.accounts import admin as accounts_admin
    from cairn.accounts.views import bp as accounts_bp
    app.register_blueprint(accounts_bp)
    accounts_admin.init_app(app)
    cli.init_app(app)

    # Composition: lrs <- pathways <- lti, each attaching its blueprints, CLI and subscribers.
    import lrs
    import lti
    import pathways
    lrs.init_app(app)
    pathways.init_app(app)
    lti.init_app(app)

    _check_schema(app)

    @app.get("/")
    def home() -> Response:
        if "portal.home" in app.view_functions:
            return redirect(url_for("portal.home"))
        return Response(render_template("home.html"))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _check_schema(app: Flask) -> None:
    """Upgrade the embedded default database, or refuse to serve an out-of-date one."""
    from cairn import migrate
    database = app.extensions["cairn.db"]
    state = {"checked": False}
    if app.config["AUTO_UPGRADE"]:
        if app.config["DATABASE_URL"].startswith("sqlite:///"):
            from pathlib import Path
            Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True)
        migrate.upgrade(database.engine)
        state["checked"] = True

    @app.before_request
    def _refuse_outdated() -> Response | None:
        if state["checked"] or app.config.get("SKIP_SCHEMA_CHECK"):
            return None
        if migrate.is_up_to_date(database.engine):
            state["checked"] = True
            return None
        return errors.error_response(
            503, "database_out_of_date",
            "The database schema is not at the version this Cairn needs. "
            "Run `cairn db upgrade` and restart.")
