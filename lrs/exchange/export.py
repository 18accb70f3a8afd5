"""Export statements as xAPI JSON-lines or CSV, streaming in constant memory.

Statements are read in sequence order, a chunk at a time; the caller may end its transaction
between chunks (``between_chunks``: the CLI and the download do, because on SQLite every
transaction holds the write lock), so exporting a million statements neither holds them in memory
nor blocks the LRS.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from sqlalchemy.orm import Session

from lrs.forwarding.filters import StatementFilter, wants
from lrs.services import StoredStatement, iter_statements

CHUNK = 1000
FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "id", "timestamp", "stored", "actor_name", "actor", "verb", "verb_display", "object_type", "object",
    "object_name", "result_success", "result_completion", "result_score_scaled", "result_score_raw",
    "result_duration", "registration", "voided",
)


def iter_export(session: Session, statement_filter: StatementFilter, *, after_sequence: int = 0,
                chunk: int = CHUNK,
                between_chunks: Callable[[], None] | None = None) -> Iterator[StoredStatement]:
    """Every stored statement that passes the filter (voiding ones with their targets), in order."""
    cursor = after_sequence
    while True:
        batch = list(islice(iter_statements(session, after_sequence=cursor, batch_size=chunk), chunk))
        selected = [s for s in batch if wants(session, statement_filter, s.statement)]
        if between_chunks is not None:
            between_chunks()
        yield from selected
        if len(batch) < chunk:
            return
        cursor = batch[-1].sequence


def jsonl_lines(statements: Iterable[StoredStatement]) -> Iterator[str]:
    """One statement per line, exactly as stored (xAPI JSON)."""
    for stored in statements:
        yield json.dumps(stored.statement, ensure_ascii=False, separators=(",", ":")) + "\n"


def _ifi(agent: dict) -> str:
    for key in ("mbox", "mbox_sha1sum", "openid"):
        if key in agent:
            return str(agent[key])
    account = agent.get("account")
    if isinstance(account, dict):
        return f"{account.get('homePage')}|{account.get('name')}"
    return ""


def _first(language_map: object) -> str:
    if not isinstance(language_map, dict) or not language_map:
        return ""
    for tag in ("en-US", "en-GB", "en", "und"):
        if tag in language_map:
            return str(language_map[tag])
    return str(next(iter(language_map.values())))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_row(stored: StoredStatement) -> list[str]:
    """One statement flattened to the CSV columns."""
    s = stored.statement
    actor = s.get("actor") or {}
    target = s.get("object") or {}
    result = s.get("result") or {}
    score = result.get("score") or {}
    object_type = target.get("objectType", "Activity")
    name = (_first((target.get("definition") or {}).get("name")) if object_type == "Activity"
            else target.get("name", ""))
    return [_cell(v) for v in (
        stored.id, s.get("timestamp"), s.get("stored"), actor.get("name"), _ifi(actor),
        (s.get("verb") or {}).get("id"), _first((s.get("verb") or {}).get("display")), object_type,
        target.get("id") or _ifi(target), name, result.get("success"), result.get("completion"),
        score.get("scaled"), score.get("raw"), result.get("duration"),
        (s.get("context") or {}).get("registration"), stored.voided)]


def csv_lines(statements: Iterable[StoredStatement]) -> Iterator[str]:
    """A header, then one row per statement."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(CSV_COLUMNS)
    yield take()
    for stored in statements:
        writer.writerow(csv_row(stored))
        yield take()


def export_lines(session: Session, statement_filter: StatementFilter, fmt: str,
                 between_chunks: Callable[[], None] | None = None) -> Iterator[str]:
    """The export in ``fmt`` (jsonl or csv), as an iterator of text chunks."""
    statements = iter_export(session, statement_filter, between_chunks=between_chunks)
    return jsonl_lines(statements) if fmt == "jsonl" else csv_lines(statements)
