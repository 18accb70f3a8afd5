"""The LRS's exceptions; ``cairn.errors`` turns each into a JSON response under the xAPI path."""
from __future__ import annotations

from cairn.errors import CairnError


class LRSError(CairnError):
    """Base of every xAPI error: a 400 unless a subclass says otherwise."""

    status = 400
    code = "bad_request"


class StatementInvalid(LRSError):
    """A statement (or batch) breaks a rule of the xAPI data model; the message names the rule and place."""

    status = 400
    code = "statement_invalid"


class StatementConflict(LRSError):
    """A statement id is already stored with different content."""

    status = 409
    code = "statement_conflict"


class BadRequest(LRSError):
    """A request breaks a rule of the xAPI communication part (parameters, headers, body)."""

    status = 400
    code = "bad_request"


class Unauthorized(LRSError):
    """No credential, or one that is unknown, revoked or expired (answered with WWW-Authenticate)."""

    status = 401
    code = "unauthorized"


class ScopeForbidden(LRSError):
    """The credential is valid but its scopes (or its launch restriction) do not allow this request."""

    status = 403
    code = "forbidden"


class NotFound(LRSError):
    status = 404
    code = "not_found"


class PreconditionFailed(LRSError):
    status = 412
    code = "precondition_failed"


class PreconditionRequired(LRSError):
    status = 428
    code = "precondition_required"


class PayloadTooLarge(LRSError):
    status = 413
    code = "payload_too_large"


class CredentialError(LRSError):
    """A credential command was given bad input (unknown scope, unknown key)."""

    status = 400
    code = "credential_error"
