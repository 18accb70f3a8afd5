"""GET /statements as bounded, index-ordered reads (xAPI 1.0.3 Communication 2.1.3, Data 2.5).

A page holds the newest (or, ascending, the oldest) ``limit`` unvoided statements in a sequence range
that match the filters, either themselves or by targeting a match through a StatementRef (xAPI 1.0.3
Data 2.5 "Filter Conditions for StatementRefs"). It is read in steps that each stop early:

1. direct matches: one scan in sequence order along the index of a filter, ``LIMIT limit + 1``.
   When it fills, its last row bounds the sequence range the page can cover;
2. StatementRef statements in that range whose target matches: a join of those statements with their
   targets, which the planner starts from the smaller side (the few StatementRef statements of a
   narrow range, or the few matches of a selective filter);
3. statements in that range whose target is itself a StatementRef statement (``targets_reference``,
   kept at store time and rare) are followed down their chain of targets.

The page is the first ``limit`` of the union. Its ``more`` cursor is ``last sequence.ceiling``: the
ceiling (the newest sequence when the first page was read) keeps later arrivals out of the pages.

Each SQL statement is built once per *shape* of query (which filters are given, the order, the page's
position) with every value a bound parameter: building them anew (aliases, subqueries, a recursive CTE)
cost more CPU per request than the database spent answering them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Text,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    text,
    true,
    union,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.visitors import InternalTraversal

from lrs.errors import BadRequest
from lrs.identities import ifi_of
from lrs.models import Statement, StatementActivity, StatementAgent
from lrs.statements import MAX_PAGE, StatementPage, StatementQuery, StoredStatement, latest_sequence

Row = Any


def query_statements(session: Session, query: StatementQuery) -> StatementPage:
    """One page of unvoided statements matching ``query``, newest first unless ``ascending``.

    Statements that target a matching statement by StatementRef are returned too (xAPI 1.0.3
    2.5 "Filter Conditions for StatementRefs"). ``more_cursor`` continues the same query; the
    page boundary is a sequence number, so statements arriving meanwhile shift nothing.
    """
    limit = MAX_PAGE if query.limit <= 0 else min(query.limit, MAX_PAGE)
    after, ceiling = _decode_cursor(query.cursor) if query.cursor else (None, None)
    shape = _shape_of(query)
    values = _values_of(query)
    filtered = shape.filtered
    rows, newest = _direct_rows(session, shape, values, after, ceiling, limit + 1)
    if ceiling is None:
        # The first page reads the ceiling in the same statement (one snapshot), not in a round trip
        # of its own; only an empty page that must still look for StatementRefs asks for it apart.
        ceiling = newest if newest is not None else (latest_sequence(session) if filtered else 0)
    if filtered:
        low, high = _page_range(query, after, ceiling, rows, limit)
        seen = {row.sequence for row in rows}
        # Matches in the whole store, judged by how densely the direct rows filled this range.
        estimated_matches = len(rows) * ceiling / max(1, high - low + 1)
        for row in _referring_rows(session, shape, values, low, high, ceiling, estimated_matches):
            if row.sequence not in seen:
                seen.add(row.sequence)
                rows.append(row)
        rows.sort(key=lambda row: row.sequence, reverse=not query.ascending)
    page = StatementPage([_stored_of_row(row) for row in rows[:limit]])
    if len(rows) > limit:
        page.more_cursor = f"{rows[limit - 1].sequence}.{ceiling}"
    return page


# -- internals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """Which filters a query gives and how it is ordered: what its SQL statements depend on."""

    agents: int  # identities to match: 0, 1 or 2 (several)
    related_agents: bool
    verb: bool
    activity: bool
    related_activities: bool
    registration: bool
    since: bool
    until: bool
    authority: bool
    ascending: bool

    @property
    def filtered(self) -> bool:
        """Filters on statement properties, which a statement may also meet through its StatementRef
        target."""
        return bool(self.agents or self.verb or self.activity or self.registration)


def _shape_of(query: StatementQuery) -> _Shape:
    return _Shape(agents=min(len(_identities(query)), 2), related_agents=query.related_agents,
                  verb=bool(query.verb), activity=bool(query.activity),
                  related_activities=query.related_activities, registration=bool(query.registration),
                  since=query.since is not None, until=query.until is not None,
                  authority=query.authority is not None, ascending=query.ascending)


def _values_of(query: StatementQuery) -> dict[str, Any]:
    """The bound parameters of a query's filters (named as in the statements ``_Shape`` builds)."""
    ifis = _identities(query)
    values: dict[str, Any] = {"ifi": ifis[0] if ifis else None, "ifis": ifis, "verb": query.verb,
                              "activity": query.activity, "since": query.since, "until": query.until,
                              "registration": query.registration.lower() if query.registration else None}
    if query.authority is not None:
        values["authority"] = ifi_of(query.authority)
    return values


def _columns(table: Any) -> list[Any]:
    # The JSON as text: the response passes it through, and decoding waits until someone needs a dict.
    return [table.sequence, table.statement_id, cast(table.statement, Text).label("json_text"), table.stored,
            table.voided]


def _stored_of_row(row: Row) -> StoredStatement:
    return StoredStatement(id=row.statement_id, sequence=row.sequence, stored=row.stored, voided=row.voided,
                           json_text=row.json_text)


def _sequence_bounds(column: Any, shape: _Shape, after: bool, ceiling: bool) -> list[Any]:
    bounds = []
    if ceiling:
        bounds.append(column <= bindparam("ceiling"))
    if after:
        bounds.append(column > bindparam("after") if shape.ascending else column < bindparam("after"))
    return bounds


def _stored_bounds(column: Any, shape: _Shape) -> list[Any]:
    """since/until as a sequence range: ``stored`` never decreases as the sequence grows (the store
    keeps it so), so the first statement after ``since`` and the last up to ``until`` bound exactly the
    statements in the window, and the scan in sequence order starts and stops there."""
    bounds = []
    if shape.since:
        bounds.append(column >= select(Statement.sequence).where(Statement.stored > bindparam("since"))
                      .order_by(Statement.stored, Statement.sequence).limit(1).scalar_subquery())
    if shape.until:
        bounds.append(column <= select(Statement.sequence).where(Statement.stored <= bindparam("until"))
                      .order_by(Statement.stored.desc(), Statement.sequence.desc())
                      .limit(1).scalar_subquery())
    return bounds


def _own_conditions(shape: _Shape, *, stored: bool = True) -> list[ColumnElement[bool]]:
    """Conditions on the returned statement itself, never on the statement it targets.

    ``stored=False`` leaves since/until out for a caller that applies them as sequence bounds.
    """
    conditions: list[ColumnElement[bool]] = [Statement.voided.is_(False)]
    if shape.since and stored:
        conditions.append(Statement.stored > bindparam("since"))
    if shape.until and stored:
        conditions.append(Statement.stored <= bindparam("until"))
    if shape.authority:
        conditions.append(Statement.authority_ifi == bindparam("authority"))
    return conditions


def _identities(query: StatementQuery) -> list[str]:
    agents = ([query.agent] if query.agent else []) + list(query.agents or [])
    return [i for i in (ifi_of(a) for a in agents) if i]


def _direct_rows(session: Session, shape: _Shape, values: dict[str, Any], after: int | None,
                 ceiling: int | None, count: int) -> tuple[list[Row], int | None]:
    """The first ``count`` statements matching the filters themselves, and (first page) the newest
    sequence."""
    statement = _direct_statement(shape, after is not None, ceiling is not None)
    rows = list(session.execute(statement, {**values, "after": after, "ceiling": ceiling,
                                            "count": count}).all())
    if ceiling is None and not rows:
        return rows, None
    return rows, (rows[0].newest if ceiling is None else ceiling)


@lru_cache(maxsize=512)
def _direct_statement(shape: _Shape, after: bool, ceiling: bool) -> Any:
    """The scan of ``_direct_rows``, built once per shape.

    It runs along the ``(key, sequence)`` index of one filter: the agent's or the related
    activity's side table joined on sequence (ordering by the side table's own column, so the index
    order is the page order), otherwise ``lrs_statements`` with its per-filter indexes.
    """
    if _one_direct_agent(shape):
        return _direct_agent_statement(shape, after, ceiling)
    order_column: Any = Statement.sequence
    # since/until only as sequence bounds: as conditions on ``stored`` too, they tempted the planner
    # into reading the whole window along the stored index and sorting it.
    conditions: list[Any] = _own_conditions(shape, stored=False)
    statement = select(*_columns(Statement))
    if shape.agents == 1:
        agent = StatementAgent
        statement = statement.join(agent, agent.sequence == Statement.sequence)
        # With related_agents: one agent as actor or object only is ``_direct_agent_statement``.
        conditions.append(agent.ifi == bindparam("ifi"))
        order_column = agent.sequence
        conditions += _filter_conditions(shape, Statement, skip_agent=True)
    elif shape.activity and shape.related_activities and not shape.agents:
        activity = StatementActivity
        statement = statement.join(activity, activity.sequence == Statement.sequence)
        conditions.append(activity.activity_id == bindparam("activity"))
        order_column = activity.sequence
        conditions += _filter_conditions(shape, Statement, skip_activity=True)
    else:
        conditions += _filter_conditions(shape, Statement)
    # On the driving column, so the index range applies (the planner does not carry a range across a join).
    conditions += _sequence_bounds(order_column, shape, after, ceiling) + _stored_bounds(order_column, shape)
    if not ceiling:
        statement = statement.add_columns(select(func.max(Statement.sequence)).scalar_subquery()
                                          .label("newest"))
    order = order_column.asc() if shape.ascending else order_column.desc()
    return statement.where(*conditions).order_by(order).limit(bindparam("count", type_=Integer))


def _one_direct_agent(shape: _Shape) -> bool:
    """One identity as actor or object: ``lrs_statements``' own columns say it, no side table needed."""
    return shape.agents == 1 and not shape.related_agents


def _direct_agent_statement(shape: _Shape, after: bool, ceiling: bool) -> Any:
    """The direct scan for one identity as actor or object (``related_agents`` false).

    Two scans in sequence order, along the actor's ``(actor_ifi, sequence)`` index and along the
    object's index, each stopping at the limit, merged. Through the side table every row cost an
    agent row and a primary-key probe besides the statement itself (about 850 pages a page of 100).
    """
    def scan(agent_condition: Any) -> Any:
        conditions = [agent_condition, *map(_NotAnIndexOnSQLite, [
            *_own_conditions(shape, stored=False), *_filter_conditions(shape, Statement, skip_agent=True)])]
        conditions += _sequence_bounds(Statement.sequence, shape, after, ceiling)
        conditions += _stored_bounds(Statement.sequence, shape)
        order = Statement.sequence.asc() if shape.ascending else Statement.sequence.desc()
        # Each scan as a subquery of its own: SQLite takes no LIMIT on the members of a UNION.
        limited = (select(*_columns(Statement)).where(*conditions).order_by(order)
                   .limit(bindparam("count", type_=Integer)).subquery())
        return select(*limited.c)

    ifi = bindparam("ifi")
    # A statement whose actor is also its object is read by the actor's scan only.
    both = union_all(scan(Statement.actor_ifi == ifi),
                     scan(and_(Statement.object_agent_ifi == ifi,
                               Statement.actor_ifi.is_distinct_from(ifi)))).subquery("direct")
    statement = select(*both.c)
    if not ceiling:
        statement = statement.add_columns(select(func.max(Statement.sequence)).scalar_subquery()
                                          .label("newest"))
    order = both.c.sequence.asc() if shape.ascending else both.c.sequence.desc()
    return statement.order_by(order).limit(bindparam("count", type_=Integer))


class _NotAnIndexOnSQLite(ColumnElement[bool]):
    """A condition that SQLite must not choose an index for: ``+(condition)`` there, as it is elsewhere.

    SQLite keeps no statistics here, and for one agent as actor or object it chose a frequent
    verb's ``(verb_id, sequence)`` index over the agent's own (which gives the same order): every
    statement of that verb read, 40-100 ms at 100,000. Its documented remedy is a unary ``+``,
    which leaves the condition as it is but out of the index choice.
    """

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]  # its bound values too

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self.condition = condition


@compiles(_NotAnIndexOnSQLite)
def _compile_condition(element: _NotAnIndexOnSQLite, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.condition, **kw)


@compiles(_NotAnIndexOnSQLite, "sqlite")
def _compile_condition_out_of_index_choice(element: _NotAnIndexOnSQLite, compiler: Any, **kw: Any) -> str:
    return f"+({compiler.process(element.condition, **kw)})"


def _page_range(query: StatementQuery, after: int | None, ceiling: int, rows: list[Row],
                limit: int) -> tuple[int, int]:
    """The inclusive sequence range this page covers: up to the last direct row when they filled it."""
    full = len(rows) > limit
    if query.ascending:
        low = (after + 1) if after is not None else 1
        high = rows[-1].sequence if full else ceiling
    else:
        high = min(ceiling, after - 1) if after is not None else ceiling
        low = rows[-1].sequence if full else 1
    return low, high


# A filter matching at most this many statements is looked up from its matches (their ids, then the
# statements referring to them by index); beyond it, from the StatementRef statements of the range.
FEW_MATCHES = 1000


def _referring_rows(session: Session, shape: _Shape, values: dict[str, Any], low: int, high: int,
                   ceiling: int, estimated_matches: float) -> list[Row]:
    """Statements in ``[low, high]`` that target a match, through one StatementRef or a chain of them.

    A selective filter spans a wide range holding many StatementRef statements, but has few matches:
    the statements referring to those are found by their ``object_statement_id``. A broad filter
    spans a narrow range: its few StatementRef statements are joined with their targets. (Left to
    itself, the planner merged all StatementRef statements with the matches: 0.1 s at 1,000,000.)
    """
    if low > high:
        return []
    values = {**values, "low": low, "high": high, "ceiling": ceiling}
    by_matches = (_referring_to_few_matches(session, shape, values, low, min(high, ceiling))
                  if estimated_matches <= FEW_MATCHES else None)
    if by_matches is not None:
        return by_matches
    # One round trip; each branch keeps its own plan.
    postgresql = session.get_bind().dialect.name == "postgresql"
    return list(session.execute(_referring_statement(shape, postgresql), values).all())


def _own_in_range(shape: _Shape) -> list[Any]:
    return [*_own_conditions(shape), Statement.sequence.between(bindparam("low"), bindparam("high")),
            Statement.sequence <= bindparam("ceiling")]


# The chain index's own predicate, word for word: SQLAlchemy writes a Boolean condition as
# ``targets_reference = 1`` on SQLite, which SQLite does not take to imply the partial index's
# ``WHERE targets_reference``, so it read every statement of the range (0.3 s at 100,000).
_TARGETS_REFERENCE = text(f"{Statement.__tablename__}.targets_reference")


@lru_cache(maxsize=512)
def _through_chain_statement(shape: _Shape) -> Any:
    """Statements in the range whose chain of StatementRefs (``targets_reference``) ends at a match."""
    # Walk from the few referring statements flagged at store time; UNION (not UNION ALL) ends the
    # walk on a cycle.
    chain = (select(Statement.sequence.label("origin"), Statement.object_statement_id.label("target_id"))
             .where(_TARGETS_REFERENCE, *_own_in_range(shape))
             .cte("reference_chain", recursive=True))
    link = aliased(Statement, name="link")
    chain = chain.union(select(chain.c.origin, link.object_statement_id)
                        .join(link, link.statement_id == chain.c.target_id)
                        .where(link.object_statement_id.is_not(None)))
    end = aliased(Statement, name="chain_target")
    matched = (select(chain.c.origin).join(end, end.statement_id == chain.c.target_id)
               .where(*_filter_conditions(shape, end)))
    return select(*_columns(Statement)).where(Statement.sequence.in_(matched))


@lru_cache(maxsize=512)
def _referring_statement(shape: _Shape, postgresql: bool) -> Any:
    """The range's StatementRef statements whose target matches, with those reached through a chain."""
    target = aliased(Statement, name="target")
    in_range = [Statement.object_statement_id.is_not(None), *_own_in_range(shape)]
    if postgresql:
        direct_target = (select(*_columns(Statement))
                         .join(target, target.statement_id == Statement.object_statement_id)
                         .where(*in_range, *_filter_conditions(shape, target)))
    else:
        # SQLite, without statistics, started the join from the filter's index (every statement of a
        # frequent verb, 0.1-0.3 s at 100,000) and probed for StatementRefs to each; a correlated
        # EXISTS keeps it on the range's few StatementRef statements, one target lookup each.
        matching_target = (select(target.statement_id)
                           .where(target.statement_id == Statement.object_statement_id,
                                  *_filter_conditions(shape, target)).exists())
        direct_target = select(*_columns(Statement)).where(*in_range, matching_target)
    return direct_target.union_all(_through_chain_statement(shape))


def _referring_to_few_matches(session: Session, shape: _Shape, values: dict[str, Any], low: int,
                              high: int) -> list[Row] | None:
    """Statements in ``[low, high]`` that target a match, if at most ``FEW_MATCHES`` match (else None)."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(_referring_to_matches_statement(shape), values).all()
        if rows[0].matches > FEW_MATCHES:
            return None
        referring = [row for row in rows if row.sequence is not None]
    else:
        match_ids = session.scalars(_match_ids_statement(shape), values).all()
        if len(match_ids) > FEW_MATCHES:
            return None
        if not match_ids:
            return []  # nothing matches, so nothing refers to a match either, directly or through a chain
        referring = session.execute(_referring_to_ids_statement(shape),
                                    {**values, "match_ids": list(match_ids)}).all()
    # The range is checked here, not in SQL: there it made the planner scan the range's StatementRef
    # statements instead of looking up the few that refer to these matches.
    return [row for row in referring if low <= row.sequence <= high]


@lru_cache(maxsize=512)
def _match_ids_statement(shape: _Shape) -> Any:
    target = aliased(Statement, name="target")
    if _one_direct_agent(shape):
        # As actor and as object apart: each along its own index, the actor's carrying the ids
        # (PostgreSQL), where ``actor OR object`` read one heap page per match.
        others = [_NotAnIndexOnSQLite(c) for c in _filter_conditions(shape, target, skip_agent=True)]
        return union(select(target.statement_id).where(target.actor_ifi == bindparam("ifi"), *others),
                     select(target.statement_id).where(target.object_agent_ifi == bindparam("ifi"), *others)
                     ).limit(FEW_MATCHES + 1)
    return select(target.statement_id).where(*_filter_conditions(shape, target)).limit(FEW_MATCHES + 1)


@lru_cache(maxsize=512)
def _referring_to_ids_statement(shape: _Shape) -> Any:
    """SQLite: the statements referring to the matches whose ids are given, with the chains."""
    referring = Statement.object_statement_id.in_(bindparam("match_ids", expanding=True))
    return (select(*_columns(Statement)).where(referring, *_own_conditions(shape))
            .union_all(_through_chain_statement(shape)))


@lru_cache(maxsize=512)
def _referring_to_matches_statement(shape: _Shape) -> Any:
    """PostgreSQL: the number of matches (up to ``FEW_MATCHES + 1``) and, unless there are more than
    ``FEW_MATCHES``, the statements referring to them, with the chains; one round trip.

    Every row carries the number; when nothing refers to a match, one row carries only it. The
    matches' ids stay in the database (shipping up to a thousand of them out and back cost more
    client CPU than the lookups). Each id is looked up in the object_statement_id index, LATERAL:
    as ``= ANY(ids)`` the planner, expecting as many referring statements per id as the most voided
    statements have, read every StatementRef statement of the range instead (8,900 heap pages,
    0.1-0.3 s at 1,000,000). OFFSET 0 keeps the lookup from being flattened back into that join.
    """
    match = _match_ids_statement(shape).cte("match")
    lookup = (select(*_columns(Statement)).where(Statement.object_statement_id == match.c.statement_id,
                                                 *_own_conditions(shape))
              .offset(0).lateral("referring"))
    found = union_all(select(*lookup.c).select_from(match).join(lookup, true()),
                      _through_chain_statement(shape)).subquery("found")
    counted = select(func.count().label("matches")).select_from(match).subquery("counted")
    return (select(counted.c.matches, *found.c).select_from(counted)
            .outerjoin(found, counted.c.matches <= FEW_MATCHES))


def _filter_conditions(shape: _Shape, table: Any, *, skip_agent: bool = False,
                       skip_activity: bool = False) -> list[Any]:
    """The statement-property filters of ``shape`` as conditions on ``table`` (lrs_statements or an alias).

    ``skip_agent``/``skip_activity`` leave out a filter the caller already applies by a join.
    """
    conditions = []
    if _one_direct_agent(shape) and not skip_agent:
        # Probing one statement at a time (a target, a chain's end), its own columns are the cheapest test.
        conditions.append(or_(table.actor_ifi == bindparam("ifi"),
                              table.object_agent_ifi == bindparam("ifi")))
    elif shape.agents and not skip_agent:
        agent_match = select(StatementAgent.sequence).where(StatementAgent.ifi.in_(bindparam("ifis",
                                                                                            expanding=True)))
        if not shape.related_agents:
            agent_match = agent_match.where(StatementAgent.direct.is_(True))
        conditions.append(table.sequence.in_(agent_match))
    if shape.verb:
        conditions.append(table.verb_id == bindparam("verb"))
    if shape.activity and not skip_activity:
        if shape.related_activities:
            conditions.append(table.sequence.in_(select(StatementActivity.sequence).where(
                StatementActivity.activity_id == bindparam("activity"))))
        else:
            conditions.append(table.object_activity_id == bindparam("activity"))
    if shape.registration:
        conditions.append(table.registration == bindparam("registration"))
    return conditions


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        after, ceiling = cursor.split(".", 1)
        return int(after), int(ceiling)
    except ValueError:
        raise BadRequest("cursor: not a cursor this LRS issued") from None
