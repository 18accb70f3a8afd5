"""Users, their xAPI identities and their server-side web sessions."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cairn.db import Base, IntPK, Json, Timestamp, utcnow

ROLES = ("administrator", "learner")


class User(Base):
    """A person: signs in with a password, or arrives by an LTI launch (no password)."""

    __tablename__ = "users"

    id: Mapped[IntPK]
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="learner")
    active: Mapped[bool] = mapped_column(default=True)
    # Learner attributes used by audience rules (department, location, LTI custom claims...).
    attributes: Mapped[Json] = mapped_column(default=dict)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)

    identities: Mapped[list[UserIdentity]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_admin(self) -> bool:
        return self.role == "administrator"


class UserIdentity(Base):
    """One xAPI identity of a user, by its inverse functional identifier in canonical form.

    ``kind`` is mbox, mbox_sha1sum, openid or account; ``value`` is the IFI (for an account,
    ``homePage|name``). Statements about any identity of a user count for that user.
    """

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_user_identities_kind_value"),)

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="identities")


class WebSession(Base):
    """A browser session kept in the database, so that any worker on any host can serve it."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[Json] = mapped_column(default=dict)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[Timestamp] = mapped_column(index=True)
