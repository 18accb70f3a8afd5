"""The cmi5 fetch URL (a machine endpoint: no CSRF, open to the AU's origin) and the launch wiring."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, redirect, request, url_for
from marshmallow import EXCLUDE, Schema, fields, validate

from cairn.auth import current_user, login_required
from cairn.db import get_session
from cairn.security import csrf
from pathways import launch
from pathways.catalogue import get_step
from pathways.errors import InvalidInput

bp = Blueprint("cmi5", __name__)
pages = Blueprint("launch", __name__)


class LaunchForm(Schema):
    class Meta:
        unknown = EXCLUDE

    return_url = fields.String(load_default=None, validate=validate.Length(max=2048))


@pages.post("/launch/steps/<int:step_id>")
@login_required
def launch_step(step_id: int) -> Response:
    """Open a content step for the signed-in learner: a form's POST, then a redirect to the content."""
    form = LaunchForm().load(request.form)
    session = get_session()
    user = current_user()
    assert user is not None
    kind = get_step(session, step_id).kind
    if kind == "xapi":
        info = launch.launch_xapi_content(session, user.id, step_id)
    elif kind == "cmi5":
        # Only a same-site path may be the return URL: anything else would be an open redirect.
        back = form["return_url"] if (form["return_url"] or "").startswith("/") else None
        info = launch.launch_cmi5(session, user.id, step_id,
                                  return_url=url_for("home", _external=True).rstrip("/") + back if back else None)
    else:
        raise InvalidInput("step_id", f"a {kind} step has no content to launch")
    return redirect(info.url, code=303)


def _cors(response: Response) -> Response:
    # The AU runs on its own origin and POSTs here from the learner's browser (cmi5 8.2).
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/cmi5/fetch/<token>", methods=["OPTIONS"])
def fetch_preflight(token: str) -> Response:
    return _cors(Response(status=204))


@bp.post("/cmi5/fetch/<token>")
def fetch(token: str) -> Response:
    """cmi5 8.2: POST only; HTTP 200 with ``auth-token``, or with ``error-code`` after the first use."""
    answer = launch.fetch_auth_token(get_session(), token)
    return _cors(jsonify(answer.body))


def _close_stale_sessions(app: Flask) -> bool:
    with app.extensions["cairn.db"].session_factory()() as session:
        changed = launch.close_stale_sessions(session)
        session.commit()
    return changed > 0


def init_app(app: Flask) -> None:
    """The fetch route, the subscriber that applies moveOn, the stale-session sweep of ``cairn worker``,
    and what a pathway covers for forwarding filters."""
    from lrs.services import register_pathway_activities, subscribe
    from pathways.forwarding import pathway_activities
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(pages)
    subscribe(app, launch.on_statements)
    app.extensions.setdefault("cairn.worker_tasks", []).append(_close_stale_sessions)
    register_pathway_activities(app, pathway_activities)
