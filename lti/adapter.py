"""The one module that talks to pylti1p3.

Everything else in ``lti`` deals in plain values: ``PlatformConfig``, ``ToolKeyPair``, claim dicts.
pylti1p3 decodes and checks the id_token (registration, signature, deployment, message claims),
builds Deep Linking responses and calls the AGS and NRPS services with client-assertion tokens.
What it does not do for us (single-use nonces across workers, the state bound to the browser, a
leeway on ``exp``/``iat``, ``azp``) Cairn does in ``lti.launches`` with rows in the database; here
each failure becomes a ``CheckFailed`` that names the check, for the VLE administrator's page.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.deployment import Deployment as _Deployment
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.registration import Registration
from pylti1p3.request import Request
from pylti1p3.service_connector import ServiceConnector
from pylti1p3.tool_config.abstract import ToolConfAbstract

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DEPLOYMENT_CLAIM = LTI + "deployment_id"
MESSAGE_TYPE_CLAIM = LTI + "message_type"
AGS_SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
AGS_SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_SCOPE_RESULT = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
HTTP_TIMEOUT = 10


class CheckFailed(Exception):
    """A launch check failed: ``check`` names it (signature, expiry, audience...)."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check
        self.message = message


class ServiceCallFailed(Exception):
    """A call to a platform service (token, AGS, NRPS) failed; ``status`` is the HTTP status or None."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ToolKeyPair:
    kid: str
    private_pem: str


@dataclass
class PlatformConfig:
    issuer: str
    client_id: str
    auth_login_url: str
    token_url: str
    jwks_url: str
    deployment_ids: list[str]
    auth_audience: str | None = None
    jwks: dict | None = None
    # Set by verify_launch when it had to (re)fetch the platform's key set, for the caller to cache.
    fetched_jwks: dict | None = field(default=None, compare=False)


class _TimeoutSession(requests.Session):
    """pylti1p3 calls requests without a timeout; a platform that hangs must not hang a worker."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return super().request(method, url, *args, **kwargs)


def _http() -> requests.Session:
    session = _TimeoutSession()
    session.headers["User-Agent"] = "Cairn-LTI"
    return session


# --- tool keys -----------------------------------------------------------------------------------

def generate_key_pair() -> tuple[ToolKeyPair, dict]:
    """A new 2048-bit RSA key pair: the private PEM with its kid, and the public JWK to publish."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_jwk = public_jwk_of(private_pem)
    return ToolKeyPair(kid=public_jwk["kid"], private_pem=private_pem), public_jwk


def public_jwk_of(private_pem: str) -> dict:
    """The public JWK (kid = RFC 7638 thumbprint, alg RS256, use sig) of a private key."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return dict(Registration.get_jwk(public_pem))


def _public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# --- pylti1p3 plumbing ---------------------------------------------------------------------------

def _registration(platform: PlatformConfig, key: ToolKeyPair | None = None) -> Registration:
    registration = (Registration().set_issuer(platform.issuer).set_client_id(platform.client_id)
                    .set_auth_login_url(platform.auth_login_url).set_auth_token_url(platform.token_url)
                    .set_key_set_url(platform.jwks_url).set_key_set(platform.jwks))
    if platform.auth_audience:
        registration.set_auth_audience(platform.auth_audience)
    if key is not None:
        registration.set_tool_private_key(key.private_pem).set_tool_public_key(_public_pem(key.private_pem))
    return registration


class _ToolConf(ToolConfAbstract[Request]):
    """A tool configuration holding the one platform registration the launch claims to come from."""

    def __init__(self, platform: PlatformConfig) -> None:
        self.platform = platform
        self.issuers_relation_types = {platform.issuer: "one-issuer-many-client-ids"}

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration | None:
        return _registration(self.platform) if iss == self.platform.issuer else None

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any,
                                    **kwargs: Any) -> Registration | None:
        if iss == self.platform.issuer and client_id == self.platform.client_id:
            return _registration(self.platform)
        return None

    def find_deployment(self, iss: str, deployment_id: str) -> _Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, self.platform.client_id)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str,
                                  *args: Any, **kwargs: Any) -> _Deployment | None:
        if (iss, client_id) == (self.platform.issuer, self.platform.client_id) \
                and deployment_id in self.platform.deployment_ids:
            return _Deployment().set_deployment_id(deployment_id)
        return None


class _Launch(MessageLaunch):  # type: ignore[type-arg]
    """pylti1p3's launch over a plain dict of request parameters, without its session machinery."""

    def __init__(self, params: dict[str, str], platform: PlatformConfig, leeway: int) -> None:
        # State and nonce live in Cairn's database, so pylti1p3's session and cookie services are
        # never called; it only insists that they are set.
        super().__init__(_Params(params), _ToolConf(platform), session_service=object(),  # type: ignore[arg-type]
                         cookie_service=object(), requests_session=_http())  # type: ignore[arg-type]
        self._params = params
        self._leeway = leeway
        self._platform = platform
        # Cairn runs the checks itself, in its own order; pylti1p3 must not run its validate().
        self.set_auto_validation(enable=False)

    def _get_request_param(self, key: str) -> str:
        return self._params.get(key, "")

    def get_client_id(self) -> str:
        # pylti1p3 takes the first audience; the audience check (ours) has already made sure that
        # our client_id is among them.
        return self._platform.client_id

    def validate_jwt_signature(self) -> _Launch:
        id_token = self._get_id_token()
        try:
            public_key, key_alg = self.get_public_key()
        except LtiException:
            # An unknown kid: the platform may have rotated its keys since we cached them.
            if self._platform.jwks is None or self._platform.jwks_url is None:
                raise
            fresh = self.fetch_public_key(self._platform.jwks_url)
            self._platform.fetched_jwks = dict(fresh)
            assert self._registration is not None
            self._registration.set_key_set(fresh)
            public_key, key_alg = self.get_public_key()
        if self._platform.jwks is None and self._registration is not None:
            self._platform.fetched_jwks = dict(self._registration.get_key_set() or {})
        try:
            jwt.decode(id_token, public_key, algorithms=[key_alg], leeway=self._leeway,
                       options={"verify_aud": False, "require": ["exp", "iat"]})
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError, jwt.MissingRequiredClaimError) as exc:
            raise CheckFailed("expiry", f"The id_token is outside its validity period: {exc}.") from exc
        except jwt.InvalidSignatureError as exc:
            raise CheckFailed("signature", "The id_token's signature does not verify against the key "
                              f"{self._jwt.get('header', {}).get('kid')!r} of the platform's JWKS.") from exc
        except jwt.InvalidTokenError as exc:
            raise CheckFailed("signature", f"The id_token cannot be verified: {exc}.") from exc
        return self


class _Params(Request):
    def __init__(self, params: dict[str, str]) -> None:
        self._params = params

    @property
    def session(self) -> dict:  # pragma: no cover - never used: no pylti1p3 session
        return {}

    def is_secure(self) -> bool:  # pragma: no cover - pylti1p3 asks only for cookies we don't use
        return True

    def get_param(self, key: str) -> str:
        return self._params.get(key, "")


# --- launch --------------------------------------------------------------------------------------

def unverified_claims(id_token: str) -> dict:
    """The id_token's header and claims before any check (to find the platform it names)."""
    launch = _Launch({"id_token": id_token}, PlatformConfig("", "", "", "", "", []), 0)
    try:
        launch.validate_jwt_format()
    except LtiException as exc:
        raise CheckFailed("id_token", f"The id_token is not a JWT: {exc}.") from exc
    body = launch._jwt.get("body", {})
    if not isinstance(body, dict):
        raise CheckFailed("id_token", "The id_token's payload is not a JSON object.")
    return dict(body)


def verify_launch(id_token: str, platform: PlatformConfig, *, leeway: int = 60) -> dict:
    """Check the id_token of a launch from ``platform`` and return its claims.

    Checks, in order: JWT format, audience (``aud`` contains our client_id; ``azp`` when several
    audiences), registration, signature against the platform's JWKS (refetched on an unknown kid),
    ``exp``/``iat`` within ``leeway`` seconds, deployment, message type, version and required claims.
    """
    launch = _Launch({"id_token": id_token}, platform, leeway)
    try:
        launch.validate_jwt_format()
    except LtiException as exc:
        raise CheckFailed("id_token", f"The id_token is not a JWT: {exc}.") from exc
    claims: dict = dict(launch._jwt.get("body", {}))
    _check_audience(claims, platform.client_id)
    try:
        launch.validate_registration()
    except LtiException as exc:
        raise CheckFailed("audience", f"No registration for issuer {claims.get('iss')!r} and client_id "
                          f"{platform.client_id!r}: {exc}") from exc
    try:
        launch.validate_jwt_signature()
    except LtiException as exc:
        raise CheckFailed("signature", f"The id_token's key was not found in the platform's JWKS at "
                          f"{platform.jwks_url}: {exc}.") from exc
    try:
        launch.validate_deployment()
    except LtiException as exc:
        raise CheckFailed("deployment", f"The deployment_id {claims.get(DEPLOYMENT_CLAIM)!r} is not "
                          f"registered for this platform ({exc}); "
                          "add it in Cairn's LTI administration.") from exc
    try:
        launch.validate_message()
    except LtiException as exc:
        raise CheckFailed("message", f"The launch message is not valid: {exc} "
                          f"(message type {claims.get(MESSAGE_TYPE_CLAIM)!r}).") from exc
    return claims


def _check_audience(claims: dict, client_id: str) -> None:
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise CheckFailed("audience", f"The id_token's audience {aud!r} does not include Cairn's client_id "
                          f"{client_id!r} for this platform.")
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise CheckFailed("audience", "The id_token has several audiences but no azp claim.")
    if azp is not None and azp != client_id:
        raise CheckFailed("audience", f"The id_token's azp {azp!r} is not Cairn's client_id {client_id!r}.")


# --- Deep Linking --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContentItem:
    """An ``ltiResourceLink`` to return; a line item when ``score_maximum`` is set."""

    title: str
    url: str
    custom: dict[str, str]
    score_maximum: float | None = None
    label: str | None = None
    resource_id: str | None = None


def deep_linking_response(platform: PlatformConfig, key: ToolKeyPair, deployment_id: str, settings: dict,
                          items: Sequence[ContentItem]) -> str:
    """The LtiDeepLinkingResponse JWT for ``items``, signed with the tool's ``key``."""
    resources = []
    for item in items:
        resource = DeepLinkResource().set_type("ltiResourceLink").set_title(item.title).set_url(item.url) \
            .set_custom_params(item.custom)
        if item.score_maximum is not None:
            line_item = LineItem().set_score_maximum(item.score_maximum).set_label(item.label or item.title)
            if item.resource_id:
                line_item.set_resource_id(item.resource_id)
            resource.set_lineitem(line_item)
        resources.append(resource)
    deep_link = DeepLink(_registration(platform, key), deployment_id, settings)  # type: ignore[arg-type]
    message = deep_link.get_message_jwt(resources)
    if settings.get("data") is None:
        # The data claim must be echoed only when the request had one.
        message.pop("https://purl.imsglobal.org/spec/lti-dl/claim/data", None)
    return str(jwt.encode(message, key.private_pem, algorithm="RS256", headers={"kid": key.kid}))


# --- services (AGS, NRPS) ------------------------------------------------------------------------

def _connector(platform: PlatformConfig, key: ToolKeyPair) -> ServiceConnector:
    return ServiceConnector(_registration(platform, key), _http())


def _service_error(exc: Exception) -> ServiceCallFailed:
    if isinstance(exc, LtiServiceException):
        return ServiceCallFailed(str(exc)[:900], exc.response.status_code)
    return ServiceCallFailed(f"{type(exc).__name__}: {exc}"[:900])


def post_score(platform: PlatformConfig, key: ToolKeyPair, *, lineitem_url: str | None,
               lineitems_url: str | None, scopes: list[str], score: dict, new_lineitem: dict | None) -> str:
    """Post ``score`` (an AGS Score) to the line item, creating it from ``new_lineitem`` when there is
    none; returns the line item URL used."""
    service = AssignmentsGradesService(_connector(platform, key), {  # type: ignore[typeddict-item]
        "scope": scopes, "lineitems": lineitems_url or "", "lineitem": lineitem_url or ""})
    grade = Grade()
    grade.set_score_maximum(score["scoreMaximum"]).set_activity_progress(score["activityProgress"]) \
        .set_grading_progress(score["gradingProgress"]).set_timestamp(score["timestamp"]) \
        .set_user_id(score["userId"])
    if score.get("scoreGiven") is not None:
        grade.set_score_given(score["scoreGiven"])
    if score.get("comment"):
        grade.set_comment(score["comment"])
    try:
        if lineitem_url:
            service.put_grade(grade)
            return lineitem_url
        if new_lineitem is None or not lineitems_url:
            raise ServiceCallFailed("the resource link has no line item and no line items URL")
        line_item = LineItem().set_label(new_lineitem["label"]) \
            .set_score_maximum(new_lineitem["scoreMaximum"]).set_resource_id(new_lineitem["resourceId"]) \
            .set_resource_link_id(new_lineitem["resourceLinkId"]).set_tag(new_lineitem["tag"])
        line_item = service.find_or_create_lineitem(line_item, find_by="tag")
        service.put_grade(grade, line_item)
        return str(line_item.get_id())
    except ServiceCallFailed:
        raise
    except (LtiException, LtiServiceException, requests.RequestException, ValueError) as exc:
        raise _service_error(exc) from exc


def roster_pages(platform: PlatformConfig, key: ToolKeyPair, memberships_url: str) -> list[list[dict]]:
    """Every page of an NRPS membership container, following ``Link: rel="next"`` headers."""
    service = NamesRolesProvisioningService(_connector(platform, key),
                                            {"context_memberships_url": memberships_url})
    pages: list[list[dict]] = []
    url: str | None = memberships_url
    try:
        while url:
            members, url = service.get_members_page(url)
            pages.append([dict(m) for m in members])
            if len(pages) > 10_000:
                raise ServiceCallFailed("the roster has more than 10000 pages: the platform's paging loops")
    except (LtiException, LtiServiceException, requests.RequestException, ValueError) as exc:
        raise _service_error(exc) from exc
    return pages


def fetch_json(url: str, *, token: str | None = None) -> dict:
    """GET a JSON document (a platform's OpenID configuration)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = _http().get(url, headers=headers)
        response.raise_for_status()
        return dict(response.json())
    except (requests.RequestException, ValueError) as exc:
        raise ServiceCallFailed(f"GET {url} failed: {exc}") from exc


def post_json(url: str, body: dict, *, token: str | None = None) -> dict:
    """POST a JSON document (a dynamic registration request) and return the JSON answer."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = _http().post(url, data=json.dumps(body), headers=headers)
        if not response.ok:
            raise ServiceCallFailed(f"POST {url} answered {response.status_code}: {response.text[:300]}",
                                    response.status_code)
        return dict(response.json())
    except (requests.RequestException, ValueError) as exc:
        raise ServiceCallFailed(f"POST {url} failed: {exc}") from exc


__all__ = ["CheckFailed", "ContentItem", "PlatformConfig", "ServiceCallFailed", "ToolKeyPair",
           "deep_linking_response", "fetch_json", "generate_key_pair", "post_json", "post_score",
           "public_jwk_of", "roster_pages", "unverified_claims", "verify_launch",
           "AGS_SCOPE_LINEITEM", "AGS_SCOPE_LINEITEM_READONLY", "AGS_SCOPE_SCORE", "AGS_SCOPE_RESULT",
           "NRPS_SCOPE"]
