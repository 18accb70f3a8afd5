"""Real Cairn servers for end-to-end and browser tests: gunicorn processes on 127.0.0.1.

Each server gets its own freshly migrated database (SQLite file or PostgreSQL database, whichever
this run tests) and commits for real, unlike the savepoint-wrapped ``app`` fixture. The server itself
is the benchmark's (``benchmarks.servers.Server``): one way to start, wait for and stop Cairn.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.servers import ROOT, Server, free_port

# A running Cairn: its URL, database URL and process (restartable, e.g. to test outages).
LiveCairn = Server

__all__ = ["ROOT", "LiveCairn", "free_port", "live_cairn"]


@contextmanager
def live_cairn(tmp_dir: Path, name: str, workers: int = 2, **extra_env: str) -> Iterator[LiveCairn]:
    """Start a Cairn on a new, migrated database named ``name``; stop it afterwards."""
    from tests.conftest import fresh_database_url, reset_database
    url = fresh_database_url(tmp_dir, name)
    reset_database(url).dispose()
    server = LiveCairn(database_url=url, port=free_port(), workers=workers, extra_env=dict(extra_env),
                       log_path=tmp_dir / f"{name}.log", secret_key="live-test-secret")
    server.start()
    try:
        yield server
    finally:
        server.stop()
