"""The LTI machine endpoints: OIDC login initiation, launch, JWKS, continuing a launch in a new
window, and the Deep Linking selection. Platforms post here cross-site, so CSRF tokens cannot
apply (``csrf.exempt``); state, nonce and launch tokens protect these endpoints instead."""
from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Response,
    after_this_request,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import NotFound

from cairn.accounts.services import get_user
from cairn.auth import current_user, login_required, sign_in
from cairn.db import get_db, get_session
from cairn.errors import Forbidden
from lti import arrivals, deep_linking, keys, launches, platforms, registration, rosters
from lti.errors import LaunchRejected
from lti.models import Launch
from lti.schemas import DeepLinkingChoice, LaunchForm, LoginInitiation, RegistrationStart

log = logging.getLogger(__name__)

bp = Blueprint("lti", __name__, url_prefix="/lti", template_folder="templates", static_folder="static",
               static_url_path="/static")

STATE_COOKIE_PREFIX = "lti1p3_state_"
STORAGE_KEY_PREFIX = "cairn_state_"


def _forget_new_session() -> None:
    """base.html puts a CSRF token in every page, which would open a browser session; LTI pages
    shown to a not-yet-known browser (storage steps, refusals) must store nothing."""
    if getattr(session, "new", False):
        session.clear()


def _cookie_options() -> dict[str, Any]:
    secure = bool(current_app.config["SESSION_COOKIE_SECURE"])
    return {"max_age": int(launches.LOGIN_STATE_LIFETIME.total_seconds()), "httponly": True, "secure": secure,
            "samesite": "None" if secure else "Lax", "path": "/lti/"}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    params = LoginInitiation().load(request.values.to_dict())
    login_redirect = launches.begin_login(get_session(), params,
                                          redirect_uri=url_for("lti.launch", _external=True))
    if login_redirect.storage_target:
        # LTI Client Side postMessages: keep the state in the platform's storage too, then go on.
        response = make_response(render_template(
            "lti_storage_put.html", target=login_redirect.storage_target,
            origin=login_redirect.platform_origin, key=STORAGE_KEY_PREFIX + login_redirect.state,
            value=login_redirect.state, next_url=login_redirect.url))
        _forget_new_session()
    else:
        response = redirect(login_redirect.url)
    # The cookie is the fallback (and the only binding when the platform offers no storage).
    response.set_cookie(STATE_COOKIE_PREFIX + login_redirect.state, login_redirect.state, **_cookie_options())
    return response


@bp.post("/launch")
def launch() -> Response:
    form = LaunchForm().load(request.form.to_dict())
    state = form["state"]
    cookie_state = request.cookies.get(STATE_COOKIE_PREFIX + state) if state else None
    storage_checked = form["lti_storage_state"] is not None
    if storage_checked:
        # Our own page re-posts after reading the platform's storage; only our origin may do that.
        ours = {launches.origin_of(request.host_url), launches.origin_of(current_app.config["BASE_URL"])}
        if request.headers.get("Origin") not in ours:
            raise LaunchRejected("state", "The storage-checked launch was not posted by Cairn's own page.")
        browser_state = form["lti_storage_state"]
    elif cookie_state is None and form["lti_storage_target"] and launches.login_state(get_session(), state):
        # No cookie came back: ask the platform's storage frame (in the browser) for the state.
        response = make_response(render_template(
            "lti_storage_get.html", target=form["lti_storage_target"],
            origin=_platform_origin(state), key=STORAGE_KEY_PREFIX + state, id_token=form["id_token"],
            state=state))
        _forget_new_session()
        return response
    else:
        browser_state = cookie_state
    session = get_session()
    valid = launches.validate_launch(session, id_token=form["id_token"], state=state,
                                     browser_state=browser_state)
    arrival = arrivals.accept(session, valid, base_url=current_app.config["BASE_URL"])
    if arrival.context is not None and rosters.is_stale(arrival.context):
        _sync_roster_after_response(arrival.context.id)
    log.info("LTI launch accepted: issuer=%s sub=%s message=%s", valid.platform.issuer,
             valid.claims.get("sub"), arrival.launch.message_type)
    if arrival.is_deep_linking:
        response = redirect(url_for("lti.deep_linking_page", token=arrival.launch.token))
    elif storage_checked:
        # The iframe cannot keep our session cookie: continue first-party, in a new window.
        response = make_response(render_template("lti_continue.html", launch=arrival.launch,
                                                 user=arrival.user))
    else:
        sign_in(arrival.user)
        response = redirect(destination_url(arrival.launch))
    response.delete_cookie(STATE_COOKIE_PREFIX + state, path="/lti/")
    return response


def _sync_roster_after_response(context_pk: int) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    @after_this_request
    def _schedule(response: Response) -> Response:
        def sync() -> None:
            with app.app_context():
                rosters.sync_in_background(get_db().session_factory(), context_pk)
        response.call_on_close(sync)
        return response


def _platform_origin(state: str) -> str:
    row = launches.login_state(get_session(), state)
    assert row is not None
    platform = platforms.get_platform(get_session(), row.platform_id)
    return launches.origin_of(platform.auth_login_url)


def destination_url(launch: Launch) -> str:
    """Where a launch leads: the portal's page for its pathway, step or catalogue when the portal is
    installed, else the launch summary page."""
    place = arrivals.destination(get_session(), launch)
    candidates = {"pathway": ("portal.pathway", {"pathway_id": place.pathway_id}),
                  "step": ("portal.step", {"step_id": place.step_id}),
                  "catalogue": ("portal.catalogue", {})}
    endpoint, arguments = candidates[place.kind]
    if endpoint in current_app.view_functions and all(v is not None for v in arguments.values()):
        return url_for(endpoint, **arguments)
    return url_for("lti.launched", token=launch.token)


@bp.get("/jwks.json")
def jwks() -> Response:
    response = make_response(keys.published_jwks(get_session()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/continue/<token>")
def continue_launch(token: str) -> Response:
    launch = arrivals.continue_launch(get_session(), token)
    if launch is None:
        raise LaunchRejected("launch", "This launch link is unknown, expired or already used: launch Cairn "
                             "again from the platform.", status=404)
    user = get_user(get_session(), launch.user_id)
    assert user is not None
    sign_in(user)
    return redirect(destination_url(launch))


@bp.get("/launched/<token>")
@login_required
def launched(token: str) -> str:
    launch = arrivals.launch_by_token(get_session(), token)
    if launch is None:
        raise NotFound("This launch is unknown or expired.")
    user = current_user()
    if user is None or user.id != launch.user_id:
        raise Forbidden("this launch belongs to someone else")
    return render_template("lti_launched.html", summary=arrivals.summary(get_session(), launch))


@bp.get("/deep-linking/<token>")
def deep_linking_page(token: str) -> str:
    launch = deep_linking.launch_for_selection(get_session(), token)
    query = request.args.get("q", "").strip()
    category = request.args.get("category", "").strip()
    catalogue = deep_linking.catalogue(get_session(), query=query, category=category)
    return render_template("lti_deep_linking.html", launch=launch, catalogue=catalogue, query=query,
                           category=category, settings=launch.deep_linking_settings or {})


@bp.post("/deep-linking/<token>")
def deep_linking_submit(token: str) -> str:
    choice = DeepLinkingChoice().load(request.form)
    response = deep_linking.respond(get_session(), token, choice["items"], base_url=request.host_url)
    return render_template("lti_deep_linking_return.html", response=response)


@bp.get("/register")
def register() -> str:
    start = RegistrationStart().load(request.args.to_dict())
    registration.check_registration_link(current_app.config["SECRET_KEY"], start["cairn_token"])
    platform = registration.register(get_session(), start["openid_configuration"],
                                     start["registration_token"], base_url=current_app.config["BASE_URL"])
    return render_template("lti_registered.html", platform=platform)


def rejected_page(exc: LaunchRejected) -> Response:
    """The page a VLE administrator sees for a refused login or launch; nothing of it is stored."""
    log.warning("LTI launch rejected (%s): %s [%s %s]", exc.check, exc.message, request.method, request.path)
    response = make_response(render_template("lti_rejected.html", check=exc.check, message=exc.message),
                             exc.status)
    _forget_new_session()
    return response
