"""The LTI 1.3 tool. The only package that imports pylti1p3 (in ``lti.adapter`` alone)."""
from __future__ import annotations

from flask import Flask

from cairn.errors import register_api_prefix
from cairn.nav import register_nav_link
from cairn.security import csrf


def init_app(app: Flask) -> None:
    """Attach the LTI blueprints and CLI commands to ``app``."""
    from lti import admin, cli, views
    from lti.errors import LaunchRejected

    # Platforms post logins and launches cross-site; Deep Linking and continuing are guarded by
    # secret launch tokens: none of these can carry our CSRF token.
    csrf.exempt(views.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    register_api_prefix(app, "/lti/api")
    register_nav_link(app, "admin", "lti_admin.admin_page", "LTI platforms", order=70, section="lti_admin.")
    app.register_error_handler(LaunchRejected, views.rejected_page)
    app.cli.add_command(cli.lti_group)
    from cairn.cli import register_demo_loader
    from lti import demo
    register_demo_loader(app, demo.load)
    # Changed pathway and assessment outcomes are passed back to the platforms (AGS).
    from lti import grades
    from pathways.services import on_outcome_changed
    on_outcome_changed(app, grades.on_outcome_changed, wanted=grades.outcomes_with_links)
