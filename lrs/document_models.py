"""Documents of the xAPI document resources: State, Activity Profile and Agent Profile.

One table serves the three resources. A document is addressed by its ``kind``, the Activity and/or
Agent it belongs to, the registration (State only) and its own id. Activity IRIs and agent
identities can be long, so lookups go through two SHA-256 digests instead of wide indexes:
``key_hash`` names one document (unique), ``scope_hash`` names the Activity + Agent a set of
documents belongs to (registration excluded, because a State id listing or deletion without a
registration covers every registration).
"""
from __future__ import annotations

from sqlalchemy import Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cairn.db import Base, BigIntPK, Timestamp, utcnow

DOCUMENT_KINDS = ("state", "activity_profile", "agent_profile")


class Document(Base):
    """One stored document: its bytes exactly as received, their Content-Type and SHA-1 ETag."""

    __tablename__ = "lrs_documents"
    __table_args__ = (
        Index("ix_lrs_documents_scope_hash_updated", "scope_hash", "updated"),
    )

    id: Mapped[BigIntPK]
    kind: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope_hash: Mapped[str] = mapped_column(String(64))
    # Readable copies of what the hashes were made of (for operators and exports).
    activity_id: Mapped[str | None] = mapped_column(String(2048))
    agent_key: Mapped[str | None] = mapped_column(Text)
    registration: Mapped[str | None] = mapped_column(String(36))
    document_id: Mapped[str] = mapped_column(Text)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(255))
    etag: Mapped[str] = mapped_column(String(40))
    updated: Mapped[Timestamp] = mapped_column(default=utcnow)
