"""Commands and queries of the xAPI document resources (State, Activity Profile, Agent Profile).

xAPI 1.0.3 Communication 2.2-2.7 and 3.1; xAPI 2.0 (IEEE 9274.1.1) 4.1.4 and 4.1.6.2/5/6.
Documents are stored byte for byte with their Content-Type; the ETag is the SHA-1 of the bytes.
Functions flush, never commit: a refused request changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cairn.accounts.services import Identity
from cairn.db import utcnow
from lrs.document_models import Document
from lrs.errors import LRSError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
JSON_MEDIA_TYPE = "application/json"
DEFAULT_CONTENT_TYPE = "application/octet-stream"

STATE = "state"
ACTIVITY_PROFILE = "activity_profile"
AGENT_PROFILE = "agent_profile"


class DocumentError(LRSError):
    """A document request breaks a rule of the document resources (400 unless a subclass says)."""

    code = "invalid_document_request"


class DocumentNotFound(DocumentError):
    status = 404
    code = "document_not_found"


class DocumentConflict(DocumentError):
    status = 409
    code = "document_conflict"


class DocumentPreconditionFailed(DocumentError):
    status = 412
    code = "precondition_failed"


class DocumentPreconditionRequired(DocumentError):
    status = 428
    code = "precondition_required"


class DocumentTooLarge(DocumentError):
    status = 413
    code = "document_too_large"


@dataclass(frozen=True)
class DocumentScope:
    """Where documents live: an Activity (profiles), an Agent (profiles), or both (State).

    ``registration`` only applies to State; ``None`` in a scope used for listing or deleting
    State means "every registration".
    """

    kind: str
    activity_id: str | None = None
    agent_key: str | None = None
    registration: str | None = None

    @property
    def scope_hash(self) -> str:
        return _digest(self.kind, self.activity_id, self.agent_key)


@dataclass(frozen=True)
class DocumentKey:
    """One document: its scope and its id (``stateId`` or ``profileId``)."""

    scope: DocumentScope
    document_id: str

    @property
    def key_hash(self) -> str:
        s = self.scope
        return _digest(s.kind, s.activity_id, s.agent_key, s.registration, self.document_id)


@dataclass(frozen=True)
class Preconditions:
    """The request's concurrency headers (xAPI 1.0.3 Communication 3.1; RFC 7232).

    ``required`` marks a PUT on a resource that must not overwrite a document blindly: a PUT without
    either header on an existing document is then refused with 409. ``required_to_create`` also
    refuses such a PUT when there is no document yet (428: the client MUST send one of the headers).
    """

    if_match: str | None = None
    if_none_match: str | None = None
    required: bool = False
    required_to_create: bool = False

    @property
    def given(self) -> bool:
        return bool(self.if_match or self.if_none_match)


NO_PRECONDITIONS = Preconditions()


@dataclass(frozen=True)
class StoredDocument:
    document_id: str
    content: bytes
    content_type: str
    etag: str
    updated: datetime

    @property
    def is_json(self) -> bool:
        return is_json_media_type(self.content_type)


@dataclass(frozen=True)
class DocumentIds:
    ids: list[str]
    last_modified: datetime | None


# -- keys -------------------------------------------------------------------------------------------

def agent_key(agent: dict) -> str:
    """The canonical identity of an Agent: its one inverse functional identifier.

    Two Agent objects that differ only in ``name`` or ``objectType`` address the same documents.
    """
    if not isinstance(agent, dict):
        raise DocumentError("agent must be a JSON object with one inverse functional identifier")
    present = [k for k in ("mbox", "mbox_sha1sum", "openid", "account") if agent.get(k) is not None]
    if len(present) != 1:
        raise DocumentError("agent must have exactly one of mbox, mbox_sha1sum, openid or account "
                            f"(found {', '.join(present) or 'none'})")
    account = agent.get("account")
    if account is not None and not (isinstance(account, dict) and isinstance(account.get("homePage"), str)
                                    and isinstance(account.get("name"), str)):
        raise DocumentError("agent.account must have a homePage and a name")
    if "mbox" in present and not str(agent["mbox"]).lower().startswith("mailto:"):
        raise DocumentError("agent.mbox must be a mailto: IRI")
    identity = Identity.from_agent(agent)
    assert identity is not None  # one IFI was checked above
    return f"{identity.kind}:{identity.value}"


def canonical_registration(registration: str | None) -> str | None:
    if registration is None:
        return None
    try:
        return str(uuid.UUID(str(registration)))
    except ValueError:
        raise DocumentError(f"registration must be a UUID, not {registration!r}") from None


def _required_id(value: str | None, name: str) -> str:
    if value is None or not isinstance(value, str) or value == "":
        raise DocumentError(f"{name} is required")
    return value


def state_scope(*, activity_id: str, agent: dict, registration: str | None = None) -> DocumentScope:
    return DocumentScope(STATE, _required_id(activity_id, "activityId"), agent_key(agent),
                         canonical_registration(registration))


def state_key(*, activity_id: str, agent: dict, registration: str | None, state_id: str) -> DocumentKey:
    return DocumentKey(state_scope(activity_id=activity_id, agent=agent, registration=registration),
                       _required_id(state_id, "stateId"))


def activity_profile_scope(*, activity_id: str) -> DocumentScope:
    return DocumentScope(ACTIVITY_PROFILE, activity_id=_required_id(activity_id, "activityId"))


def activity_profile_key(*, activity_id: str, profile_id: str) -> DocumentKey:
    return DocumentKey(activity_profile_scope(activity_id=activity_id), _required_id(profile_id, "profileId"))


def agent_profile_scope(*, agent: dict) -> DocumentScope:
    return DocumentScope(AGENT_PROFILE, agent_key=agent_key(agent))


def agent_profile_key(*, agent: dict, profile_id: str) -> DocumentKey:
    return DocumentKey(agent_profile_scope(agent=agent), _required_id(profile_id, "profileId"))


# -- commands ---------------------------------------------------------------------------------------

def put_document(session: Session, key: DocumentKey, content: bytes, content_type: str | None, *,
                 preconditions: Preconditions = NO_PRECONDITIONS,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> StoredDocument:
    """Store ``content`` as the document at ``key``, replacing any previous one (PUT)."""
    _check_size(content, max_bytes)
    content_type = content_type or DEFAULT_CONTENT_TYPE
    return _write(session, key, lambda _current: (content, content_type), preconditions, replace=True)


def merge_document(session: Session, key: DocumentKey, content: bytes, content_type: str | None, *,
                   preconditions: Preconditions = NO_PRECONDITIONS,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> StoredDocument:
    """POST a document: merge a JSON object into an existing JSON document, or store it if new.

    Merging sets each top-level property of the posted object on the stored one (Communication
    2.2, "JSON Procedure"). Either side not ``application/json`` or not a JSON object is a 400 and
    leaves the stored document untouched.
    """
    _check_size(content, max_bytes)
    content_type = content_type or DEFAULT_CONTENT_TYPE
    posted: dict | None = None
    if is_json_media_type(content_type):
        posted = _json_object(content, "the posted document")

    def merged(current: Document | None) -> tuple[bytes, str]:
        if current is None:
            return content, content_type
        if posted is None:
            raise DocumentError(
                f"cannot merge a {content_type!r} document into an existing document: POST merges only "
                "application/json objects; use PUT to replace the document")
        if not is_json_media_type(current.content_type):
            raise DocumentError(
                f"the existing document is {current.content_type!r}, not application/json: POST "
                "cannot merge into it; use PUT to replace it")
        existing = _json_object(current.content, "the existing document")
        existing.update(posted)
        body = json.dumps(existing, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        _check_size(body, max_bytes)
        return body, JSON_MEDIA_TYPE

    return _write(session, key, merged, preconditions, replace=False)


def delete_document(session: Session, key: DocumentKey, *,
                    preconditions: Preconditions = NO_PRECONDITIONS) -> bool:
    """Delete one document; True if there was one. ``If-Match`` is honoured (412 on a mismatch)."""
    current = _current(session, key, for_update=True)
    _check_preconditions(current, preconditions, replacing=False)
    if current is None:
        return False
    session.delete(current)
    session.flush()
    return True


def delete_documents(session: Session, scope: DocumentScope) -> int:
    """Delete every document in ``scope`` (State multiple-document DELETE); the number deleted."""
    statement = delete(Document).where(Document.scope_hash == scope.scope_hash)
    if scope.registration is not None:
        statement = statement.where(Document.registration == scope.registration)
    result = session.execute(statement.execution_options(synchronize_session=False))
    session.flush()
    return int(result.rowcount or 0)


# -- queries ----------------------------------------------------------------------------------------

def get_document(session: Session, key: DocumentKey) -> StoredDocument | None:
    """The document at ``key``, or None."""
    row = _current(session, key)
    return _stored(row) if row is not None else None


def list_document_ids(session: Session, scope: DocumentScope, *,
                      since: datetime | None = None) -> DocumentIds:
    """The ids of the documents in ``scope`` updated after ``since`` (exclusive), oldest first,
    and when the newest of them was updated (for ``Last-Modified``)."""
    query = select(Document.document_id, Document.updated).where(Document.scope_hash == scope.scope_hash)
    if scope.registration is not None:
        query = query.where(Document.registration == scope.registration)
    if since is not None:
        query = query.where(Document.updated > since)
    rows = session.execute(query.order_by(Document.updated, Document.id)).all()
    ids = list(dict.fromkeys(row.document_id for row in rows))  # State ids repeat across registrations
    return DocumentIds(ids=ids, last_modified=max((row.updated for row in rows), default=None))


# -- helpers ----------------------------------------------------------------------------------------

def is_json_media_type(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == JSON_MEDIA_TYPE


def etag_of(content: bytes) -> str:
    """The document's ETag value: the lowercase hexadecimal SHA-1 of its bytes (Communication 3.1)."""
    return hashlib.sha1(content).hexdigest()  # noqa: S324 - the spec mandates SHA-1 here


def _digest(*parts: str | None) -> str:
    # \x1f separates the parts and \x1e marks "absent", so no two different keys share a text.
    text = "\x1f".join("\x1e" if part is None else part for part in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_size(content: bytes, max_bytes: int) -> None:
    if len(content) > max_bytes:
        raise DocumentTooLarge(
            f"the document is {len(content)} bytes; this LRS stores documents of at most {max_bytes} "
            "bytes. Nothing was stored.")


def _json_object(content: bytes, what: str) -> dict:
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise DocumentError(f"{what} is declared application/json but is not valid JSON") from None
    if not isinstance(value, dict):
        raise DocumentError(f"{what} must be a JSON object to be merged, not a JSON {type(value).__name__}")
    return value


def _current(session: Session, key: DocumentKey, *, for_update: bool = False) -> Document | None:
    query = select(Document).where(Document.key_hash == key.key_hash)
    if for_update:
        # PostgreSQL: hold the row until commit so concurrent writers see each other's ETags.
        # SQLite serialises writers with BEGIN IMMEDIATE and ignores FOR UPDATE.
        query = query.with_for_update()
    return session.scalar(query)


def _parse_etags(header: str) -> set[str] | None:
    """The entity tags of an If-Match/If-None-Match header; None means ``*``."""
    if header.strip() == "*":
        return None
    tags = set()
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tags.add(tag.strip('"').lower())
    tags.discard("")
    return tags


def _check_preconditions(current: Document | None, preconditions: Preconditions, *, replacing: bool) -> None:
    if preconditions.if_match:
        tags = _parse_etags(preconditions.if_match)
        if current is None or (tags is not None and current.etag not in tags):
            raise DocumentPreconditionFailed(
                "If-Match does not match the document's current ETag"
                + (" (there is no such document)" if current is None else "")
                + ": fetch the document again and retry with its current ETag")
    if preconditions.if_none_match:
        tags = _parse_etags(preconditions.if_none_match)
        if current is not None and (tags is None or current.etag in tags):
            raise DocumentPreconditionFailed(
                "If-None-Match: the document already exists" if tags is None
                else "If-None-Match: the document's current ETag is listed")
    if replacing and preconditions.required and not preconditions.given and current is not None:
        raise DocumentConflict(
            "the document already exists and the PUT had neither If-Match nor If-None-Match: check the "
            "current state of the document, then send If-Match with its current ETag to replace it")
    if replacing and preconditions.required_to_create and not preconditions.given and current is None:
        raise DocumentPreconditionRequired(
            "a PUT to this resource must send If-None-Match: * to create a document, or If-Match with the "
            "current ETag to replace one")


def _write(session: Session, key: DocumentKey, produce, preconditions: Preconditions, *,  # type: ignore[no-untyped-def]
           replace: bool) -> StoredDocument:
    """Check preconditions against the current document, then insert or update it.

    Two requests creating the same document at once meet at the unique key: the loser re-reads
    the winner's document and is judged against it (412/409/merge), never lost silently.
    """
    for _attempt in range(2):
        current = _current(session, key, for_update=True)
        _check_preconditions(current, preconditions, replacing=replace)
        content, content_type = produce(current)
        now = utcnow()
        if current is not None:
            current.content = content
            current.content_type = content_type
            current.etag = etag_of(content)
            current.updated = now
            session.flush()
            return _stored(current)
        scope = key.scope
        row = Document(kind=scope.kind, key_hash=key.key_hash, scope_hash=scope.scope_hash,
                       activity_id=scope.activity_id, agent_key=scope.agent_key,
                       registration=scope.registration, document_id=key.document_id, content=content,
                       content_type=content_type, etag=etag_of(content), updated=now)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            continue  # created concurrently: judge this request against that document
        return _stored(row)
    raise DocumentConflict("the document changed concurrently; retry the request")


def _stored(row: Document) -> StoredDocument:
    return StoredDocument(document_id=row.document_id, content=row.content, content_type=row.content_type,
                          etag=row.etag, updated=row.updated)


# -- typed shortcuts for other packages (e.g. the cmi5 launch writes ``LMS.LaunchData``) -------------

def put_state_document(session: Session, *, activity_id: str, agent: dict, registration: str | None,
                       state_id: str, content: bytes, content_type: str = JSON_MEDIA_TYPE) -> StoredDocument:
    """Store (replace) one State document, as an unconditional State PUT would."""
    key = state_key(activity_id=activity_id, agent=agent, registration=registration, state_id=state_id)
    return put_document(session, key, content, content_type)


def get_state_document(session: Session, *, activity_id: str, agent: dict, registration: str | None,
                       state_id: str) -> StoredDocument | None:
    """One State document, or None."""
    key = state_key(activity_id=activity_id, agent=agent, registration=registration, state_id=state_id)
    return get_document(session, key)


def delete_state_document(session: Session, *, activity_id: str, agent: dict, registration: str | None,
                          state_id: str) -> bool:
    """Delete one State document; True if there was one."""
    key = state_key(activity_id=activity_id, agent=agent, registration=registration, state_id=state_id)
    return delete_document(session, key)
