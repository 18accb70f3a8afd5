"""multipart/mixed bodies for statements with attachments (xAPI 1.0.3 Data 2.4.11, Communication 1.5.2).

Parsed by hand on bytes: attachment parts are binary, and the standard library's email parser
would decode them as text.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from lrs.errors import BadRequest

HASH_HEADER = "x-experience-api-hash"
_HASHES = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}

# The widest Content-Type an attachment or a document keeps (its column; RFC 6838 names are far shorter).
MAX_CONTENT_TYPE = 255


@dataclass(frozen=True)
class Part:
    headers: dict[str, str]  # lower-case names
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "text/plain").split(";")[0].strip().lower()


def parse_multipart(body: bytes, boundary: str | None) -> list[Part]:
    """Split a multipart body into parts (400 on a body that is not well-formed multipart)."""
    if not boundary:
        raise BadRequest("multipart/mixed needs a boundary parameter in Content-Type")
    delimiter = b"--" + boundary.encode("latin-1")
    sections = body.split(delimiter)
    if len(sections) < 3:
        raise BadRequest("the multipart body has no parts delimited by its boundary")
    parts = []
    for section in sections[1:]:
        if section.startswith(b"--"):
            break
        if section.startswith(b"\r\n"):
            section = section[2:]
        elif section.startswith(b"\n"):
            section = section[1:]
        head, sep, content = section.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = section.partition(b"\n\n")
        if not sep:
            raise BadRequest("a multipart part has no blank line after its headers")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        headers = {}
        for line in head.decode("latin-1").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        parts.append(Part(headers, content))
    else:
        raise BadRequest("the multipart body does not end with its closing boundary")
    return parts


def attachment_parts(parts: list[Part]) -> dict[str, tuple[str, bytes]]:
    """The attachment parts after the statement part, keyed by their checked SHA-2."""
    found: dict[str, tuple[str, bytes]] = {}
    for index, part in enumerate(parts[1:], start=1):
        declared = part.headers.get(HASH_HEADER)
        if not declared:
            raise BadRequest(f"multipart part {index}: the X-Experience-API-Hash header is required")
        encoding = part.headers.get("content-transfer-encoding")
        if encoding is not None and encoding.lower() != "binary":
            raise BadRequest(f"multipart part {index}: Content-Transfer-Encoding must be binary")
        algorithm = _HASHES.get(len(declared))
        if algorithm is None or algorithm(part.content).hexdigest() != declared.lower():
            raise BadRequest(f"multipart part {index}: its content does not match its X-Experience-API-Hash")
        content_type = part.headers.get("content-type", "application/octet-stream")
        if len(content_type) > MAX_CONTENT_TYPE:
            raise BadRequest(f"multipart part {index}: its Content-Type is {len(content_type):,} characters "
                             f"long; this LRS stores media types of up to {MAX_CONTENT_TYPE}")
        found[declared.lower()] = (content_type, part.content)
    return found


def build_multipart(statement_json: bytes, attachments: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/mixed body: statements, then each (sha2, type, bytes); returns (body, boundary)."""
    boundary = "cairn-" + secrets.token_hex(16)
    chunks = [f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(), statement_json, b"\r\n"]
    for sha2, content_type, content in attachments:
        head = (f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
                f"X-Experience-API-Hash: {sha2}\r\n\r\n")
        chunks.append(head.encode())
        chunks += [content, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), boundary
