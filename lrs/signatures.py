"""Signed statements (xAPI 1.0.3 Data 2.6): a JWS signature attachment that must match its statement."""
from __future__ import annotations

import base64
import json
from typing import Any

from lrs.errors import BadRequest
from lrs.validation import SIGNATURE_USAGE, truncate_duration

ALGORITHMS = ("RS256", "RS384", "RS512")
# Properties the LRS sets or the signer cannot know; a signed payload is compared without them.
UNSIGNED = ("id", "stored", "authority", "version", "attachments")


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def check_signatures(statements: list[Any], attachments: dict[str, tuple[str, bytes]], version: str) -> None:
    """400 unless every signature attachment is a JWS (RS256/384/512) whose payload is its statement."""
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict) or not isinstance(statement.get("attachments"), list):
            continue
        for attachment in statement["attachments"]:
            if not isinstance(attachment, dict) or attachment.get("usageType") != SIGNATURE_USAGE:
                continue
            where = f"statements[{index}] signature"
            if attachment.get("contentType") != "application/octet-stream":
                raise BadRequest(f"{where}: a signature attachment's contentType must be "
                                 "application/octet-stream")
            sha2 = str(attachment.get("sha2", "")).lower()
            if sha2 not in attachments:
                raise BadRequest(f"{where}: the JWS signature must be sent as a multipart part")
            _check_jws(attachments[sha2][1], statement, where)


def _check_jws(raw: bytes, statement: dict, where: str) -> None:
    try:
        token = raw.decode("ascii").strip()
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64decode(header_b64))
        payload = json.loads(_b64decode(payload_b64))
        _b64decode(signature_b64)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"{where}: not a JWS in compact serialization") from None
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
        raise BadRequest(f"{where}: the JWS algorithm must be one of {', '.join(ALGORITHMS)}")
    if not isinstance(payload, dict) or _comparable(payload) != _comparable(statement):
        raise BadRequest(f"{where}: the JWS payload does not match the statement")
    if "id" in payload and "id" in statement and str(payload["id"]).lower() != str(statement["id"]).lower():
        raise BadRequest(f"{where}: the JWS payload's id differs from the statement's")
    if "x5c" in header:
        _verify_with_certificate(token, header, where)


def _comparable(statement: dict) -> dict:
    comparable = {k: v for k, v in statement.items() if k not in UNSIGNED}
    result = comparable.get("result")
    if isinstance(result, dict) and isinstance(result.get("duration"), str):
        comparable["result"] = {**result, "duration": truncate_duration(result["duration"])}
    return comparable


def _verify_with_certificate(token: str, header: dict, where: str) -> None:
    import jwt
    from cryptography import x509
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
        jwt.api_jws.PyJWS().decode_complete(token, certificate.public_key(), algorithms=list(ALGORITHMS))
    except Exception:
        raise BadRequest(f"{where}: the JWS signature does not verify with its x5c certificate") from None
