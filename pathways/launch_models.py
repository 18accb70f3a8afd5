"""cmi5 launch sessions: one row per launch of an assignable unit (cmi5 sections 8 and 9.6.3.1).

The row is the session's state on the LMS side: its one-time fetch URL (stored as a hash), the
launch credential handed out through it, and whether the AU terminated or the LMS abandoned it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cairn.db import IRI, Base, Json, Timestamp, UTCDateTime, utcnow


class Cmi5Session(Base):
    """One launch of a cmi5 assignable unit for a learner, in a registration."""

    __tablename__ = "pathway_cmi5_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the cmi5 session id
    registration: Mapped[str] = mapped_column(String(36), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("pathway_steps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[IRI]
    actor: Mapped[Json]
    launch_mode: Mapped[str] = mapped_column(String(10), default="Normal")
    fetch_token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    credential_key: Mapped[str | None] = mapped_column(String(64))
    launched_statement_id: Mapped[str] = mapped_column(String(36))
    launched_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
