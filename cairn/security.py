"""CSRF protection on every form and the security headers on every response."""
from __future__ import annotations

from flask import Flask, Response, request
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

    xapi_prefix = app.config["XAPI_PATH"].rstrip("/") + "/"  # settled before init_app: every request

    @app.before_request
    def _refuse_nul() -> Response | None:
        # U+0000 in an address: no page or API takes it, and PostgreSQL's text refuses it (a search
        # for it answered 500). The xAPI resources refuse it themselves, naming the parameter.
        if request.path.startswith(xapi_prefix):
            return None
        if "\x00" in request.path or any("\x00" in key or any("\x00" in value for value in values)
                                          for key, values in request.args.lists()):
            return error_response(400, "bad_request",
                                  "The address holds the character U+0000, which no page or API takes.")
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        return response
