"""A small but real LTI 1.3 platform, written from the 1EdTech specifications, for the tests and
the benchmark's LTI phases (one platform for both, so they drive Cairn the same way).

It has its own RSA keys and JWKS, an OIDC authentication endpoint (LTI Core §4.1, Security
Framework §5.1), an OAuth 2 token endpoint taking client-assertion JWTs (Security Framework §4.1),
AGS 2.0 line items and scores, NRPS 2.0 memberships with ``Link`` paging, a Deep Linking 2.0 return
endpoint that verifies the tool's signed response, and Dynamic Registration 1.0 (OpenID
configuration and registration endpoint). It runs over HTTP on 127.0.0.1 in a thread and drives a
real Cairn; nothing of Cairn's code is imported here.
"""
from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, abort, jsonify, request
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import make_server

from benchmarks.servers import free_port

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
LEARNER = LIS + "membership#Learner"
INSTRUCTOR = LIS + "membership#Instructor"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_RO_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
RESULT_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
ALL_SCOPES = [SCORE_SCOPE, LINEITEM_SCOPE, LINEITEM_RO_SCOPE, RESULT_SCOPE, NRPS_SCOPE]


@dataclass
class RsaKey:
    kid: str
    private_pem: str
    public_jwk: dict

    @classmethod
    def generate(cls) -> RsaKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        kid = "platform-" + secrets.token_hex(6)
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
        return cls(kid=kid, private_pem=pem, public_jwk=jwk)


@dataclass
class Person:
    sub: str
    name: str
    email: str | None = None
    roles: list[str] = field(default_factory=lambda: [LEARNER])
    sourcedid: str | None = None
    status: str = "Active"


@dataclass
class Message:
    """What the platform will put in the id_token of one launch (chosen by lti_message_hint)."""

    person: Person
    message_type: str = "LtiResourceLinkRequest"
    context_id: str | None = "course-1"
    resource_link_id: str | None = "link-1"
    custom: dict[str, str] = field(default_factory=dict)
    lineitem: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)
    sign_with: RsaKey | None = None  # a key not in the JWKS: a bad signature
    deep_linking_data: str | None = "opaque-data-42"


class _Forms(HTMLParser):
    """The forms and data-* elements of an HTML page (what a browser would act on)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.data_elements: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"id": a.get("id"), "action": a.get("action", ""),
                               "method": a.get("method", "get"), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value", ""))
        if a.get("id") and any(k.startswith("data-") for k in a):
            self.data_elements[a["id"]] = {k[5:]: v for k, v in a.items() if k.startswith("data-")}


def parse_page(html: str) -> _Forms:
    parser = _Forms()
    parser.feed(html)
    return parser


class TestPlatform:
    """The platform. ``tool_*`` URLs point at the Cairn under test."""

    __test__ = False  # not a pytest class

    def __init__(self, tool_url: str, *, client_id: str = "cairn-client",
                 deployment_id: str = "deployment-1") -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.tool_url = tool_url.rstrip("/")
        # Where the authentication response may be posted: the tool's launch URL (more than one when
        # several Cairn servers share a database, each with its own URL).
        self.redirect_uris = {f"{self.tool_url}/lti/launch"}
        self.jwks_requests = 0
        self.tool_keys: dict[str, dict] = {}  # the tool's JWKS by kid, as last fetched
        self.tool_jwks_fetches = 0
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.keys = [RsaKey.generate()]
        self.messages: dict[str, Message] = {}
        self.issued_nonces: list[str] = []
        self.tokens: dict[str, list[str]] = {}
        self.token_requests: list[dict] = []
        self.used_jtis: set[str] = set()
        self.lineitems: dict[str, dict] = {}
        self.scores: dict[str, list[dict]] = {}
        self.members: dict[str, list[Person]] = {}
        self.page_size = 2
        self.nrps_pages_served = 0
        self.deep_link_responses: list[dict] = []
        self.deep_link_errors: list[str] = []
        self.registrations: list[dict] = []
        self.registration_token = secrets.token_urlsafe(16)
        self.down = False
        # What the platform's storage frame (lti_storage_target) holds, per tool origin.
        self.storage: dict[str, dict[str, str]] = {}
        self.app = self._build_app()
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    @property
    def auth_url(self) -> str:
        return f"{self.issuer}/auth"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.issuer}/contexts/{context_id}/lineitems"

    def memberships_url(self, context_id: str) -> str:
        return f"{self.issuer}/contexts/{context_id}/memberships"

    def registration_args(self) -> list[str]:
        """``cairn lti platform add`` arguments for this platform."""
        return ["lti", "platform", "add", "--issuer", self.issuer, "--client-id", self.client_id,
                "--deployment-id", self.deployment_id, "--auth-login-url", self.auth_url,
                "--token-url", self.token_url, "--jwks-url", self.jwks_url, "--name", "Test platform"]

    def rotate_platform_key(self) -> RsaKey:
        key = RsaKey.generate()
        self.keys.insert(0, key)
        return key

    # --- the id_token ---------------------------------------------------------------------------
    def _claims(self, message: Message, nonce: str) -> dict:
        now = int(time.time())
        person = message.person
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.client_id, "sub": person.sub, "iat": now, "exp": now + 300,
            "nonce": nonce, "azp": self.client_id, "name": person.name,
            LTI + "message_type": message.message_type, LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id, LTI + "roles": person.roles,
            LTI + "target_link_uri": f"{self.tool_url}/lti/launch",
            LTI + "tool_platform": {"guid": "test-platform", "name": "Test platform"},
        }
        if person.email:
            claims["email"] = person.email
        if person.sourcedid:
            claims[LTI + "lis"] = {"person_sourcedid": person.sourcedid}
        if message.context_id:
            claims[LTI + "context"] = {"id": message.context_id, "label": message.context_id.upper(),
                                       "title": f"Course {message.context_id}",
                                       "type": [LIS + "course#CourseOffering"]}
            claims[NRPS_CLAIM] = {"context_memberships_url": self.memberships_url(message.context_id),
                                  "service_versions": ["2.0"]}
            ags: dict[str, Any] = {"scope": ALL_SCOPES[:4],
                                   "lineitems": self.lineitems_url(message.context_id)}
            if message.lineitem:
                ags["lineitem"] = message.lineitem
            claims[AGS_CLAIM] = ags
        if message.message_type == "LtiResourceLinkRequest" and message.resource_link_id:
            claims[LTI + "resource_link"] = {"id": message.resource_link_id,
                                             "title": f"Link {message.resource_link_id}"}
        if message.custom:
            claims[LTI + "custom"] = dict(message.custom)
        if message.message_type == "LtiDeepLinkingRequest":
            settings: dict[str, Any] = {"deep_link_return_url": f"{self.issuer}/deep_link_return",
                                        "accept_types": ["ltiResourceLink"],
                                        "accept_presentation_document_targets": ["iframe", "window"],
                                        "accept_multiple": True, "auto_create": True}
            if message.deep_linking_data is not None:
                settings["data"] = message.deep_linking_data
            claims[DL + "deep_linking_settings"] = settings
        claims.update(message.overrides)
        for name in message.remove:
            claims.pop(name, None)
        return claims

    def sign(self, claims: dict, key: RsaKey | None = None) -> str:
        key = key or self.keys[0]
        return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})

    # --- the tool's keys ------------------------------------------------------------------------
    def fetch_tool_keys(self) -> None:
        """Fetch the tool's JWKS and keep it (a platform does this when the tool is registered)."""
        self.tool_jwks_fetches += 1
        jwks = requests.get(f"{self.tool_url}/lti/jwks.json", timeout=5).json()
        self.tool_keys = {jwk["kid"]: jwk for jwk in jwks["keys"]}

    def tool_public_key(self, kid: str) -> Any:
        """The tool's key ``kid``: cached, like a real platform does, and refetched on an unknown kid."""
        if kid not in self.tool_keys:
            self.fetch_tool_keys()
        if kid in self.tool_keys:
            return RSAAlgorithm.from_jwk(self.tool_keys[kid])
        raise LookupError(f"kid {kid} is not in the tool's JWKS")

    def verify_tool_jwt(self, token: str, audience: str) -> dict:
        kid = jwt.get_unverified_header(token)["kid"]
        return jwt.decode(token, self.tool_public_key(kid), algorithms=["RS256"], audience=audience)

    # --- HTTP -----------------------------------------------------------------------------------
    def _bearer_scopes(self) -> list[str]:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.tokens:
            abort(401)
        return self.tokens[header[7:]]

    def _build_app(self) -> Flask:
        app = Flask("test_platform")
        platform = self

        @app.get("/jwks")
        def jwks() -> Response:
            platform.jwks_requests += 1
            return jsonify({"keys": [k.public_jwk for k in platform.keys]})

        @app.get("/auth")
        def auth() -> Response | tuple[str, int]:
            # LTI Core §4.1.2 / OIDC: check the authentication request the tool sent.
            q = request.args
            expected = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post",
                        "prompt": "none", "client_id": platform.client_id}
            for name, value in expected.items():
                if q.get(name) != value:
                    return f"invalid_request: {name}={q.get(name)!r}", 400
            if q.get("redirect_uri") not in platform.redirect_uris:
                return f"invalid_request: redirect_uri={q.get('redirect_uri')!r}", 400
            if not q.get("state") or not q.get("nonce"):
                return "invalid_request: state and nonce are required", 400
            message = platform.messages.get(q.get("lti_message_hint", ""))
            if message is None or q.get("login_hint") != message.person.sub:
                return "login_required", 400
            platform.issued_nonces.append(q["nonce"])
            id_token = platform.sign(platform._claims(message, q["nonce"]), message.sign_with)
            fields = {"id_token": id_token, "state": q["state"]}
            if q.get("lti_storage_target"):
                fields["lti_storage_target"] = q["lti_storage_target"]
            inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
            return Response(f'<form id="launch" method="post" action="{q["redirect_uri"]}">{inputs}</form>'
                            '<script>document.getElementById("launch").submit();</script>',
                            mimetype="text/html")

        @app.get("/course")
        def course() -> Response:
            # A course page that frames the tool beside the platform's storage frame (LTI Client
            # Side postMessages): the tool reaches it as parent.frames[lti_storage_target].
            login = f"{platform.tool_url}/lti/login?" + urlencode(platform.login_params(
                platform.messages[request.args["hint"]], storage_target="post_message_forwarding",
                hint=request.args["hint"]))
            return Response(f'''<!doctype html><title>Course</title>
<iframe name="post_message_forwarding" src="/storage" title="storage"></iframe>
<iframe name="tool" id="tool" src="{login}" title="Cairn" width="900" height="600"></iframe>''',
                            mimetype="text/html")

        @app.get("/storage")
        def storage_frame() -> Response:
            # The platform's storage: lti.put_data / lti.get_data, keyed by the sender's origin.
            return Response("""<!doctype html><script>
var store = {};
window.addEventListener("message", function (event) {
  var d = event.data || {}; var mine = store[event.origin] = store[event.origin] || {};
  if (d.subject === "lti.put_data") { mine[d.key] = d.value;
    event.source.postMessage({subject: "lti.put_data.response", message_id: d.message_id, key: d.key,
                              value: d.value}, event.origin); }
  if (d.subject === "lti.get_data") {
    event.source.postMessage({subject: "lti.get_data.response", message_id: d.message_id, key: d.key,
                              value: mine[d.key]}, event.origin); }
});
</script>""", mimetype="text/html")

        @app.post("/token")
        def token() -> tuple[Response, int] | Response:
            # Security Framework §4.1: client credentials with a JWT client assertion (RFC 7523).
            if platform.down:
                return jsonify({"error": "temporarily_unavailable"}), 503
            form = request.form
            if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != \
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
                return jsonify({"error": "unsupported_grant_type"}), 400
            try:
                claims = platform.verify_tool_jwt(form.get("client_assertion", ""), platform.token_url)
            except (jwt.InvalidTokenError, LookupError, KeyError) as exc:
                return jsonify({"error": "invalid_client", "error_description": str(exc)}), 401
            if claims.get("iss") != platform.client_id or claims.get("sub") != platform.client_id \
                    or not claims.get("jti") or claims["jti"] in platform.used_jtis:
                return jsonify({"error": "invalid_client"}), 401
            platform.used_jtis.add(claims["jti"])
            scopes = [s for s in form.get("scope", "").split() if s in ALL_SCOPES]
            if not scopes:
                return jsonify({"error": "invalid_scope"}), 400
            access_token = secrets.token_urlsafe(24)
            platform.tokens[access_token] = scopes
            platform.token_requests.append({"kid": jwt.get_unverified_header(form["client_assertion"])["kid"],
                                            "scopes": scopes})
            return jsonify({"access_token": access_token, "token_type": "Bearer", "expires_in": 3600,
                            "scope": " ".join(scopes)})

        @app.route("/contexts/<context_id>/lineitems", methods=["GET", "POST"])
        def lineitems(context_id: str) -> tuple[Response, int] | Response:
            scopes = platform._bearer_scopes()
            if platform.down:
                return jsonify({"error": "down"}), 503
            if request.method == "GET":
                if LINEITEM_SCOPE not in scopes and LINEITEM_RO_SCOPE not in scopes:
                    abort(403)
                items = [i for i in platform.lineitems.values() if i["_context"] == context_id]
                tag = request.args.get("tag")
                items = [i for i in items if not tag or i.get("tag") == tag]
                return Response(_json([_public(i) for i in items]),
                                mimetype="application/vnd.ims.lis.v2.lineitemcontainer+json")
            if LINEITEM_SCOPE not in scopes:
                abort(403)
            body = request.get_json(force=True)
            if not isinstance(body.get("scoreMaximum"), int | float) or body["scoreMaximum"] <= 0 \
                    or not body.get("label"):
                return jsonify({"error": "scoreMaximum > 0 and label are required"}), 400
            item_id = f"{platform.lineitems_url(context_id)}/{uuid.uuid4().hex[:8]}"
            item = {**body, "id": item_id, "_context": context_id}
            platform.lineitems[item_id] = item
            return Response(_json(_public(item)), status=201,
                            mimetype="application/vnd.ims.lis.v2.lineitem+json")

        @app.get("/contexts/<context_id>/lineitems/<item>")
        def lineitem(context_id: str, item: str) -> Response:
            platform._bearer_scopes()
            found = platform.lineitems.get(f"{platform.lineitems_url(context_id)}/{item}")
            if found is None:
                abort(404)
            return Response(_json(_public(found)), mimetype="application/vnd.ims.lis.v2.lineitem+json")

        @app.post("/contexts/<context_id>/lineitems/<item>/scores")
        def scores(context_id: str, item: str) -> tuple[Response, int] | Response:
            # AGS 2.0 Score publish service §3.4.
            if SCORE_SCOPE not in platform._bearer_scopes():
                abort(403)
            if platform.down:
                return jsonify({"error": "down"}), 503
            if request.content_type != "application/vnd.ims.lis.v1.score+json":
                return jsonify({"error": f"wrong content type {request.content_type}"}), 415
            item_id = f"{platform.lineitems_url(context_id)}/{item}"
            if item_id not in platform.lineitems:
                abort(404)
            score = request.get_json(force=True)
            for name in ("userId", "activityProgress", "gradingProgress", "timestamp"):
                if not score.get(name):
                    return jsonify({"error": f"{name} is required"}), 400
            if score.get("scoreGiven") is not None and score.get("scoreMaximum") is None:
                return jsonify({"error": "scoreMaximum is required with scoreGiven"}), 400
            previous = platform.scores.get(item_id, [])
            user_previous = [s for s in previous if s["userId"] == score["userId"]]
            if user_previous and user_previous[-1]["timestamp"] >= score["timestamp"]:
                # §3.4.7: a score older than (or as old as) the last one is refused.
                return jsonify({"error": "timestamp is not newer than the last score"}), 409
            platform.scores.setdefault(item_id, []).append(score)
            return Response("", status=204)

        @app.get("/contexts/<context_id>/memberships")
        def memberships(context_id: str) -> Response:
            # NRPS 2.0 §2.3-2.4: a membership container, paged with Link rel="next".
            if NRPS_SCOPE not in platform._bearer_scopes():
                abort(403)
            if request.headers.get("Accept") != "application/vnd.ims.lti-nrps.v2.membershipcontainer+json":
                abort(406)
            people = platform.members.get(context_id, [])
            offset = int(request.args.get("offset", 0))
            page = people[offset:offset + platform.page_size]
            platform.nrps_pages_served += 1
            body = {"id": request.url, "context": {"id": context_id, "title": f"Course {context_id}"},
                    "members": [{"user_id": p.sub, "name": p.name, "email": p.email, "status": p.status,
                                 "roles": p.roles,
                                 **({"lis_person_sourcedid": p.sourcedid} if p.sourcedid else {})}
                                for p in page]}
            response = Response(_json(body),
                                mimetype="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
            if offset + platform.page_size < len(people):
                next_url = (f"{platform.memberships_url(context_id)}?"
                            f"{urlencode({'offset': offset + platform.page_size})}")
                response.headers["Link"] = f'<{next_url}>; rel="next"'
            return response

        @app.post("/deep_link_return")
        def deep_link_return() -> tuple[str, int] | str:
            # Deep Linking 2.0 §4.2: verify the tool's signed LtiDeepLinkingResponse.
            token = request.form.get("JWT", "")
            try:
                claims = platform.verify_tool_jwt(token, platform.issuer)
                assert claims["iss"] == platform.client_id, "iss is not the client_id"
                assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse", "wrong message type"
                assert claims[LTI + "version"] == "1.3.0", "wrong version"
                assert claims[LTI + "deployment_id"] == platform.deployment_id, "wrong deployment"
                assert claims.get("nonce"), "no nonce"
            except (jwt.InvalidTokenError, LookupError, AssertionError, KeyError) as exc:
                platform.deep_link_errors.append(str(exc))
                return f"invalid deep linking response: {exc}", 400
            platform.deep_link_responses.append({"claims": claims,
                                                 "kid": jwt.get_unverified_header(token)["kid"]})
            return "content items received"

        @app.get("/.well-known/openid-configuration")
        def openid_configuration() -> Response:
            return jsonify({
                "issuer": platform.issuer, "authorization_endpoint": platform.auth_url,
                "token_endpoint": platform.token_url, "jwks_uri": platform.jwks_url,
                "registration_endpoint": f"{platform.issuer}/register",
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "scopes_supported": ["openid", *ALL_SCOPES], "response_types_supported": ["id_token"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": ["iss", "sub", "name", "email"],
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    "product_family_code": "test-platform", "version": "1.0",
                    "messages_supported": [{"type": "LtiResourceLinkRequest"},
                                           {"type": "LtiDeepLinkingRequest"}]},
            })

        @app.post("/register")
        def register() -> tuple[Response, int] | Response:
            # Dynamic Registration §3.5-3.6.
            if request.headers.get("Authorization") != f"Bearer {platform.registration_token}":
                return jsonify({"error": "invalid_token"}), 401
            body = request.get_json(force=True)
            tool = body.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {}
            problems = [name for name in ("initiate_login_uri", "redirect_uris", "jwks_uri", "client_name")
                        if not body.get(name)]
            if body.get("token_endpoint_auth_method") != "private_key_jwt" or not tool.get("target_link_uri"):
                problems.append("tool configuration")
            if problems:
                return jsonify({"error": "invalid_client_metadata",
                                "error_description": ", ".join(problems)}), 400
            platform.registrations.append(body)
            return jsonify({**body, "client_id": platform.client_id,
                            "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                                **tool, "deployment_id": platform.deployment_id}})

        return app

    # --- a browser driving a launch -------------------------------------------------------------
    def prepare(self, message: Message) -> str:
        hint = secrets.token_urlsafe(8)
        self.messages[hint] = message
        return hint

    def login_params(self, message: Message, *, storage_target: str | None = None,
                     hint: str | None = None) -> dict[str, str]:
        params = {"iss": self.issuer, "login_hint": message.person.sub,
                  "target_link_uri": f"{self.tool_url}/lti/launch",
                  "lti_message_hint": hint or self.prepare(message),
                  "client_id": self.client_id, "lti_deployment_id": self.deployment_id}
        if storage_target:
            params["lti_storage_target"] = storage_target
        return params

    def start_launch(self, browser: requests.Session, message: Message, *, method: str = "POST",
                     storage_target: str | None = None) -> tuple[str, dict[str, str]]:
        """Steps 1-2 (login initiation, authentication): the launch form the platform would post."""
        params = self.login_params(message, storage_target=storage_target)
        url = f"{self.tool_url}/lti/login"
        if method == "GET":
            response = browser.get(url, params=params, allow_redirects=False, timeout=10)
        else:
            response = browser.post(url, data=params, allow_redirects=False, timeout=10)
        if storage_target:
            assert response.status_code == 200, response.text
            page = parse_page(response.text)
            data = page.data_elements["lti-storage"]
            assert data["mode"] == "put" and data["target"] == storage_target \
                and data["origin"] == self.issuer
            # What the tool's script asks the platform's storage frame to keep (lti.put_data).
            self.storage.setdefault(self.tool_url, {})[data["key"]] = data["value"]
            auth_location = data["next"]
        else:
            assert response.status_code == 302, response.text
            auth_location = response.headers["Location"]
        assert auth_location.startswith(self.auth_url)
        auth = browser.get(auth_location, timeout=10)
        assert auth.status_code == 200, auth.text
        form = parse_page(auth.text).forms[0]
        return form["action"], dict(form["fields"])

    def post_launch(self, browser: requests.Session, action: str,
                    fields: dict[str, str]) -> requests.Response:
        return browser.post(action, data=fields, allow_redirects=False, timeout=10)

    def launch(self, browser: requests.Session, message: Message, **kwargs: Any) -> requests.Response:
        action, fields = self.start_launch(browser, message, **kwargs)
        return self.post_launch(browser, action, fields)

    def answer_storage_check(self, browser: requests.Session, page_html: str) -> requests.Response:
        """What the tool's script does on the storage-check page: lti.get_data, then re-post."""
        page = parse_page(page_html)
        data = page.data_elements["lti-storage"]
        assert data["mode"] == "get" and data["origin"] == self.issuer
        value = self.storage.get(self.tool_url, {}).get(data["key"], "")
        form = next(f for f in page.forms if f["id"] == "lti-storage-form")
        fields = dict(form["fields"], lti_storage_state=value)
        action = urljoin(self.tool_url + "/", form["action"])
        origin = f"{urlsplit(self.tool_url).scheme}://{urlsplit(self.tool_url).netloc}"
        return browser.post(action, data=fields, headers={"Origin": origin},
                            allow_redirects=False, timeout=10)


def _public(item: dict) -> dict:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _json(body: Any) -> str:
    import json
    return json.dumps(body)


@contextmanager
def running_platform(tool_url: str, **kwargs: Any) -> Iterator[TestPlatform]:
    platform = TestPlatform(tool_url, **kwargs)
    platform.start()
    try:
        yield platform
    finally:
        platform.stop()


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
