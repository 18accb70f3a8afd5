"""Statement commands and queries: store (validated, idempotent, voiding), get, query, iterate.

Sequence numbers are assigned under a transaction-scoped lock (``pg_advisory_xact_lock`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so they grow in commit order:
a consumer remembering the last sequence it saw never misses a statement that commits later.
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from cairn.db import utcnow
from lrs.errors import BadRequest, StatementConflict, StatementInvalid
from lrs.identities import ifi_of
from lrs.models import Attachment, Statement, StatementActivity, StatementAgent
from lrs.validation import VOIDED_VERB, Validator, truncate_duration

log = logging.getLogger(__name__)

SEQUENCE_LOCK_KEY = 0x4C5253_5345  # "LRSSE": one lock for the whole statement sequence
MAX_PAGE = 500
SUBSCRIBERS_KEY = "lrs.subscribers"
# Set by the LRS, so not part of what a client's re-send is compared on.
LRS_SET_PROPERTIES = ("id", "stored", "authority", "version")


@dataclass(frozen=True)
class StoredStatement:
    """A statement as stored: full JSON (with ``stored``, ``authority``, ``version``) and its sequence."""

    id: str
    sequence: int
    statement: dict
    stored: datetime
    voided: bool


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


def _stored_of(row: Statement) -> StoredStatement:
    return StoredStatement(id=row.statement_id, sequence=row.sequence, statement=row.statement,
                           stored=row.stored, voided=row.voided)


def content_hash(statement: Mapping[str, Any]) -> str:
    """The hash two sends of "the same statement" share (xAPI 1.0.3 2.5 statement comparison)."""
    comparable = {k: v for k, v in statement.items() if k not in LRS_SET_PROPERTIES}
    result = comparable.get("result")
    if isinstance(result, dict) and isinstance(result.get("duration"), str):
        comparable["result"] = {**result, "duration": truncate_duration(result["duration"])}
    return hashlib.sha256(json.dumps(comparable, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def format_stored(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def store_statements(session: Session, statements: list[dict], *, authority: dict, version: str = "1.0.3",
                     attachments: Mapping[str, tuple[str, bytes]] | None = None) -> list[StoredStatement]:
    """Validate and store a batch, all or nothing, and tell the subscribers.

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

    _lock_sequence(session)
    existing = {row.statement_id: row for row in session.scalars(
        select(Statement).where(Statement.statement_id.in_(ids)))} if ids else {}

    results: list[StoredStatement | None] = []
    new_rows: list[tuple[Statement, dict]] = []
    next_sequence = latest_sequence(session) + 1
    stored_at = _now_ms()
    void_targets: dict[str, str] = {}
    batch_ids = {s.get("id", "").lower(): s for s in statements if "id" in s}
    for statement in statements:
        digest = content_hash(statement)
        statement_id = statement.get("id", "").lower()
        if statement_id in existing:
            row = existing[statement_id]
            if row.content_hash != digest:
                raise StatementConflict(f"statement {statement_id} is already stored with different content")
            results.append(_stored_of(row))
            continue
        full = _complete(statement, statement_id or str(uuid.uuid4()), stored_at, authority, version)
        row = _row_for(full, digest, next_sequence, stored_at)
        next_sequence += 1
        if row.voiding:
            void_targets[row.object_statement_id or ""] = row.statement_id
        new_rows.append((row, full))
        results.append(None)

    _check_void_targets(session, void_targets, batch_ids)
    _check_attachments(statements, attachments or {})
    for row, _full in new_rows:
        session.add(row)
    session.flush()
    agents: list[dict] = []
    activities: list[dict] = []
    for row, full in new_rows:
        _side_rows(row.sequence, full, agents, activities)
    # Core executemany: side rows need no ORM identity, and building objects cost more than the SQL.
    if agents:
        session.execute(insert(StatementAgent), agents)
    if activities:
        session.execute(insert(StatementActivity), activities)
    _store_attachment_contents(session, attachments or {})
    session.flush()
    _apply_voiding(session, void_targets, [row for row, _ in new_rows])

    stored_new = [_stored_of(row) for row, _ in new_rows]
    by_sequence = iter(stored_new)
    final = [r if r is not None else next(by_sequence) for r in results]
    if stored_new:
        _notify(session, stored_new)
    return final


def store_statement(session: Session, statement: dict, *, authority: dict, statement_id: str | None = None,
                    version: str = "1.0.3",
                    attachments: Mapping[str, tuple[str, bytes]] | None = None) -> StoredStatement:
    """Store one statement (``statement_id`` as given by PUT ?statementId=, which must match any id in it)."""
    if not isinstance(statement, dict):
        raise StatementInvalid("statement: must be a JSON object")
    if statement_id is not None:
        if "id" in statement and str(statement["id"]).lower() != statement_id.lower():
            raise StatementInvalid("statement.id: differs from the statementId parameter")
        statement = {**statement, "id": statement_id}
    return store_statements(session, [statement], authority=authority, version=version,
                            attachments=attachments)[0]


def get_statement(session: Session, statement_id: str, *, voided: bool = False) -> StoredStatement | None:
    """The statement with this id; ``voided=False`` finds only unvoided ones, ``True`` only voided ones."""
    row = session.scalar(select(Statement).where(Statement.statement_id == statement_id.lower()))
    if row is None or row.voided != voided:
        return None
    return _stored_of(row)


def latest_sequence(session: Session) -> int:
    """The highest sequence number stored (0 when there is none)."""
    return int(session.scalar(select(func.coalesce(func.max(Statement.sequence), 0))) or 0)


def consistent_through(session: Session) -> datetime:
    """A moment up to which every statement that will ever be stored is already visible.

    ``stored`` is taken under the sequence lock. While no writer holds it, any later statement
    gets a later ``stored``, so "now" is safe; while one does (PostgreSQL tells us), only the newest
    visible ``stored`` is. On SQLite writers are serialised and short; "now" is used.
    """
    now = utcnow()
    if session.get_bind().dialect.name != "postgresql":
        return now
    busy = session.scalar(text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": SEQUENCE_LOCK_KEY})
    if not busy:
        return now
    newest = session.scalar(select(func.max(Statement.stored)))
    return newest if newest is not None else now


def iter_statements(session: Session, *, after_sequence: int = 0,
                    batch_size: int = 1000) -> Iterator[StoredStatement]:
    """Every stored statement after ``after_sequence`` (voiding and voided included), in sequence order."""
    last = after_sequence
    # Columns, not ORM objects: a rebuild reads every statement, and identity-mapping them cost more.
    columns = (Statement.statement_id, Statement.sequence, Statement.statement, Statement.stored, Statement.voided)
    while True:
        rows = session.execute(select(*columns).where(Statement.sequence > last)
                               .order_by(Statement.sequence).limit(batch_size)).all()
        if not rows:
            return
        for row in rows:
            yield StoredStatement(id=row[0], sequence=row[1], statement=row[2], stored=row[3], voided=row[4])
        last = rows[-1][1]


def query_statements(session: Session, query: StatementQuery) -> StatementPage:
    """One page of unvoided statements matching ``query``, newest first unless ``ascending``.

    Statements that target a matching statement by StatementRef are returned too (xAPI 1.0.3
    2.5 "Filter Conditions for StatementRefs"). ``more_cursor`` continues the same query; the
    page boundary is a sequence number, so statements arriving meanwhile shift nothing.
    """
    limit = MAX_PAGE if query.limit <= 0 else min(query.limit, MAX_PAGE)
    after, ceiling = _decode_cursor(query.cursor) if query.cursor else (None, None)
    if ceiling is None:
        ceiling = latest_sequence(session)
    conditions = [Statement.voided.is_(False), Statement.sequence <= ceiling]
    if after is not None:
        conditions.append(Statement.sequence > after if query.ascending else Statement.sequence < after)
    if query.since is not None:
        conditions.append(Statement.stored > query.since)
    if query.until is not None:
        conditions.append(Statement.stored <= query.until)
    if query.authority is not None:
        conditions.append(Statement.authority_ifi == ifi_of(query.authority))
    matched = _matching_condition(query)
    if matched is not None:
        conditions.append(matched)
    order = Statement.sequence.asc() if query.ascending else Statement.sequence.desc()
    # Choose the page by sequence alone, then read its rows: sorting matches never drags their JSON along.
    page_sequences = select(Statement.sequence).where(*conditions).order_by(order).limit(limit + 1)
    rows = session.scalars(select(Statement).where(Statement.sequence.in_(page_sequences.scalar_subquery()))
                           .order_by(order)).all()
    page = StatementPage([_stored_of(row) for row in rows[:limit]])
    if len(rows) > limit:
        page.more_cursor = f"{rows[limit - 1].sequence}.{ceiling}"
    return page


def subscribe(app: Flask, callback: Callable[[Session, list[StoredStatement]], None]) -> None:
    """Call ``callback(session, statements)`` after every stored batch, in the same transaction.

    Each subscriber runs inside its own SAVEPOINT: one that fails is logged and rolled back
    alone, and the statements still commit. Stores outside an app context notify nobody.
    """
    app.extensions.setdefault(SUBSCRIBERS_KEY, []).append(callback)


def attachment_contents(session: Session, sha2s: list[str]) -> dict[str, tuple[str, bytes]]:
    """The stored contents (content type, bytes) of these attachment hashes."""
    if not sha2s:
        return {}
    rows = session.scalars(select(Attachment).where(Attachment.sha2.in_([s.lower() for s in sha2s])))
    return {row.sha2: (row.content_type, row.content) for row in rows}


# -- internals ---------------------------------------------------------------------------------


def _now_ms() -> datetime:
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _lock_sequence(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCE_LOCK_KEY})


def _complete(statement: dict, statement_id: str, stored_at: datetime, authority: dict, version: str) -> dict:
    full = json.loads(json.dumps(statement))  # a deep copy, faster than copy.deepcopy for JSON
    full["id"] = statement_id
    full["stored"] = format_stored(stored_at)
    full.setdefault("timestamp", full["stored"])
    full["authority"] = authority
    full.setdefault("version", "2.0.0" if version.startswith("2.") else "1.0.0")
    _context_activities_as_arrays(full)
    if full["object"].get("objectType") == "SubStatement":
        _context_activities_as_arrays(full["object"])
    return full


def _context_activities_as_arrays(statement: dict) -> None:
    """A single context activity is stored (and returned) as an array of one (xAPI 1.0.3 Data 2.4.6.2)."""
    activities = (statement.get("context") or {}).get("contextActivities")
    if isinstance(activities, dict):
        for key, value in activities.items():
            if not isinstance(value, list):
                activities[key] = [value]


def _row_for(full: dict, digest: str, sequence: int, stored_at: datetime) -> Statement:
    obj = full["object"]
    object_type = obj.get("objectType", "Activity")
    registration = full.get("context", {}).get("registration")
    return Statement(
        sequence=sequence, statement_id=full["id"].lower(), statement=full, content_hash=digest,
        actor_ifi=ifi_of(full["actor"]), verb_id=full["verb"]["id"],
        object_activity_id=obj["id"] if object_type == "Activity" else None,
        object_agent_ifi=ifi_of(obj) if object_type in ("Agent", "Group") else None,
        object_statement_id=obj["id"].lower() if object_type == "StatementRef" else None,
        registration=registration.lower() if registration else None,
        authority_ifi=ifi_of(full["authority"]), stored=stored_at, voided=False,
        voiding=full["verb"]["id"] == VOIDED_VERB)


def _side_rows(sequence: int, full: dict, agent_rows: list[dict] | None = None,
               activity_rows: list[dict] | None = None) -> list[StatementAgent | StatementActivity]:
    """The side-table rows of one statement: identities and activities it mentions.

    With ``agent_rows``/``activity_rows`` they are appended there as column dicts (for executemany)
    and nothing is returned; without them they are returned as model objects (benchmarks.bulk).
    """
    as_objects = agent_rows is None and activity_rows is None
    agent_rows = [] if agent_rows is None else agent_rows
    activity_rows = [] if activity_rows is None else activity_rows
    agents: dict[str, bool] = {}
    activities: dict[str, bool] = {}

    def add_agent(agent: Any, direct: bool) -> None:
        if not isinstance(agent, dict):
            return
        ifi = ifi_of(agent)
        if ifi:
            agents[ifi] = agents.get(ifi, False) or direct
        for member in agent.get("member", []) or []:
            add_agent(member, False)

    def add_statement_parts(statement: dict, top: bool) -> None:
        add_agent(statement.get("actor"), top)
        obj = statement.get("object", {})
        object_type = obj.get("objectType", "Activity")
        if object_type in ("Agent", "Group"):
            add_agent(obj, top)
        elif object_type == "Activity":
            activities[obj["id"]] = activities.get(obj["id"], False) or top
        elif object_type == "SubStatement":
            add_statement_parts(obj, False)
        context = statement.get("context", {})
        add_agent(context.get("instructor"), False)
        add_agent(context.get("team"), False)
        for entry in context.get("contextAgents", []) or []:
            add_agent(entry.get("agent"), False)
        for entry in context.get("contextGroups", []) or []:
            add_agent(entry.get("group"), False)
        for value in (context.get("contextActivities") or {}).values():
            for activity in value if isinstance(value, list) else [value]:
                activities.setdefault(activity["id"], False)

    add_statement_parts(full, True)
    add_agent(full.get("authority"), False)
    agent_rows += [{"sequence": sequence, "ifi": ifi, "direct": direct} for ifi, direct in agents.items()]
    activity_rows += [{"sequence": sequence, "activity_id": a, "direct": d} for a, d in activities.items()]
    if not as_objects:
        return []
    return ([StatementAgent(**row) for row in agent_rows]
            + [StatementActivity(**row) for row in activity_rows])


def _check_void_targets(session: Session, void_targets: dict[str, str], batch: dict[str, dict]) -> None:
    if not void_targets:
        return
    stored_voiding = set(session.scalars(select(Statement.statement_id).where(
        Statement.statement_id.in_(list(void_targets)), Statement.voiding.is_(True))))
    for target in void_targets:
        in_batch = batch.get(target)
        if target in stored_voiding or (in_batch is not None and in_batch["verb"]["id"] == VOIDED_VERB):
            raise StatementInvalid(f"statement {void_targets[target]}: object: a voiding statement "
                                   "cannot be voided (xAPI 1.0.3 2.3.2)")


def _apply_voiding(session: Session, void_targets: dict[str, str], new_rows: list[Statement]) -> None:
    if void_targets:
        session.execute(update(Statement).where(Statement.statement_id.in_(list(void_targets)),
                                                Statement.voiding.is_(False)).values(voided=True))
    # A statement that arrives after the statement voiding it is voided from the start.
    new_ids = [row.statement_id for row in new_rows if not row.voiding]
    if new_ids:
        already = select(Statement.object_statement_id).where(
            Statement.voiding.is_(True), Statement.object_statement_id.in_(new_ids))
        session.execute(update(Statement).where(Statement.statement_id.in_(already)).values(voided=True))
    # No expire_all(): the ORM UPDATEs above already set ``voided`` on the rows in this session
    # (synchronize_session="auto"), and expiring everything made reading the batch back cost one
    # SELECT per stored statement.


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


def _notify(session: Session, statements: list[StoredStatement]) -> None:
    if not has_app_context():
        return
    for callback in current_app.extensions.get(SUBSCRIBERS_KEY, []):
        savepoint = session.begin_nested()
        try:
            callback(session, statements)
            savepoint.commit()
        except Exception:
            log.exception("statement subscriber %r failed; its work is rolled back", callback)
            savepoint.rollback()


def _filter_conditions(query: StatementQuery, table: Any) -> list[Any]:
    """The statement-property filters of ``query`` as conditions on ``table`` (lrs_statements or an alias)."""
    conditions = []
    identities = [a for a in ([query.agent] if query.agent else []) + list(query.agents or [])]
    if identities:
        ifis = [i for i in (ifi_of(a) for a in identities) if i]
        agent_match = select(StatementAgent.sequence).where(StatementAgent.ifi.in_(ifis))
        if not query.related_agents:
            agent_match = agent_match.where(StatementAgent.direct.is_(True))
        conditions.append(table.sequence.in_(agent_match))
    if query.verb:
        conditions.append(table.verb_id == query.verb)
    if query.activity:
        if query.related_activities:
            conditions.append(table.sequence.in_(select(StatementActivity.sequence).where(
                StatementActivity.activity_id == query.activity)))
        else:
            conditions.append(table.object_activity_id == query.activity)
    if query.registration:
        conditions.append(table.registration == query.registration.lower())
    return conditions


def _matching_condition(query: StatementQuery) -> Any:
    """Statements matching the filters, or targeting (by StatementRef, recursively) one that does.

    The recursion starts from the StatementRef statements only, so its size is bounded by how
    many statements refer to others, not by how many match; the page itself is then read in
    sequence order and can stop at ``limit``.
    """
    conditions = _filter_conditions(query, Statement)
    if not conditions:
        return None
    referring = aliased(Statement, name="referring")
    target = aliased(Statement, name="target")
    # Start from the (few) statements that refer to another and look their target up by id; the
    # range test (not IS NOT NULL) lets SQLite read them from the object_statement_id index.
    target_matches = (select(target.sequence).where(target.statement_id == referring.object_statement_id,
                                                    *_filter_conditions(query, target)).exists())
    chain = (select(referring.sequence, referring.statement_id)
             .where(referring.object_statement_id > "", target_matches)
             .cte("referring_chain", recursive=True))
    further = aliased(Statement, name="further")
    chain = chain.union(select(further.sequence, further.statement_id)
                        .where(further.object_statement_id == chain.c.statement_id))
    return or_(and_(*conditions), and_(Statement.object_statement_id.is_not(None),
                                       Statement.sequence.in_(select(chain.c.sequence))))


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        after, ceiling = cursor.split(".", 1)
        return int(after), int(ceiling)
    except ValueError:
        raise BadRequest("cursor: not a cursor this LRS issued") from None

