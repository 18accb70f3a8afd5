"""Reading the statement stream in sequence order: whole statements, or only some of their members."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import literal_column, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnClause

from cairn import jsoncodec
from cairn.db import in_values
from lrs.models import Statement
from lrs.statements import StoredStatement


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
                           batch_size: int = 1000, objects: Sequence[str] | None = None,
                           registrations: Sequence[str] | None = None) -> Iterator[list[StatementMembers]]:
    """Every statement after ``after_sequence``, in sequence order, a page at a time, as bare members.

    For readers of every statement that look at a few members (a projection replay): the database
    extracts them, so the rest of each document (definitions, extensions) is neither sent nor
    parsed, and no object is built per statement. Each member is [value] (JSON null: [None]), or
    None where the statement has none, so that absent and null stay apart.

    ``objects`` / ``registrations`` (either or both): only the statements whose object is one of
    these activities or whose context registration (lower case) is one of these, found by the
    indexes of those filters.
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
        # "%" formatting, not an f-string: the SQL's own braces stay as written (hence the noqa).
        members = ", ".join("CASE WHEN page.doc #> '{%(p)s}' IS NULL THEN NULL "  # noqa: UP031
                            "ELSE jsonb_build_array(page.doc #> '{%(p)s}') END" % {"p": ",".join(path)}
                            for path in paths)
        parts: ColumnClause[Any] = literal_column(f"jsonb_build_array({members})::text")
    else:
        members = ", ".join("json(CASE WHEN json_type(lrs_statements.statement, '$.%(p)s') IS NULL "  # noqa: UP031
                            "THEN NULL ELSE json_array(lrs_statements.statement -> '$.%(p)s') END)"
                            % {"p": ".".join(path)} for path in paths)
        parts = literal_column(f"json_array({members})")

    chosen = []
    if objects is not None:
        chosen.append(in_values(table.c.object_activity_id, objects))
    if registrations is not None:
        chosen.append(in_values(table.c.registration, registrations))

    def page_after(last: int) -> Any:
        page = select(*columns).where(table.c.sequence > last, *([or_(*chosen)] if chosen else []))
        page = page.order_by(table.c.sequence).limit(batch_size)
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
