"""Fill the store to the query levels (100,000 and 1,000,000 statements) quickly.

Query timings do not depend on how the rows got in, and loading a million statements over HTTP
would take most of the run's time budget. So the rows are built by the LRS's own row builders
(``lrs.services.statement_rows``, the builder ``store_statements`` uses: the completed statement,
its query columns and its agent/activity side rows) and written with COPY on PostgreSQL or
executemany on SQLite, then voiding is applied in one UPDATE. No subscriber sees these statements
(the projection is measured on its own, and ``cairn progress rebuild`` replays them).
"""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from benchmarks import generator, limit

AUTHORITY = {"objectType": "Agent", "name": "Benchmark bulk load",
             "account": {"homePage": "https://bench.example.org", "name": "bulk"}}


def available() -> bool:
    try:
        from lrs import services
    except ImportError:
        return False
    return hasattr(services, "statement_rows")


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


# Statements beyond this many are copies of earlier ones under new ids, sequences and stored times:
# the same mix of learners, verbs, activities and registrations, built at a fraction of the cost.
DISTINCT = 20_000


class Loader:
    """Keeps the LRS-built rows of the first ``DISTINCT`` statements to copy them later."""

    def __init__(self, engine: Engine, gen: generator.StatementGenerator) -> None:
        self.engine, self.gen = engine, gen
        self.columns, self.children, self.order = limit._tables(engine)
        self.templates: dict[int, tuple[dict, tuple[Any, ...], dict[str, list[tuple[Any, ...]]]]] = {}
        self.at = {name: self.columns.index(name)
                   for name in ("sequence", "statement_id", "statement", "stored")}
        self.child_seq = {name: cols.index("sequence") for name, cols in self.children.items()}

    def _template(self, index: int) -> tuple[dict, tuple[Any, ...], dict[str, list[tuple[Any, ...]]]]:
        from lrs import services
        template = self.templates.get(index)
        if template is None:
            rows = services.statement_rows([self.gen.statement(index)], 0, datetime.now(UTC),
                                           authority=AUTHORITY, version="1.0.3")
            [row] = rows.statements
            sides: dict[str, list[tuple[Any, ...]]] = {name: [] for name in self.order}
            for table, side_rows in (("lrs_statement_agents", rows.agents),
                                     ("lrs_statement_activities", rows.activities)):
                sides[table] += [tuple(side.get(c) for c in self.children[table]) for side in side_rows]
            template = (row["statement"], tuple(row.get(column) for column in self.columns), sides)
            self.templates[index] = template
        return template

    def load(self, start: int, count: int, chunk: int = 5_000) -> float:
        """Store statements [start, start+count); return statements per second."""
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as connection:
            sequence = int(connection.execute(
                text("SELECT coalesce(max(sequence), 0) FROM lrs_statements")).scalar())
        stored_at = datetime.now(UTC) - timedelta(seconds=count // 1000)
        started = time.perf_counter()
        at = self.at
        for offset in range(start, start + count, chunk):
            rows: list[tuple[Any, ...]] = []
            child_rows: dict[str, dict[int, list[tuple[Any, ...]]]] = {name: {} for name in self.order}
            for index in range(offset, min(offset + chunk, start + count)):
                sequence += 1
                stored_at += timedelta(milliseconds=1)
                full, row, sides = self._template(index % DISTINCT)
                statement_id = generator.statement_id(self.gen.seed, index)
                values = list(row)
                values[at["sequence"]], values[at["statement_id"]], values[at["stored"]] = \
                    sequence, statement_id, stored_at
                values[at["statement"]] = {**full, "id": statement_id,
                                           "stored": stored_at.isoformat(timespec="milliseconds")[:23] + "Z"}
                rows.append(tuple(values))
                for name, side_rows in sides.items():
                    seq_at = self.child_seq[name]
                    child_rows[name][sequence] = [r[:seq_at] + (sequence,) + r[seq_at + 1:]
                                                  for r in side_rows]
            if sqlite:
                rows = [tuple(_sqlite_value(v) for v in r) for r in rows]
                child_rows = {n: {s: [tuple(_sqlite_value(v) for v in r) for r in rs] for s, rs in g.items()}
                              for n, g in child_rows.items()}
            data = {"columns": self.columns, "statements": rows, "seq_at": at["sequence"],
                    "children": self.children, "order": self.order, "child_rows": child_rows}
            limit._write(self.engine, data, rows, len(rows))
        return count / (time.perf_counter() - started)

    def finish(self) -> None:
        """Apply voiding to what was loaded and refresh the planner's statistics (once per level)."""
        with self.engine.begin() as connection:
            connection.execute(text(
                "UPDATE lrs_statements SET voided = :yes WHERE voiding = :no AND voided = :no "
                "AND statement_id IN (SELECT object_statement_id FROM lrs_statements WHERE voiding = :yes)"),
                {"yes": True, "no": False})
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
