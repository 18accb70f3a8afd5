"""LTI Dynamic Registration 1.0: read the platform's OpenID configuration, post Cairn's client
registration, store what the platform answered."""
from __future__ import annotations

from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from lti import platforms
from lti.adapter import ServiceCallFailed, fetch_json, post_json
from lti.errors import RegistrationFailed
from lti.models import Platform

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
# Whoever holds a registration link may register a platform; a link is made by an administrator
# and expires, so that strangers cannot register platforms of their own.
LINK_SALT = "cairn.lti.registration"
LINK_LIFETIME_SECONDS = 7 * 24 * 3600


def registration_link_token(secret_key: str) -> str:
    """A signed, expiring token that allows one to use Cairn's dynamic registration URL."""
    return URLSafeTimedSerializer(secret_key, salt=LINK_SALT).dumps({"purpose": "lti-registration"})


def check_registration_link(secret_key: str, token: str | None) -> None:
    """Refuse a registration without a valid, unexpired link token."""
    try:
        URLSafeTimedSerializer(secret_key, salt=LINK_SALT).loads(token or "", max_age=LINK_LIFETIME_SECONDS)
    except BadData as exc:
        raise RegistrationFailed("This registration link is missing, invalid or expired: ask a Cairn "
                                 "administrator for a new one (LTI administration page or "
                                 "`cairn lti tool-config`).", status=403,
                                 code="registration_link_invalid") from exc


def client_registration(base_url: str, platform_configuration: dict) -> dict:
    """The OpenID client registration Cairn asks for (Dynamic Registration §3.4)."""
    urls = platforms.tool_urls(base_url)
    supported = set(platform_configuration.get("scopes_supported") or platforms.TOOL_SCOPES)
    messages = [m.get("type") for m in (platform_configuration.get(PLATFORM_CONFIGURATION) or {})
                .get("messages_supported", []) if isinstance(m, dict)]
    tool_messages = [{"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch, "label": "Cairn"}]
    if not messages or "LtiDeepLinkingRequest" in messages:
        tool_messages.append({"type": "LtiDeepLinkingRequest", "target_link_uri": urls.deep_linking,
                              "label": "Cairn pathways"})
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": "Cairn",
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(s for s in platforms.TOOL_SCOPES if s in supported),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(base_url).netloc,
            "target_link_uri": urls.launch,
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": tool_messages,
        },
    }


def register(session: Session, openid_configuration_url: str, registration_token: str | None, *,
             base_url: str) -> Platform:
    """Register Cairn with the platform whose OpenID configuration is at ``openid_configuration_url``."""
    try:
        configuration = fetch_json(openid_configuration_url, token=registration_token)
    except ServiceCallFailed as exc:
        raise RegistrationFailed(f"Cannot read the platform's OpenID configuration: {exc}") from exc
    missing = [k for k in REQUIRED if not configuration.get(k)]
    if missing:
        raise RegistrationFailed(f"The platform's OpenID configuration lacks {', '.join(missing)}.",
                                 status=400)
    issuer = str(configuration["issuer"])
    # §3.5.1: the configuration must come from the issuer's own site.
    if urlsplit(openid_configuration_url).netloc != urlsplit(issuer).netloc:
        raise RegistrationFailed(f"The OpenID configuration at {openid_configuration_url} is not on the "
                                 f"issuer's host ({issuer}).", status=400)
    try:
        answer = post_json(str(configuration["registration_endpoint"]),
                           client_registration(base_url, configuration), token=registration_token)
    except ServiceCallFailed as exc:
        raise RegistrationFailed(f"The platform refused Cairn's registration: {exc}") from exc
    client_id = answer.get("client_id")
    if not client_id:
        raise RegistrationFailed("The platform's registration answer has no client_id.")
    deployment_id = (answer.get(TOOL_CONFIGURATION) or {}).get("deployment_id")
    existing = platforms.find_platform(session, issuer, str(client_id))
    if existing is not None:
        if deployment_id:
            platforms.add_deployment(session, existing.id, str(deployment_id))
        return existing
    name = (configuration.get(PLATFORM_CONFIGURATION) or {}).get("product_family_code") or issuer
    return platforms.add_platform(
        session, issuer=issuer, client_id=str(client_id), name=str(name),
        auth_login_url=str(configuration["authorization_endpoint"]),
        token_url=str(configuration["token_endpoint"]),
        jwks_url=str(configuration["jwks_uri"]), deployment_ids=[str(deployment_id)] if deployment_id else [],
        auth_audience=configuration.get("authorization_server"))
