"""Sign-in and sign-out pages."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, Response, redirect, render_template, request, url_for
from marshmallow import ValidationError

from cairn.accounts import services
from cairn.accounts.schemas import SignInForm
from cairn.auth import current_user, sign_in, sign_out
from cairn.db import get_session

bp = Blueprint("accounts", __name__)


def _safe_next(target: str) -> str:
    # Only same-site paths: an open redirect after sign-in is a phishing aid.
    parsed = urlparse(target)
    if target and not parsed.scheme and not parsed.netloc and target.startswith("/"):
        return target
    return url_for("home")


@bp.get("/signin", endpoint="sign_in")
def sign_in_page() -> str:
    return render_template("signin.html", next=request.args.get("next", ""), email="",
                           signed_out=bool(request.args.get("signed_out")))


@bp.post("/signin")
def sign_in_submit() -> Response | tuple[str, int]:
    try:
        form = SignInForm().load(request.form)
    except ValidationError as exc:
        return render_template("signin.html", next=request.form.get("next", ""),
                               email=request.form.get("email", ""), errors=exc.messages), 400
    user = services.authenticate(get_session(), form["email"], form["password"])
    if user is None:
        return render_template("signin.html", next=form["next"], email=form["email"],
                               errors={"_": ["Wrong email or password."]}), 401
    sign_in(user)
    return redirect(_safe_next(form["next"]))


@bp.post("/signout")
def sign_out_submit() -> Response:
    if current_user() is not None:
        sign_out()
    return redirect(url_for("accounts.sign_in", signed_out=1))
