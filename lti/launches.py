"""OIDC login initiation and launch validation (1EdTech Security Framework 1.0, LTI Core 1.3 §4-5).

The state and nonce we send are a ``LoginState`` row; the nonce of every accepted id_token is a
``UsedNonce`` row. So every worker on every host agrees on what is fresh, and a replayed launch is
refused (pylti1p3 on its own would accept it).
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cairn.db import utcnow
from lti import platforms
from lti.adapter import CheckFailed, unverified_claims, verify_launch
from lti.errors import LaunchRejected
from lti.models import LoginState, Platform, UsedNonce

log = logging.getLogger(__name__)

LOGIN_STATE_LIFETIME = timedelta(minutes=10)
DEFAULT_LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class LoginRedirect:
    """Where to send the browser after login initiation, and what to keep on the browser side."""

    url: str
    state: str
    storage_target: str | None
    platform_origin: str


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def begin_login(session: Session, params: dict[str, str], *, redirect_uri: str) -> LoginRedirect:
    """Answer a third-party login initiation (LTI Core §4.1): record a state and nonce, and build the
    authentication request to the platform's OIDC endpoint."""
    issuer = params.get("iss", "")
    if not issuer:
        raise LaunchRejected("issuer", "The login initiation request has no iss parameter.", status=400)
    if not params.get("login_hint"):
        raise LaunchRejected("login_hint", "The login initiation request has no login_hint parameter.",
                             status=400)
    if not params.get("target_link_uri"):
        raise LaunchRejected("target_link_uri", "The login initiation request has no target_link_uri.",
                             status=400)
    client_id = params.get("client_id") or None
    platform = platforms.find_platform(session, issuer, client_id)
    if platform is None:
        known = len(platforms.platforms_for_issuer(session, issuer))
        hint = (f"{known} registrations exist for this issuer, so the platform must send client_id"
                if known > 1 and not client_id else "register the platform in Cairn's LTI administration")
        raise LaunchRejected("issuer", f"No platform is registered for issuer {issuer!r} and client_id "
                             f"{client_id!r}: {hint}.", status=400)
    deployment_id = params.get("lti_deployment_id")
    if deployment_id and deployment_id not in {d.deployment_id for d in platform.deployments}:
        raise LaunchRejected("deployment", f"The deployment_id {deployment_id!r} is not registered for "
                             f"{issuer!r}; add it in Cairn's LTI administration.", status=400)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(LoginState(state=state, nonce=nonce, platform_id=platform.id,
                           target_link_uri=params["target_link_uri"],
                           expires_at=utcnow() + LOGIN_STATE_LIFETIME))
    session.flush()
    query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
             "client_id": platform.client_id, "redirect_uri": redirect_uri,
             "login_hint": params["login_hint"], "state": state, "nonce": nonce}
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    storage_target = params.get("lti_storage_target") or None
    if storage_target:
        query["lti_storage_target"] = storage_target
    separator = "&" if "?" in platform.auth_login_url else "?"
    return LoginRedirect(url=f"{platform.auth_login_url}{separator}{urlencode(query)}", state=state,
                         storage_target=storage_target, platform_origin=origin_of(platform.auth_login_url))


def login_state(session: Session, state: str) -> LoginState | None:
    """The unexpired login state ``state``, if any."""
    if not state:
        return None
    row = session.scalar(select(LoginState).where(LoginState.state == state))
    if row is None or row.expires_at <= utcnow():
        return None
    return row


@dataclass(frozen=True)
class ValidLaunch:
    platform: Platform
    claims: dict


def validate_launch(session: Session, *, id_token: str, state: str, browser_state: str | None,
                    leeway: int = DEFAULT_LEEWAY_SECONDS) -> ValidLaunch:
    """Run every check on a launch; raise ``LaunchRejected`` naming the first that fails.

    ``browser_state`` is the state this browser kept at login (cookie or platform storage); it must
    equal ``state``. On success the nonce is recorded as used.
    """
    if not state:
        raise LaunchRejected("state", "The launch has no state parameter.", status=400)
    row = login_state(session, state)
    if row is None:
        raise LaunchRejected("state", "The launch's state is unknown or expired: it was not issued by "
                             "Cairn's login endpoint in the last 10 minutes.")
    if browser_state != state:
        raise LaunchRejected("state", "The launch's state is not bound to this browser: the state cookie "
                             "was not sent back (third-party cookies blocked?) and the platform's "
                             "lti_storage_target storage did not hold it.")
    if not id_token:
        raise LaunchRejected("id_token", "The launch has no id_token parameter.", status=400)
    platform = session.get(Platform, row.platform_id)
    assert platform is not None  # the state row cascades with its platform
    try:
        unverified = unverified_claims(id_token)
        if unverified.get("iss") != platform.issuer:
            raise CheckFailed("issuer", f"The id_token's issuer {unverified.get('iss')!r} is not the "
                              f"platform this login started with ({platform.issuer!r}).")
        config = platforms.platform_config(platform)
        claims = verify_launch(id_token, config, leeway=leeway)
    except CheckFailed as exc:
        raise LaunchRejected(exc.check, exc.message) from exc
    if config.fetched_jwks is not None:
        platform.jwks = config.fetched_jwks
        platform.jwks_fetched_at = utcnow()
    target = claims.get("https://purl.imsglobal.org/spec/lti/claim/target_link_uri")
    if target and target != row.target_link_uri:
        raise LaunchRejected("target_link_uri", f"The id_token's target_link_uri {target!r} is not the one "
                             f"the login was initiated with ({row.target_link_uri!r}).")
    if claims.get("nonce") != row.nonce:
        raise LaunchRejected("nonce", "The id_token's nonce is not the one Cairn sent in this login.")
    _use_nonce(session, platform.issuer, str(claims["nonce"]), claims.get("exp"), leeway)
    return ValidLaunch(platform=platform, claims=claims)


def _use_nonce(session: Session, issuer: str, nonce: str, exp: object, leeway: int) -> None:
    replay = LaunchRejected("nonce", "The id_token's nonce was already used: this launch is a replay.")
    if session.scalar(select(UsedNonce.id).where(UsedNonce.issuer == issuer, UsedNonce.nonce == nonce)):
        raise replay
    expires = datetime.fromtimestamp(int(exp), UTC) if isinstance(exp, int | float) else utcnow()
    try:
        with session.begin_nested():
            # Kept until the token could no longer pass the expiry check anyway.
            session.add(UsedNonce(issuer=issuer, nonce=nonce,
                                  expires_at=max(expires, utcnow()) + timedelta(seconds=leeway + 60)))
    except IntegrityError as exc:  # another worker accepted the same nonce a moment ago
        raise replay from exc


def purge_expired(session: Session) -> int:
    """Delete expired login states and used nonces (kept only as long as they matter)."""
    now = utcnow()
    count = 0
    for model in (LoginState, UsedNonce):
        for row in session.scalars(select(model).where(model.expires_at <= now)):
            session.delete(row)
            count += 1
    session.flush()
    return count
