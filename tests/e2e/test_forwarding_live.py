"""Two real Cairns over HTTP on 127.0.0.1, one forwarding to the other (issue 9, "Done when").

Every statement stored on the first arrives on the second exactly once, in order, also when the
second is stopped and restarted in the middle and when the forwarding workers themselves restart.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
import requests
from sqlalchemy import text

from cairn.db import make_engine
from tests.live import ROOT, LiveCairn, live_cairn

pytestmark = pytest.mark.e2e
HEADERS = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}


def credential(server: LiveCairn, name: str) -> tuple[str, str]:
    created = json.loads(server.cli("credentials", "create", "--name", name, "--scopes", "all",
                                    "--json").stdout)
    return created["key"], created["secret"]


def start_worker(server: LiveCairn) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "from cairn.cli import main; main()", "worker",
                             "--poll", "0.2"],
                            env=server.env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=20)


def batch(n: int) -> list[dict]:
    return [{"id": str(uuid.uuid4()), "actor": {"mbox": f"mailto:learner{n}-{i}@example.org"},
             "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
             "object": {"id": f"http://example.org/activities/{n}-{i}"},
             "result": {"duration": "PT1H30M"}} for i in range(3)]


def remote_statements(server: LiveCairn) -> list[tuple[int, str]]:
    """Every statement row on the server, duplicates included (read from its database directly)."""
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT sequence, statement_id FROM lrs_statements "
                                           "ORDER BY sequence"))
            return [(r[0], r[1]) for r in rows]
    finally:
        engine.dispose()


def target_error(server: LiveCairn) -> str | None:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT last_error FROM lrs_forwarding_targets")).scalar()
    finally:
        engine.dispose()


def wait_for(predicate, seconds: float = 90.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return predicate()


def test_statements_arrive_exactly_once_in_order_through_remote_and_worker_restarts(tmp_path) -> None:
    with live_cairn(tmp_path, "fwd_origin") as origin, live_cairn(tmp_path, "fwd_remote") as remote:
        client_key, client_secret = credential(origin, "content")
        remote_key, remote_secret = credential(remote, "forwarder")
        added = origin.cli("forward", "add", "--endpoint", f"{remote.url}/xapi/", "--key", remote_key,
                           "--secret", remote_secret, "--name", "remote")
        assert "added" in added.stdout
        auth = (client_key, client_secret)
        sent: list[dict] = []
        workers = [start_worker(origin), start_worker(origin)]  # two workers, as on two hosts

        def post(n: int) -> None:
            statements = batch(n)
            response = requests.post(f"{origin.url}/xapi/statements", json=statements, auth=auth,
                                     headers=HEADERS, timeout=30)
            assert response.status_code == 200, response.text
            sent.extend(statements)

        try:
            for n in range(8):
                post(n)
            assert wait_for(lambda: len(remote_statements(remote)) >= 12)  # delivery is under way
            remote.stop()  # the remote goes down in the middle of delivery
            for n in range(8, 16):
                post(n)
            assert wait_for(lambda: "unreachable" in (target_error(origin) or ""))  # seen and retried later
            stop(workers[0])  # a forwarding worker restarts too
            workers[0] = start_worker(origin)
            remote.start()  # back, on the same port and database
            for n in range(16, 24):
                post(n)
            expected = [s["id"] for s in sent]
            assert wait_for(lambda: len(remote_statements(remote)) >= len(expected)), \
                origin.cli("forward", "list").stdout
            time.sleep(1.5)  # anything duplicated would have arrived by now
        finally:
            for worker in workers:
                stop(worker)

        received = remote_statements(remote)
        assert [statement_id for _, statement_id in received] == expected  # exactly once, in order
        listed = json.loads(origin.cli("forward", "list", "--json").stdout)
        assert listed[0]["delivered"] == len(expected) and listed[0]["backlog"] == 0
        assert listed[0]["rejected"] == 0
        assert "unreachable" in listed[0]["last_error"]  # the outage really happened, and was retried
        # The content arrives as stored on the origin (the remote sets its own stored and authority).
        first = requests.get(f"{remote.url}/xapi/statements", params={"statementId": expected[0]},
                             auth=(remote_key, remote_secret), headers=HEADERS, timeout=10).json()
        original = requests.get(f"{origin.url}/xapi/statements", params={"statementId": expected[0]},
                                auth=auth, headers=HEADERS, timeout=10).json()
        lrs_set = ("stored", "authority")
        assert {k: v for k, v in first.items() if k not in lrs_set} == \
            {k: v for k, v in original.items() if k not in lrs_set}
        assert first["result"]["duration"] == "PT1H30M"
