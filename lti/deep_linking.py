"""Deep Linking 2.0: an instructor picks pathways or steps from the catalogue, and Cairn answers
the platform with ``ltiResourceLink`` content items (with a line item when gradable), in a JWT
signed with the tool's current key."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from lti import arrivals, keys, platforms
from lti import catalogue as catalogue_source
from lti.adapter import ContentItem, deep_linking_response
from lti.errors import LaunchRejected
from lti.models import Launch

DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"


@dataclass(frozen=True)
class DeepLinkingResponse:
    return_url: str
    jwt: str
    items: list[ContentItem] = field(default_factory=list)


def launch_for_selection(session: Session, token: str) -> Launch:
    """The Deep Linking launch that ``token`` names, still valid."""
    launch = arrivals.launch_by_token(session, token)
    if launch is None or launch.message_type != DEEP_LINKING_REQUEST or not launch.deep_linking_settings:
        raise LaunchRejected("launch", "This Deep Linking selection is unknown or expired: start it again "
                             "from the platform.", status=404)
    return launch


def catalogue(session: Session, *, query: str = "", category: str = "") -> catalogue_source.Catalogue:
    """What an instructor can link to, filtered by a search ``query`` and ``category``."""
    return catalogue_source.load(session, query=query, category=category)


def respond(session: Session, token: str, chosen: list[str], *, base_url: str) -> DeepLinkingResponse:
    """Build the signed response for the ``chosen`` catalogue keys ("pathway:12", "step:7", "catalogue:")."""
    launch = launch_for_selection(session, token)
    settings = dict(launch.deep_linking_settings or {})
    if settings.get("accept_multiple", True) not in (True, "true") and len(chosen) > 1:
        chosen = chosen[:1]
    entries = catalogue_source.entries_by_key(session, chosen)
    urls = platforms.tool_urls(base_url)
    items = [ContentItem(title=e.title, url=urls.launch, custom={arrivals.TARGET_PARAMETER: e.key},
                         score_maximum=e.score_maximum if e.gradable else None, label=e.title,
                         resource_id=e.key)
             for e in entries]
    platform = platforms.get_platform(session, launch.platform_id)
    jwt = deep_linking_response(platforms.platform_config(platform), keys.signing_key(session),
                                launch.deployment_id, settings, items)
    # One response per selection launch.
    launch.expires_at = launch.created_at
    session.flush()
    return DeepLinkingResponse(return_url=str(settings["deep_link_return_url"]), jwt=jwt, items=items)
