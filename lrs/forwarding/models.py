"""Forwarding targets: remote LRSs that receive copies of matching statements.

The delivery queue is the statement log itself: each target keeps a cursor (the sequence number of
the last statement it has dealt with). Sequence numbers are strictly increasing in commit order, so
a target whose cursor only moves forward after a confirmed delivery never misses a statement and,
locally, never sends one twice. The remote deduplicates anything re-sent after a lost response by
statement id. Statements the remote rejects for good are kept in ``forwarding_rejections``.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cairn.db import IRI, Base, IntPK, Json, Timestamp, UTCDateTime, utcnow


class ForwardingTarget(Base):
    """A remote LRS, its credentials and filter, and where its delivery stands."""

    __tablename__ = "lrs_forwarding_targets"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[IRI]
    # The remote's credential is used to authenticate to it, so it cannot be stored hashed.
    key: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(500))
    xapi_version: Mapped[str] = mapped_column(String(10), default="1.0.3")
    # Filter: a statement matches when it matches every non-empty list (any value within a list).
    verbs: Mapped[Json] = mapped_column(default=list)
    activities: Mapped[Json] = mapped_column(default=list)
    actors: Mapped[Json] = mapped_column(default=list)
    pathways: Mapped[Json] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)

    # Delivery state.
    cursor: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    delivered_count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    failures: Mapped[int] = mapped_column(default=0)  # consecutive failed attempts, for backoff
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    rejections: Mapped[list[ForwardingRejection]] = relationship(
        back_populates="target", cascade="all, delete-orphan", passive_deletes=True)


class ForwardingRejection(Base):
    """A statement the remote refused for good (a 4xx other than a duplicate): not retried."""

    __tablename__ = "lrs_forwarding_rejections"

    id: Mapped[IntPK]
    target_id: Mapped[int] = mapped_column(ForeignKey("lrs_forwarding_targets.id", ondelete="CASCADE"),
                                           index=True)
    statement_id: Mapped[str] = mapped_column(String(36))
    sequence: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    status: Mapped[int]
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)

    target: Mapped[ForwardingTarget] = relationship(back_populates="rejections")
