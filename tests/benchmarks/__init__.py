"""Tests of the benchmark tooling (``benchmarks/``)."""
from __future__ import annotations

import os

from sqlalchemy.engine import make_url


def postgres_url(suffix: str) -> str | None:
    """The PostgreSQL URL for a benchmark command run by a test (its databases' names start with the
    test database's, plus ``suffix``), or None when the tests run on SQLite."""
    postgres = os.environ.get("CAIRN_TEST_DATABASE_URL")
    if not postgres:
        return None
    url = make_url(postgres)
    return url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)
