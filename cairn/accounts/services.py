"""Account operations: create users, check passwords, map xAPI identities to users.

Functions flush but never commit: the request or CLI command commits once.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from cairn.accounts.models import ROLES, User, UserIdentity
from cairn.db import in_values
from cairn.errors import CairnError, Conflict

MIN_PASSWORD_LENGTH = 8


class AccountError(CairnError):
    code = "account_error"


@dataclass(frozen=True)
class Identity:
    """An xAPI inverse functional identifier in canonical form."""

    kind: str
    value: str

    @classmethod
    def from_agent(cls, agent: dict) -> Identity | None:
        """The IFI of an xAPI Agent object, or None for an anonymous group."""
        found = kind_and_value(agent)
        return cls(*found) if found is not None else None

    def to_agent(self, name: str | None = None) -> dict:
        """The xAPI Agent object for this identity."""
        agent: dict = {"objectType": "Agent"}
        if self.kind == "account":
            home_page, _, account_name = self.value.partition("|")
            agent["account"] = {"homePage": home_page, "name": account_name}
        else:
            agent[self.kind] = self.value
        if name:
            agent["name"] = name
        return agent


def kind_and_value(agent: dict) -> tuple[str, str] | None:
    """``Identity.from_agent``'s kind and value without the object (the LRS asks for millions)."""
    if "mbox" in agent:
        return "mbox", str(agent["mbox"]).lower()
    if "mbox_sha1sum" in agent:
        return "mbox_sha1sum", str(agent["mbox_sha1sum"]).lower()
    if "openid" in agent:
        return "openid", str(agent["openid"])
    account = agent.get("account")
    if isinstance(account, dict):
        return "account", f"{account.get('homePage')}|{account.get('name')}"
    return None


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def create_user(session: Session, *, name: str, email: str | None = None, password: str | None = None,
                role: str = "learner", attributes: dict | None = None) -> User:
    """Create a user; a user with an email gets a ``mailto:`` identity, so their statements count."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if email is not None:
        email = email.strip().lower()
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict(f"a user with email {email} already exists")
    user = User(name=name, email=email, role=role, attributes=attributes or {},
                password_hash=hash_password(password) if password else None)
    session.add(user)
    if email:
        user.identities.append(UserIdentity(kind="mbox", value=f"mailto:{email}"))
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active or not user.password_hash:
        # Hash anyway so that a missing account takes as long as a wrong password.
        check_password_hash(hash_password("timing-equaliser"), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def set_password(session: Session, user: User, password: str) -> None:
    """Replace a user's password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    session.flush()


def add_identity(session: Session, user: User, identity: Identity) -> UserIdentity:
    """Attach an xAPI identity to a user (idempotent); an identity belongs to one user only."""
    existing = session.scalar(select(UserIdentity).where(UserIdentity.kind == identity.kind,
                                                         UserIdentity.value == identity.value))
    if existing is not None:
        if existing.user_id != user.id:
            raise Conflict(f"identity {identity.kind} {identity.value} belongs to another user")
        return existing
    row = UserIdentity(user_id=user.id, kind=identity.kind, value=identity.value)
    session.add(row)
    session.flush()
    return row


def user_for_identity(session: Session, identity: Identity) -> User | None:
    """The user who owns this xAPI identity, if any."""
    return session.scalar(select(User).join(UserIdentity).where(
        UserIdentity.kind == identity.kind, UserIdentity.value == identity.value))


def identities_of(session: Session, user_id: int) -> list[Identity]:
    """Every xAPI identity of a user."""
    rows = session.scalars(select(UserIdentity).where(UserIdentity.user_id == user_id)
                           .order_by(UserIdentity.id))
    return [Identity(r.kind, r.value) for r in rows]


def users_by_ids(session: Session, ids: Iterable[int]) -> dict[int, User]:
    ids = list(ids)
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(in_values(User.id, ids)))}


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def _users_matching(search: str, role: str | None, among: Iterable[int] | None = None) -> Any:
    query = select(User)
    if among is not None:
        query = query.where(in_values(User.id, among))
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(or_(func.lower(User.name).like(pattern), func.lower(User.email).like(pattern)))
    if role:
        query = query.where(User.role == role)
    return query


def list_users(session: Session, *, search: str = "", role: str | None = None, limit: int = 200,
               offset: int = 0, among: Iterable[int] | None = None) -> list[User]:
    """Users whose name or email contains ``search`` (case-insensitive), by name; ``offset`` skips
    that many (a page); ``among``: only these ids."""
    query = _users_matching(search, role, among).order_by(User.name, User.id).offset(offset).limit(limit)
    return list(session.scalars(query))


def count_users(session: Session, *, search: str = "", role: str | None = None,
                among: Iterable[int] | None = None) -> int:
    """How many users ``list_users`` would list with no limit."""
    matching = _users_matching(search, role, among).subquery()
    return int(session.scalar(select(func.count()).select_from(matching)) or 0)


def find_users(session: Session, *, search: str = "", role: str | None = None, limit: int,
               among: Iterable[int] | None = None) -> tuple[list[User], int]:
    """The first ``limit`` users ``list_users`` lists, and how many match in all (counted only when
    the list is full: else it is the list's length)."""
    among = None if among is None else set(among)
    found = list_users(session, search=search, role=role, limit=limit, among=among)
    total = count_users(session, search=search, role=role, among=among) if len(found) == limit else len(found)
    return found, total


def update_user(session: Session, user: User, *, name: str, role: str, active: bool,
                attributes: dict) -> User:
    """Change a user's name, role, active flag and learner attributes (used by audience rules)."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    user.name, user.role, user.active, user.attributes = name, role, active, dict(attributes)
    session.flush()
    return user
