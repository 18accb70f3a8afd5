"""The projection's facts layer: one row per statement a pathway can read (``progress_facts``).

A fact holds what deriving progress reads of a statement (actor identity, verb, activity,
registration, result, timestamp), applied in sequence order. A statement has one when it is about a
step's activity or in a registration a step launched (``pathways.relevance``); a voiding statement
marks its target's fact (``voided_by``), and every voiding statement is kept in ``progress_voids``,
so a target that arrives (or becomes relevant) later is recorded voided. ``apply_statements`` also
tells which learners' pathways the new facts can change, for ``pathways.refresh`` to derive again.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy import ARRAY, String, bindparam, func, null, select, update
from sqlalchemy.orm import Session

from cairn import jsoncodec
from cairn.accounts.models import UserIdentity
from cairn.accounts.services import Identity
from cairn.db import Among, copy_rows, read_built
from pathways.catalogue import VERB_VOIDED
from pathways.models import ProgressFact, ProgressVoid, Step, StepLaunch


class StoredStatementLike(Protocol):
    id: str
    sequence: int
    statement: dict
    stored: datetime
    voided: bool


def _timestamp(raw: Any, stored: datetime) -> datetime:
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if value.tzinfo is not None:
                return value
        except ValueError:
            pass
    return stored


# The statement members the facts layer reads, in the order ``fact_values`` takes them.
FACT_PATHS = (("actor",), ("verb", "id"), ("object", "objectType"), ("object", "id"), ("result", "success"),
              ("result", "completion"), ("result", "score", "scaled"), ("context", "registration"),
              ("timestamp",))
Members = list[list[Any] | None]  # per FACT_PATHS: [value] (JSON null: [None]), or None where absent


def fact_members(statement: dict) -> Members:
    """A statement's members at ``FACT_PATHS``, as ``lrs.services.statement_member_pages`` gives them.

    Written out path by path (a walk over ``FACT_PATHS`` took twice as long, for every statement
    a pass projects); the tests hold it to the paths.
    """
    verb, target, result, context = (statement.get(key) for key in ("verb", "object", "result", "context"))
    score = result.get("score") if isinstance(result, dict) else None
    return [_at(statement, "actor"), _at(verb, "id"), _at(target, "objectType"), _at(target, "id"),
            _at(result, "success"), _at(result, "completion"), _at(score, "scaled"),
            _at(context, "registration"), _at(statement, "timestamp")]


def _at(node: Any, key: str) -> list[Any] | None:
    return [node[key]] if isinstance(node, dict) and key in node else None


def _member(members: Members, index: int, default: Any = None) -> Any:
    member = members[index]
    return default if member is None else member[0]


def void_target(members: Members) -> str | None:
    """The (lower-cased) id a voiding statement voids; None if the statement does not void."""
    if _member(members, 1) != VERB_VOIDED:
        return None
    return str(_member(members, 3, "")).lower()


def fact_values(statement_id: str, sequence: int, stored: datetime, members: Members
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


def chunks(values: list[Any], size: int = 500) -> Iterable[list[Any]]:
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

    A statement gets a fact when a pathway can read it (``pathways.relevance``): it is about an
    activity that is a step's (of any version), or it is in a registration a step launched; the
    facts are written by ``insert_rows`` (COPY, or one executemany on SQLite), no ORM object per
    fact. Every voiding statement is remembered (``progress_voids``), so that a statement voided
    before it arrives is stored voided. The statements come after the cursor (none has a fact):
    one look-up of the voids' targets and the early voids, one of the steps and launches that the
    facts' values meet (which also gives the learners and pathways they affect: ``affected=False``
    skips only the collecting), then the writes.
    """
    batch = list(batch)
    members = [fact_members(stored.statement) for stored in batch]
    targets: dict[str, str] = {}
    for stored, found in zip(batch, members, strict=True):
        target = void_target(found)
        if target is not None:
            targets[stored.id] = target
    # No statement after the cursor has a fact yet (passes, the rebuild and ``pathways.relevance``
    # record facts up to the cursor only), so only the voids' targets are looked up, and the early
    # voids of the statements the store marked voided (a voiding statement stored before its target
    # makes the target arrive voided): a few ids, where looking up the whole batch cost PostgreSQL
    # 0.7 ms a pass of 100.
    keys = sorted({s.id for s in batch if s.voided} | set(targets.values()))
    facts: dict[str, dict[str, Any]] = {}
    voids: dict[str, str] = {}
    for chunk in chunks(keys):
        for row in read_built(session, _known_facts_and_voids, {"ids": chunk}):
            if row[2] is None:
                voids[row[0]] = row[1]
            else:
                facts[row[0]] = dict(zip(_FACT_NAMES, row, strict=True))
    touched: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []  # facts of this batch, if a pathway can read them
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
        row = fact_values(stored.id, stored.sequence, stored.stored, found)
        if row is None:
            continue
        row["voided_by"] = voids.get(stored.id)
        candidates.append(row)
        facts[stored.id] = row
        touched.append(row)
    insert_rows(session, ProgressVoid, new_voids)
    if voided:
        session.execute(_VOID_FACT, voided)
    if not touched:
        return {}
    met = _steps_and_launches_met(session, touched)
    relevant = {row[:4] for row in met}
    insert_rows(session, ProgressFact, [row for row in candidates if _values_of(row) in relevant])
    return _affected_by(met) if affected else {}


def _values_of(fact: dict[str, Any]) -> tuple[str, str, str, str | None]:
    return fact["identity_kind"], fact["identity_value"], fact["activity_iri"], fact["registration"]


_FACT_TABLE = ProgressFact.__table__
_VOID_FACT = update(_FACT_TABLE).where(_FACT_TABLE.c.statement_id == bindparam("target")) \
    .values(voided_by=bindparam("by"))


def _known_facts_and_voids(among: Among) -> Any:
    """The facts and the early voids of some statement ids in one round trip; a void row has no
    identity (every fact has one)."""
    facts = among.rows(*_FACT_KEYS, key=ProgressFact.statement_id)
    voids = among.rows(ProgressVoid.target_id, ProgressVoid.voiding_id, key=ProgressVoid.target_id)
    return select(*facts.c).union_all(select(*voids.c, *(null() for _ in _FACT_KEYS[2:])))


# Up to this many rows ``insert_rows`` sends one INSERT from arrays on PostgreSQL, more by COPY.
FEW_ROWS = 50
_ARRAY_INSERTS: dict[tuple[str, tuple[str, ...]], str] = {}


def unnest_arrays(table: Any, names: Sequence[str], dialect: Any) -> str:
    """``unnest(%(name)s::type[], ...) AS v(name, ...)`` (PostgreSQL): rows from one array parameter
    per column, each cast to its column's type, to insert or update from in one statement."""
    quote = dialect.identifier_preparer.quote

    def array_of(column: Any) -> str:
        # A cast to VARCHAR(n) would cut a longer value short: the column itself refuses it.
        kind = String() if isinstance(column.type, String) else column.type
        return f"{kind.compile(dialect)}[]"

    arrays = ", ".join(f"%({name})s::{array_of(table.c[name])}" for name in names)
    return f"unnest({arrays}) AS v({', '.join(quote(name) for name in names)})"


def insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT rows (all with the same keys) by one statement for any number of rows.

    A multi-row ``insert().values(rows)`` is compiled afresh every time (its shape is the rows),
    and in a rebuild that compiling was most of the time. The column values go through the
    columns' own bind processors (UTC timestamps, JSON) and then straight to the driver: COPY on
    PostgreSQL (one stream, no statement per row: a rebuild writes millions), the driver's
    executemany of one INSERT on SQLite. A few rows on PostgreSQL (a pass's facts and progress
    rows) go as one INSERT from arrays instead: a COPY is two round trips, its start and its end.
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
    if dialect.name == "postgresql" and len(rows) <= FEW_ROWS:
        key = (table.name, tuple(names))
        sql = _ARRAY_INSERTS.get(key)
        if sql is None:
            sql = _ARRAY_INSERTS[key] = (f"INSERT INTO {quote(table.name)} ({columns}) "
                                         f"SELECT * FROM {unnest_arrays(table, names, dialect)}")
        arrays = [list(column) for column in zip(*values, strict=True)]
        connection.exec_driver_sql(sql, dict(zip(names, arrays, strict=True)))
        return
    if dialect.name == "postgresql":
        copy_rows(connection, f"COPY {quote(table.name)} ({columns}) FROM STDIN", values)
        return
    marks = ", ".join("?" for _ in names)
    connection.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})",
                               [tuple(row) for row in values])


def _steps_and_launches_met(session: Session, facts: list[dict[str, Any]]) -> list[Any]:
    """Per distinct (identity, activity, registration) of ``facts``: the steps about the activity and
    the launch of the registration, with the learners concerned (``_learners_and_pathways``); the
    values that meet neither give no row. The values go as lists (PostgreSQL) or as one JSON array
    (SQLite): nothing needs writing first, and a large store costs the look-up nothing (reading
    the facts back by their ids cost 2.9 ms a batch of 100 among 1,000,000 facts, against 1.0 ms).
    """
    keys = sorted({_values_of(f) for f in facts}, key=lambda k: (k[0], k[1], k[2], k[3] or ""))
    postgresql = session.get_bind().dialect.name == "postgresql"
    rows: list[Any] = []
    for chunk in chunks(keys):
        if postgresql:
            lists = map(list, zip(*chunk, strict=True))
            parameters: dict[str, Any] = dict(zip(_VALUE_LISTS, lists, strict=True))
        else:
            parameters = {"facts": jsoncodec.dumps_str(chunk)}
        rows.extend(read_built(session, _learners_and_pathways_of_values, parameters))
    return rows


def _affected_by(met: list[Any]) -> Affected:
    """The (learner, pathway) pairs that facts can change, from ``_steps_and_launches_met``'s rows."""
    result: Affected = {}
    for *_values, pathway_id, learner, launcher, launched_pathway in met:
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


# The list parameters of ``_learners_and_pathways_of_values``, one per fact column, in this order.
_VALUE_LISTS = ("kinds", "values", "activities", "registrations")


def _learners_and_pathways_of_values(among: Among) -> Any:
    """``_learners_and_pathways`` of facts' values: four lists (PostgreSQL), or a JSON array of
    [kind, value, activity, registration] arrays, ``facts`` (SQLite)."""
    columns = (ProgressFact.identity_kind, ProgressFact.identity_value, ProgressFact.activity_iri,
               ProgressFact.registration)
    if among.postgresql:
        facts = func.unnest(*(bindparam(name, type_=ARRAY(column.type))
                              for name, column in zip(_VALUE_LISTS, columns, strict=True))) \
            .table_valued(*(column.key for column in columns)).render_derived(name="fact_values")
    else:
        each = func.json_each(bindparam("facts", type_=String())).table_valued("value").alias("each_fact")
        facts = select(*(func.json_extract(each.c.value, f"$[{n}]").label(column.key)
                         for n, column in enumerate(columns))).subquery("fact_values")
    return _learners_and_pathways(facts)


def _learners_and_pathways(facts: Any) -> Any:
    """Per fact's values (the four first columns): the pathways with a step about its activity, its
    actor's learner, and the launcher and pathway of its registration; values with neither a step
    nor a launch give no row."""
    launched = Step.__table__.alias("launched_step")
    # A subquery, not a join: it is an index lookup for the few rows left, whatever the planner knows.
    owner = select(UserIdentity.user_id).where(
        UserIdentity.kind == facts.c.identity_kind, UserIdentity.value == facts.c.identity_value
    ).scalar_subquery()
    return (select(facts.c.identity_kind, facts.c.identity_value, facts.c.activity_iri, facts.c.registration,
                   Step.pathway_id, owner, StepLaunch.user_id, launched.c.pathway_id)
            .select_from(facts)
            .outerjoin(Step, Step.activity_iri == facts.c.activity_iri)
            .outerjoin(StepLaunch, StepLaunch.registration == facts.c.registration)
            .outerjoin(launched, launched.c.id == StepLaunch.step_id)
            .where(Step.id.is_not(None) | StepLaunch.registration.is_not(None)))
