"""Models of `lti`: platforms and deployments, tool keys, login states and used nonces, the
contexts and resource links launched from, roster members, and the AGS score queue.

Everything a second worker or host must agree on (nonces, states, keys, queued scores) is a row.
"""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cairn.db import IRI, Base, BigIntPK, IntPK, Json, Timestamp, utcnow


class Platform(Base):
    """One registration of Cairn on an LTI platform: an issuer and the client_id it gave us."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id", name="uq_lti_platforms_issuer_client_id"),)

    id: Mapped[IntPK]
    issuer: Mapped[IRI]
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200), default="")
    auth_login_url: Mapped[IRI]
    token_url: Mapped[IRI]
    jwks_url: Mapped[IRI]
    # The audience of our client-assertion JWT when the platform wants something other than token_url.
    auth_audience: Mapped[str | None] = mapped_column(String(2048))
    # The platform's key set, cached; refetched when a launch names an unknown kid.
    jwks: Mapped[Json | None] = mapped_column(default=None)
    jwks_fetched_at: Mapped[Timestamp | None]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(back_populates="platform",
                                                         cascade="all, delete-orphan",
                                                         order_by="Deployment.id")


class Deployment(Base):
    """A deployment id the platform uses for Cairn; launches naming any other are refused."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id",
                                       name="uq_lti_deployments_platform_id"),)

    id: Mapped[IntPK]
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))

    platform: Mapped[Platform] = relationship(back_populates="deployments")


class ToolKey(Base):
    """An RSA key pair of the tool. Published from ``created_at``; signs from ``activates_at`` until
    ``retired_at``; unpublished after ``expires_at`` (when no token it signed can still be valid)."""

    __tablename__ = "lti_tool_keys"

    id: Mapped[IntPK]
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[Json]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    activates_at: Mapped[Timestamp]
    retired_at: Mapped[Timestamp | None]
    expires_at: Mapped[Timestamp | None]


class LoginState(Base):
    """An OIDC login in flight: the state and nonce we sent, bound to the browser that started it."""

    __tablename__ = "lti_login_states"

    id: Mapped[BigIntPK]
    state: Mapped[str] = mapped_column(String(100), unique=True)
    nonce: Mapped[str] = mapped_column(String(100))
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    target_link_uri: Mapped[IRI]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    expires_at: Mapped[Timestamp] = mapped_column(index=True)


class UsedNonce(Base):
    """A nonce of an accepted id_token: a second launch with it is a replay."""

    __tablename__ = "lti_used_nonces"
    __table_args__ = (UniqueConstraint("issuer", "nonce", name="uq_lti_used_nonces_issuer_nonce"),)

    id: Mapped[BigIntPK]
    issuer: Mapped[IRI]
    nonce: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[Timestamp] = mapped_column(index=True)


class Context(Base):
    """An LTI context (course) of a platform, mapped to a Cairn academic class."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id", name="uq_lti_contexts_platform_id"),)

    id: Mapped[IntPK]
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(500), default="")
    label: Mapped[str] = mapped_column(String(255), default="")
    class_id: Mapped[int | None]
    deployment_id: Mapped[str] = mapped_column(String(255), default="")
    memberships_url: Mapped[str | None] = mapped_column(String(2048))
    lineitems_url: Mapped[str | None] = mapped_column(String(2048))
    ags_scopes: Mapped[Json] = mapped_column(default=list)
    roster_synced_at: Mapped[Timestamp | None]

    platform: Mapped[Platform] = relationship()


class ContextMember(Base):
    """A person in a context, from launches and the NRPS roster; leavers become inactive."""

    __tablename__ = "lti_context_members"
    __table_args__ = (UniqueConstraint("context_id", "user_id", name="uq_lti_context_members_context_id"),)

    id: Mapped[IntPK]
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sub: Mapped[str] = mapped_column(String(255))
    roles: Mapped[Json] = mapped_column(default=list)
    role: Mapped[str] = mapped_column(String(20), default="learner")
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class ResourceLink(Base):
    """A placement of Cairn in a context: where it leads (a pathway, a step, the catalogue) and its
    AGS line item."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("platform_id", "resource_link_id",
                                       name="uq_lti_resource_links_platform_id"),)

    id: Mapped[IntPK]
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    context_id: Mapped[int | None] = mapped_column(ForeignKey("lti_contexts.id", ondelete="SET NULL"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(500), default="")
    target_kind: Mapped[str] = mapped_column(String(20), default="catalogue")
    target_id: Mapped[str | None] = mapped_column(String(255))
    lineitem_url: Mapped[str | None] = mapped_column(String(2048))
    lineitems_url: Mapped[str | None] = mapped_column(String(2048))
    ags_scopes: Mapped[Json] = mapped_column(default=list)
    score_maximum: Mapped[float | None]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class ScoreDelivery(Base):
    """A score waiting to be posted to a platform (AGS). Delivered once, in id order per resource
    link and learner; a failure is retried later with back-off."""

    __tablename__ = "lti_score_deliveries"
    __table_args__ = (Index("ix_lti_score_deliveries_pending", "delivered_at", "next_attempt_at"),)

    id: Mapped[BigIntPK]
    resource_link_id: Mapped[int] = mapped_column(ForeignKey("lti_resource_links.id", ondelete="CASCADE"),
                                                  index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    score_given: Mapped[float | None]
    score_maximum: Mapped[float]
    activity_progress: Mapped[str] = mapped_column(String(20))
    grading_progress: Mapped[str] = mapped_column(String(20))
    timestamp: Mapped[Timestamp]
    comment: Mapped[str | None] = mapped_column(String(1000))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    # A worker's claim while it talks to the platform (no transaction stays open meanwhile).
    leased_until: Mapped[Timestamp | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    delivered_at: Mapped[Timestamp | None]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class Launch(Base):
    """An accepted launch, for what comes after it: the Deep Linking selection, and continuing in a
    new window (first-party) when the iframe cannot keep cookies. ``token`` is a random secret."""

    __tablename__ = "lti_launches"

    id: Mapped[BigIntPK]
    token: Mapped[str] = mapped_column(String(64), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    context_id: Mapped[int | None] = mapped_column(ForeignKey("lti_contexts.id", ondelete="SET NULL"))
    resource_link_id: Mapped[int | None] = mapped_column(ForeignKey("lti_resource_links.id",
                                                                    ondelete="SET NULL"))
    message_type: Mapped[str] = mapped_column(String(50))
    destination: Mapped[str] = mapped_column(String(2048))
    deep_linking_settings: Mapped[Json | None] = mapped_column(default=None)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    expires_at: Mapped[Timestamp] = mapped_column(index=True)
    # Set when the one-time "continue in a new window" sign-in was used.
    continued_at: Mapped[Timestamp | None]
