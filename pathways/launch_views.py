"""The cmi5 fetch URL (a machine endpoint: no CSRF, open to the AU's origin) and the launch wiring."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify

from cairn.db import get_session
from cairn.security import csrf
from pathways import launch

bp = Blueprint("cmi5", __name__)


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
    subscribe(app, launch.on_statements, savepoint=False)
    app.extensions.setdefault("cairn.worker_tasks", []).append(_close_stale_sessions)
    register_pathway_activities(app, pathway_activities)
