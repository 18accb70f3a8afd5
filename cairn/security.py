"""CSRF protection on every form and the security headers on every response."""
from __future__ import annotations

from flask import Flask, Response
from flask_wtf.csrf import CSRFError, CSRFProtect

from cairn.errors import error_response

csrf = CSRFProtect()

# No inline scripts or styles anywhere; pages may be framed by LTI platforms, so no frame-ancestors limit.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self' https: http:; frame-ancestors *"
)


def init_app(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("WTF_CSRF_HEADERS", ["X-CSRFToken", "X-CSRF-Token"])
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_failed(exc: CSRFError) -> Response:
        return error_response(400, "csrf_failed",
                              f"The form's security token is missing or stale ({exc.description}). "
                              "Reload the page and try again.")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        return response
