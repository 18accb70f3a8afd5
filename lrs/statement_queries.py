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
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, select
from sqlalchemy.orm import Session, aliased

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
    filtered = bool(_filter_conditions(query, Statement))
    rows, newest = _direct_rows(session, query, after, ceiling, limit + 1)
    if ceiling is None:
        # The first page reads the ceiling in the same statement (one snapshot), not in a round trip
        # of its own; only an empty page that must still look for StatementRefs asks for it apart.
        ceiling = newest if newest is not None else (latest_sequence(session) if filtered else 0)
    if filtered:
        low, high = _page_range(query, after, ceiling, rows, limit)
        seen = {row.sequence for row in rows}
        # Matches in the whole store, judged by how densely the direct rows filled this range.
        estimated_matches = len(rows) * ceiling / max(1, high - low + 1)
        for row in _referring_rows(session, query, low, high, ceiling, estimated_matches):
            if row.sequence not in seen:
                seen.add(row.sequence)
                rows.append(row)
        rows.sort(key=lambda row: row.sequence, reverse=not query.ascending)
    page = StatementPage([_stored_of_row(row) for row in rows[:limit]])
    if len(rows) > limit:
        page.more_cursor = f"{rows[limit - 1].sequence}.{ceiling}"
    return page


# -- internals ---------------------------------------------------------------------------------


def _columns(table: Any) -> list[Any]:
    # The JSON as text: the response passes it through, and decoding waits until someone needs a dict.
    return [table.sequence, table.statement_id, cast(table.statement, Text).label("json_text"), table.stored,
            table.voided]


def _stored_of_row(row: Row) -> StoredStatement:
    return StoredStatement(id=row.statement_id, sequence=row.sequence, stored=row.stored, voided=row.voided,
                           json_text=row.json_text)


def _sequence_bounds(column: Any, query: StatementQuery, after: int | None, ceiling: int | None) -> list[Any]:
    bounds = []
    if ceiling is not None:
        bounds.append(column <= ceiling)
    if after is not None:
        bounds.append(column > after if query.ascending else column < after)
    return bounds


def _stored_bounds(column: Any, query: StatementQuery) -> list[Any]:
    """since/until as a sequence range: ``stored`` never decreases as the sequence grows (the store
    keeps it so), so the first statement after ``since`` and the last up to ``until`` bound exactly the
    statements in the window, and the scan in sequence order starts and stops there."""
    bounds = []
    if query.since is not None:
        bounds.append(column >= select(Statement.sequence).where(Statement.stored > query.since)
                      .order_by(Statement.stored, Statement.sequence).limit(1).scalar_subquery())
    if query.until is not None:
        bounds.append(column <= select(Statement.sequence).where(Statement.stored <= query.until)
                      .order_by(Statement.stored.desc(), Statement.sequence.desc()).limit(1).scalar_subquery())
    return bounds


def _own_conditions(query: StatementQuery, *, stored: bool = True) -> list[ColumnElement[bool]]:
    """Conditions on the returned statement itself, never on the statement it targets.

    ``stored=False`` leaves since/until out for a caller that applies them as sequence bounds.
    """
    conditions: list[ColumnElement[bool]] = [Statement.voided.is_(False)]
    if query.since is not None and stored:
        conditions.append(Statement.stored > query.since)
    if query.until is not None and stored:
        conditions.append(Statement.stored <= query.until)
    if query.authority is not None:
        conditions.append(Statement.authority_ifi == ifi_of(query.authority))
    return conditions


def _identities(query: StatementQuery) -> list[str]:
    agents = ([query.agent] if query.agent else []) + list(query.agents or [])
    return [i for i in (ifi_of(a) for a in agents) if i]


def _direct_rows(session: Session, query: StatementQuery, after: int | None, ceiling: int | None,
                 count: int) -> tuple[list[Row], int | None]:
    """The first ``count`` statements matching the filters themselves, and (first page) the newest sequence.

    The scan runs along the ``(key, sequence)`` index of one filter: the agent's or the related
    activity's side table joined on sequence (ordering by the side table's own column, so the index
    order is the page order), otherwise ``lrs_statements`` with its per-filter indexes.
    """
    order_column: Any = Statement.sequence
    # since/until only as sequence bounds: as conditions on ``stored`` too, they tempted the planner
    # into reading the whole window along the stored index and sorting it.
    conditions: list[Any] = _own_conditions(query, stored=False)
    statement = select(*_columns(Statement))
    ifis = _identities(query)
    if len(ifis) == 1:
        agent = StatementAgent
        statement = statement.join(agent, agent.sequence == Statement.sequence)
        conditions.append(agent.ifi == ifis[0])
        if not query.related_agents:
            conditions.append(agent.direct.is_(True))
        order_column = agent.sequence
        conditions += _filter_conditions(query, Statement, skip_agent=True)
    elif query.activity and query.related_activities and not ifis:
        activity = StatementActivity
        statement = statement.join(activity, activity.sequence == Statement.sequence)
        conditions.append(activity.activity_id == query.activity)
        order_column = activity.sequence
        conditions += _filter_conditions(query, Statement, skip_activity=True)
    else:
        conditions += _filter_conditions(query, Statement)
    # On the driving column, so the index range applies (the planner does not carry a range across a join).
    conditions += _sequence_bounds(order_column, query, after, ceiling) + _stored_bounds(order_column, query)
    if ceiling is None:
        statement = statement.add_columns(select(func.max(Statement.sequence)).scalar_subquery().label("newest"))
    order = order_column.asc() if query.ascending else order_column.desc()
    rows = list(session.execute(statement.where(*conditions).order_by(order).limit(count)).all())
    if ceiling is None and not rows:
        return rows, None
    return rows, (rows[0].newest if ceiling is None else ceiling)


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


def _referring_rows(session: Session, query: StatementQuery, low: int, high: int, ceiling: int,
                    estimated_matches: float) -> list[Row]:
    """Statements in ``[low, high]`` that target a match, through one StatementRef or a chain of them.

    A selective filter spans a wide range holding many StatementRef statements, but has few matches:
    the statements referring to those are found by their ``object_statement_id``. A broad filter
    spans a narrow range: its few StatementRef statements are joined with their targets. (Left to
    itself, the planner merged all StatementRef statements with the matches: 0.1 s at 1,000,000.)
    """
    if low > high:
        return []
    own = [*_own_conditions(query), Statement.sequence.between(low, high), Statement.sequence <= ceiling]
    by_matches = (_referring_to_few_matches(session, query, low, min(high, ceiling))
                  if estimated_matches <= FEW_MATCHES else None)
    # Chains (a StatementRef to a StatementRef statement): walk from the few referring statements
    # flagged at store time; UNION (not UNION ALL) ends the walk on a cycle.
    chain = (select(Statement.sequence.label("origin"), Statement.object_statement_id.label("target_id"))
             .where(Statement.targets_reference, *own)
             .cte("reference_chain", recursive=True))
    link = aliased(Statement, name="link")
    chain = chain.union(select(chain.c.origin, link.object_statement_id)
                        .join(link, link.statement_id == chain.c.target_id)
                        .where(link.object_statement_id.is_not(None)))
    end = aliased(Statement, name="chain_target")
    matched = (select(chain.c.origin).join(end, end.statement_id == chain.c.target_id)
               .where(*_filter_conditions(query, end)))
    through_chain = select(*_columns(Statement)).where(Statement.sequence.in_(matched))
    if by_matches is not None:
        return by_matches + list(session.execute(through_chain).all())
    target = aliased(Statement, name="target")
    direct_target = (select(*_columns(Statement))
                     .join(target, target.statement_id == Statement.object_statement_id)
                     .where(Statement.object_statement_id.is_not(None), *own, *_filter_conditions(query, target)))
    # One round trip; each branch keeps its own plan.
    return list(session.execute(direct_target.union_all(through_chain)).all())


def _referring_to_few_matches(session: Session, query: StatementQuery, low: int, high: int) -> list[Row] | None:
    """Statements in ``[low, high]`` that target a match, if at most ``FEW_MATCHES`` match (else None)."""
    target = aliased(Statement, name="target")
    match_ids = session.scalars(select(target.statement_id).where(*_filter_conditions(query, target))
                                .limit(FEW_MATCHES + 1)).all()
    if len(match_ids) > FEW_MATCHES:
        return None
    if not match_ids:
        return []
    # The range is checked here, not in SQL: there it made the planner scan the range's StatementRef
    # statements instead of looking up the few that refer to these matches.
    referring = session.execute(select(*_columns(Statement)).where(
        Statement.object_statement_id.in_(match_ids), *_own_conditions(query))).all()
    return [row for row in referring if low <= row.sequence <= high]


def _filter_conditions(query: StatementQuery, table: Any, *, skip_agent: bool = False,
                       skip_activity: bool = False) -> list[Any]:
    """The statement-property filters of ``query`` as conditions on ``table`` (lrs_statements or an alias).

    ``skip_agent``/``skip_activity`` leave out a filter the caller already applies by a join.
    """
    conditions = []
    ifis = _identities(query)
    if ifis and not skip_agent:
        agent_match = select(StatementAgent.sequence).where(StatementAgent.ifi.in_(ifis))
        if not query.related_agents:
            agent_match = agent_match.where(StatementAgent.direct.is_(True))
        conditions.append(table.sequence.in_(agent_match))
    if query.verb:
        conditions.append(table.verb_id == query.verb)
    if query.activity and not skip_activity:
        if query.related_activities:
            conditions.append(table.sequence.in_(select(StatementActivity.sequence).where(
                StatementActivity.activity_id == query.activity)))
        else:
            conditions.append(table.object_activity_id == query.activity)
    if query.registration:
        conditions.append(table.registration == query.registration.lower())
    return conditions


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        after, ceiling = cursor.split(".", 1)
        return int(after), int(ceiling)
    except ValueError:
        raise BadRequest("cursor: not a cursor this LRS issued") from None
