"""Models of `pathways`: what administrators build, and the progress projection derived from statements.

Two kinds of tables live here:

* configuration, typed in by people: categories, pathways and their steps, audiences, classes,
  assignments, assessments and their questions, attempts, certificate codes;
* the progress projection (``progress_*``, ``step_progress``, ``pathway_progress``,
  ``certification_awards``): derived from the xAPI statement stream only, rebuilt from scratch by
  ``cairn progress rebuild``. Each derived row keeps the ids of the statements that justify it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cairn.db import IRI, Base, IntPK, Json, Timestamp, UTCDateTime, utcnow

OUTCOME_KINDS = ("onboarding", "certification", "training_attendance", "compliance", "academic")
PATHWAY_STATUSES = ("draft", "published", "archived")
ORDERINGS = ("free", "sequential")
STEP_KINDS = ("xapi", "cmi5", "assessment", "session", "document")
# cmi5 section 9.6.2.2 (moveOn values of an assignable unit).
MOVE_ON = ("Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed", "NotApplicable")
INTERACTION_TYPES = ("choice", "true-false", "fill-in", "numeric", "matching", "sequencing")
CLASS_ROLES = ("learner", "instructor")
ASSIGNMENT_TARGETS = ("audience", "class", "learner")


class Category(Base):
    """A folder of pathways; categories nest."""

    __tablename__ = "pathway_categories"

    id: Mapped[IntPK]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("pathway_categories.id", ondelete="SET NULL"),
                                                  index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class Pathway(Base):
    """One version of a pathway. Versions of the same pathway share ``lineage``.

    Editing a published version makes a new draft version (steps copied with their activity IRIs, so
    what learners did still counts); publishing it archives the previous one and moves its assignments.
    """

    __tablename__ = "pathways"
    __table_args__ = (UniqueConstraint("lineage", "version", name="uq_pathways_lineage_version"),)

    id: Mapped[IntPK]
    lineage: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    outcome_kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    activity_iri: Mapped[IRI]
    ordering: Mapped[str] = mapped_column(String(20), default="free")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("pathway_categories.id", ondelete="SET NULL"),
                                                    index=True)
    # Certification: validity of an award, and how long before expiry the pathway is re-opened.
    grants_certification: Mapped[bool] = mapped_column(Boolean, default=False)
    validity_days: Mapped[int | None] = mapped_column(Integer)
    recertification_window_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    steps: Mapped[list[Step]] = relationship(back_populates="pathway", order_by="Step.position",
                                             cascade="all, delete-orphan")


class Step(Base):
    """One step of a pathway version: content, assessment, session or document."""

    __tablename__ = "pathway_steps"

    id: Mapped[IntPK]
    pathway_id: Mapped[int] = mapped_column(ForeignKey("pathways.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    # The activity whose statements complete the step (xAPI content, cmi5 AU id, assessment, session...).
    activity_iri: Mapped[IRI] = mapped_column(index=True)
    launch_url: Mapped[str | None] = mapped_column(String(2048))
    # Verbs that complete the step; empty = the kind's default (completed/passed for content).
    done_verbs: Mapped[Json] = mapped_column(default=list)
    move_on: Mapped[str | None] = mapped_column(String(30))
    mastery_score: Mapped[float | None] = mapped_column(Float)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    min_score: Mapped[float | None] = mapped_column(Float)  # scaled, 0..1
    session_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    session_place: Mapped[str | None] = mapped_column(String(300))
    session_capacity: Mapped[int | None] = mapped_column(Integer)
    document_url: Mapped[str | None] = mapped_column(String(2048))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id", ondelete="SET NULL"))
    # Keys of the steps that must be done first; a step keeps its key across pathway versions.
    key: Mapped[str] = mapped_column(String(36))
    prerequisites: Mapped[Json] = mapped_column(default=list)

    pathway: Mapped[Pathway] = relationship(back_populates="steps")


class StepLaunch(Base):
    """A registration a step launched for a learner: statements in it count for that step."""

    __tablename__ = "pathway_step_launches"

    registration: Mapped[str] = mapped_column(String(36), primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("pathway_steps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class Audience(Base):
    """A group of learners: explicit members, plus rules on learner attributes."""

    __tablename__ = "audiences"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # [{"attribute": "department", "op": "equals"|"in"|"contains", "value": ...}], all must hold.
    rules: Mapped[Json] = mapped_column(default=list)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class AudienceMember(Base):
    __tablename__ = "audience_members"
    __table_args__ = (UniqueConstraint("audience_id", "user_id", name="uq_audience_members_audience_user"),)

    id: Mapped[IntPK]
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class AcademicClass(Base):
    """A class: from an LTI context (source = the platform issuer) or made by hand (source "manual")."""

    __tablename__ = "academic_classes"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_academic_classes_source_external"),)

    id: Mapped[IntPK]
    source: Mapped[str] = mapped_column(String(1024))
    external_id: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class ClassMember(Base):
    """A learner or instructor of a class; members who left are inactive, not deleted."""

    __tablename__ = "class_members"
    __table_args__ = (UniqueConstraint("class_id", "user_id", name="uq_class_members_class_user"),)

    id: Mapped[IntPK]
    class_id: Mapped[int] = mapped_column(ForeignKey("academic_classes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="learner")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class Assignment(Base):
    """A pathway (by lineage, so it follows new versions) assigned to an audience, class or learner."""

    __tablename__ = "pathway_assignments"

    id: Mapped[IntPK]
    lineage: Mapped[str] = mapped_column(String(36), index=True)
    target: Mapped[str] = mapped_column(String(20))
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"),
                                                    index=True)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("academic_classes.id", ondelete="CASCADE"),
                                                 index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    mandatory: Mapped[bool] = mapped_column(Boolean, default=True)
    self_enrolled: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_days: Mapped[int | None] = mapped_column(Integer)  # due this many days after assignment
    recurrence_months: Mapped[int | None] = mapped_column(Integer)
    reminder_days: Mapped[Json] = mapped_column(default=list)  # days before the due date
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class Assessment(Base):
    """A question bank with its rules; its attempts end in ``passed`` or ``failed``."""

    __tablename__ = "assessments"

    id: Mapped[IntPK]
    title: Mapped[str] = mapped_column(String(300))
    activity_iri: Mapped[IRI]
    pass_mark: Mapped[float] = mapped_column(Float, default=0.8)  # scaled, 0..1
    attempt_limit: Mapped[int | None] = mapped_column(Integer)
    time_limit_seconds: Mapped[int | None] = mapped_column(Integer)
    shuffle: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)

    questions: Mapped[list[Question]] = relationship(order_by="Question.position",
                                                     cascade="all, delete-orphan")


class Question(Base):
    """One question, as an xAPI interaction (type, choices/source/target/steps, correct response)."""

    __tablename__ = "assessment_questions"

    id: Mapped[IntPK]
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    interaction_type: Mapped[str] = mapped_column(String(20))
    prompt: Mapped[str] = mapped_column(Text)
    # {"choices": [{"id", "text"}], "source": [...], "target": [...], "multiple": bool}
    options: Mapped[Json] = mapped_column(default=dict)
    correct: Mapped[Json] = mapped_column(default=list)  # the answer, in the type's Python form
    feedback: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[float] = mapped_column(Float, default=1.0)
    activity_iri: Mapped[IRI]


class AssessmentAttempt(Base):
    """One learner's attempt at an assessment (its answers become statements when submitted)."""

    __tablename__ = "assessment_attempts"

    id: Mapped[IntPK]
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("pathway_steps.id", ondelete="SET NULL"))
    registration: Mapped[str] = mapped_column(String(36))
    question_order: Mapped[Json] = mapped_column(default=list)
    started_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scaled_score: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)


class CertificateCode(Base):
    """The verification code of an award; kept across rebuilds so printed certificates stay valid."""

    __tablename__ = "certificate_codes"
    __table_args__ = (UniqueConstraint("user_id", "lineage", "earned_at", name="uq_certificate_codes_award"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lineage: Mapped[str] = mapped_column(String(36))
    earned_at: Mapped[Timestamp]


# ---------------------------------------------------------------------------------------------
# The progress projection: derived from statements only.


class ProgressCursor(Base):
    """The sequence number of the last statement the projection applied (one row, id 1)."""

    __tablename__ = "progress_cursor"

    id: Mapped[IntPK]
    last_sequence: Mapped[int] = mapped_column(BigInteger, default=0)


class ProgressFact(Base):
    """What one statement says about one activity, by the actor's xAPI identity: for the statements
    a pathway can read only (about a step's activity, or in a launched registration; see
    ``pathways.relevance``).

    Kept by identity, not by user, so an identity linked to a learner later still counts.
    ``voided_by`` is the voiding statement's id once it arrives.
    """

    __tablename__ = "progress_facts"
    # Facts by identity, and by identity about the steps being derived (migration 0012); by time,
    # for the weekly participation (0013).
    __table_args__ = (Index("ix_progress_facts_identity_activity", "identity_value", "activity_iri"),
                      Index("ix_progress_facts_timestamp", "timestamp"))

    statement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger)  # no index: no query looks facts up by it
    identity_kind: Mapped[str] = mapped_column(String(20))
    identity_value: Mapped[str] = mapped_column(String(2048))
    verb: Mapped[IRI]
    activity_iri: Mapped[IRI] = mapped_column(index=True)
    registration: Mapped[str | None] = mapped_column(String(36), index=True)
    timestamp: Mapped[Timestamp]
    success: Mapped[bool | None] = mapped_column(Boolean)
    completion: Mapped[bool | None] = mapped_column(Boolean)
    score_scaled: Mapped[float | None] = mapped_column(Float)
    voided_by: Mapped[str | None] = mapped_column(String(36))


class ProgressVoid(Base):
    """A voiding statement seen by the projection (kept even if its target has not arrived)."""

    __tablename__ = "progress_voids"

    target_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    voiding_id: Mapped[str] = mapped_column(String(36))


class StepProgress(Base):
    """A learner's state on one step; ``statement_ids`` justify it, ``withdrawn`` lists voided ones."""

    __tablename__ = "step_progress"
    __table_args__ = (UniqueConstraint("user_id", "step_id", name="uq_step_progress_user_step"),)

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("pathway_steps.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20))  # not_started, in_progress, done
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    best_score: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # {"state": [ids], "best_score": [ids], "attempts": [ids], "last_activity": [ids]}
    evidence: Mapped[Json] = mapped_column(default=dict)
    withdrawn: Mapped[Json] = mapped_column(default=list)  # [{"statement": id, "voided_by": id}]


class PathwayProgress(Base):
    """A learner's progress on one pathway version, in the current certification cycle."""

    __tablename__ = "pathway_progress"
    __table_args__ = (UniqueConstraint("user_id", "pathway_id", name="uq_pathway_progress_user_pathway"),)

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    pathway_id: Mapped[int] = mapped_column(ForeignKey("pathways.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # not_started, in_progress, completed
    percent: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    best_score: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Certification cycles: the last completion expires; renewal counts statements from renewal_opens_at.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    renewal_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    renewal_percent: Mapped[int] = mapped_column(Integer, default=0)
    evidence: Mapped[Json] = mapped_column(default=dict)


class CertificationAward(Base):
    """One award of a pathway's certification (history: every cycle's award is kept)."""

    __tablename__ = "certification_awards"
    __table_args__ = (UniqueConstraint("user_id", "pathway_id", "earned_at",
                                       name="uq_certification_awards_award"),)

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    pathway_id: Mapped[int] = mapped_column(ForeignKey("pathways.id", ondelete="CASCADE"), index=True)
    earned_at: Mapped[Timestamp]
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_by: Mapped[Json] = mapped_column(default=list)  # ids of the voiding statements
    statement_ids: Mapped[Json] = mapped_column(default=list)


from pathways.launch_models import Cmi5Session  # noqa: E402,F401  (cmi5 launches: their own module)
