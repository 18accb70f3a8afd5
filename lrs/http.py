"""The xAPI HTTP plumbing every /xapi resource shares (statements here, documents in ``lrs.documents*``).

Stable interface for the resource modules:

- ``register_xapi_blueprint(app, bp)``: mount ``bp`` under ``CAIRN_XAPI_PATH`` (default /xapi), CSRF-exempt.
- ``@require_scopes("state")``: authenticate by HTTP Basic (401 + WWW-Authenticate when missing or
  invalid) and require one of the scopes (``all`` always passes; 403 otherwise). Inside the view,
  ``current_credential()`` is the ``CredentialInfo`` and ``xapi_version()`` the request's version
  ("1.0.3" or "2.0.0"). ``authenticate(*scopes)`` does the same without a decorator.
- ``check_launch_document(agent=..., activity_id=..., registration=...)``: 403 unless a launch
  credential is used for its own learner, activity and registration (no-op for other credentials).
- ``agent_param(name)``, ``json_param(name)``, ``bool_param``, ``timestamp_param``, ``uuid_param``:
  read and validate query parameters (400 with the parameter's name on a bad value).
- Every request under the xAPI path gets: the X-Experience-API-Version check (400 when missing or
  unsupported, except /about and CORS preflights), the response headers (version, CORS, Expose),
  ``WWW-Authenticate`` on every 401, JSON errors, and the alternate request syntax (a POST with
  ``?method=PUT`` and a form body carrying headers, ``content`` and parameters) rewritten into the
  ordinary request before routing, so views never see it.
"""
from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy.engine import Engine
from werkzeug.wrappers import Request as WerkzeugRequest

from cairn import jsoncodec
from cairn.db import READ_ONLY, get_session
from cairn.errors import register_api_prefix
from cairn.security import csrf
from lrs.credentials import CredentialInfo, authenticate_credential, launch_allows_document
from lrs.errors import BadRequest, ScopeForbidden, Unauthorized
from lrs.validation import UUID_RE, Validator, holds_nul, parse_timestamp

F = TypeVar("F", bound=Callable[..., Any])

SUPPORTED_VERSIONS = ("2.0.0", "1.0.3", "1.0.2", "1.0.1", "1.0.0")
NEWEST_VERSION = SUPPORTED_VERSIONS[0]
VERSION_HEADER = "X-Experience-API-Version"
AUTH_REALM = 'Basic realm="Cairn xAPI", charset="UTF-8"'
CORS_ALLOW_HEADERS = ("Content-Type, Content-Length, Authorization, If-Match, If-None-Match, "
                      "X-Experience-API-Version, X-Experience-API-Consistent-Through, Accept-Language")
CORS_EXPOSE_HEADERS = ("ETag, Last-Modified, Cache-Control, Content-Type, Content-Length, WWW-Authenticate, "
                       "X-Experience-API-Version, X-Experience-API-Consistent-Through")
CORS_ALLOW_METHODS = "HEAD, GET, POST, PUT, DELETE, OPTIONS"
# Headers a client may pass as form fields in the alternate request syntax (xAPI 1.0.3 Communication 1.3).
ALTERNATE_HEADERS = ("Authorization", "X-Experience-API-Version", "Content-Type", "Content-Length",
                     "If-Match", "If-None-Match")
ALTERNATE_ERROR = "cairn.xapi.alternate_error"
# Paths (relative to the xAPI path) that answer without the version header or a credential.
UNVERSIONED_PATHS = ("/about",)


def xapi_path() -> str:
    return str(current_app.config["XAPI_PATH"])


def negotiate_version(header: str | None) -> str:
    """The version this LRS answers with for a request's X-Experience-API-Version header."""
    if header is None or not header.strip():
        raise BadRequest(f"the {VERSION_HEADER} header is required (xAPI 1.0.3 Communication 3.3)")
    value = header.strip()
    parts = value.split(".")
    if len(parts) in (2, 3) and all(p.isdigit() for p in parts):
        if parts[0] == "1" and parts[1] == "0":
            return "1.0.3"
        if parts[0] == "2" and parts[1] == "0":
            return "2.0.0"
    raise BadRequest(f"{VERSION_HEADER} {value!r} is not supported; "
                     f"use one of {', '.join(SUPPORTED_VERSIONS)}")


def xapi_version() -> str:
    """The xAPI version of this request ("1.0.3" or "2.0.0")."""
    return str(g.get("xapi_version") or NEWEST_VERSION)


def is_v2() -> bool:
    return xapi_version().startswith("2.")


def current_credential() -> CredentialInfo:
    credential = g.get("xapi_credential")
    if credential is None:
        raise Unauthorized("this request needs HTTP Basic credentials")
    return credential


def _basic_credentials() -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not header or scheme.lower() != "basic":
        raise Unauthorized("this request needs HTTP Basic credentials (xAPI 1.0.3 Communication 4.0)")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("the Authorization header is not valid HTTP Basic") from None
    key, sep, secret = decoded.partition(":")
    if not sep:
        raise Unauthorized("the Authorization header is not valid HTTP Basic")
    return key, secret


def authenticate(*scopes: str) -> CredentialInfo:
    """Authenticate the request and require one of ``scopes`` (``all`` always passes)."""
    credential = g.get("xapi_credential")
    if credential is None:
        key, secret = _basic_credentials()
        credential = authenticate_credential(get_session(), key, secret)
        if credential is None:
            raise Unauthorized("unknown, revoked or expired credentials")
        g.xapi_credential = credential
    if scopes and not credential.allows(*scopes):
        raise ScopeForbidden(f"this credential's scopes ({', '.join(credential.scopes)}) do not allow this; "
                             f"it needs one of: {', '.join(scopes)}")
    return credential


def read_only_request() -> None:
    """Let this request's queries read without taking what a write needs. Call it before the first query.

    PostgreSQL: no explicit transaction. Under READ COMMITTED every statement reads its own snapshot
    anyway, so wrapping a read-only request in BEGIN ... COMMIT bought nothing but two round trips.
    SQLite: a DEFERRED transaction instead of the IMMEDIATE one writers take, which held the single
    write lock for the whole query, so stores waited for every statement query to finish.
    """
    session = get_session()
    bind = session.get_bind()
    # A session bound to a connection (the tests' savepoints) already runs inside a transaction.
    if not isinstance(bind, Engine) or session.in_transaction():
        return
    if bind.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    elif bind.dialect.name == "sqlite":
        session.connection(execution_options={READ_ONLY: True})


def require_scopes(*scopes: str) -> Callable[[F], F]:
    """Decorator: authenticate and require one of ``scopes`` before the view runs."""
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            authenticate(*scopes)
            return view(*args, **kwargs)
        return wrapped  # type: ignore[return-value]
    return decorate


def check_launch_document(*, agent: dict | None, activity_id: str | None, registration: str | None) -> None:
    """403 unless the (launch) credential may use the document of this agent/activity/registration."""
    reason = launch_allows_document(current_credential(), agent=agent, activity_id=activity_id,
                                    registration=registration)
    if reason:
        raise ScopeForbidden(reason)


# -- query parameters ------------------------------------------------------------------------------


def json_param(name: str, value: str | None = None) -> Any:
    raw = request.args.get(name) if value is None else value
    if raw is None:
        return None
    try:
        return loads_strict(raw)
    except ValueError as exc:
        raise BadRequest(f"parameter {name}: not valid JSON ({exc})") from None


def agent_param(name: str = "agent", *, required: bool = True) -> dict | None:
    """The Agent (or identified Group) JSON in query parameter ``name``, validated."""
    if name not in request.args:
        if required:
            raise BadRequest(f"parameter {name} is required")
        return None
    agent = json_param(name)
    if not isinstance(agent, dict):
        raise BadRequest(f"parameter {name}: must be a JSON Agent object")
    try:
        Validator(xapi_version()).actor(agent, name)
    except Exception as exc:  # StatementInvalid: re-raise as a parameter error with the same message
        raise BadRequest(f"parameter {getattr(exc, 'message', exc)}") from None
    return agent


def uuid_param(name: str, *, required: bool = False) -> str | None:
    value = request.args.get(name)
    if value is None:
        if required:
            raise BadRequest(f"parameter {name} is required")
        return None
    if not UUID_RE.match(value):
        raise BadRequest(f"parameter {name}: must be a UUID")
    return value.lower()


def bool_param(name: str, default: bool = False) -> bool:
    value = request.args.get(name)
    if value is None:
        return default
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BadRequest(f"parameter {name}: must be true or false")


def timestamp_param(name: str) -> Any:
    value = request.args.get(name)
    if value is None:
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise BadRequest(f"parameter {name}: must be an ISO 8601 timestamp")
    return parsed


def reject_unknown_params(allowed: Iterable[str]) -> None:
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(unknown)}")


def loads_strict(raw: str | bytes) -> Any:
    """Parse JSON, refusing duplicate keys (xAPI 1.0.3 Data 2.2) and non-finite numbers."""
    return jsoncodec.loads_strict(raw)


def json_body() -> Any:
    """The request body as strict JSON (400 when it is not)."""
    try:
        return loads_strict(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON ({exc})") from None


# -- app wiring --------------------------------------------------------------------------------------


def register_xapi_blueprint(app: Flask, blueprint: Blueprint) -> None:
    """Mount an xAPI resource blueprint under the configured xAPI path, exempt from CSRF."""
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint, url_prefix=app.config["XAPI_PATH"])


def _names_nul(value: str) -> bool:
    """Whether a parameter holds U+0000, as such or escaped in its JSON (``agent={"name": "\\u0000"}``)."""
    if "\x00" in value:
        return True
    if "\\u0000" not in value:
        return False
    try:
        return holds_nul(jsoncodec.loads(value))
    except ValueError:
        return False


def _under_xapi(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def init_http(app: Flask) -> None:
    """Version check, CORS, headers and the alternate request syntax for everything under the xAPI path."""
    prefix = app.config["XAPI_PATH"]
    register_api_prefix(app, prefix)
    app.wsgi_app = AlternateRequestSyntax(app.wsgi_app, prefix)  # type: ignore[method-assign]

    @app.before_request
    def _xapi_request() -> Response | None:
        if not _under_xapi(request.path, prefix):
            return None
        alternate_error = request.environ.get(ALTERNATE_ERROR)
        if alternate_error:
            raise BadRequest(alternate_error)
        for name, value in request.args.items(multi=True):
            if _names_nul(value):
                raise BadRequest(f"parameter {name}: contains the character U+0000, which this LRS can "
                                 "neither store nor look up")
        if request.method == "OPTIONS":
            return None
        header = request.headers.get(VERSION_HEADER)
        if request.path[len(prefix):] in UNVERSIONED_PATHS:
            g.xapi_version = negotiate_version(header) if header else NEWEST_VERSION
            return None
        # A request that does not say its version is answered (with its 400) in the newest one.
        g.xapi_version = NEWEST_VERSION
        g.xapi_version = negotiate_version(header)
        return None

    @app.after_request
    def _xapi_headers(response: Response) -> Response:
        if not _under_xapi(request.path, prefix):
            return response
        response.headers[VERSION_HEADER] = xapi_version()
        origin = request.headers.get("Origin")
        response.headers["Access-Control-Allow-Origin"] = origin or "*"
        if origin:
            response.headers.add("Vary", "Origin")
        response.headers["Access-Control-Allow-Methods"] = CORS_ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = AUTH_REALM
        response.headers.setdefault("Cache-Control", "no-store")
        return response


class AlternateRequestSyntax:
    """WSGI middleware: turn ``POST ...?method=PUT`` with a form body into the request it stands for."""

    def __init__(self, wsgi_app: Callable[..., Any], prefix: str) -> None:
        self.wsgi_app = wsgi_app
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if _under_xapi(path, self.prefix) and any(k == "method" for k, _ in query):
            self._rewrite(environ, query)
        return self.wsgi_app(environ, start_response)

    def _rewrite(self, environ: dict[str, Any], query: list[tuple[str, str]]) -> None:
        def refuse(message: str) -> None:
            environ[ALTERNATE_ERROR] = f"alternate request syntax: {message} (xAPI 1.0.3 Communication 1.3)"

        if environ.get("REQUEST_METHOD") != "POST":
            return refuse("the method parameter is only allowed on a POST")
        if len(query) != 1:
            return refuse("the only query parameter allowed is method; send the others in the form body")
        method = query[0][1].upper()
        if method not in ("GET", "HEAD", "PUT", "POST", "DELETE"):
            return refuse(f"method {query[0][1]!r} is not an HTTP method xAPI uses")
        incoming = WerkzeugRequest(environ)
        if incoming.mimetype != "application/x-www-form-urlencoded":
            return refuse("the body must be application/x-www-form-urlencoded")
        form = incoming.form
        headers = {name.lower(): name for name in ALTERNATE_HEADERS}
        params: list[tuple[str, str]] = []
        content = ""
        content_type = None
        for name, value in form.items(multi=True):
            lowered = name.lower()
            if lowered == "content":
                content = value
            elif lowered == "content-type":
                content_type = value
            elif lowered == "content-length":
                continue
            elif lowered in headers:
                environ["HTTP_" + lowered.upper().replace("-", "_")] = value
            else:
                params.append((name, value))
        version = environ.get("HTTP_X_EXPERIENCE_API_VERSION", "")
        if version.strip().startswith("2."):
            return refuse("xAPI 2.0 removed the alternate request syntax (IEEE 9274.1.1 4.1.2)")
        body = content.encode("utf-8")
        environ["REQUEST_METHOD"] = method
        environ["QUERY_STRING"] = urlencode(params)
        environ["CONTENT_TYPE"] = content_type or ("application/json" if body else "")
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["cairn.xapi.alternate"] = True
        environ.pop("werkzeug.request", None)
        return None
