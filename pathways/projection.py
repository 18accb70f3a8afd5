"""The progress projection: statements in, step states, pathway progress and certifications out.

Two layers, both derived from the statement stream only:

1. ``progress_facts``: one row per statement about an activity, by the actor's identity, applied in
   sequence order and remembered by a cursor (``progress_cursor``), so a subscriber that failed
   catches up on the next batch. A voiding statement marks its target's fact (``voided_by``); one
   that arrives before its target is kept in ``progress_voids``.
2. ``step_progress``, ``pathway_progress``, ``certification_awards``: recomputed per learner from
   their facts by the pure functions of ``pathways.derive`` whenever their facts or their
   assignments change.

``rebuild`` empties both layers and replays every statement: the result is the incremental one.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, Protocol

from flask import current_app, has_app_context
from sqlalchemy import bindparam, delete, literal_column, null, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cairn.accounts.models import User, UserIdentity
from cairn.accounts.services import Identity
from cairn.db import REUSE_PLANS_SQL, Among, built_once, reuse_plans
from pathways.catalogue import VERB_EARNED, VERB_VOIDED, StepInfo, step_info
from pathways.derive import Fact, PathwayResult, derive_pathway
from pathways.models import (CertificateCode, CertificationAward, Pathway, PathwayProgress, ProgressCursor,
                             ProgressFact, ProgressVoid, Step, StepLaunch, StepProgress)

log = logging.getLogger(__name__)

LISTENERS_KEY = "pathways.outcome_listeners"
EARNED_NAMESPACE = uuid.UUID("5b0e6c4e-3f7d-4d59-9a8c-4c2b6d0c9e11")


class StoredStatementLike(Protocol):
    id: str
    sequence: int
    statement: dict
    stored: datetime
    voided: bool


@dataclass(frozen=True)
class OutcomeChange:
    """A learner's pathway (step_id None) or assessment step outcome changed: LTI passes it back."""

    user_id: int
    pathway_id: int
    step_id: int | None
    score_given: float | None
    score_maximum: float | None
    completed: bool
    timestamp: datetime


OutcomeCallback = Callable[[Session, OutcomeChange], None]
OutcomeFilter = Callable[[Session, list[OutcomeChange]], list[OutcomeChange]]


def on_outcome_changed(app: Any, callback: OutcomeCallback, *, wanted: OutcomeFilter | None = None) -> None:
    """Call ``callback(session, change)`` whenever a learner's pathway or assessment outcome changes.

    Called inside the transaction that changed it (a failing callback is logged and does not undo
    the progress). Keep the callback's effects in the session: the changes of a batch are told in
    one SAVEPOINT, and if any call fails they are told again one SAVEPOINT each, so a callback may
    hear a change twice, the first time rolled back.

    ``wanted(session, changes)``: which of a batch's changes the callback can have anything to do
    for (any superset of them), by reading only: it runs before the SAVEPOINT, once per batch. The
    callback hears only those; a batch no listener wants opens no SAVEPOINT at all.
    """
    app.extensions.setdefault(LISTENERS_KEY, []).append((callback, wanted))


# ---------------------------------------------------------------------------------------- facts layer


def _timestamp(raw: Any, stored: datetime) -> datetime:
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if value.tzinfo is not None:
                return value
        except ValueError:
            pass
    return stored


# The statement members the facts layer reads, in the order ``_fact_values`` takes them.
FACT_PATHS = (("actor",), ("verb", "id"), ("object", "objectType"), ("object", "id"), ("result", "success"),
              ("result", "completion"), ("result", "score", "scaled"), ("context", "registration"),
              ("timestamp",))
Members = list[list[Any] | None]  # per FACT_PATHS: [value] (JSON null: [None]), or None where absent
_ABSENT = object()


def fact_members(statement: dict) -> Members:
    """A statement's members at ``FACT_PATHS``, as ``lrs.services.statement_member_pages`` gives them."""
    members: Members = []
    for path in FACT_PATHS:
        node: Any = statement
        for part in path:
            node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
            if node is _ABSENT:
                break
        members.append(None if node is _ABSENT else [node])
    return members


def _member(members: Members, index: int, default: Any = None) -> Any:
    member = members[index]
    return default if member is None else member[0]


def void_target(members: Members) -> str | None:
    """The (lower-cased) id a voiding statement voids; None if the statement does not void."""
    if _member(members, 1) != VERB_VOIDED:
        return None
    return str(_member(members, 3, "")).lower()


def _fact_values(statement_id: str, sequence: int, stored: datetime, members: Members
                 ) -> dict[str, Any] | None:
    """The ``progress_facts`` column values of a statement about an activity (None for other objects)."""
    actor, verb, object_type, object_id, success, completion, scaled, registration, timestamp = (
        None if member is None else member[0] for member in members)
    if (object_type if members[2] is not None else "Activity") != "Activity" or not object_id:
        return None
    identity = Identity.from_agent(actor or {})
    if identity is None:
        return None
    return {"statement_id": statement_id, "sequence": sequence, "identity_kind": identity.kind,
            "identity_value": identity.value, "verb": verb if members[1] is not None else "",
            "activity_iri": object_id, "registration": str(registration).lower() if registration else None,
            "timestamp": _timestamp(timestamp, stored), "success": success, "completion": completion,
            "score_scaled": float(scaled) if isinstance(scaled, int | float) else None, "voided_by": None}


def _chunks(values: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


# Which pathways of which learners a batch of statements can change: learner id -> pathway ids.
Affected = dict[int, set[int]]

_FACT_KEYS = (ProgressFact.statement_id, ProgressFact.voided_by, ProgressFact.identity_kind,
              ProgressFact.identity_value, ProgressFact.activity_iri, ProgressFact.registration)
_FACT_NAMES = tuple(column.key for column in _FACT_KEYS)


def apply_statements(session: Session, batch: Iterable[StoredStatementLike], *,
                     affected: bool = True) -> Affected:
    """Record the facts of statements (in sequence order); return the learners and pathways affected.

    Every statement about an activity gets a fact (a step added later, and the activity trends, read
    facts about any activity), written by ``_insert_rows`` (COPY, or one executemany on SQLite): no
    ORM object per fact. Looks rows up a batch at a time, and reports only (learner, pathway) pairs whose pathway has a step about a
    fact's activity or launched the fact's registration: other statements cannot change any derived
    value. ``affected=False`` (facts only: the caller derives the learners itself) skips those look-ups.
    """
    batch = list(batch)
    members = [fact_members(stored.statement) for stored in batch]
    targets: dict[str, str] = {}
    for stored, found in zip(batch, members, strict=True):
        target = void_target(found)
        if target is not None:
            targets[stored.id] = target
    keys = sorted({s.id for s in batch} | set(targets.values()))
    facts: dict[str, dict[str, Any]] = {}
    voids: dict[str, str] = {}
    for chunk in _chunks(keys):
        for row in session.execute(built_once(session, _known_facts_and_voids), {"ids": chunk}):
            if row[2] is None:
                voids[row[0]] = row[1]
            else:
                facts[row[0]] = dict(zip(_FACT_NAMES, row, strict=True))
    touched: list[dict[str, Any]] = []
    new_facts: list[dict[str, Any]] = []
    new_voids: list[dict[str, str]] = []
    voided: list[dict[str, str]] = []  # facts stored earlier that a voiding statement now targets
    for stored, found in zip(batch, members, strict=True):
        target = targets.get(stored.id)
        if target is not None:
            if not target or target in voids:
                continue
            voids[target] = stored.id
            new_voids.append({"target_id": target, "voiding_id": stored.id})
            fact = facts.get(target)
            if fact is not None and fact["voided_by"] is None:
                fact["voided_by"] = stored.id  # a fact of this batch is inserted with it set
                if "sequence" not in fact:
                    voided.append({"target": target, "by": stored.id})
                touched.append(fact)
            continue
        if stored.id in facts:
            continue
        row = _fact_values(stored.id, stored.sequence, stored.stored, found)
        if row is None:
            continue
        row["voided_by"] = voids.get(stored.id)
        new_facts.append(row)
        facts[stored.id] = row
        touched.append(row)
    _insert_rows(session, ProgressVoid, new_voids)
    _insert_rows(session, ProgressFact, new_facts)
    if voided:
        session.execute(_VOID_FACT, voided)
    if not touched or not affected:
        return {}
    return _affected_by(session, touched)


_FACT_TABLE = ProgressFact.__table__
_VOID_FACT = update(_FACT_TABLE).where(_FACT_TABLE.c.statement_id == bindparam("target")) \
    .values(voided_by=bindparam("by"))


def _known_facts_and_voids(among: Among) -> Any:
    """The facts and the early voids of some statement ids in one round trip; a void row has no
    identity (every fact has one)."""
    facts = among.rows(*_FACT_KEYS, key=ProgressFact.statement_id)
    voids = among.rows(ProgressVoid.target_id, ProgressVoid.voiding_id, key=ProgressVoid.target_id)
    return select(*facts.c).union_all(select(*voids.c, *(null() for _ in _FACT_KEYS[2:])))


def _insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT rows (all with the same keys) by one statement for any number of rows.

    A multi-row ``insert().values(rows)`` is compiled afresh every time (its shape is the rows),
    and in a rebuild that compiling was most of the time. The column values go through the
    columns' own bind processors (UTC timestamps, JSON) and then straight to the driver: COPY on
    PostgreSQL (one stream, no statement per row: a rebuild writes millions), the driver's
    executemany of one INSERT on SQLite.
    """
    if not rows:
        return
    table = model.__table__
    connection = session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    processors = [(n, process) for n, process in enumerate(table.c[name].type.dialect_impl(dialect)
                                                           .bind_processor(dialect) for name in names)
                  if process is not None]
    pick = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))

    def processed(row: dict[str, Any]) -> list[Any]:
        values = list(pick(row))
        for n, process in processors:  # only the columns whose type converts (timestamps, JSON)
            if values[n] is not None:
                values[n] = process(values[n])
        return values

    values = (processed(row) for row in rows)
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    if dialect.name == "postgresql":
        with connection.connection.dbapi_connection.cursor() as cursor:
            with cursor.copy(f"COPY {quote(table.name)} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        return
    marks = ", ".join("?" for _ in names)
    connection.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})",
                               [tuple(row) for row in values])


def _affected_by(session: Session, touched: list[dict[str, Any]]) -> Affected:
    """The (learner, pathway) pairs that these facts can change (see ``apply_statements``).

    Read by joining the facts, already written, to the steps about their activities, their actors'
    learners and the launches of their registrations: one query, where looking each of these up by
    the facts' values cost three.
    """
    result: Affected = {}
    for chunk in _chunks(sorted({f["statement_id"] for f in touched})):
        for pathway_id, learner, launcher, launched_pathway in session.execute(
                built_once(session, _learners_and_pathways_of_facts), {"ids": chunk}):
            if learner is not None and pathway_id is not None:
                # The actor's learner, on every pathway with a step about the activity.
                result.setdefault(learner, set()).add(pathway_id)
            if launcher is not None:
                # In a launched registration every fact counts for the launcher, on any step of its
                # activity too.
                mine = result.setdefault(launcher, set())
                mine.add(launched_pathway)
                if pathway_id is not None:
                    mine.add(pathway_id)
    return result


def _learners_and_pathways_of_facts(among: Among) -> Any:
    """Per fact: the pathways with a step about its activity, its actor's learner, and the launcher
    and pathway of its registration (rows with neither a step nor a launch are left out)."""
    launched = Step.__table__.alias("launched_step")
    facts = among.rows(ProgressFact.identity_kind, ProgressFact.identity_value, ProgressFact.activity_iri,
                       ProgressFact.registration, key=ProgressFact.statement_id)
    # A subquery, not a join: it is an index lookup for the few rows left, whatever the planner knows.
    owner = select(UserIdentity.user_id).where(
        UserIdentity.kind == facts.c.identity_kind, UserIdentity.value == facts.c.identity_value
    ).scalar_subquery()
    return (select(Step.pathway_id, owner, StepLaunch.user_id, launched.c.pathway_id)
            .select_from(facts)
            .outerjoin(Step, Step.activity_iri == facts.c.activity_iri)
            .outerjoin(StepLaunch, StepLaunch.registration == facts.c.registration)
            .outerjoin(launched, launched.c.id == StepLaunch.step_id)
            .where(Step.id.is_not(None) | StepLaunch.registration.is_not(None)))


def _cursor(session: Session, lock: bool = True) -> int:
    """The cursor's last applied sequence, its row locked (PostgreSQL) and made if missing.

    Plain rows, not an ORM object: the object and its flush cost more than the two statements.
    Two workers may both find no row on a new database: the row is made with ON CONFLICT DO
    NOTHING and read again, so the second waits for the first's and goes on from it.
    """
    dialect = session.get_bind().dialect.name
    locked = lock and dialect == "postgresql"
    # Locked on PostgreSQL: serialises projection work across workers, each waiting for the previous
    # batch's commit.
    query = _LOCKED_CURSOR if locked else _CURSOR
    last = session.execute(query).scalar()
    if last is None:
        insert_ = postgresql_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert_(ProgressCursor).values(id=1, last_sequence=0).on_conflict_do_nothing())
        last = session.execute(query).scalar()
    return int(last)


# Plain table statements: the ORM's bulk UPDATE path cost 0.6 ms more a batch than the update itself.
_CURSOR_TABLE = ProgressCursor.__table__
_CURSOR = select(ProgressCursor.last_sequence).where(ProgressCursor.id == 1)
_LOCKED_CURSOR = _CURSOR.with_for_update()
_MOVE_CURSOR = update(_CURSOR_TABLE).where(_CURSOR_TABLE.c.id == 1).values(last_sequence=bindparam("last"))


def _claim(session: Session, batch: list[StoredStatementLike], *, reusing_plans: bool = False) -> bool:
    """Move the cursor past ``batch`` if it stands right before it (locking its row); tell whether it did.

    ``reusing_plans``: a claim on PostgreSQL also lets the rest of the transaction reuse its plans
    (``reuse_plans``, in the same statement: one round trip fewer a batch).
    """
    before = batch[0].sequence - 1
    if not _follows(batch, before):
        return False
    returning = reusing_plans and session.get_bind().dialect.name == "postgresql"
    moved = session.execute(_CLAIM_REUSING_PLANS if returning else _CLAIM,
                            {"before": before, "after": batch[-1].sequence})
    return moved.rowcount == 1


_CLAIM = update(_CURSOR_TABLE) \
    .where(_CURSOR_TABLE.c.id == 1, _CURSOR_TABLE.c.last_sequence == bindparam("before")) \
    .values(last_sequence=bindparam("after"))
_CLAIM_REUSING_PLANS = _CLAIM.returning(literal_column(REUSE_PLANS_SQL))


def _move_cursor(session: Session, last_sequence: int) -> None:
    session.execute(_MOVE_CURSOR, {"last": last_sequence})


def last_applied_sequence(session: Session) -> int:
    return int(session.execute(_CURSOR).scalar() or 0)


def catch_up(session: Session, *, batch_size: int = 1000, batch: list[StoredStatementLike] | None = None,
             derive: bool = True, earned: list[tuple[int, int]] | None = None,
             reusing_plans: bool = False) -> int:
    """Apply every statement after the cursor, refresh the learners concerned; return how many applied.

    ``batch``: statements just stored (the subscriber's); when they are exactly the next ones after
    the cursor they are applied as they are, without reading anything back. Statements stored after
    them are left to their own requests' subscribers (``cairn worker`` catches up any whose request
    stopped before projecting). ``derive=False`` records the
    facts only (a rebuild derives every learner afterwards). ``earned``: collect the new awards
    (user id, award id) here instead of storing their ``earned`` statements (``record_earned``).
    ``reusing_plans``: the transaction reuses its plans from the first statement on (``reuse_plans``).
    """
    from lrs import services as lrs_services
    if session.info.get("pathways.projecting"):
        return 0  # re-entered from a statement we store ourselves (earned): the outer call picks it up
    session.info["pathways.projecting"] = True
    applied = last = 0
    affected: Affected = {}  # of the round under way

    def apply(statements: list[StoredStatementLike]) -> None:
        nonlocal applied, last
        for learner, pathway_ids in apply_statements(session, statements, affected=derive).items():
            affected.setdefault(learner, set()).update(pathway_ids)
        last = statements[-1].sequence
        applied += len(statements)

    try:
        while True:
            # The usual case, a batch right after the cursor, moves it by one statement (which
            # waits for the previous batch's commit as the lock does); any other reads it.
            claimed = _claim(session, batch, reusing_plans=reusing_plans) if batch else False
            if reusing_plans and not claimed:
                reuse_plans(session)  # a claim would have done it (PostgreSQL; elsewhere it does nothing)
            reusing_plans = False
            last = start = batch[-1].sequence if batch and claimed else _cursor(session)
            affected = {}
            if claimed or (batch and _follows(batch, last)):
                # Whatever was stored after it is projected by the request that stored it, which
                # waits for this cursor row: reading it back here would cost every store a query.
                apply(batch)
            else:
                pending: list[StoredStatementLike] = []
                for stored in lrs_services.iter_statements(session, after_sequence=last,
                                                           batch_size=batch_size):
                    pending.append(stored)
                    if len(pending) >= batch_size:
                        apply(pending)
                        pending = []
                if pending:
                    apply(pending)
            batch = None
            if last != start:
                _move_cursor(session, last)
            session.flush()
            if not derive:
                break
            new_awards = _refresh(session, affected)
            if earned is not None:
                earned.extend(new_awards)
                break
            if not record_earned(session, new_awards):
                break
    finally:
        session.info.pop("pathways.projecting", None)
    return applied


def _follows(batch: list[StoredStatementLike], last_sequence: int) -> bool:
    """Whether ``batch`` is the run of sequence numbers right after ``last_sequence``."""
    return all(stored.sequence == last_sequence + 1 + n for n, stored in enumerate(batch))


def on_statements(session: Session, batch: list[Any]) -> None:
    """The LRS subscriber: bring the projection up to date, including anything an earlier failure missed."""
    from lrs import services as lrs_services
    if not lrs_services.told_after_commit(session):
        catch_up(session, batch=batch)
        return
    # After the statements committed, this transaction holds the cursor row and no sequence lock.
    # Storing ``earned`` statements takes that lock, which every other writer takes before the
    # cursor: so they are stored after this commits, and projected as any store is. Its plans are
    # reused: the same statements every batch (the store's transaction does so too).
    earned: list[tuple[int, int]] = []
    catch_up(session, batch=batch, earned=earned, reusing_plans=True)
    if earned:
        session.commit()
        record_earned(session, earned)


def worker_catch_up(app: Any) -> bool:
    """``cairn worker``'s safety net: apply statements whose request stopped before projecting them."""
    with app.extensions["cairn.db"].session_factory()() as session:
        from lrs import services as lrs_services
        if last_applied_sequence(session) >= lrs_services.latest_sequence(session):
            return False
        applied = catch_up(session)
        session.commit()
    return applied > 0


# --------------------------------------------------------------------------------------- derived layer


def _load_facts(session: Session, user_ids: list[int], activities: list[str] | None = None
                ) -> tuple[dict[int, list[Fact]], dict[int, dict[int, set[str]]]]:
    """Each learner's facts about step activities (by any identity, or in a registration a step launched).

    ``activities``: only facts by identity about these (the steps of the pathways being derived);
    None: about any step's activity.
    """
    owner: dict[tuple[str, str], int] = {}
    launches: dict[int, dict[int, set[str]]] = {u: {} for u in user_ids}
    registration_owner: dict[str, int] = {}
    for user_id, step_id, kind, value in session.execute(built_once(session, _identities_and_launches),
                                                         {"ids": user_ids}):
        if step_id is None:
            owner[(kind, value)] = user_id
        else:
            launches[user_id].setdefault(step_id, set()).add(value.lower())
            registration_owner[value.lower()] = user_id
    facts: dict[int, list[Fact]] = {u: [] for u in user_ids}
    seen: set[tuple[int, str]] = set()

    def take(user_id: int | None, row: Any) -> None:
        if user_id is None or (user_id, row[0]) in seen:
            return
        seen.add((user_id, row[0]))
        facts[user_id].append(Fact(*row[:9]))

    if activities is None or activities:
        by_identity = built_once(session, _facts_by_identity if activities is None else _facts_by_identity_about)
        for chunk in _chunks(sorted({value for _, value in owner})):
            for row in session.execute(by_identity, {"ids": chunk, "activities": activities}):
                take(owner.get((row[9], row[10])), row)
    for chunk in _chunks(sorted(registration_owner)):
        for row in session.execute(built_once(session, _facts_in_registrations), {"ids": chunk}):
            take(registration_owner.get(row[3]), row)
    for items in facts.values():
        items.sort(key=lambda f: f.order)
    return facts, launches


def _identities_and_launches(among: Among) -> Any:
    """Learners' identities (no step) and launches (a step, the registration as value): one round trip."""
    return union_all(select(UserIdentity.user_id, null(), UserIdentity.kind, UserIdentity.value)
                     .where(among(UserIdentity.user_id)),
                     select(StepLaunch.user_id, StepLaunch.step_id, null(), StepLaunch.registration)
                     .where(among(StepLaunch.user_id)))


_LOADED_FACT = (ProgressFact.statement_id, ProgressFact.verb, ProgressFact.activity_iri,
                ProgressFact.registration, ProgressFact.timestamp, ProgressFact.success,
                ProgressFact.completion, ProgressFact.score_scaled, ProgressFact.voided_by,
                ProgressFact.identity_kind, ProgressFact.identity_value)


def _facts_by_identity(among: Among) -> Any:
    """Facts by these identity values about any step's activity."""
    facts = among.rows(*_LOADED_FACT, key=ProgressFact.identity_value)
    return select(*facts.c).where(facts.c.activity_iri.in_(select(Step.activity_iri)))


def _facts_by_identity_about(among: Among) -> Any:
    """Facts by these identity values about these activities."""
    facts = among.rows(*_LOADED_FACT, key=ProgressFact.identity_value)
    return select(*facts.c).where(among(facts.c.activity_iri, "activities"))


def _facts_in_registrations(among: Among) -> Any:
    return select(*_LOADED_FACT).where(among(ProgressFact.registration))


def _facts_of(session: Session, user_id: int) -> tuple[list[Fact], dict[int, set[str]]]:
    facts, launches = _load_facts(session, [user_id])
    return facts[user_id], launches[user_id]


def refresh_user(session: Session, user_id: int) -> list[tuple[int, int]]:
    """Recompute one learner's step states, pathway progress and awards from their facts."""
    return refresh_users(session, [user_id])


CHUNK = 200


def refresh_users(session: Session, user_ids: Iterable[int]) -> list[tuple[int, int]]:
    """Recompute learners' step states, pathway progress and awards from their facts, in batches.

    A learner has progress on the published version of every lineage they are enrolled in, and on
    every non-draft version one of whose steps their statements touch (so what they completed on an
    old version stays). Returns (user id, award id) of awards that are new and active.
    """
    ids = sorted(set(user_ids))
    new_awards: list[tuple[int, int]] = []
    for start in range(0, len(ids), CHUNK):
        new_awards.extend(_refresh_chunk(session, ids[start:start + CHUNK], None))
    return new_awards


def _refresh(session: Session, affected: Affected) -> list[tuple[int, int]]:
    """``refresh_users`` for only the pathways new facts can change (the others' inputs are unchanged)."""
    ids = sorted(affected)
    new_awards: list[tuple[int, int]] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        new_awards.extend(_refresh_chunk(session, chunk, {u: affected[u] for u in chunk}))
    return new_awards


@dataclass
class _Version:
    """What deriving progress needs of a pathway version: its rules and its steps, in order."""

    id: int
    lineage: str
    status: str
    certifies: bool
    validity_days: int | None
    recertification_window_days: int | None
    steps: list[StepInfo]


_VERSION_COLUMNS = (Pathway.id.label("version_id"), Pathway.lineage.label("version_lineage"),
                    Pathway.status.label("version_status"), Pathway.updated_at.label("version_updated_at"),
                    (Pathway.grants_certification | (Pathway.outcome_kind == "certification"))
                    .label("certifies"),
                    Pathway.validity_days.label("version_validity_days"),
                    Pathway.recertification_window_days.label("version_window_days"))


_VERSIONS = (select(*_VERSION_COLUMNS, *Step.__table__.c).outerjoin(Step, Step.pathway_id == Pathway.id)
             .order_by(Pathway.id, Step.position, Step.id))


def _versions_by_id(among: Among) -> Any:
    return _VERSIONS.where(among(Pathway.id))


# A version that is not a draft never changes but for its status: editing it makes a new draft
# (``catalogue._editable_version``). Each process keeps those it has read, keyed by what a change
# of status (or a publish rolled back and done again) changes too; the lineage, a random UUID, keeps
# an id reused on another database or after a rollback from matching. The keys are read every batch.
VersionKey = tuple[int, str, str, datetime]
_KEPT_VERSIONS: dict[VersionKey, _Version] = {}
_KEPT_VERSIONS_MAX = 4096


def _version_keys(among: Among) -> Any:
    return select(Pathway.id, Pathway.lineage, Pathway.status, Pathway.updated_at).where(among(Pathway.id))


def _versions_among(session: Session, ids: list[int]) -> dict[int, _Version]:
    """``_versions`` of these ids, the unchanged ones from this process's copies (one small query)."""
    versions: dict[int, _Version] = {}
    missing: list[int] = []
    for key in session.execute(built_once(session, _version_keys), {"ids": ids}):
        kept = _KEPT_VERSIONS.get(tuple(key)) if key[2] != "draft" else None
        if kept is None:
            missing.append(key[0])
        else:
            versions[key[0]] = kept
    if missing:
        versions.update(_versions(session, built_once(session, _versions_by_id), {"ids": missing},
                                  keep=_KEPT_VERSIONS))
    return versions


def _versions(session: Session, query: Any, parameters: dict[str, Any] | None = None, *,
              keep: dict[VersionKey, _Version] | None = None) -> dict[int, _Version]:
    """The pathway versions ``query`` (``_VERSIONS`` with a condition) finds, with their steps, by id.

    One query of plain rows: ORM objects with their steps loaded by a second query cost more than
    the derivation of a batch's few learners did.
    """
    versions: dict[int, _Version] = {}
    keys: dict[VersionKey, _Version] = {}
    for row in session.execute(query, parameters):
        version = versions.get(row.version_id)
        if version is None:
            version = versions[row.version_id] = _Version(
                row.version_id, row.version_lineage, row.version_status, bool(row.certifies),
                row.version_validity_days, row.version_window_days, [])
            if row.version_status != "draft":
                keys[(row.version_id, row.version_lineage, row.version_status, row.version_updated_at)] = version
        if row.id is not None:
            version.steps.append(step_info(row))
    if keep is not None:  # only once every step is in
        if len(keep) > _KEPT_VERSIONS_MAX:
            keep.clear()
        keep.update(keys)
    return versions


class _Codes:
    """The learners' certificate codes as (user id, lineage, earned at), read when first asked:
    only a batch that awards a certification needs them."""

    def __init__(self, session: Session, user_ids: list[int]) -> None:
        self._session, self._user_ids = session, user_ids
        self._codes: set[tuple[int, str, datetime]] | None = None

    def _loaded(self) -> set[tuple[int, str, datetime]]:
        if self._codes is None:
            self._codes = {(u, lineage, earned_at) for u, lineage, earned_at in self._session.execute(
                built_once(self._session, _codes_of), {"ids": self._user_ids})}
        return self._codes

    def __contains__(self, code: tuple[int, str, datetime]) -> bool:
        return code in self._loaded()

    def add(self, code: tuple[int, str, datetime]) -> None:
        self._loaded().add(code)


def _codes_of(among: Among) -> Any:
    """Built once (``built_once``): the learners' ids go as one list parameter, not an IN list
    whose text changes with their number."""
    return select(CertificateCode.user_id, CertificateCode.lineage, CertificateCode.earned_at) \
        .where(among(CertificateCode.user_id))


_PATHWAY_FIELDS = ("status", "percent", "completed_at", "best_score", "attempts", "last_activity_at", "expires_at",
                   "renewal_opens_at", "renewal_percent", "evidence")
_STEP_FIELDS = ("state", "done_at", "best_score", "attempts", "last_activity_at", "evidence", "withdrawn")


def _refresh_chunk(session: Session, ids: list[int], scope: dict[int, set[int]] | None) -> list[tuple[int, int]]:
    """Derive these learners' progress; ``scope``: only these pathways of each learner (None: all).

    Reads and writes the progress rows with Core (executemany), not ORM objects: a chunk touches
    thousands of rows and building objects for them cost more than the SQL.
    """
    from pathways.people import enrollments_for
    enrollments = enrollments_for(session, ids)
    if scope is not None:
        wanted = sorted({p for ps in scope.values() for p in ps})
        pathways = _versions_among(session, wanted) if wanted else {}
        activities = sorted({s.activity_iri for p in pathways.values() for s in p.steps})
        facts, launches = _load_facts(session, ids, activities)
    else:
        facts, launches = _load_facts(session, ids)
        lineages = sorted({lineage for per in enrollments.values() for lineage in per})
        activities = sorted({f.activity_iri for fs in facts.values() for f in fs})
        launched_steps = sorted({s for per in launches.values() for s in per})
        candidate_ids: set[int] = set()
        for chunk in _chunks(activities):
            candidate_ids.update(session.scalars(select(Step.pathway_id).where(Step.activity_iri.in_(chunk))))
        for chunk in _chunks(launched_steps):
            candidate_ids.update(session.scalars(select(Step.pathway_id).where(Step.id.in_(chunk))))
        conditions = []
        if lineages:
            conditions.append((Pathway.lineage.in_(lineages)) & (Pathway.status == "published"))
        if candidate_ids:
            conditions.append(Pathway.id.in_(sorted(candidate_ids)))
        pathways = (_versions(session, _VERSIONS.where(or_(*conditions)), keep=_KEPT_VERSIONS)
                    if conditions else {})
    published = {p.lineage: p for p in pathways.values() if p.status == "published"}
    steps_of = {p.id: p.steps for p in pathways.values()}
    by_activity: dict[str, set[int]] = {}
    pathway_of_step: dict[int, int] = {}
    for pathway in pathways.values():
        for step in pathway.steps:
            by_activity.setdefault(step.activity_iri, set()).add(pathway.id)
            pathway_of_step[step.id] = pathway.id

    progress: dict[int, dict[int, Any]] = {u: {} for u in ids}
    cells: dict[tuple[int, int], Any] = {}
    award_filter = [CertificationAward.pathway_id.in_(sorted(pathways))] if scope is not None else []
    awards: dict[tuple[int, int], dict[datetime, CertificationAward]] = {}
    # Only a certifying version has award rows (a version's fields are fixed once it is published),
    # so without one in scope there is nothing to read; a full refresh may meet any learner's awards.
    if scope is None or any(p.certifies for p in pathways.values()):
        for award in session.scalars(select(CertificationAward).where(CertificationAward.user_id.in_(ids),
                                                                      *award_filter)):
            awards.setdefault((award.user_id, award.pathway_id), {})[award.earned_at] = award
    codes = _Codes(session, ids)
    for row in session.execute(built_once(session, _progress_rows if scope is None else _progress_rows_of),
                               {"ids": ids, "pathways": sorted(pathways)}):
        progress[row.user_id][row.pathway_id] = row
    if scope is None or pathway_of_step:
        for row in session.execute(built_once(session, _step_rows if scope is None else _step_rows_of),
                                   {"ids": ids, "steps": sorted(pathway_of_step)}):
            cells[(row.user_id, row.step_id)] = row

    fresh: list[tuple[int, CertificationAward]] = []
    notices: list[tuple[int, _Version, list[Any], Any, dict[int, Any], PathwayResult]] = []
    new_progress: list[dict[str, Any]] = []
    changed_progress: list[dict[str, Any]] = []
    new_cells: list[dict[str, Any]] = []
    changed_cells: list[dict[str, Any]] = []
    gone: list[tuple[int, int]] = []
    for user_id in ids:
        mine = enrollments.get(user_id, {})
        allowed = scope[user_id] if scope is not None else None
        targets: dict[int, int | None] = {}
        for lineage, enrollment in mine.items():
            if lineage in published and (allowed is None or published[lineage].id in allowed):
                targets[published[lineage].id] = enrollment.recurrence_months
        touched = {p for f in facts[user_id] for p in by_activity.get(f.activity_iri, ())}
        touched |= {pathway_of_step[s] for s in launches[user_id] if s in pathway_of_step}
        for pathway_id in touched:
            pathway = pathways.get(pathway_id)
            if pathway is not None and pathway.status != "draft" and (allowed is None or pathway_id in allowed):
                enrollment = mine.get(pathway.lineage)
                targets.setdefault(pathway_id, enrollment.recurrence_months if enrollment else None)
        rows = progress.get(user_id, {})
        facts_by_activity: dict[str, list[Fact]] = {}
        registered: dict[str, list[Fact]] = {}
        for fact in facts[user_id]:
            facts_by_activity.setdefault(fact.activity_iri, []).append(fact)
            if fact.registration is not None:
                registered.setdefault(fact.registration, []).append(fact)
        for pathway_id in sorted(targets):
            pathway = pathways[pathway_id]
            steps = steps_of[pathway_id]
            validity = pathway.validity_days or ((targets[pathway_id] or 0) * 30) or None
            result = derive_pathway(steps, _facts_for_pathway(steps, facts_by_activity, registered, launches[user_id]),
                                    launches[user_id], validity_days=validity,
                                    window_days=pathway.recertification_window_days)
            row = rows.get(pathway_id)
            before = (row.status, row.percent, row.best_score) if row is not None else None
            before_steps = {s.id: (cells[(user_id, s.id)].state, cells[(user_id, s.id)].best_score)
                            for s in steps if (user_id, s.id) in cells}
            values = {"status": result.status, "percent": result.percent, "completed_at": result.completed_at,
                      "best_score": result.best_score, "attempts": result.attempts,
                      "last_activity_at": result.last_activity_at, "expires_at": result.expires_at,
                      "renewal_opens_at": result.renewal_opens_at, "renewal_percent": result.renewal_percent,
                      "evidence": result.evidence}
            if row is None:
                new_progress.append({"user_id": user_id, "pathway_id": pathway_id, **values})
            elif _differs(row, values):
                changed_progress.append({"id": row.id, **values})
            for step_id, sr in result.steps.items():
                step_values = {"state": sr.state, "done_at": sr.done_at, "best_score": sr.best_score,
                               "attempts": sr.attempts, "last_activity_at": sr.last_activity_at,
                               "evidence": sr.evidence, "withdrawn": sr.withdrawn}
                cell = cells.get((user_id, step_id))
                if cell is None:
                    new_cells.append({"user_id": user_id, "step_id": step_id, **step_values})
                elif _differs(cell, step_values):
                    changed_cells.append({"id": cell.id, **step_values})
            fresh.extend((user_id, a) for a in _sync_awards(session, user_id, pathway, result,
                                                             awards.get((user_id, pathway_id), {}), codes))
            notices.append((user_id, pathway, steps, before, before_steps, result))
        for pathway_id in rows:
            if pathway_id not in targets and (allowed is None or pathway_id in allowed):
                gone.append((user_id, pathway_id))
                for award in awards.get((user_id, pathway_id), {}).values():
                    session.delete(award)
    _write_progress(session, new_progress, changed_progress, new_cells, changed_cells, gone, progress)
    session.flush()
    _notify(session, notices)
    return [(user_id, award.id) for user_id, award in fresh]


_PROGRESS_COLUMNS = (PathwayProgress.id, PathwayProgress.user_id, PathwayProgress.pathway_id,
                     *(getattr(PathwayProgress, f) for f in _PATHWAY_FIELDS))
_STEP_COLUMNS = (StepProgress.id, StepProgress.user_id, StepProgress.step_id,
                 *(getattr(StepProgress, f) for f in _STEP_FIELDS))


def _progress_rows(among: Among) -> Any:
    return select(*_PROGRESS_COLUMNS).where(among(PathwayProgress.user_id))


def _progress_rows_of(among: Among) -> Any:
    """These learners' rows on these pathways: looked up by learner (``Among.rows``)."""
    rows = among.rows(*_PROGRESS_COLUMNS, key=PathwayProgress.user_id)
    return select(*rows.c).where(among(rows.c.pathway_id, "pathways"))


def _step_rows(among: Among) -> Any:
    return select(*_STEP_COLUMNS).where(among(StepProgress.user_id))


def _step_rows_of(among: Among) -> Any:
    """These learners' rows on these steps: looked up by learner (``Among.rows``)."""
    rows = among.rows(*_STEP_COLUMNS, key=StepProgress.user_id)
    return select(*rows.c).where(among(rows.c.step_id, "steps"))


def _facts_for_pathway(steps: list[Any], by_activity: dict[str, list[Fact]], registered: dict[str, list[Fact]],
                       launches: dict[int, set[str]]) -> list[Fact]:
    """The learner's facts a pathway's derivation can use: about its steps' activities or in their launches.

    ``derive_pathway`` looks at no other fact; handing it only these keeps its work per pathway small.
    """
    chosen: dict[str, Fact] = {}
    for step in steps:
        for fact in by_activity.get(step.activity_iri, ()):
            chosen[fact.statement_id] = fact
        for registration in launches.get(step.id, ()):
            for fact in registered.get(registration, ()):
                chosen[fact.statement_id] = fact
    return sorted(chosen.values(), key=lambda f: f.order)


def _differs(row: Any, values: dict[str, Any]) -> bool:
    return any(getattr(row, name) != value for name, value in values.items())


def _write_progress(session: Session, new_progress: list[dict[str, Any]], changed_progress: list[dict[str, Any]],
                    new_cells: list[dict[str, Any]], changed_cells: list[dict[str, Any]],
                    gone: list[tuple[int, int]], progress: dict[int, dict[int, Any]]) -> None:
    """Write the derived rows by executemany; objects of them already in the session are expired."""
    _insert_rows(session, PathwayProgress, new_progress)
    _update_rows(session, PathwayProgress, _PATHWAY_FIELDS, changed_progress)
    _insert_rows(session, StepProgress, new_cells)
    _update_rows(session, StepProgress, _STEP_FIELDS, changed_cells)
    for user_id, pathway_id in gone:
        session.execute(delete(StepProgress).where(StepProgress.user_id == user_id, StepProgress.step_id.in_(
            select(Step.id).where(Step.pathway_id == pathway_id))).execution_options(synchronize_session=False))
        session.execute(delete(PathwayProgress).where(PathwayProgress.id == progress[user_id][pathway_id].id)
                        .execution_options(synchronize_session=False))
    for model, changed in ((PathwayProgress, changed_progress), (StepProgress, changed_cells)):
        for row in changed:
            obj = session.identity_map.get(session.identity_key(model, row["id"]))
            if obj is not None:
                session.expire(obj)
    if gone:  # rows deleted: loaded objects of them (rare) leave the session
        gone_ids = {progress[u][p].id for u, p in gone}
        users = {u for u, _ in gone}
        for obj in list(session.identity_map.values()):
            if (isinstance(obj, PathwayProgress) and obj.id in gone_ids) or \
                    (isinstance(obj, StepProgress) and obj.user_id in users):
                session.expunge(obj)


_UPDATES: dict[str, Any] = {}


def _update_rows(session: Session, model: Any, fields: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """UPDATE rows (each with its ``id`` and every one of ``fields``) by one executemany of a plain
    statement built once: the ORM's bulk update by primary key cost more than the rows a batch changes."""
    if not rows:
        return
    table = model.__table__
    statement = _UPDATES.get(table.name)
    if statement is None:
        statement = _UPDATES[table.name] = update(table).where(table.c.id == bindparam("row_id")).values(
            {name: bindparam(f"new_{name}", type_=table.c[name].type) for name in fields})
    session.execute(statement, [{"row_id": row["id"], **{f"new_{name}": row[name] for name in fields}}
                                for row in rows])


def _set(row: Any, **values: Any) -> bool:
    """Set only the attributes that differ (an unchanged row is not written); tell whether any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _sync_awards(session: Session, user_id: int, pathway: _Version, result: PathwayResult,
                 current: dict[datetime, CertificationAward], codes: _Codes) -> list[CertificationAward]:
    """Bring a learner's award rows for a pathway in line with the derived ones; return newly active ones."""
    if not pathway.certifies:
        result.awards = []
    wanted = {a.earned_at for a in result.awards}
    for earned_at, row in current.items():
        if earned_at not in wanted:
            session.delete(row)
    fresh = []
    for award in result.awards:
        row = current.get(award.earned_at)
        is_new = row is None or (row.revoked and not award.revoked)
        if row is None:
            row = CertificationAward(user_id=user_id, pathway_id=pathway.id, earned_at=award.earned_at)
            session.add(row)
        _set(row, expires_at=award.expires_at, revoked=award.revoked, revoked_by=award.revoked_by,
             statement_ids=award.statement_ids)
        if not award.revoked:
            if (user_id, pathway.lineage, award.earned_at) not in codes:
                import secrets
                session.add(CertificateCode(code=secrets.token_hex(8).upper(), user_id=user_id,
                                            lineage=pathway.lineage, earned_at=award.earned_at))
                codes.add((user_id, pathway.lineage, award.earned_at))
            if is_new:
                fresh.append(row)
    return fresh


def refresh_lineage(session: Session, lineage: str) -> None:
    """Recompute every learner who is on, or has progress on, any version of a pathway."""
    from pathways.people import learners_of_lineage
    users = set(learners_of_lineage(session, lineage))
    users.update(session.scalars(select(PathwayProgress.user_id).join(
        Pathway, Pathway.id == PathwayProgress.pathway_id).where(Pathway.lineage == lineage)))
    # Learners whose earlier statements are about one of the (new) steps' activities.
    steps = select(Step.id, Step.activity_iri).join(Pathway, Pathway.id == Step.pathway_id).where(
        Pathway.lineage == lineage, Pathway.status != "draft")
    activities = sorted({iri for _, iri in session.execute(steps)})
    for chunk in _chunks(activities):
        users.update(session.scalars(select(UserIdentity.user_id).join(
            ProgressFact, (ProgressFact.identity_kind == UserIdentity.kind) &
            (ProgressFact.identity_value == UserIdentity.value)).where(ProgressFact.activity_iri.in_(chunk))
            .distinct()))
    users.update(session.scalars(select(StepLaunch.user_id).where(
        StepLaunch.step_id.in_(select(steps.subquery().c.id)))))
    refresh_users(session, users)


def system_authority() -> dict:
    """The agent Cairn itself writes statements as (attempts, attendance, reading, awards)."""
    home = current_app.config["BASE_URL"] if has_app_context() else "urn:cairn"
    return {"objectType": "Agent", "name": "Cairn", "account": {"homePage": home, "name": "system"}}


def earned_statement_id(user_id: int, lineage: str, earned_at: datetime) -> str:
    return str(uuid.uuid5(EARNED_NAMESPACE, f"{user_id}|{lineage}|{earned_at.isoformat()}"))


def record_earned(session: Session, awards: list[tuple[int, int]]) -> bool:
    """Store an ``earned`` statement for each new award (once: its id is derived from the award)."""
    from cairn.accounts.services import identities_of
    from lrs import services as lrs_services
    statements = []
    for user_id, award_id in awards:
        award = session.get(CertificationAward, award_id)
        if award is None:
            continue
        pathway = session.get(Pathway, award.pathway_id)
        user = session.get(User, user_id)
        identities = identities_of(session, user_id)
        if pathway is None or user is None or not identities:
            continue
        statement_id = earned_statement_id(user_id, pathway.lineage, award.earned_at)
        if lrs_services.get_statement(session, statement_id) is not None:
            continue
        statement: dict[str, Any] = {
            "id": statement_id,
            "actor": identities[0].to_agent(user.name),
            "verb": {"id": VERB_EARNED, "display": {"en-US": "earned"}},
            "object": {"objectType": "Activity", "id": pathway.activity_iri,
                       "definition": {"name": {"en-US": pathway.title},
                                      "type": "https://w3id.org/xapi/cmi5/activitytype/course"}},
            "timestamp": award.earned_at.isoformat(),
            "context": {"extensions": {
                "https://cairn.dev/xapi/extensions/certificate-expires":
                    award.expires_at.isoformat() if award.expires_at else None,
                "https://cairn.dev/xapi/extensions/justified-by": list(award.statement_ids)}},
        }
        statements.append(statement)
    if statements:
        lrs_services.store_statements(session, statements, authority=system_authority())
    return bool(statements)


def _notify(session: Session,
            notices: list[tuple[int, _Version, list[Any], Any, dict[int, Any], PathwayResult]]) -> None:
    """Tell the outcome listeners what changed: all in one SAVEPOINT, or one by one if any call fails.

    One SAVEPOINT per change cost two round trips each, for every learner a batch moved; a listener
    that fails still loses only its own change (the changes are then replayed one SAVEPOINT each).
    """
    if not has_app_context():
        return
    listeners: list[tuple[OutcomeCallback, OutcomeFilter | None]] = \
        current_app.extensions.get(LISTENERS_KEY, [])
    if not listeners:
        return
    changes = [change for notice in notices for change in _changes(*notice)]
    if not changes:
        return
    # Most batches reach no listener with anything to do (no LTI link leads to these learners):
    # asking once per listener costs one query, where the SAVEPOINT and the calls cost 2 + one each.
    wanted = [{id(c) for c in (changes if want is None else want(session, changes))} for _, want in listeners]
    calls = [(change, callback) for change in changes
             for (callback, _), ids in zip(listeners, wanted, strict=True) if id(change) in ids]
    if not calls:
        return
    try:
        with session.begin_nested():
            for change, callback in calls:
                callback(session, change)
        return
    except Exception:  # replayed below, one change at a time, so that only the failing ones are lost
        pass
    for change, callback in calls:
        try:
            with session.begin_nested():
                callback(session, change)
        except Exception:  # a listener's failure must not lose the learner's progress
            log.exception("outcome listener failed for %s", change)


def _changes(user_id: int, pathway: _Version, steps: list[Any], before: tuple[str, int, float | None] | None,
             before_steps: dict[int, tuple[str, float | None]], result: PathwayResult) -> list[OutcomeChange]:
    changes: list[OutcomeChange] = []
    now = result.last_activity_at or result.completed_at
    after = (result.status, result.percent, result.best_score)
    if before != after and not (before is None and result.status == "not_started"):
        changes.append(OutcomeChange(user_id, pathway.id, None, float(result.percent), 100.0,
                                     result.status == "completed", now or _now()))
    for step in steps:
        if step.kind != "assessment":
            continue
        sr = result.steps[step.id]
        old = before_steps.get(step.id)
        if sr.best_score is not None and old != (sr.state, sr.best_score):
            changes.append(OutcomeChange(user_id, pathway.id, step.id, round(sr.best_score * 100, 4), 100.0,
                                         sr.state == "done", sr.last_activity_at or _now()))
    return changes


def _now() -> datetime:
    from cairn.db import utcnow
    return utcnow()


def rebuild(session: Session, *, batch_size: int = 5000) -> int:
    """Empty the projection and replay every statement; return how many were replayed.

    See ``pathways.rebuild``.
    """
    from pathways.rebuild import rebuild as replay_all
    return replay_all(session, batch_size=batch_size)


@dataclass(frozen=True)
class StatusChange:
    """How publishing a draft would change one learner's progress."""

    user_id: int
    name: str
    status_before: str
    status_after: str
    percent_before: int
    percent_after: int


def publish_dry_run(session: Session, pathway_id: int) -> list[StatusChange]:
    """Which learners' status or percent would change if this draft were published (nothing is written)."""
    from pathways.errors import Conflict, NotFound
    from pathways.people import enrollments_of, learners_of_lineage
    draft = session.get(Pathway, pathway_id)
    if draft is None:
        raise NotFound(f"no pathway {pathway_id}")
    if draft.status != "draft":
        raise Conflict("only a draft version has a publishing dry run")
    current = session.scalar(select(Pathway).where(Pathway.lineage == draft.lineage, Pathway.status == "published"))
    users = set(learners_of_lineage(session, draft.lineage))
    if current is not None:
        users.update(session.scalars(select(PathwayProgress.user_id).where(
            PathwayProgress.pathway_id == current.id)))
    steps = [step_info(s) for s in draft.steps]
    changes = []
    for user_id in sorted(users):
        facts, launches = _facts_of(session, user_id)
        # Launch rows name the published version's steps; the draft's copies share their keys.
        if current is not None:
            key_of = {s.id: s.key for s in current.steps}
            draft_by_key = {s.key: s.id for s in steps}
            launches = {draft_by_key[key_of[sid]]: regs for sid, regs in launches.items()
                        if sid in key_of and key_of[sid] in draft_by_key}
        enrollment = enrollments_of(session, user_id).get(draft.lineage)
        validity = draft.validity_days or ((enrollment.recurrence_months or 0) * 30 if enrollment else 0) or None
        after = derive_pathway(steps, facts, launches, validity_days=validity,
                               window_days=draft.recertification_window_days)
        row = session.scalar(select(PathwayProgress).where(PathwayProgress.user_id == user_id,
                                                           PathwayProgress.pathway_id == current.id)) \
            if current is not None else None
        before = (row.status, row.percent) if row is not None else ("not_started", 0)
        if before != (after.status, after.percent):
            user = session.get(User, user_id)
            changes.append(StatusChange(user_id, user.name if user else "", before[0], after.status, before[1],
                                        after.percent))
    return changes


# ------------------------------------------------------------------------------ people changing under us

PEOPLE_CHANGED = "pathways.people_changed"


def _note_people_changes(session: Session, _flush_context: Any) -> None:
    """After a flush: remember learners whose identities or attributes changed (rules, statements)."""
    from sqlalchemy import inspect as sa_inspect
    pending: set[int] = session.info.setdefault(PEOPLE_CHANGED, set())
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, UserIdentity) and obj.user_id is not None:
            pending.add(obj.user_id)
        elif isinstance(obj, User) and obj.id is not None:
            state = sa_inspect(obj)
            if obj in session.new or any(state.attrs[name].history.has_changes()
                                         for name in ("attributes", "role", "active")):
                pending.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, UserIdentity) and obj.user_id is not None:
            pending.add(obj.user_id)


def _refresh_changed_people(session: Session) -> None:
    """Before a commit: bring those learners' progress in line (identities and audience rules changed)."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit's own flush comes after this event: collect its changes now
    pending = session.info.pop(PEOPLE_CHANGED, None)
    if pending and not session.info.get("pathways.projecting"):
        existing = set(session.scalars(select(User.id).where(User.id.in_(sorted(pending)))))
        if existing:
            refresh_users(session, existing)
            session.info.pop(PEOPLE_CHANGED, None)


def watch_people() -> None:
    """Keep progress right when a learner gains an identity or changes attributes (LTI, admin pages)."""
    from sqlalchemy import event
    if not event.contains(Session, "after_flush", _note_people_changes):
        event.listen(Session, "after_flush", _note_people_changes)
        event.listen(Session, "before_commit", _refresh_changed_people)
