"""The database limit: the statement rows the LRS wrote, written again straight through the driver.

The rows of a run's statements (``lrs_statements`` and every table whose rows hang off a statement's
``sequence``) are read back from the benchmark database and inserted into a fresh database with the
same migrations, so the same tables, constraints and indexes, with ``COPY`` on PostgreSQL and
``executemany`` on SQLite (the fastest way in on each) and one commit per batch: the cost of the writes
alone, without HTTP, JSON parsing, validation or Python model objects. The LRS's ingest rate divided by
this rate says how close to the database it gets.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

STATEMENTS = "lrs_statements"


# The tables whose rows hang off a statement's ``sequence``, written with it in the same SQL
# statement by the store (no foreign key says so since migration 0009).
CHILDREN = ("lrs_statement_agents", "lrs_statement_activities")


def _tables(engine: Engine) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """(the statement table's columns, {child table: its columns}, order) found by reflection."""
    metadata = MetaData()
    metadata.reflect(engine, only=[STATEMENTS, *CHILDREN])
    statements = metadata.tables[STATEMENTS]
    children: dict[str, list[str]] = {}
    for name in CHILDREN:
        # An autoincrement id is the database's to assign, as it was for the LRS.
        children[name] = [c.name for c in metadata.tables[name].columns
                          if not (c.primary_key and c.autoincrement is not False and c.name == "id")]
    return [c.name for c in statements.columns], children, list(children)


def remove_rows(engine: Engine, first: int, last: int) -> None:
    """Remove the rows of statements ``first``..``last`` (a run's rows, written once already) from the
    limit's own database, so that they can be written again into the tables as they were before.

    The rows of earlier runs stay, as when each run was written once. On PostgreSQL the dead rows
    are vacuumed away, so that the next write does not step over their index entries.
    """
    tables = [STATEMENTS, *CHILDREN]
    with engine.begin() as connection:
        for name in tables:
            connection.exec_driver_sql(
                f"DELETE FROM {name} WHERE sequence BETWEEN {int(first)} AND {int(last)}")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"VACUUM {', '.join(tables)}")


def read_rows(engine: Engine, first: int, last: int) -> dict[str, Any]:
    """Every row of statements with ``first <= sequence <= last``, grouped by sequence."""
    columns, children, order = _tables(engine)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT {', '.join(columns)} FROM {STATEMENTS} "
                       f"WHERE sequence BETWEEN {first} AND {last} ORDER BY sequence")
        statements = cursor.fetchall()
        by_table: dict[str, dict[int, list[tuple[Any, ...]]]] = {}
        for name in order:
            cols = children[name]
            cursor.execute(f"SELECT {', '.join(cols)} FROM {name} WHERE sequence BETWEEN {first} AND {last}")
            seq_at = cols.index("sequence")
            grouped: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
            for row in cursor.fetchall():
                grouped[row[seq_at]].append(tuple(row))
            by_table[name] = grouped
    finally:
        raw.close()
    seq_at = columns.index("sequence")
    return {"columns": columns, "statements": [tuple(r) for r in statements], "seq_at": seq_at,
            "children": children, "order": order, "child_rows": by_table}


def _adapt(engine: Engine, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    if engine.dialect.name != "postgresql":
        return rows
    from psycopg.types.json import Jsonb
    return [tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row) for row in rows]


def _copy(raw: Any, data: dict[str, Any], chunk: list[tuple[Any, ...]]) -> None:
    """One batch on PostgreSQL: COPY, the fastest way in (faster than any INSERT)."""
    from psycopg.types.json import Jsonb
    cursor = raw.cursor()
    with cursor.copy(f"COPY {STATEMENTS} ({', '.join(data['columns'])}) FROM STDIN") as copy:
        for row in chunk:
            copy.write_row(tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row))
    for name in data["order"]:
        grouped = data["child_rows"][name]
        rows = [row for s in chunk for row in grouped.get(s[data["seq_at"]], ())]
        if rows:
            with cursor.copy(f"COPY {name} ({', '.join(data['children'][name])}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    raw.commit()


def _write(engine: Engine, data: dict[str, Any], statements: list[tuple[Any, ...]], batch: int) -> None:
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            for offset in range(0, len(statements), batch):
                _copy(raw.driver_connection, data, statements[offset:offset + batch])
        finally:
            raw.close()
        return
    placeholder = "?" if engine.dialect.name == "sqlite" else "%s"
    insert_statements = (f"INSERT INTO {STATEMENTS} ({', '.join(data['columns'])}) VALUES "
                         f"({', '.join([placeholder] * len(data['columns']))})")
    inserts = {name: f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join([placeholder] * len(cols))})"
               for name, cols in data["children"].items()}
    raw = engine.raw_connection()
    try:
        for offset in range(0, len(statements), batch):
            chunk = statements[offset:offset + batch]
            cursor = raw.cursor()
            if engine.dialect.name == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(insert_statements, _adapt(engine, chunk))
            for name in data["order"]:
                grouped = data["child_rows"][name]
                rows = [row for s in chunk for row in grouped.get(s[data["seq_at"]], ())]
                if rows:
                    cursor.executemany(inserts[name], _adapt(engine, rows))
            raw.commit()
    finally:
        raw.close()


def measure_limit(engine: Engine, data: dict[str, Any], batch: int, connections: int = 1) -> dict[str, Any]:
    """Insert ``data``'s statements in batches of ``batch`` over ``connections`` connections."""
    statements = data["statements"]
    shares = [statements[i::connections] for i in range(connections)] if connections > 1 else [statements]
    # Keep each connection's batches whole: split by batch, deal batches round-robin.
    if connections > 1:
        batches = [statements[i:i + batch] for i in range(0, len(statements), batch)]
        shares = [[s for b in batches[i::connections] for s in b] for i in range(connections)]
    errors: list[BaseException] = []

    def work(share: list[tuple[Any, ...]]) -> None:
        try:
            _write(engine, data, share, batch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    rows = len(statements) + sum(len(r) for g in data["child_rows"].values() for r in g.values())
    return {"statements": len(statements), "rows": rows, "batch": batch, "connections": connections,
            "seconds": round(seconds, 3), "per_second": round(len(statements) / seconds, 1)}
