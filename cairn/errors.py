"""The one place where exceptions become responses.

API paths (the xAPI endpoint, ``/api/``, LTI service endpoints) answer JSON
``{"error": ..., "message": ...}``; pages answer a plain HTML page. No stack trace reaches a client.
Each package defines its own exception types as subclasses of ``CairnError`` and may register a
JSON path prefix with ``register_api_prefix``.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from cairn.db import roll_back_request

log = logging.getLogger(__name__)


class CairnError(Exception):
    """Base of every domain error: carries an HTTP status, a short code and a message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.details = details or {}


class NotFound(CairnError):
    status = 404
    code = "not_found"


class Forbidden(CairnError):
    status = 403
    code = "forbidden"


class Conflict(CairnError):
    status = 409
    code = "conflict"


def register_api_prefix(app: Flask, prefix: str) -> None:
    """Answer errors under ``prefix`` as JSON."""
    app.extensions.setdefault("cairn.api_prefixes", set()).add(prefix.rstrip("/") or "/")


def wants_json() -> bool:
    prefixes = current_app.extensions.get("cairn.api_prefixes", set())
    path = request.path
    if any(path == p or path.startswith(p + "/") for p in prefixes):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and \
        request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    """Build the response for an error in the form the path calls for."""
    if wants_json():
        body: dict[str, Any] = {"error": code, "message": message}
        if details:
            body.update(details)
        response = jsonify(body)
    else:
        html = render_template("error.html", status=status, code=code, message=message, details=details or {})
        response = Response(html, mimetype="text/html")
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    register_api_prefix(app, "/api")

    @app.errorhandler(CairnError)
    def _domain(exc: CairnError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(ValidationError)
    def _invalid(exc: ValidationError) -> Response:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        fields = ", ".join(sorted(str(k) for k in messages)) if isinstance(messages, dict) else ""
        return error_response(400, "invalid_input", f"Invalid input in: {fields}", {"fields": messages})

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        roll_back_request()
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")
