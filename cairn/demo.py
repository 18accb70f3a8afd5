"""Demo data: an administrator, then whatever each package's demo loader adds."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cairn.accounts.models import User
from cairn.accounts.services import create_user

DEMO_ADMIN = {"email": "admin@example.org", "password": "cairn-admin", "name": "Ada Admin",
              "role": "administrator"}


def load_demo(session: Session,
              loaders: Iterable[Callable[[Session], dict[str, Any] | None]]) -> dict[str, Any]:
    """Create the demo once (a second call changes nothing) and return the accounts to sign in with."""
    info: dict[str, Any] = {"accounts": [dict(DEMO_ADMIN)]}
    already = session.scalar(select(User.id).where(User.email == DEMO_ADMIN["email"])) is not None
    if not already:
        create_user(session, name=DEMO_ADMIN["name"], email=DEMO_ADMIN["email"],
                    password=DEMO_ADMIN["password"], role="administrator")
    for loader in loaders:
        extra = loader(session) or {}
        info["accounts"].extend(extra.get("accounts", []))
        for key, value in extra.items():
            if key != "accounts":
                info[key] = value
    return info
