"""Statement commands and queries: store (validated, idempotent, voiding), get, query, iterate.

Sequence numbers are assigned under a transaction-scoped lock (``pg_advisory_xact_lock`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so they grow in commit order:
a consumer remembering the last sequence it saw never misses a statement that commits later.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from operator import itemgetter
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import (and_, bindparam, func, insert, literal_column, null, or_, select, text, true,
                        union_all, update)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnClause

from cairn import jsoncodec
from cairn.db import QUIET_SINCE, READ_ONLY, REUSE_PLANS_SQL, Among, after_commit, utcnow
from lrs.errors import BadRequest, StatementConflict, StatementInvalid
from lrs.identities import ifi_of
from lrs.models import Attachment, Statement, StatementActivity, StatementAgent
from lrs.validation import (MAX_IDENTIFIER_BYTES, VOIDED_VERB, Validator, holds_nul, too_wide,
                            truncate_duration)

log = logging.getLogger(__name__)

SEQUENCE_LOCK_KEY = 0x4C5253_5345  # "LRSSE": one lock for the whole statement sequence
MAX_PAGE = 500
SUBSCRIBERS_KEY = "lrs.subscribers"
AFTER_COMMIT_KEY = "lrs.told_after_commit"
# Set by the LRS, so not part of what a client's re-send is compared on.
LRS_SET_PROPERTIES = ("id", "stored", "authority", "version")


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


def content_hash(statement: Mapping[str, Any]) -> str:
    """The hash two sends of "the same statement" share (xAPI 1.0.3 2.5 statement comparison)."""
    return hashlib.sha256(jsoncodec.dumps(_comparable(statement), sort_keys=True)).hexdigest()


def _legacy_content_hash(statement: Mapping[str, Any]) -> str:
    """The hash stored before orjson (standard-library JSON): re-sends of older statements still match it."""
    comparable = _comparable(statement)
    return hashlib.sha256(json.dumps(comparable, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _same_content(stored_hash: str, digest: str, statement: Mapping[str, Any]) -> bool:
    return stored_hash == digest or stored_hash == _legacy_content_hash(statement)


def _comparable(statement: Mapping[str, Any]) -> dict[str, Any]:
    comparable = {k: v for k, v in statement.items() if k not in LRS_SET_PROPERTIES}
    result = comparable.get("result")
    if isinstance(result, dict) and isinstance(result.get("duration"), str):
        comparable["result"] = {**result, "duration": truncate_duration(result["duration"])}
    return comparable


def format_stored(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class StatementRows:
    """The rows that store statements: plain column dicts per table, ready for an executemany INSERT."""

    statements: list[dict[str, Any]] = field(default_factory=list)  # lrs_statements
    agents: list[dict[str, Any]] = field(default_factory=list)  # lrs_statement_agents
    activities: list[dict[str, Any]] = field(default_factory=list)  # lrs_statement_activities


def statement_rows(statements: list[dict], first_sequence: int, stored_at: datetime, *, authority: dict,
                   version: str = "1.0.3") -> StatementRows:
    """The rows ``store_statements`` writes for these (valid) statements, numbered from ``first_sequence``.

    The same builder the store path uses, for loaders that write rows themselves (benchmarks.bulk):
    the completed statement JSON, its query columns and its agent/activity side rows. Nothing is
    checked or written; statements without an id get a new one.
    """
    authority_ifi = ifi_of(authority)
    prepared = [_prepare(statement, authority, authority_ifi, version) for statement in statements]
    _number(prepared, first_sequence, stored_at)
    rows = StatementRows()
    for item in prepared:
        rows.statements.append(item.row)
        rows.agents += item.agents
        rows.activities += item.activities
    return rows


def store_statements(session: Session, statements: list[dict], *, authority: dict, version: str = "1.0.3",
                     attachments: Mapping[str, tuple[str, bytes]] | None = None,
                     subscribers_after_commit: bool = False) -> list[StoredStatement]:
    """Validate and store a batch, all or nothing, and tell the subscribers.

    ``subscribers_after_commit``: tell the subscribers that allow it (``subscribe(after_commit=True)``)
    after the request's response is written, not in its transaction. For a request that does not
    read back what they derive (the xAPI resource); a page that stores and then shows progress
    leaves it False.
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
    # Everything that needs no database is built before the lock: it serialises every writer.
    authority_ifi = ifi_of(authority)
    prepared = [_prepare(statement, authority, authority_ifi, version) for statement in statements]
    for index, item in enumerate(prepared):
        _check_storable(item, "statement" if len(statements) == 1 else f"statements[{index}]")

    _lock_sequence(session, reuse_plans=subscribers_after_commit)
    top, newest_stored, known = _known_statements(session, prepared)
    results: list[StoredStatement | None] = []
    new: list[_Prepared] = []
    for item, statement in zip(prepared, statements, strict=True):
        row = known.get(item.statement_id)
        if row is not None:
            if not _same_content(row.content_hash, item.digest, statement):
                raise StatementConflict(f"statement {item.statement_id} is already stored "
                                        "with different content")
            results.append(StoredStatement(id=row.statement_id, sequence=row.sequence,
                                           statement=row.statement, stored=row.stored, voided=row.voided))
        else:
            new.append(item)
            results.append(None)
    stored_targets = _resolve_voiding(new, known, results)
    _check_attachments(statements, attachments or {})
    _number(new, top + 1, _stored_at(newest_stored))
    earlier_references = _mark_reference_chains(new, known)
    _insert(session, new)
    # Plain table updates: the ORM's bulk UPDATE looked for objects to synchronise (0.15-0.6 ms
    # under the lock); no Statement object is held in a session (``get_statement`` reads columns).
    if earlier_references:
        session.execute(_MARK_REFERENCED, {"ids": sorted(earlier_references)})
    if stored_targets:
        session.execute(_MARK_VOIDED, {"ids": sorted(stored_targets)})
    _store_attachment_contents(session, attachments or {})

    stored_new = [StoredStatement(id=item.statement_id, sequence=item.row["sequence"], statement=item.full,
                                  stored=item.row["stored"], voided=item.row["voided"]) for item in new]
    by_sequence = iter(stored_new)
    final = [r if r is not None else next(by_sequence) for r in results]
    if stored_new:
        _notify(session, stored_new, subscribers_after_commit)
    return final


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
    is. PostgreSQL tells whether a writer holds the lock. On SQLite a transaction that began
    IMMEDIATE holds the write lock itself; a read-only request's snapshot was taken right after
    it found no write in flight (``cairn.db.QUIET_SINCE``), which is then the moment. A store
    takes a ``stored`` no earlier than these moments but possibly in the same millisecond, so the
    moment returned is the millisecond before.
    """
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        busy = session.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": SEQUENCE_LOCK_KEY})
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


def iter_statements(session: Session, *, after_sequence: int = 0,
                    batch_size: int = 1000) -> Iterator[StoredStatement]:
    """Every stored statement after ``after_sequence`` (voiding and voided included), in sequence order."""
    # Columns, not ORM objects: a rebuild reads every statement, and identity-mapping them cost more.
    columns = (Statement.statement_id, Statement.sequence, Statement.statement, Statement.stored,
               Statement.voided)
    for rows in _pages_after(session, after_sequence, lambda last: select(*columns).where(
            Statement.sequence > last).order_by(Statement.sequence).limit(batch_size)):
        for row in rows:
            yield StoredStatement(id=row[0], sequence=row[1], statement=row[2], stored=row[3], voided=row[4])


def _pages_after(session: Session, after_sequence: int,
                 page_after: Callable[[int], Any]) -> Iterator[list[Any]]:
    """Keyset paging in sequence order: ``page_after(last)`` selects the page after sequence ``last``,
    each row with its sequence second; pages until one comes back empty."""
    last = after_sequence
    while True:
        rows = session.execute(page_after(last)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][1]


_PATH_PART = re.compile(r"[A-Za-z][A-Za-z0-9]*")


# One statement's members at the paths asked for (``statement_member_pages``): per path, [value],
# or None where the statement has no such member; with the statement's id, sequence, stored, voided.
StatementMembers = tuple[str, int, datetime, bool, list[list[Any] | None]]


def statement_member_pages(session: Session, paths: Sequence[tuple[str, ...]], *, after_sequence: int = 0,
                           batch_size: int = 1000) -> Iterator[list[StatementMembers]]:
    """Every statement after ``after_sequence``, in sequence order, a page at a time, as bare members.

    For readers of every statement that look at a few members (a projection replay): the database
    extracts them, so the rest of each document (definitions, extensions) is neither sent nor
    parsed, and no object is built per statement. Each member is [value] (JSON null: [None]), or
    None where the statement has none, so that absent and null stay apart.
    """
    for path in paths:
        if not path or not all(_PATH_PART.fullmatch(part) for part in path):
            raise ValueError(f"not a statement member path: {path!r}")
    table = Statement.__table__  # Core columns: the ORM's row loading was a visible share of a replay
    columns = (table.c.statement_id, table.c.sequence, table.c.stored, table.c.voided)
    postgresql = session.get_bind().dialect.name == "postgresql"
    # The members come back as one JSON array per statement, parsed once (a parse per member was
    # most of a replay's reading). Paths are letters only (checked above).
    if postgresql:
        # A statement is stored compressed, and each #> would decompress it again: the page's
        # subquery (its LIMIT keeps it apart) decompresses each once ("|| '{}'" makes a new value).
        # "%" formatting: the SQL's own braces stay as they are (ruff's UP031 is off for it).
        members = ", ".join("CASE WHEN page.doc #> '{%(p)s}' IS NULL THEN NULL "  # noqa: UP031
                            "ELSE jsonb_build_array(page.doc #> '{%(p)s}') END" % {"p": ",".join(path)}
                            for path in paths)
        parts: ColumnClause[Any] = literal_column(f"jsonb_build_array({members})::text")
    else:
        members = ", ".join("json(CASE WHEN json_type(lrs_statements.statement, '$.%(p)s') IS NULL "  # noqa: UP031
                            "THEN NULL ELSE json_array(lrs_statements.statement -> '$.%(p)s') END)"
                            % {"p": ".".join(path)} for path in paths)
        parts = literal_column(f"json_array({members})")

    def page_after(last: int) -> Any:
        page = select(*columns).where(table.c.sequence > last).order_by(table.c.sequence).limit(batch_size)
        if not postgresql:
            return page.add_columns(parts)
        doc = literal_column("lrs_statements.statement || '{}'::jsonb").label("doc")
        inner = page.add_columns(doc).subquery("page")
        return select(*(inner.c[c.name] for c in columns), parts).order_by(inner.c.sequence)

    loads = jsoncodec.loads
    for rows in _pages_after(session, after_sequence, page_after):
        yield [(row[0], row[1], row[2], row[3], loads(row[4])) for row in rows]


def iter_statement_parts(session: Session, paths: Sequence[tuple[str, ...]], *, after_sequence: int = 0,
                         batch_size: int = 1000) -> Iterator[StoredStatement]:
    """Like ``iter_statements``, but each statement holds only the members at ``paths`` (nested as stored).

    A path that is absent is absent from the result; one holding JSON ``null`` holds None.
    """
    for page in statement_member_pages(session, paths, after_sequence=after_sequence, batch_size=batch_size):
        for statement_id, sequence, stored, voided, members in page:
            statement: dict[str, Any] = {}
            for path, member in zip(paths, members, strict=True):
                if member is None:
                    continue
                node = statement
                for part in path[:-1]:
                    node = node.setdefault(part, {})
                node[path[-1]] = member[0]
            yield StoredStatement(id=statement_id, sequence=sequence, statement=statement, stored=stored,
                                  voided=voided)


def subscribe(app: Flask, callback: Callable[[Session, list[StoredStatement]], None], *,
              after_commit: bool = False, savepoint: bool = True) -> None:
    """Call ``callback(session, statements)`` after every stored batch.

    By default in the same transaction, inside a SAVEPOINT of its own: one that fails is logged
    and rolled back alone, and the statements still commit. ``savepoint=False``: without that
    SAVEPOINT (two round trips on every store), for a subscriber that only reads until it finds
    work, and opens a SAVEPOINT itself around the work (``in_savepoint``).

    ``after_commit``: when the store asks for it (``store_statements(subscribers_after_commit=True)``)
    in a request, in a transaction of its own once the request has committed and its response is
    written (``cairn.db.after_commit``), so that it does not hold the statement sequence lock, which
    serialises every writer, nor keep the client waiting; otherwise as by default.
    ``told_after_commit(session)`` says which. Such a subscriber must catch up by itself on batches
    it missed (its transaction can fail, or the process stop, after the statements committed), and
    while told after commit it must not store statements while holding locks of its own (storing
    takes the sequence lock; everywhere else that lock is taken first). Stores outside an app
    context notify nobody.
    """
    app.extensions.setdefault(SUBSCRIBERS_KEY, []).append((callback, after_commit, savepoint))


def in_savepoint(session: Session, work: Callable[[], None], what: str) -> None:
    """Do ``work()`` in a SAVEPOINT: if it fails, it is logged (as ``what``) and rolled back alone."""
    savepoint = session.begin_nested()
    try:
        work()
        savepoint.commit()
    except Exception:
        log.exception("%s failed; its work is rolled back", what)
        savepoint.rollback()


def attachment_contents(session: Session, sha2s: list[str]) -> dict[str, tuple[str, bytes]]:
    """The stored contents (content type, bytes) of these attachment hashes."""
    if not sha2s:
        return {}
    rows = session.scalars(select(Attachment).where(Attachment.sha2.in_([s.lower() for s in sha2s])))
    return {row.sha2: (row.content_type, row.content) for row in rows}


# -- internals ---------------------------------------------------------------------------------


def _mark_reference_chains(new: list[_Prepared], known: dict[str, Any]) -> list[str]:
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
    """The ``stored`` time for the batch (under the sequence lock): now, but never before the newest.

    ``stored`` never goes back as the sequence grows, even if the clock does: since/until queries
    rely on it to turn a time window into a sequence range (``lrs.statement_queries``).
    """
    now = _now_ms()
    return max(now, newest) if newest is not None else now


def _now_ms() -> datetime:
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _lock_sequence(session: Session, *, reuse_plans: bool) -> None:
    """Take the sequence lock (PostgreSQL). ``reuse_plans``: the rest of the transaction reuses its
    plans (``cairn.db.reuse_plans``, in the same statement, no extra round trip); only for a
    transaction that ends with the store (the xAPI resource's), not a page's, whose own queries
    may follow in it and are planned for their values."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_REUSING_PLANS if reuse_plans else _LOCK, {"key": SEQUENCE_LOCK_KEY})


_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_LOCK_REUSING_PLANS = text(f"SELECT pg_advisory_xact_lock(:key), {REUSE_PLANS_SQL}")


@dataclass
class _Prepared:
    """One statement ready to insert but for its sequence and ``stored`` (set under the lock)."""

    statement_id: str
    digest: str
    full: dict
    row: dict[str, Any]
    agents: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    timestamp_is_stored: bool  # no timestamp was sent, so it is ``stored`` (xAPI 1.0.3 2.4.7)
    holds_nul: bool  # a string or key with U+0000, which PostgreSQL's JSON cannot hold


def _prepare(statement: dict, authority: dict, authority_ifi: str | None, version: str) -> _Prepared:
    """``authority_ifi``: ``ifi_of(authority)``, the same for a whole batch."""
    statement_id = statement["id"].lower() if "id" in statement else str(uuid.uuid4())
    # Only the top level (and a context whose activities are normalised) is copied: the stored
    # statement shares the request's nested members, which nothing changes.
    full = dict(statement)
    full["id"] = statement_id
    full["stored"] = ""  # keeps the key order; the value is set under the lock
    timestamp_is_stored = "timestamp" not in full
    if timestamp_is_stored:
        full["timestamp"] = ""
    full["authority"] = authority
    full.setdefault("version", "2.0.0" if version.startswith("2.") else "1.0.0")
    _context_activities_as_arrays(full)
    obj = full["object"]
    object_type = obj.get("objectType", "Activity")
    if object_type == "SubStatement":
        obj = full["object"] = dict(obj)
        _context_activities_as_arrays(obj)
    registration = (full.get("context") or {}).get("registration")
    voiding = full["verb"]["id"] == VOIDED_VERB
    actor_ifi = ifi_of(full["actor"])
    comparable = jsoncodec.dumps(_comparable(statement), sort_keys=True)
    row = {
        "sequence": 0, "statement_id": statement_id, "statement": full,
        "content_hash": hashlib.sha256(comparable).hexdigest(),
        "actor_ifi": actor_ifi, "verb_id": full["verb"]["id"],
        "object_activity_id": obj["id"] if object_type == "Activity" else None,
        "object_agent_ifi": ifi_of(obj) if object_type in ("Agent", "Group") else None,
        "object_statement_id": obj["id"].lower() if object_type == "StatementRef" else None,
        "registration": registration.lower() if registration else None,
        "authority_ifi": authority_ifi, "stored": None, "voided": False, "voiding": voiding,
        "targets_reference": False,
    }
    agents, activities = _side_rows(full, actor_ifi, authority_ifi)
    # JSON writes U+0000 as \u0000 (and a sent backslash before "u0000" as \\u0000): the walk is rare.
    nul = b"\\u0000" in comparable and holds_nul(statement)
    return _Prepared(statement_id, row["content_hash"], full, row, agents, activities, timestamp_is_stored,
                     nul)


def _check_storable(item: _Prepared, where: str) -> None:
    """What valid xAPI this store cannot keep, refused as bad input (400) rather than failing in SQL."""
    if item.holds_nul:
        raise StatementInvalid(f"{where}: contains the character U+0000, which this LRS cannot store")
    # Two passes: this one, for every statement, builds nothing (1.6-2.4 us a statement; one loop
    # over a list of named values took 3.7); the second names what is too wide. A whole ``kind|value``
    # may pass the first and its value the second: the value is what is limited.
    if not (too_wide(item.row["verb_id"]) or any(too_wide(side["activity_id"]) for side in item.activities)
            or any(too_wide(side["ifi"]) for side in item.agents)):
        return
    named = [("a verb id", item.row["verb_id"])]
    named += [("an activity id", side["activity_id"]) for side in item.activities]
    named += [("an agent identifier", side["ifi"].partition("|")[2]) for side in item.agents]
    wide = [(what, value) for what, value in named if too_wide(value)]
    if wide:
        what, value = wide[0]
        raise StatementInvalid(f"{where}: {what} of {len(value.encode()):,} bytes ({value[:60]}...); "
                               f"this LRS stores identifiers of up to {MAX_IDENTIFIER_BYTES:,} bytes (UTF-8)")


def _number(prepared: list[_Prepared], first_sequence: int, stored_at: datetime) -> None:
    stored = format_stored(stored_at)
    for sequence, item in enumerate(prepared, first_sequence):
        item.row["sequence"] = sequence
        item.row["stored"] = stored_at
        item.full["stored"] = stored
        if item.timestamp_is_stored:
            item.full["timestamp"] = stored
        for side in item.agents:
            side["sequence"] = sequence
        for side in item.activities:
            side["sequence"] = sequence


def _known_statements(session: Session,
                      prepared: list[_Prepared]) -> tuple[int, datetime | None, dict[str, Any]]:
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
    query = _known_query(session.get_bind().dialect.name, bool(references))
    found: dict[str, Any] = {}
    highest, newest_stored = 0, None
    parameters = {"ids_and_targets": ids + targets, "ids": ids, "references": references}
    for row in session.execute(query, parameters):
        if row.statement_id is None:
            highest, newest_stored = int(row.sequence), row.stored
        else:
            found[row.statement_id] = row
    return highest, newest_stored, found


@cache
def _known_query(dialect: str, with_references: bool) -> Any:
    """``_known_statements``' query, built once per dialect and shape (building it cost more than
    running it for one statement); its id lists are parameters, one array each on PostgreSQL.

    PostgreSQL looks each id up in its index (``cairn.db.Among.rows``), one branch per condition:
    as one WHERE with ORs, a table without statistics yet (a young store, between autovacuum's
    analyses) was expected to match half its rows on ``object_statement_id = ANY(ids)``, and was
    read whole for every batch, under the sequence lock. SQLite keeps the ORs of IN lists.
    """
    among = Among(dialect)
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
    if dialect != "postgresql":
        known = select(*columns).where(or_(*(and_(among(column, name), condition(Statement.__table__.c))
                                             for name, column, condition in branches)))
        return known.union_all(newest)
    parts = []
    for name, column, condition in branches:
        found = among.rows(*columns, key=column, name=name)
        parts.append(select(*found.c).where(condition(found.c)))
    return union_all(*parts, newest)


def _resolve_voiding(new: list[_Prepared], known: dict[str, Any],
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


_STATEMENT_COLUMNS = ("sequence", "statement_id", "statement", "content_hash", "actor_ifi", "verb_id",
                      "object_activity_id", "object_agent_ifi", "object_statement_id", "registration",
                      "authority_ifi", "stored", "voided", "voiding", "targets_reference")
# PostgreSQL, a batch of _COPY_FROM statements or more: COPY, one per table, through the driver
# (under the sequence lock, after the lookup of every id the batch names, so nothing can conflict).
# As one INSERT of three JSON arrays (jsonb_to_recordset, below) PostgreSQL spent about 4 ms more
# CPU per 100 statements (benchmark, batches of 100, 1 client, two runs each: 18.4 and 18.0 ms
# against 14.0 and 14.5). But a COPY is two round trips, so three of them cost a small batch more
# than the one INSERT: in one transaction, 1.24 against 0.92-1.21 ms for one statement, 2.2-2.3
# against 2.0-2.2 for 10, 4.0-4.3 against 4.4-4.6 for 25 (wall time, 400 statements each).
# Binary COPY: no escaping of text, no number or time to format or parse. A worker's whole request
# for 100 statements took 108.6 M instructions against 112.8 M with the text format (and 105.3 M
# with the INSERT, whose JSON cost PostgreSQL far more); callgrind, 20 requests in-process.
_COPY_FROM = 20
_COPY_STATEMENTS = f"COPY lrs_statements ({', '.join(_STATEMENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_COPY_AGENTS = "COPY lrs_statement_agents (sequence, ifi, direct) FROM STDIN (FORMAT BINARY)"
_COPY_ACTIVITIES = "COPY lrs_statement_activities (sequence, activity_id, direct) FROM STDIN (FORMAT BINARY)"
# Each column's type, as the binary format needs it (psycopg's names), in _STATEMENT_COLUMNS' order.
_STATEMENT_TYPES = ("bigint", "varchar", "jsonb", "varchar", "varchar", "varchar", "varchar", "varchar",
                    "varchar", "varchar", "varchar", "timestamptz", "boolean", "boolean", "boolean")
_SIDE_TYPES = ("bigint", "varchar", "boolean")
_STATEMENT_VALUES = itemgetter(*_STATEMENT_COLUMNS)
_DOCUMENT_AT = _STATEMENT_COLUMNS.index("statement")  # a dict among the values, written as JSONB
_AGENT_VALUES = itemgetter("sequence", "ifi", "direct")
_ACTIVITY_VALUES = itemgetter("sequence", "activity_id", "direct")
# PostgreSQL, a smaller batch: one statement, one round trip, each table's rows sent as one JSON
# array of objects (orjson writes it in C; text arrays cost psycopg a regular-expression search per
# element). The statements' array is read as jsonb, so each document is parsed once.
_POSTGRESQL_INSERT = text("""
WITH statements AS (
    INSERT INTO lrs_statements (sequence, statement_id, statement, content_hash, actor_ifi, verb_id,
        object_activity_id, object_agent_ifi, object_statement_id, registration, authority_ifi, stored,
        voided, voiding, targets_reference)
    SELECT r.sequence, r.statement_id, r.statement, r.content_hash, r.actor_ifi, r.verb_id,
        r.object_activity_id, r.object_agent_ifi, r.object_statement_id, r.registration, r.authority_ifi,
        CAST(:stored AS timestamptz), r.voided, r.voiding, r.targets_reference
    FROM jsonb_to_recordset(CAST(:statements AS jsonb)) AS r(sequence bigint, statement_id varchar,
        statement jsonb, content_hash varchar, actor_ifi varchar, verb_id varchar, object_activity_id varchar,
        object_agent_ifi varchar, object_statement_id varchar, registration varchar, authority_ifi varchar,
        voided boolean, voiding boolean, targets_reference boolean)
), agents AS (
    INSERT INTO lrs_statement_agents (sequence, ifi, direct)
    SELECT a.sequence, a.ifi, a.direct
    FROM json_to_recordset(CAST(:agents AS json)) AS a(sequence bigint, ifi varchar, direct boolean)
)
INSERT INTO lrs_statement_activities (sequence, activity_id, direct)
SELECT a.sequence, a.activity_id, a.direct
FROM json_to_recordset(CAST(:activities AS json)) AS a(sequence bigint, activity_id varchar, direct boolean)
""")


def _insert(session: Session, new: list[_Prepared]) -> None:
    """Write the new rows, without ORM objects (building them cost more than the SQL)."""
    if not new:
        return
    connection = session.connection()
    agents = [side for item in new for side in item.agents]
    activities = [side for item in new for side in item.activities]
    if connection.dialect.name == "postgresql" and len(new) >= _COPY_FROM:
        _copy(connection, new, agents, activities)
    elif connection.dialect.name == "postgresql":
        columns = [column for column in _STATEMENT_COLUMNS if column != "stored"]
        connection.execute(_POSTGRESQL_INSERT, {
            "statements": jsoncodec.dumps_str([{c: item.row[c] for c in columns} for item in new]),
            "stored": new[0].row["stored"], "agents": jsoncodec.dumps_str(agents),
            "activities": jsoncodec.dumps_str(activities)})
    else:
        _insert_sqlite(connection, new, agents, activities)


def _insert_sqlite(connection: Connection, new: list[_Prepared], agents: list[dict[str, Any]],
                   activities: list[dict[str, Any]]) -> None:
    connection.execute(insert(Statement.__table__), [item.row for item in new])
    if agents:
        connection.execute(insert(StatementAgent.__table__), agents)
    if activities:
        connection.execute(insert(StatementActivity.__table__), activities)


def _copy(connection: Connection, new: list[_Prepared], agents: list[dict[str, Any]],
          activities: list[dict[str, Any]]) -> None:
    """``_insert`` on PostgreSQL; the driver's errors raised as SQLAlchemy's, as an execute raises them."""
    from psycopg.types.json import Jsonb  # the driver of PostgreSQL's dialect

    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    sql = _COPY_STATEMENTS
    try:
        with cursor.copy(sql) as copy:
            copy.set_types(_STATEMENT_TYPES)
            for item in new:
                values = _STATEMENT_VALUES(item.row)
                copy.write_row((*values[:_DOCUMENT_AT], Jsonb(values[_DOCUMENT_AT], jsoncodec.dumps),
                                *values[_DOCUMENT_AT + 1:]))
        for sql, rows, values_of in ((_COPY_AGENTS, agents, _AGENT_VALUES),
                                     (_COPY_ACTIVITIES, activities, _ACTIVITY_VALUES)):
            if rows:
                with cursor.copy(sql) as copy:
                    copy.set_types(_SIDE_TYPES)
                    for row in rows:
                        copy.write_row(values_of(row))
    except connection.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(sql, None, error, connection.dialect.loaded_dbapi.Error,
                                  dialect=connection.dialect) from error


def _context_activities_as_arrays(statement: dict) -> None:
    """A single context activity is stored (and returned) as an array of one (xAPI 1.0.3 Data 2.4.6.2).

    ``statement`` is a copy of its top level only: the context is replaced, not changed in place.
    """
    context = statement.get("context")
    activities = context.get("contextActivities") if isinstance(context, dict) else None
    if isinstance(activities, dict) and not all(isinstance(value, list) for value in activities.values()):
        statement["context"] = {**context, "contextActivities": {
            key: value if isinstance(value, list) else [value] for key, value in activities.items()}}


def _side_rows(full: dict, actor_ifi: str | None, authority_ifi: str | None
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The side-table rows of one statement: identities and activities it mentions (sequence 0 for now).

    ``actor_ifi``, ``authority_ifi``: the IFIs of its top-level actor and its authority, already known.
    """
    agents: dict[str, bool] = {}
    activities: dict[str, bool] = {}
    _add_statement_parts(agents, activities, full, True, actor_ifi)
    _add_agent(agents, full.get("authority"), False, authority_ifi)
    return ([{"sequence": 0, "ifi": ifi, "direct": direct} for ifi, direct in agents.items()],
            [{"sequence": 0, "activity_id": a, "direct": d} for a, d in activities.items()])


# Module functions, not closures made anew for every statement (which cost a third of _side_rows).
def _add_agent(agents: dict[str, bool], agent: Any, direct: bool, ifi: str | None = None) -> None:
    """``ifi``: the agent's own, when the caller knows it."""
    if not isinstance(agent, dict):
        return
    ifi = ifi or ifi_of(agent)
    if ifi:
        agents[ifi] = agents.get(ifi, False) or direct
    for member in agent.get("member") or ():
        _add_agent(agents, member, False)


def _add_statement_parts(agents: dict[str, bool], activities: dict[str, bool], statement: dict, top: bool,
                         actor_ifi: str | None) -> None:
    _add_agent(agents, statement.get("actor"), top, actor_ifi)
    obj = statement.get("object", {})
    object_type = obj.get("objectType", "Activity")
    if object_type == "Activity":
        activities[obj["id"]] = activities.get(obj["id"], False) or top
    elif object_type in ("Agent", "Group"):
        _add_agent(agents, obj, top)
    elif object_type == "SubStatement":
        _add_statement_parts(agents, activities, obj, False, None)
    context = statement.get("context")
    if not context:
        return
    _add_agent(agents, context.get("instructor"), False)
    _add_agent(agents, context.get("team"), False)
    for entry in context.get("contextAgents") or ():
        _add_agent(agents, entry.get("agent"), False)
    for entry in context.get("contextGroups") or ():
        _add_agent(agents, entry.get("group"), False)
    for value in (context.get("contextActivities") or {}).values():
        for activity in value if isinstance(value, list) else (value,):
            activities.setdefault(activity["id"], False)


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


def told_after_commit(session: Session) -> bool:
    """Whether the subscriber running now was told after the statements' transaction committed."""
    return bool(session.info.get(AFTER_COMMIT_KEY))


def _bound(callback: Callable[[Session, list[StoredStatement]], None],
           statements: list[StoredStatement]) -> Callable[[Session], None]:
    def work(session: Session) -> None:
        session.info[AFTER_COMMIT_KEY] = True
        try:
            callback(session, statements)
        finally:
            session.info.pop(AFTER_COMMIT_KEY, None)
    work.__qualname__ = f"{getattr(callback, '__qualname__', callback)} after commit"
    return work


def _notify(session: Session, statements: list[StoredStatement], allow_after_commit: bool = False) -> None:
    if not has_app_context():
        return
    # A store made by a subscriber told after commit tells its own subscribers in its transaction.
    told = session.info.pop(AFTER_COMMIT_KEY, None)
    try:
        for callback, deferred, savepoint in current_app.extensions.get(SUBSCRIBERS_KEY, []):
            if deferred and allow_after_commit and after_commit(session, _bound(callback, statements)):
                continue
            if savepoint:
                in_savepoint(session, lambda: callback(session, statements),  # noqa: B023 (called at once)
                             f"statement subscriber {callback!r}")
            else:
                callback(session, statements)
    finally:
        if told is not None:
            session.info[AFTER_COMMIT_KEY] = told
