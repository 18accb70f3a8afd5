"""Platform registrations: issuers, client_ids, endpoints and deployment ids; the tool's own
configuration for a VLE administrator to copy."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from cairn.errors import Conflict
from lti.adapter import (
    AGS_SCOPE_LINEITEM,
    AGS_SCOPE_LINEITEM_READONLY,
    AGS_SCOPE_RESULT,
    AGS_SCOPE_SCORE,
    NRPS_SCOPE,
    PlatformConfig,
)
from lti.errors import PlatformNotFound
from lti.models import Deployment, Platform

TOOL_SCOPES = [AGS_SCOPE_LINEITEM, AGS_SCOPE_LINEITEM_READONLY, AGS_SCOPE_RESULT, AGS_SCOPE_SCORE, NRPS_SCOPE]


def add_platform(session: Session, *, issuer: str, client_id: str, auth_login_url: str, token_url: str,
                 jwks_url: str, deployment_ids: list[str], name: str = "",
                 auth_audience: str | None = None) -> Platform:
    """Register a platform (an issuer and the client_id it gave Cairn) with its deployment ids."""
    existing = find_platform(session, issuer, client_id)
    if existing is not None:
        raise Conflict(f"platform {issuer} with client_id {client_id} is already registered "
                       f"(id {existing.id})")
    platform = Platform(issuer=issuer, client_id=client_id, name=name or issuer,
                        auth_login_url=auth_login_url, token_url=token_url, jwks_url=jwks_url,
                        auth_audience=auth_audience)
    platform.deployments = [Deployment(deployment_id=d) for d in dict.fromkeys(deployment_ids) if d]
    session.add(platform)
    session.flush()
    return platform


def add_deployment(session: Session, platform_id: int, deployment_id: str) -> Deployment:
    """Accept launches from one more deployment of a registered platform (idempotent)."""
    platform = get_platform(session, platform_id)
    for deployment in platform.deployments:
        if deployment.deployment_id == deployment_id:
            return deployment
    deployment = Deployment(deployment_id=deployment_id)
    platform.deployments.append(deployment)
    session.flush()
    return deployment


def get_platform(session: Session, platform_id: int) -> Platform:
    platform = session.get(Platform, platform_id)
    if platform is None:
        raise PlatformNotFound(f"no platform with id {platform_id}")
    return platform


def find_platform(session: Session, issuer: str, client_id: str | None) -> Platform | None:
    """The registration for ``issuer`` and ``client_id``; without a client_id, the issuer's only one."""
    query = select(Platform).where(Platform.issuer == issuer)
    if client_id:
        return session.scalar(query.where(Platform.client_id == client_id))
    candidates = list(session.scalars(query.limit(2)))
    return candidates[0] if len(candidates) == 1 else None


def platforms_for_issuer(session: Session, issuer: str) -> list[Platform]:
    return list(session.scalars(select(Platform).where(Platform.issuer == issuer).order_by(Platform.id)))


def list_platforms(session: Session) -> list[Platform]:
    """Every registered platform, oldest first."""
    return list(session.scalars(select(Platform).order_by(Platform.id)))


def remove_platform(session: Session, platform_id: int) -> None:
    """Forget a platform registration (its contexts and links go with it; learners stay)."""
    session.delete(get_platform(session, platform_id))
    session.flush()


def platform_config(platform: Platform) -> PlatformConfig:
    """The plain values the pylti1p3 adapter needs."""
    return PlatformConfig(issuer=platform.issuer, client_id=platform.client_id,
                          auth_login_url=platform.auth_login_url, token_url=platform.token_url,
                          jwks_url=platform.jwks_url, auth_audience=platform.auth_audience,
                          deployment_ids=[d.deployment_id for d in platform.deployments],
                          jwks=dict(platform.jwks) if platform.jwks else None)


@dataclass(frozen=True)
class ToolUrls:
    login: str
    launch: str
    jwks: str
    deep_linking: str
    registration: str


def tool_urls(base_url: str) -> ToolUrls:
    base = base_url.rstrip("/")
    return ToolUrls(login=f"{base}/lti/login", launch=f"{base}/lti/launch", jwks=f"{base}/lti/jwks.json",
                    deep_linking=f"{base}/lti/launch", registration=f"{base}/lti/register")


def tool_configuration(base_url: str, registration_token: str | None = None) -> dict:
    """What a VLE administrator enters on the platform: URLs and a Canvas-style JSON configuration
    (with the dynamic registration link when a link token is given)."""
    urls = tool_urls(base_url)
    domain = base_url.split("://", 1)[-1].split("/", 1)[0]
    return {
        "title": "Cairn",
        "description": "Learning pathways with an xAPI learning record store.",
        "oidc_initiation_url": urls.login,
        "target_link_uri": urls.launch,
        "redirect_uris": [urls.launch],
        "public_jwk_url": urls.jwks,
        "deep_linking_url": urls.deep_linking,
        "dynamic_registration_url": (f"{urls.registration}?{urlencode({'cairn_token': registration_token})}"
                                     if registration_token else urls.registration),
        "scopes": TOOL_SCOPES,
        "extensions": [{
            "platform": "canvas.instructure.com",
            "domain": domain,
            "privacy_level": "public",
            "settings": {"placements": [
                {"placement": "course_navigation", "message_type": "LtiResourceLinkRequest",
                 "target_link_uri": urls.launch, "text": "Cairn"},
                {"placement": "assignment_selection", "message_type": "LtiDeepLinkingRequest",
                 "target_link_uri": urls.deep_linking, "text": "Cairn pathways"},
                {"placement": "link_selection", "message_type": "LtiDeepLinkingRequest",
                 "target_link_uri": urls.deep_linking, "text": "Cairn pathways"},
            ]},
        }],
        "custom_fields": {},
    }
