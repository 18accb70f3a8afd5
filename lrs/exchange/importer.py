"""Import statements from a JSON or JSON-lines file, validated like any statement, idempotent on ids.

A statement whose id is already stored with the same content is counted as already present and not
stored again; with different content it is rejected. Statements are stored in batches (all or
nothing each); a batch that fails is retried one statement at a time, each in its own SAVEPOINT,
so that every bad statement is rejected with its reason and every good one is kept.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy.orm import Session

from cairn.errors import CairnError
from lrs.services import get_statement, store_statements

# Properties the storing LRS sets itself; they do not make two statements different.
LRS_SET = ("stored", "authority", "version")


@dataclass(frozen=True)
class Rejection:
    """Why the statement at ``position`` (1-based line or array index) was not imported."""

    position: int
    statement_id: str | None
    reason: str


@dataclass
class ImportSummary:
    read: int = 0
    stored: int = 0
    already_present: int = 0
    rejected: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class _Item:
    position: int
    statement: dict | None
    error: str | None = None


def read_items(stream: IO[bytes], on_bytes: Callable[[int], None] | None = None) -> Iterator[_Item]:
    """Statements from a JSON array, a single JSON object, or JSON-lines (one statement per line).

    JSON-lines is read line by line (constant memory); a JSON document is parsed whole.
    """
    first = stream.read(1)
    while first and first.isspace():
        first = stream.read(1)
    if first == b"[":
        data = first + stream.read()
        if on_bytes:
            on_bytes(len(data))
        try:
            document = json.loads(data)
        except ValueError as exc:
            yield _Item(1, None, f"not valid JSON: {exc}")
            return
        for index, statement in enumerate(document, start=1):
            yield _check(index, statement)
        return
    position = 0
    pending = first
    for raw in stream:
        line, pending = pending + raw, b""
        if on_bytes:
            on_bytes(len(line))
        position += 1
        yield from _parse_line(position, line)
    if pending:
        yield from _parse_line(position + 1, pending)


def _parse_line(position: int, line: bytes) -> Iterator[_Item]:
    if not line.strip():
        return
    try:
        value = json.loads(line)
    except ValueError as exc:
        yield _Item(position, None, f"not valid JSON: {exc}")
        return
    yield _check(position, value)


def _check(position: int, value: Any) -> _Item:
    if not isinstance(value, dict):
        return _Item(position, None, "a statement must be a JSON object")
    return _Item(position, value)


def _core(statement: dict) -> dict:
    return {k: v for k, v in statement.items() if k not in LRS_SET}


def _existing(session: Session, statement_id: str) -> dict | None:
    found = get_statement(session, statement_id) or get_statement(session, statement_id, voided=True)
    return found.statement if found is not None else None


def _reason(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


def import_statements(session: Session, items: Iterable[_Item], *, authority: dict, batch_size: int = 500,
                      keep_authority: bool = True, after_batch: Callable[[], None] | None = None
                      ) -> ImportSummary:
    """Store the items' statements; ``authority`` is used for those that carry none (or all of them
    when ``keep_authority`` is false). Flushes, never commits; ``after_batch`` runs after each batch
    (the CLI commits there, so a long import keeps what it did if interrupted, and re-running it
    skips what is already stored)."""
    summary = ImportSummary()
    batch: list[_Item] = []
    for item in items:
        summary.read += 1
        if item.statement is None:
            summary.rejected.append(Rejection(item.position, None, item.error or "unreadable"))
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            _store_batch(session, batch, authority, keep_authority, summary)
            batch = []
            if after_batch:
                after_batch()
    if batch:
        _store_batch(session, batch, authority, keep_authority, summary)
        if after_batch:
            after_batch()
    summary.rejected.sort(key=lambda rejection: rejection.position)
    return summary


def _authority_of(item: _Item, authority: dict, keep_authority: bool) -> dict:
    assert item.statement is not None
    own = item.statement.get("authority")
    return own if keep_authority and isinstance(own, dict) else authority


def _store_batch(session: Session, batch: list[_Item], authority: dict, keep_authority: bool,
                 summary: ImportSummary) -> None:
    fresh: list[_Item] = []
    for item in batch:
        assert item.statement is not None
        statement_id = item.statement.get("id")
        existing = _existing(session, str(statement_id)) if isinstance(statement_id, str) else None
        if existing is None:
            fresh.append(item)
        elif _core(existing) == _core(item.statement):
            summary.already_present += 1
        else:
            summary.rejected.append(Rejection(item.position, statement_id,
                                              "a different statement with this id is already stored"))
    # One store call per run of statements with the same authority (usually the whole batch).
    runs: list[list[_Item]] = []
    for item in fresh:
        if runs and _authority_of(runs[-1][0], authority, keep_authority) == _authority_of(
                item, authority, keep_authority):
            runs[-1].append(item)
        else:
            runs.append([item])
    for run in runs:
        _store_run(session, run, _authority_of(run[0], authority, keep_authority), summary)


def _store_run(session: Session, run: list[_Item], authority: dict, summary: ImportSummary) -> None:
    statements = [item.statement for item in run if item.statement is not None]
    try:
        with session.begin_nested():
            store_statements(session, statements, authority=authority, version=_version(run))
        summary.stored += len(run)
        return
    except CairnError as exc:
        if len(run) == 1:
            summary.rejected.append(Rejection(run[0].position, statements[0].get("id"), _reason(exc)))
            return
    # The batch failed as a whole: find the statements at fault, one at a time.
    for item in run:
        _store_run(session, [item], authority, summary)


def _version(run: list[_Item]) -> str:
    # Statements stored under xAPI 2.0 keep 2.0 rules; everything else is validated as 1.0.3.
    versions = {str((item.statement or {}).get("version", "")) for item in run}
    return "2.0.0" if versions and all(v.startswith("2.") for v in versions) else "1.0.3"
