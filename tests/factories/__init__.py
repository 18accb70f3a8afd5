"""Small factories that build real rows through the service functions."""
from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from cairn.accounts.models import User
from cairn.accounts.services import create_user

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


def user(session: Session, *, role: str = "learner", name: str | None = None, email: str | None = None,
         password: str | None = PASSWORD, **attributes: object) -> User:
    n = next(_counter)
    return create_user(session, name=name or f"User {n}", email=email or f"user{n}@example.org",
                       password=password, role=role, attributes=dict(attributes))


def admin(session: Session, **kwargs: object) -> User:
    return user(session, role="administrator", **kwargs)  # type: ignore[arg-type]
