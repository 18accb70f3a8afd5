"""Administration of LTI: platform registrations and the tool configuration to copy, as pages
(CSRF-protected forms) and as a JSON API under /lti/api."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from cairn.auth import admin_required
from cairn.db import get_db, get_session
from lti import keys, platforms, registration, rosters
from lti.schemas import PlatformInput, PlatformOutput, RosterSyncOutput

bp = Blueprint("lti_admin", __name__, url_prefix="/lti", template_folder="templates")


def _tool_configuration() -> dict:
    token = registration.registration_link_token(current_app.config["SECRET_KEY"])
    return platforms.tool_configuration(current_app.config["BASE_URL"], token)


@bp.get("/admin")
@admin_required
def admin_page() -> str:
    session = get_session()
    return render_template("lti_admin.html", platforms=platforms.list_platforms(session),
                           config=_tool_configuration(),
                           keys=keys.list_keys(session), errors={}, form={})


@bp.post("/admin/platforms")
@admin_required
def admin_add_platform() -> Response | tuple[str, int]:
    session = get_session()
    try:
        data = PlatformInput().load(request.form)
    except ValidationError as exc:
        return render_template("lti_admin.html", platforms=platforms.list_platforms(session),
                               config=_tool_configuration(),
                               keys=keys.list_keys(session), errors=exc.messages, form=request.form), 400
    platform = platforms.add_platform(session, **data)
    flash(f"Platform {platform.name} registered.")
    return redirect(url_for("lti_admin.admin_page"))


@bp.post("/admin/platforms/<int:platform_id>/delete")
@admin_required
def admin_remove_platform(platform_id: int) -> Response:
    platforms.remove_platform(get_session(), platform_id)
    flash("Platform registration removed.")
    return redirect(url_for("lti_admin.admin_page"))


@bp.get("/api/platforms")
@admin_required
def api_platforms() -> Response:
    return PlatformOutput(many=True).dump(platforms.list_platforms(get_session()))


@bp.post("/api/platforms")
@admin_required
def api_add_platform() -> tuple[dict, int]:
    data = PlatformInput().load(request.get_json(silent=True) or {})
    return PlatformOutput().dump(platforms.add_platform(get_session(), **data)), 201


@bp.delete("/api/platforms/<int:platform_id>")
@admin_required
def api_remove_platform(platform_id: int) -> tuple[str, int]:
    platforms.remove_platform(get_session(), platform_id)
    return "", 204


@bp.get("/api/tool-config")
@admin_required
def api_tool_config() -> dict:
    return _tool_configuration()


@bp.post("/api/contexts/<int:context_id>/roster-sync")
@admin_required
def api_sync_roster(context_id: int) -> dict:
    # End the sign-in check's read transaction: on SQLite it holds the write lock, which the
    # platform's call back to our JWKS (during the sync) would wait for.
    get_session().rollback()
    return RosterSyncOutput().dump(rosters.sync_now(get_db().session_factory(), context_id))
