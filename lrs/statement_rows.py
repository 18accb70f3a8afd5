"""The rows the statement store writes, and how: prepared before the batch takes its numbers.

Everything that needs no database is done here first (the stored statement with its LRS-set
properties, its content hash, its agent and activity side rows); then the rows are numbered and
written: by COPY in the binary format on PostgreSQL from 20 statements, by one INSERT below that
and on SQLite. ``statement_rows`` gives the benchmark's limit the same rows.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from cairn import jsoncodec
from cairn.db import copy_rows
from lrs.errors import StatementInvalid
from lrs.identities import ifi_of
from lrs.models import Statement, StatementActivity, StatementAgent
from lrs.validation import MAX_IDENTIFIER_BYTES, VOIDED_VERB, holds_nul, too_wide, truncate_duration

# Set by the LRS, so not part of what a client's re-send is compared on.
LRS_SET_PROPERTIES = ("id", "stored", "authority", "version")


def content_hash(statement: Mapping[str, Any]) -> str:
    """The hash two sends of "the same statement" share (xAPI 1.0.3 2.5 statement comparison)."""
    return hashlib.sha256(jsoncodec.dumps(_comparable(statement), sort_keys=True)).hexdigest()


def _legacy_content_hash(statement: Mapping[str, Any]) -> str:
    """The hash stored before orjson (standard-library JSON): re-sends of older statements still match it."""
    comparable = _comparable(statement)
    return hashlib.sha256(json.dumps(comparable, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def same_content(stored_hash: str, digest: str, statement: Mapping[str, Any]) -> bool:
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
    prepared = [prepare_statement(statement, authority, authority_ifi, version) for statement in statements]
    number_statements(prepared, first_sequence, stored_at)
    rows = StatementRows()
    for item in prepared:
        rows.statements.append(item.row)
        rows.agents += item.agents
        rows.activities += item.activities
    return rows


@dataclass
class PreparedStatement:
    """One statement ready to insert but for its sequence and ``stored`` (set under the lock)."""

    statement_id: str
    digest: str
    full: dict
    row: dict[str, Any]
    agents: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    timestamp_is_stored: bool  # no timestamp was sent, so it is ``stored`` (xAPI 1.0.3 2.4.7)
    holds_nul: bool  # a string or key with U+0000, which PostgreSQL's JSON cannot hold


def prepare_statement(statement: dict, authority: dict, authority_ifi: str | None, version: str
                      ) -> PreparedStatement:
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
    return PreparedStatement(statement_id, row["content_hash"], full, row, agents, activities,
                             timestamp_is_stored, nul)


def check_storable(item: PreparedStatement, where: str) -> None:
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


def number_statements(prepared: list[PreparedStatement], first_sequence: int, stored_at: datetime) -> None:
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


_STATEMENT_COLUMNS = ("sequence", "statement_id", "statement", "content_hash", "actor_ifi", "verb_id",
                      "object_activity_id", "object_agent_ifi", "object_statement_id", "registration",
                      "authority_ifi", "stored", "voided", "voiding", "targets_reference")
# PostgreSQL, a batch of _COPY_FROM statements or more: COPY, one per table, through the driver
# (after the lookup of every id the batch names; a batch in flight beside it that has one of its ids
# makes the COPY fail, and the batch is stored again alone: lrs.statements).
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


def write_rows(session: Session, new: list[PreparedStatement]) -> None:
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


def _insert_sqlite(connection: Connection, new: list[PreparedStatement], agents: list[dict[str, Any]],
                   activities: list[dict[str, Any]]) -> None:
    connection.execute(insert(Statement.__table__), [item.row for item in new])
    if agents:
        connection.execute(insert(StatementAgent.__table__), agents)
    if activities:
        connection.execute(insert(StatementActivity.__table__), activities)


def _copy(connection: Connection, new: list[PreparedStatement], agents: list[dict[str, Any]],
          activities: list[dict[str, Any]]) -> None:
    """``write_rows`` on PostgreSQL: binary COPY, the document as JSONB encoded by our codec."""
    from psycopg.types.json import Jsonb  # the driver of PostgreSQL's dialect

    def statement_values(item: PreparedStatement) -> tuple[Any, ...]:
        values = _STATEMENT_VALUES(item.row)
        document = Jsonb(values[_DOCUMENT_AT], jsoncodec.dumps)
        return (*values[:_DOCUMENT_AT], document, *values[_DOCUMENT_AT + 1:])

    copy_rows(connection, _COPY_STATEMENTS, map(statement_values, new), _STATEMENT_TYPES)
    if agents:
        copy_rows(connection, _COPY_AGENTS, map(_AGENT_VALUES, agents), _SIDE_TYPES)
    if activities:
        copy_rows(connection, _COPY_ACTIVITIES, map(_ACTIVITY_VALUES, activities), _SIDE_TYPES)


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
