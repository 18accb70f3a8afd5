"""Fixtures for LTI tests: a live Cairn (gunicorn, own database) and the test platform driving it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.engine import Engine

from benchmarks.lti_platform import TestPlatform, running_platform
from cairn.db import make_engine
from tests.live import LiveCairn, live_cairn

COUNTED_TABLES = ("users", "user_identities", "lti_used_nonces", "lti_contexts", "lti_context_members",
                  "lti_resource_links", "lti_launches", "web_sessions")


@dataclass
class LtiWorld:
    cairn: LiveCairn
    platform: TestPlatform
    engine: Engine

    def count(self, table: str) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())

    def counts(self) -> dict[str, int]:
        return {t: self.count(t) for t in COUNTED_TABLES}

    def query(self, sql: str, **params: object) -> list[tuple]:
        with self.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text(sql), params)]


def lti_world(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[LtiWorld]:
    """A live Cairn on a fresh database named ``name``, with the test platform registered by the CLI."""
    with live_cairn(tmp_path_factory.mktemp(name), name) as cairn:
        with running_platform(cairn.url) as platform:
            cairn.cli(*platform.registration_args())
            engine = make_engine(cairn.database_url)
            try:
                yield LtiWorld(cairn=cairn, platform=platform, engine=engine)
            finally:
                engine.dispose()


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LtiWorld]:
    name = "lti_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    yield from lti_world(tmp_path_factory, name)


@pytest.fixture()
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
