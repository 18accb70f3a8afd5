"""HTTP resources: State, Activity Profile, Agent Profile, Activities and Agents (xAPI Communication 2.3-2.7).

Each view parses its parameters with a schema, calls one service function and builds the response.
Credentials, scopes, the version header, CORS and the alternate request syntax are the LRS's shared
xAPI plumbing (``lrs.http``): by the time a view runs, an alternate-syntax request looks ordinary.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import Schema
from werkzeug.http import http_date

from cairn.db import get_session
from lrs import documents
from lrs.activities import canonical_activity
from lrs.document_schemas import (
    ActivityParams,
    ActivityProfileParams,
    AgentParams,
    AgentProfileParams,
    PersonSchema,
    StateParams,
)
from lrs.documents import DocumentError, DocumentKey, DocumentScope, Preconditions
from lrs.errors import ScopeForbidden
from lrs.http import authenticate, check_launch_document, current_credential, is_v2, xapi_version
from lrs.identities import same_identity
from lrs.multipart import MAX_CONTENT_TYPE
from lrs.persons import person_of

bp = Blueprint("xapi_documents", __name__)

# Scopes (xAPI 1.0.3 Communication 4.2): "all" allows everything, "all/read" every GET; "define" and
# the statement readers may read what statements defined (Activities and Agents).
READ_SCOPES = {"state": ("state", "all/read"), "profile": ("profile", "all/read"),
               "define": ("define", "all/read", "statements/read")}
WRITE_SCOPES = {"state": ("state",), "profile": ("profile",)}


# -- State -----------------------------------------------------------------------------------------

@bp.route("/activities/state", methods=["GET", "PUT", "POST", "DELETE"])
def state() -> Response:
    _authorize("state")
    params = _load(StateParams)
    registration = _text(params["registration"])
    # A launch credential may only touch its own learner's state for its activity and registration.
    check_launch_document(agent=params["agent"], activity_id=params["activity_id"], registration=registration)
    scope = documents.state_scope(activity_id=params["activity_id"], agent=params["agent"],
                                  registration=registration)
    if params["state_id"] is None:
        if _is_read():
            return _ids_response(scope, params["since"])
        if request.method == "DELETE":
            documents.delete_documents(get_session(), scope)
            return _no_content()
        raise DocumentError("stateId is required")
    # xAPI 2.0 (4.1.4) extends the "no blind overwrite" rule of profiles to State; 1.0.3 exempts it.
    return _document(DocumentKey(scope, params["state_id"]), precondition_required=is_v2())


# -- Activity Profile -------------------------------------------------------------------------------

@bp.route("/activities/profile", methods=["GET", "PUT", "POST", "DELETE"])
def activity_profile() -> Response:
    _authorize("profile")
    params = _load(ActivityProfileParams)
    _check_launch_profile(activity_id=params["activity_id"])
    scope = documents.activity_profile_scope(activity_id=params["activity_id"])
    return _profile(scope, params)


# -- Agent Profile ----------------------------------------------------------------------------------

@bp.route("/agents/profile", methods=["GET", "PUT", "POST", "DELETE"])
def agent_profile() -> Response:
    _authorize("profile")
    params = _load(AgentProfileParams)
    _check_launch_profile(agent=params["agent"])
    scope = documents.agent_profile_scope(agent=params["agent"])
    return _profile(scope, params)


def _profile(scope: DocumentScope, params: dict[str, Any]) -> Response:
    if params["profile_id"] is None:
        if _is_read():
            return _ids_response(scope, params["since"])
        raise DocumentError("profileId is required")
    key = DocumentKey(scope, params["profile_id"])
    try:
        return _document(key, precondition_required=True, precondition_required_to_create=True)
    except documents.DocumentPreconditionRequired as exc:
        if is_v2():
            raise
        # 1.0.3 has no 428; its conformance suite (XAPI-00273) expects a 400 for a PUT without headers.
        raise DocumentError(exc.message) from None


# -- Activities and Agents --------------------------------------------------------------------------

@bp.get("/activities")
def activity() -> Response:
    _authorize("define")
    params = _load(ActivityParams)
    return jsonify(canonical_activity(get_session(), params["activity_id"]))


@bp.get("/agents")
def person() -> Response:
    _authorize("define")
    params = _load(AgentParams)
    return jsonify(PersonSchema().dump(person_of(get_session(), params["agent"])))


# -- shared -----------------------------------------------------------------------------------------

def _document(key: DocumentKey, *, precondition_required: bool,
              precondition_required_to_create: bool = False) -> Response:
    session = get_session()
    if _is_read():
        stored = documents.get_document(session, key)
        if stored is None:
            raise documents.DocumentNotFound(f"no document with id {key.document_id!r} here")
        response = Response(stored.content, status=200, content_type=stored.content_type)
        response.headers["ETag"] = f'"{stored.etag}"'
        response.headers["Last-Modified"] = http_date(stored.updated)
        return response
    preconditions = Preconditions(if_match=request.headers.get("If-Match"),
                                  if_none_match=request.headers.get("If-None-Match"),
                                  required=precondition_required,
                                  required_to_create=precondition_required_to_create)
    if request.method == "DELETE":
        documents.delete_document(session, key, preconditions=preconditions)
        return _no_content()
    content, content_type = _request_content()
    max_bytes = int(current_app.config.get("DOCUMENT_MAX_BYTES") or documents.DEFAULT_MAX_BYTES)
    write = documents.put_document if request.method == "PUT" else documents.merge_document
    stored = write(session, key, content, content_type, preconditions=preconditions, max_bytes=max_bytes)
    response = _no_content()
    response.headers["ETag"] = f'"{stored.etag}"'
    return response


def _ids_response(scope: DocumentScope, since: Any) -> Response:
    result = documents.list_document_ids(get_session(), scope, since=since)
    response = jsonify(result.ids)
    if result.last_modified is not None:
        response.headers["Last-Modified"] = http_date(result.last_modified)
    return response


def _no_content() -> Response:
    return Response(status=204)


def _load(schema: type[Schema]) -> dict[str, Any]:
    loader = schema()
    loader.context["version"] = xapi_version()
    return loader.load(request.args.to_dict())


def _is_read() -> bool:
    return request.method in {"GET", "HEAD"}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _request_content() -> tuple[bytes, str | None]:
    max_bytes = int(current_app.config.get("DOCUMENT_MAX_BYTES") or documents.DEFAULT_MAX_BYTES)
    if request.content_length is not None and request.content_length > max_bytes:
        # Refuse before reading a body we would not store.
        raise documents.DocumentTooLarge(
            f"the document is {request.content_length} bytes; this LRS stores documents of at most "
            f"{max_bytes} bytes. Nothing was stored.")
    content_type = request.headers.get("Content-Type")
    if content_type is not None and len(content_type) > MAX_CONTENT_TYPE:
        raise DocumentError(f"the Content-Type header is {len(content_type):,} characters long; this LRS "
                            f"stores media types of up to {MAX_CONTENT_TYPE}. Nothing was stored.")
    return request.get_data(cache=False), content_type


def _check_launch_profile(*, agent: dict | None = None, activity_id: str | None = None) -> None:
    """A launch credential given the profile scope reaches only its learner's and activity's profiles."""
    credential = current_credential()
    if not credential.is_launch:
        return
    if agent is not None and not same_identity(agent, credential.launch_agent):
        raise ScopeForbidden("this launch credential may only use the launched learner's agent profile")
    if activity_id is not None and activity_id != credential.launch_activity_id:
        raise ScopeForbidden("this launch credential may only use the launched activity's profile")


def _authorize(resource: str) -> None:
    """401 without a valid credential; 403 unless its scopes allow this resource and method."""
    authenticate(*(READ_SCOPES[resource] if _is_read() else WRITE_SCOPES[resource]))
