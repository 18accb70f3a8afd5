"""Documents against real gunicorn workers on a committed database (SQLite or PostgreSQL per run).

xAPI 1.0.3 Communication 3.1: concurrent writers with If-None-Match: * never both create a document;
a refused (413) request leaves the stored document as it was; concurrent merges lose nothing.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.live import live_cairn

pytestmark = pytest.mark.e2e

AGENT = {"objectType": "Agent", "mbox": "mailto:live@example.com"}


def test_concurrent_creations_merges_and_oversized_documents_on_live_workers(tmp_path) -> None:
    with live_cairn(tmp_path, "documents_live", workers=2, CAIRN_DOCUMENT_MAX_BYTES="1000") as cairn:
        created = json.loads(cairn.cli("credentials", "create", "--name", "live", "--scopes", "all",
                                       "--json").stdout)
        session = requests.Session()
        session.auth = (created["key"], created["secret"])
        session.headers["X-Experience-API-Version"] = "1.0.3"
        url = f"{cairn.url}/xapi/agents/profile"

        def create(n: int) -> int:
            params = {"agent": json.dumps(AGENT), "profileId": "race"}
            return session.put(url, params=params, json={"writer": n}, headers={"If-None-Match": "*"},
                               timeout=30).status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = sorted(pool.map(create, range(6)))
        assert statuses == [204] + [412] * 5

        params = {"agent": json.dumps(AGENT), "profileId": "race"}
        stored = session.get(url, params=params, timeout=10)
        too_big = session.put(url, params=params, data=b"x" * 1001,
                              headers={"If-Match": stored.headers["ETag"], "Content-Type": "text/plain"},
                              timeout=10)
        assert too_big.status_code == 413
        assert "at most 1000 bytes" in too_big.json()["message"]
        again = session.get(url, params=params, timeout=10)
        assert again.content == stored.content and again.headers["ETag"] == stored.headers["ETag"]

        # Concurrent POST merges into one State document lose no property (Communication 2.2).
        state_url = f"{cairn.url}/xapi/activities/state"
        state = {"activityId": "http://example.com/live", "agent": json.dumps(AGENT), "stateId": "merged"}

        def merge(n: int) -> int:
            return session.post(state_url, params=state, json={f"k{n}": n}, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            assert set(pool.map(merge, range(12))) == {204}
        assert session.get(state_url, params=state, timeout=10).json() == {f"k{n}": n for n in range(12)}
