"""Who is signed in, and the decorators that guard pages and API endpoints."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, redirect, request, session, url_for

from cairn.accounts.models import User
from cairn.db import get_session
from cairn.errors import CairnError, Forbidden, wants_json

F = TypeVar("F", bound=Callable[..., Any])


class Unauthorized(CairnError):
    status = 401
    code = "unauthorized"


def current_user() -> User | None:
    """The signed-in, active user of this request, or None."""
    if "_cairn_user" not in g:
        user_id = session.get("user_id")
        user = get_session().get(User, user_id) if user_id else None
        g._cairn_user = user if user is not None and user.active else None
    return g._cairn_user


def sign_in(user: User) -> None:
    """Bind the browser session to ``user`` under a fresh session id."""
    session.clear()
    regenerate = getattr(session, "regenerate", None)
    if regenerate:
        regenerate()
    session["user_id"] = user.id
    g._cairn_user = user


def sign_out() -> None:
    session.clear()
    g.pop("_cairn_user", None)


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if wants_json():
                raise Unauthorized("sign in first")
            return redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def admin_required(view: F) -> F:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None or not user.is_admin:
            raise Forbidden("this needs an administrator")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
