"""Statement commands and queries: store (validated, idempotent, voiding), get, query, iterate.

Sequence numbers grow in commit order: a consumer remembering the last sequence it saw never
misses a statement that commits later. SQLite's ``BEGIN IMMEDIATE`` serialises writers. On
PostgreSQL a batch takes its numbers under the sequence lock (``lrs_take_numbers``, migration 0011)
with a ticket, an advisory lock held to the end of its transaction; the xAPI resource's batches
then write side by side, each waiting, before it commits, for the tickets of the batches numbered
before it, and re-storing itself alone if one of those stored what it had looked up (``_store``).
Any other store keeps the sequence lock to the end of its transaction, as a single writer.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (ARRAY, BigInteger, Boolean, DateTime, Integer, String, and_, bindparam, func,
                        literal_column, null, or_, select, text, true, union_all, update)
from sqlalchemy import column as result_column
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cairn.db import AFTER_COMMIT_KEY, QUIET_SINCE, READ_ONLY, REUSE_PLANS_SQL, Among, read_built, utcnow
from lrs.errors import BadRequest, StatementConflict, StatementInvalid
from lrs.identities import ifi_of
from lrs.models import Attachment, Statement
from lrs.statement_rows import (PreparedStatement, check_storable, number_statements, prepare_statement,
                                same_content, write_rows)
from lrs.subscribers import tell_subscribers
from lrs.validation import Validator

SEQUENCE_LOCK_KEY = 0x4C5253_5345  # "LRSSE": one lock for the whole statement sequence
TICKET_LOCK_CLASS = 0x4C525354  # "LRST": a batch in flight holds (this, its ticket) until it ends
MAX_PAGE = 500


class StoredStatement:
    """A statement as stored: full JSON (with ``stored``, ``authority``, ``version``) and its sequence.

    Query pages carry the JSON text as the database returned it, so a response can pass it through
    (``json_text``); ``statement`` decodes it only when someone looks inside.
    """

    __slots__ = ("id", "sequence", "stored", "voided", "_statement", "_json_text")

    def __init__(self, id: str, sequence: int, statement: dict | None = None,  # noqa: A002 - xAPI's name
                 stored: datetime | None = None, voided: bool = False, *,
                 json_text: str | None = None) -> None:
        if statement is None and json_text is None:
            raise ValueError("a stored statement needs its JSON, decoded or as text")
        self.id, self.sequence, self.voided = id, sequence, voided
        self.stored: datetime = stored  # type: ignore[assignment]
        self._statement, self._json_text = statement, json_text

    @property
    def statement(self) -> dict:
        if self._statement is None:
            self._statement = json.loads(self._json_text)  # type: ignore[arg-type]
        return self._statement

    @property
    def json_text(self) -> str:
        """The statement as JSON text (the stored text when the query read it, else encoded now)."""
        if self._json_text is None:
            self._json_text = json.dumps(self._statement, separators=(",", ":"))
        return self._json_text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredStatement):
            return NotImplemented
        return (self.id, self.sequence, self.stored, self.voided, self.statement) == (
            other.id, other.sequence, other.stored, other.voided, other.statement)

    __hash__ = None  # type: ignore[assignment]  # equal by content, which is a mutable dict

    def __repr__(self) -> str:
        return f"StoredStatement(id={self.id!r}, sequence={self.sequence}, voided={self.voided})"


@dataclass
class StatementQuery:
    """Every xAPI GET /statements filter, plus ``agents`` (any of several identities) and ``cursor``."""

    agent: dict | None = None
    agents: list[dict] | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    ascending: bool = False
    cursor: str | None = None
    # Cairn extra: only statements vouched for by this authority (the statements/read/mine scope).
    authority: dict | None = None


@dataclass
class StatementPage:
    statements: list[StoredStatement] = field(default_factory=list)
    more_cursor: str | None = None


def _stored_of(row: Any) -> StoredStatement:
    return StoredStatement(id=row.statement_id, sequence=row.sequence, statement=row.statement,
                           stored=row.stored, voided=row.voided)


def store_statements(session: Session, statements: list[dict], *, authority: dict, version: str = "1.0.3",
                     attachments: Mapping[str, tuple[str, bytes]] | None = None,
                     subscribers_after_commit: bool = False) -> list[StoredStatement]:
    """Validate and store a batch, all or nothing, and tell the subscribers.

    ``subscribers_after_commit``: tell the subscribers that allow it (``subscribe(after_commit=True)``)
    after the request's response is written, not in its transaction. For a request that does not
    read back what they derive (the xAPI resource); a page that stores and then shows progress
    leaves it False. Such a transaction holds nothing but the store: on PostgreSQL the batch is
    written beside others in flight, and if one of those numbered before it stored a statement
    it names, the transaction is rolled back and the batch stored again, alone.
    Raises ``StatementInvalid`` (400) for a broken rule and ``StatementConflict`` (409) for an id
    already stored with other content; re-sending identical content returns the stored statement.
    Voiding statements mark their targets voided. ``attachments`` maps SHA-2 to (content type,
    bytes) for attachment contents that came with the request.
    """
    if not isinstance(statements, list) or not statements:
        raise StatementInvalid("statements: expected one statement or a non-empty array of statements")
    validator = Validator(version)
    for index, statement in enumerate(statements):
        validator.statement(statement, "statement" if len(statements) == 1 else f"statements[{index}]")
    ids = [s["id"].lower() for s in statements if "id" in s]
    if len(ids) != len(set(ids)):
        raise StatementInvalid("statements: the same statement id appears twice in one batch")
    # Everything that needs no database is built before the batch takes its numbers.
    authority_ifi = ifi_of(authority)
    prepared = [prepare_statement(statement, authority, authority_ifi, version) for statement in statements]
    for index, item in enumerate(prepared):
        check_storable(item, "statement" if len(statements) == 1 else f"statements[{index}]")

    attachments = attachments or {}
    if subscribers_after_commit and session.get_bind().dialect.name == "postgresql":
        works = list(session.info.get(AFTER_COMMIT_KEY) or [])
        try:
            return _store(session, prepared, statements, attachments, side_by_side=True, after_commit=True)
        except _Overtaken:
            # A batch numbered before this one, in flight when it looked, stored what it depends
            # on (or the same id): now that every such batch has ended, store it as a writer
            # alone would, from the start.
            session.rollback()
            session.info[AFTER_COMMIT_KEY] = works
    return _store(session, prepared, statements, attachments, side_by_side=False,
                  after_commit=subscribers_after_commit)


class _Overtaken(Exception):
    """A side-by-side store found that a batch numbered before it changed what it read."""


def _store(session: Session, prepared: list[PreparedStatement], statements: list[dict],
           attachments: Mapping[str, tuple[str, bytes]], *, side_by_side: bool,
           after_commit: bool) -> list[StoredStatement]:
    """``store_statements`` once its batch is prepared: number, look up, write, tell.

    ``side_by_side`` (PostgreSQL): take the numbers and go on while batches numbered before are
    still being written; before returning, wait for them to commit and check that none of them
    stored a statement this batch names or that names one of this batch's (raises ``_Overtaken``,
    as does a conflict of the writes themselves: a duplicate id, a deadlock). Else this
    transaction keeps the sequence lock to its end, as a single writer.
    """
    for item in prepared:  # a second attempt starts from the prepared rows as they were
        item.row["voided"] = item.row["targets_reference"] = False
    numbers = _take_numbers(session, len(prepared), serial=not side_by_side, reuse_plans=after_commit)
    top, newest_stored, known = _known_statements(session, prepared)
    results: list[StoredStatement | None] = []
    new: list[PreparedStatement] = []
    for item, statement in zip(prepared, statements, strict=True):
        row = known.get(item.statement_id)
        if row is not None:
            if not same_content(row.content_hash, item.digest, statement):
                raise StatementConflict(f"statement {item.statement_id} is already stored "
                                        "with different content")
            results.append(StoredStatement(id=row.statement_id, sequence=row.sequence,
                                           statement=row.statement, stored=row.stored, voided=row.voided))
        else:
            new.append(item)
            results.append(None)
    stored_targets = _resolve_voiding(new, known, results)
    _check_attachments(statements, attachments)
    if numbers is None:
        number_statements(new, top + 1, _stored_at(newest_stored))
    else:
        number_statements(new, numbers.first_number, numbers.stored)
    earlier_references = _mark_reference_chains(new, known)
    try:
        write_rows(session, new)
        # Plain table updates: the ORM's bulk UPDATE looked for objects to synchronise (0.15-0.6 ms
        # under the lock); no Statement object is held in a session (``get_statement`` reads columns).
        if earlier_references:
            session.execute(_MARK_REFERENCED, {"ids": sorted(earlier_references)})
        if stored_targets:
            session.execute(_MARK_VOIDED, {"ids": sorted(stored_targets)})
        _store_attachment_contents(session, attachments)
        if numbers is not None and numbers.before:
            # Before the subscribers: they read what the batches before stored, as after a lock.
            _wait_for_batches_before(session, numbers, top, prepared)
    except DBAPIError as exc:
        if side_by_side and getattr(exc.orig, "sqlstate", None) in _OVERTAKEN_STATES:
            raise _Overtaken(str(exc.orig)) from exc
        raise
    stored_new = [StoredStatement(id=item.statement_id, sequence=item.row["sequence"], statement=item.full,
                                  stored=item.row["stored"], voided=item.row["voided"]) for item in new]
    by_sequence = iter(stored_new)
    final = [r if r is not None else next(by_sequence) for r in results]
    if stored_new:
        tell_subscribers(session, stored_new, after_commit)
    return final


# A unique key taken by a batch in flight (an id, an attachment), and two batches waiting for each other.
_OVERTAKEN_STATES = ("23505", "40P01")


def store_statement(session: Session, statement: dict, *, authority: dict, statement_id: str | None = None,
                    version: str = "1.0.3", attachments: Mapping[str, tuple[str, bytes]] | None = None,
                    subscribers_after_commit: bool = False) -> StoredStatement:
    """Store one statement (``statement_id`` as given by PUT ?statementId=, which must match any id in it)."""
    if not isinstance(statement, dict):
        raise StatementInvalid("statement: must be a JSON object")
    if statement_id is not None:
        if "id" in statement and str(statement["id"]).lower() != statement_id.lower():
            raise StatementInvalid("statement.id: differs from the statementId parameter")
        statement = {**statement, "id": statement_id}
    return store_statements(session, [statement], authority=authority, version=version,
                            attachments=attachments, subscribers_after_commit=subscribers_after_commit)[0]


_STATEMENT_TABLE = Statement.__table__
_MARK_REFERENCED = update(_STATEMENT_TABLE).where(
    _STATEMENT_TABLE.c.statement_id.in_(bindparam("ids", expanding=True))).values(targets_reference=True)
_MARK_VOIDED = update(_STATEMENT_TABLE).where(
    _STATEMENT_TABLE.c.statement_id.in_(bindparam("ids", expanding=True))).values(voided=True)
_BY_ID = select(_STATEMENT_TABLE.c.statement_id, _STATEMENT_TABLE.c.sequence, _STATEMENT_TABLE.c.statement,
                _STATEMENT_TABLE.c.stored, _STATEMENT_TABLE.c.voided) \
    .where(_STATEMENT_TABLE.c.statement_id == bindparam("id"))


def get_statement(session: Session, statement_id: str, *, voided: bool = False) -> StoredStatement | None:
    """The statement with this id; ``voided=False`` finds only unvoided ones, ``True`` only voided ones.

    Plain columns, not a ``Statement`` object: an object held in the session would keep its
    ``voided`` through a later voiding in the same session (the store updates the table directly).
    """
    row = session.execute(_BY_ID, {"id": statement_id.lower()}).first()
    if row is None or row.voided != voided:
        return None
    return _stored_of(row)


def latest_sequence(session: Session) -> int:
    """The highest sequence number stored (0 when there is none)."""
    return int(session.scalar(select(func.coalesce(func.max(Statement.sequence), 0))) or 0)


def consistent_through(session: Session) -> datetime:
    """A moment up to which every statement that will ever be stored is already visible.

    ``stored`` is taken under the sequence lock. While no store is in flight, any later statement
    gets a later ``stored``, so "now" is safe; while one may be, only the newest visible ``stored``
    is. PostgreSQL tells whether a writer holds the lock or a batch's ticket (and gives its clock,
    which ``lrs_take_numbers`` reads for ``stored``). On SQLite a transaction that began
    IMMEDIATE holds the write lock itself; a read-only request's snapshot was taken right after
    it found no write in flight (``cairn.db.QUIET_SINCE``), which is then the moment. A store
    takes a ``stored`` no earlier than these moments but possibly in the same millisecond, so the
    moment returned is the millisecond before.
    """
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        locks = {"key": SEQUENCE_LOCK_KEY, "tickets": TICKET_LOCK_CLASS}
        busy, now = session.execute(_IN_FLIGHT, locks).one()
        if busy:
            newest = session.scalar(select(func.max(Statement.stored)))
            # With nothing visible yet, a store in flight may have taken any earlier moment.
            now = newest if newest is not None else datetime(1970, 1, 1, tzinfo=UTC)
    else:
        connection = session.connection()
        if connection.get_execution_options().get(READ_ONLY):
            now = connection.info.get(QUIET_SINCE, now)
    return now - _ONE_MILLISECOND


_ONE_MILLISECOND = timedelta(milliseconds=1)
# Whether a store is taking numbers or has a batch in flight, and the database's clock, which gives
# ``stored`` (``lrs_take_numbers``): read after the locks, so a store that finds none takes a later time.
_IN_FLIGHT = text(
    "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND (objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :key "
    "OR objsubid = 2 AND classid = CAST(:tickets AS oid))), clock_timestamp()")


def attachment_contents(session: Session, sha2s: list[str]) -> dict[str, tuple[str, bytes]]:
    """The stored contents (content type, bytes) of these attachment hashes."""
    if not sha2s:
        return {}
    rows = session.scalars(select(Attachment).where(Attachment.sha2.in_([s.lower() for s in sha2s])))
    return {row.sha2: (row.content_type, row.content) for row in rows}


# -- internals ---------------------------------------------------------------------------------


def _mark_reference_chains(new: list[PreparedStatement], known: dict[str, Any]) -> list[str]:
    """Keep ``targets_reference``: set on each statement whose StatementRef target is a StatementRef
    statement.

    Either end of a chain may arrive first, so both directions are checked, from what the read
    under the lock found (``_known_statements`` reads the StatementRef targets and the unmarked
    stored statements that target a new StatementRef): the new rows are marked before they are
    inserted; the ids of stored statements to mark are returned.
    """
    new_by_id = {item.statement_id: item for item in new}
    references = {item.statement_id for item in new if item.row["object_statement_id"]}
    if not references:
        return []
    for item in new:
        target = item.row["object_statement_id"]
        if target is None:
            continue
        in_batch, stored = new_by_id.get(target), known.get(target)
        item.row["targets_reference"] = bool((in_batch is not None and in_batch.row["object_statement_id"])
                                             or (stored is not None and stored.object_statement_id))
    return sorted(row.statement_id for row in known.values()
                  if row.object_statement_id in references and not row.targets_reference)


def _stored_at(newest: datetime | None) -> datetime:
    """SQLite: the ``stored`` time for the batch (under the write lock): now, but never before the newest
    (``lrs_take_numbers`` does the same on PostgreSQL, with the database's clock).

    ``stored`` never goes back as the sequence grows, even if the clock does: since/until queries
    rely on it to turn a time window into a sequence range (``lrs.statement_queries``).
    """
    now = _now_ms()
    return max(now, newest) if newest is not None else now


def _now_ms() -> datetime:
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _take_numbers(session: Session, how_many: int, *, serial: bool, reuse_plans: bool) -> Any:
    """PostgreSQL: the batch's first sequence number, its ``stored`` and the tickets of the batches
    numbered before it that are still in flight (``lrs_take_numbers``, migration 0011); None
    elsewhere (SQLite's ``BEGIN IMMEDIATE`` already made this transaction the only writer).

    ``serial``: the sequence lock is kept to the end of the transaction, and every batch numbered
    before has committed (or rolled back) when this returns, so ``before`` is empty. ``reuse_plans``:
    the rest of the transaction reuses its plans (``cairn.db.reuse_plans``, in the same statement,
    no extra round trip); only for a transaction that ends with the store (the xAPI resource's),
    not a page's, whose own queries may follow in it and are planned for their values.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    return read_built(session, _take_reusing_plans if reuse_plans else _take,
                      {"how_many": how_many, "serial": serial})[0]


def _take(among: Among) -> Any:
    return _take_query(reusing_plans=False)


def _take_reusing_plans(among: Among) -> Any:
    return _take_query(reusing_plans=True)


def _take_query(reusing_plans: bool) -> Any:
    numbers = func.lrs_take_numbers(bindparam("how_many", type_=Integer),
                                    bindparam("serial", type_=Boolean)) \
        .table_valued(result_column("first_number", BigInteger),
                      result_column("stored", DateTime(timezone=True)),
                      result_column("ticket", Integer), result_column("before", ARRAY(Integer)))
    extra = [literal_column(REUSE_PLANS_SQL)] if reusing_plans else []
    return select(numbers.c.first_number, numbers.c.stored, numbers.c.before, *extra).select_from(numbers)


def _wait_for_batches_before(session: Session, numbers: Any, seen_through: int,
                             prepared: list[PreparedStatement]) -> None:
    """Wait until the batches numbered before this one (in flight when it took its numbers) have
    ended; raise ``_Overtaken`` if one stored a statement that the look-up of known statements
    would have found.

    That look-up saw every statement up to ``seen_through``; what was stored since, before this
    batch's numbers, came from those batches. A statement there matters if it has an id of this
    batch or of a statement it targets, or targets one of this batch's (the look-up's branches).
    """
    ids = {item.statement_id for item in prepared}
    names = ids | {item.row["object_statement_id"] for item in prepared if item.row["object_statement_id"]}
    parameters = {"before": list(numbers.before), "after": seen_through, "first": numbers.first_number}
    for row in read_built(session, _wait_for, parameters):
        if row.statement_id in names or row.object_statement_id in ids:
            raise _Overtaken(row.statement_id)


def _wait_for(among: Among) -> Any:
    stored = func.lrs_wait_for(bindparam("before", type_=ARRAY(Integer)),
                               bindparam("after", type_=BigInteger), bindparam("first", type_=BigInteger)) \
        .table_valued(result_column("statement_id", String), result_column("object_statement_id", String))
    return select(stored.c.statement_id, stored.c.object_statement_id).select_from(stored)


def _known_statements(session: Session,
                      prepared: list[PreparedStatement]) -> tuple[int, datetime | None, dict[str, Any]]:
    """Under the lock, in one query: the newest statement's sequence and ``stored`` (0 and None in an
    empty store), and every stored statement that matters.

    That is the batch's ids (re-sends), the statements its StatementRefs target (voiding, and the
    ends of reference chains), stored voiding statements targeting one of the batch's ids (which
    arrives voided), and stored statements not yet marked as targeting a StatementRef statement
    that target one of the batch's StatementRef statements. Keyed by id.
    """
    ids = [item.statement_id for item in prepared]
    targets = [item.row["object_statement_id"] for item in prepared if item.row["object_statement_id"]]
    references = [item.statement_id for item in prepared if item.row["object_statement_id"]]
    found: dict[str, Any] = {}
    highest, newest_stored = 0, None
    parameters = {"ids_and_targets": ids + targets, "ids": ids, "references": references}
    for row in read_built(session, _known_with_references if references else _known, parameters):
        if row.statement_id is None:
            highest, newest_stored = int(row.sequence), row.stored
        else:
            found[row.statement_id] = row
    return highest, newest_stored, found


def _known(among: Among) -> Any:
    return _known_query(among, with_references=False)


def _known_with_references(among: Among) -> Any:
    return _known_query(among, with_references=True)


def _known_query(among: Among, with_references: bool) -> Any:
    """``_known_statements``' query, built once per dialect and shape (``read_built``: building it
    cost more than running it for one statement); its id lists are parameters, one array each on
    PostgreSQL.

    PostgreSQL looks each id up in its index (``cairn.db.Among.rows``), one branch per condition:
    as one WHERE with ORs, a table without statistics yet (a young store, between autovacuum's
    analyses) was expected to match half its rows on ``object_statement_id = ANY(ids)``, and was
    read whole for every batch, on every store. SQLite keeps the ORs of IN lists.
    """
    columns = (Statement.statement_id, Statement.sequence, Statement.content_hash, Statement.statement,
               Statement.stored, Statement.voided, Statement.voiding, Statement.object_statement_id,
               Statement.targets_reference)
    # (list parameter, the column it looks up, what else the rows found must be)
    branches: list[tuple[str, Any, Callable[[Any], Any]]] = [
        ("ids_and_targets", Statement.statement_id, lambda c: true()),
        ("ids", Statement.object_statement_id, lambda c: c.voiding.is_(True))]
    if with_references:
        branches.append(("references", Statement.object_statement_id,
                         lambda c: c.targets_reference.is_(False)))
    highest = select(func.max(Statement.sequence)).scalar_subquery()
    newest = select(null(), Statement.sequence, null(), null(), Statement.stored,
                    *(null() for _ in columns[5:])).where(Statement.sequence == highest)
    if not among.postgresql:
        known = select(*columns).where(or_(*(and_(among(column, name), condition(Statement.__table__.c))
                                             for name, column, condition in branches)))
        return known.union_all(newest)
    parts = []
    for name, column, condition in branches:
        found = among.rows(*columns, key=column, name=name)
        parts.append(select(*found.c).where(condition(found.c)))
    return union_all(*parts, newest)


def _resolve_voiding(new: list[PreparedStatement], known: dict[str, Any],
                     results: list[StoredStatement | None]) -> list[str]:
    """Apply the voiding rules to the new rows; return the stored statements to mark voided.

    A voiding statement cannot target a voiding statement (xAPI 1.0.3 2.3.2). Its target, if new in
    this batch, is inserted voided; if stored, it is updated. A new statement that a stored voiding
    statement already targets is voided from the start.
    """
    new_by_id = {item.statement_id: item for item in new}
    voided_by_stored = {row.object_statement_id for row in known.values() if row.voiding}
    stored_targets: list[str] = []
    for item in new:
        if not item.row["voiding"]:
            item.row["voided"] = item.statement_id in voided_by_stored
            continue
        target = item.row["object_statement_id"]
        in_batch = new_by_id.get(target)
        stored = known.get(target)
        if (in_batch is not None and in_batch.row["voiding"]) or (stored is not None and stored.voiding):
            raise StatementInvalid(f"statement {item.statement_id}: object: a voiding statement "
                                   "cannot be voided (xAPI 1.0.3 2.3.2)")
    for item in new:
        if item.row["voiding"]:
            target = item.row["object_statement_id"]
            if target in new_by_id:
                new_by_id[target].row["voided"] = True
            elif target in known and not known[target].voided:
                stored_targets.append(target)
    # A re-sent statement that this batch voids is reported voided, as it now is.
    voided_now = set(stored_targets)
    for index, result in enumerate(results):
        if result is not None and result.id in voided_now:
            results[index] = StoredStatement(result.id, result.sequence, result.statement, result.stored,
                                             voided=True)
    return stored_targets


def _check_attachments(statements: list[dict], attachments: Mapping[str, tuple[str, bytes]]) -> None:
    """Every attachment without a fileUrl must have come with the request (xAPI 1.0.3 2.4.11)."""
    for statement in statements:
        for attachment in _all_attachments(statement):
            if "fileUrl" not in attachment and attachment["sha2"].lower() not in attachments:
                raise BadRequest(f"attachment {attachment['sha2']} has no fileUrl and its content "
                                 "was not sent")


def _all_attachments(statement: dict) -> list[dict]:
    found = list(statement.get("attachments", []))
    obj = statement.get("object", {})
    if obj.get("objectType") == "SubStatement":
        found += obj.get("attachments", [])
    return found


def _store_attachment_contents(session: Session, attachments: Mapping[str, tuple[str, bytes]]) -> None:
    if not attachments:
        return
    present = set(session.scalars(select(Attachment.sha2).where(Attachment.sha2.in_(list(attachments)))))
    for sha2, (content_type, content) in attachments.items():
        if sha2 not in present:
            session.add(Attachment(sha2=sha2, content_type=content_type, content=content))
    session.flush()  # now, not inside a subscriber's savepoint
