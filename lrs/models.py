"""Models of ``lrs``: statements with their query columns and side tables, attachments, credentials.

Only ``lrs`` imports this module; other packages go through ``lrs.services``.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, Boolean, Index, Integer, LargeBinary, PrimaryKeyConstraint, String, false,
                        text)
from sqlalchemy.orm import Mapped, mapped_column

from cairn.db import IRI, Base, IntPK, Json, Timestamp, UTCDateTime, utcnow

SequenceNumber = BigInteger().with_variant(Integer, "sqlite")


class Statement(Base):
    """One stored statement: its exact JSON plus a column for every xAPI query filter.

    ``sequence`` grows in commit order (see ``lrs.statements``); numbers taken by a batch that rolled
    back, or for statements it found already stored, leave gaps.
    Identities are kept as ``Identity`` strings ``kind|value`` (``account|homePage|name``).
    """

    __tablename__ = "lrs_statements"
    __table_args__ = (
        # The selective filters' indexes carry the statement id (PostgreSQL), so the ids of a filter's
        # matches, which StatementRefs are looked up by, come from the index alone (lrs.statement_queries).
        Index("ix_lrs_statements_actor_sequence", "actor_ifi", "sequence",
              postgresql_include=["statement_id"]),
        Index("ix_lrs_statements_verb_sequence", "verb_id", "sequence"),
        Index("ix_lrs_statements_activity_sequence", "object_activity_id", "sequence",
              postgresql_include=["statement_id"]),
        Index("ix_lrs_statements_registration_sequence", "registration", "sequence",
              postgresql_include=["statement_id"]),
        # since/until: ``stored`` grows with the sequence, so a time bound is found as a sequence bound.
        Index("ix_lrs_statements_stored_sequence", "stored", "sequence"),
        # The StatementRef statements of a sequence range, and those whose target is one too (both
        # few): GET /statements looks for statements that target a match among them (lrs.statement_queries).
        Index("ix_lrs_statements_reference_sequence", "sequence",
              postgresql_where=text("object_statement_id IS NOT NULL"),
              sqlite_where=text("object_statement_id IS NOT NULL")),
        Index("ix_lrs_statements_chain_sequence", "sequence", postgresql_where=text("targets_reference"),
              sqlite_where=text("targets_reference")),
    )

    sequence: Mapped[int] = mapped_column(SequenceNumber, primary_key=True, autoincrement=False)
    statement_id: Mapped[str] = mapped_column(String(36), unique=True)
    statement: Mapped[Json]
    # SHA-256 of the statement as the client sent it (minus what the LRS sets), for idempotent re-sends.
    content_hash: Mapped[str] = mapped_column(String(64))
    actor_ifi: Mapped[str | None] = mapped_column(String(2100))
    verb_id: Mapped[IRI]
    object_activity_id: Mapped[str | None] = mapped_column(String(2048))
    object_agent_ifi: Mapped[str | None] = mapped_column(String(2100), index=True)
    object_statement_id: Mapped[str | None] = mapped_column(String(36), index=True)
    registration: Mapped[str | None] = mapped_column(String(36))
    authority_ifi: Mapped[str | None] = mapped_column(String(2100), index=True)
    stored: Mapped[Timestamp]
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    voiding: Mapped[bool] = mapped_column(Boolean, default=False)
    # Its StatementRef target is itself a StatementRef statement (a chain the query walks);
    # kept at store time.
    targets_reference: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class StatementAgent(Base):
    """An identity a statement mentions: ``direct`` for actor/object, otherwise only related.

    A statement names each identity once here (``direct`` if it does so directly anywhere), so the
    identity and the statement's sequence are the key, and its index is the one the agent filter
    reads (migration 0014: no surrogate id, no index by sequence alone, which no query read).
    """

    __tablename__ = "lrs_statement_agents"
    __table_args__ = (PrimaryKeyConstraint("ifi", "sequence", name="pk_lrs_statement_agents"),)

    # The statement's sequence. No foreign key (migration 0009): the row is written in the same SQL
    # statement as its statement, which is never deleted, and checking each row cost half the insert.
    sequence: Mapped[int] = mapped_column(SequenceNumber)
    ifi: Mapped[str] = mapped_column(String(2100))
    direct: Mapped[bool] = mapped_column(Boolean)


class StatementActivity(Base):
    """An activity a statement mentions: ``direct`` when it is the object, otherwise only related.

    Once per statement, keyed as ``StatementAgent`` is: by the activity and the statement's sequence.
    """

    __tablename__ = "lrs_statement_activities"
    __table_args__ = (PrimaryKeyConstraint("activity_id", "sequence", name="pk_lrs_statement_activities"),)

    sequence: Mapped[int] = mapped_column(SequenceNumber)  # no foreign key: see StatementAgent
    activity_id: Mapped[IRI]
    direct: Mapped[bool] = mapped_column(Boolean)


class Attachment(Base):
    """An attachment's raw content, shared by every statement that names its SHA-2."""

    __tablename__ = "lrs_attachments"

    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class Credential(Base):
    """An xAPI client credential: HTTP Basic key and SHA-256 of a machine-generated secret.

    Launch credentials (``launch_agent`` set) are short-lived and restricted to one learner,
    activity and registration.
    """

    __tablename__ = "lrs_credentials"

    id: Mapped[IntPK]
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[Json]
    authority: Mapped[Json]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    launch_agent: Mapped[Json | None] = mapped_column(nullable=True)
    launch_activity_id: Mapped[str | None] = mapped_column(String(2048))
    launch_registration: Mapped[str | None] = mapped_column(String(36))

from lrs.document_models import Document  # noqa: E402,F401  (documents live in their own module)
from lrs.forwarding.models import ForwardingRejection, ForwardingTarget  # noqa: E402,F401
