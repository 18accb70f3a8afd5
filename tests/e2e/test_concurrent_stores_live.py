"""Many clients storing at once, with re-sends and voids across their batches, lose and double nothing.

A real Cairn (gunicorn, 2 workers) on a database of the kind this run tests. Six clients post
batches at once, voiding statements travelling in other clients' batches than their targets,
before or after them; then two clients send pairs of batches at the same moment: a batch and the
same batch again, a batch and the one voiding its statements.
On PostgreSQL the batches are written side by side (``lrs.statements``), so this is where a batch
that depends on one in flight must notice it. Afterwards every statement is stored once, every
target voided, the projection has seen every statement, and rebuilding it gives the same result.
"""
from __future__ import annotations

import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from cairn.accounts.services import create_user
from lrs.models import Statement
from pathways import projection
from pathways import services as pathways
from tests.conftest import make_test_app
from tests.live import live_cairn
from tests.pathways.snapshot import projection_snapshot

pytestmark = pytest.mark.e2e
CONTENT = "https://content.example.org/concurrent"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
LEARNERS = 8


def _statement(n: int) -> dict:
    return {"id": str(uuid.uuid4()), "actor": {"mbox": f"mailto:learner{n % LEARNERS}@example.org"},
            "verb": {"id": COMPLETED}, "object": {"id": f"{CONTENT}/m{n % 3}"},
            "timestamp": f"2026-11-{1 + n % 28:02d}T09:00:00.000Z"}


def _voiding(target: dict) -> dict:
    return {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:admin@example.org"},
            "verb": {"id": VOIDED}, "object": {"objectType": "StatementRef", "id": target["id"]}}


def test_clients_storing_at_once_with_resends_and_voids_lose_and_double_nothing(tmp_path) -> None:
    rng = random.Random(7)
    with live_cairn(tmp_path, "concurrent_stores", workers=2) as cairn:
        app = make_test_app(cairn.database_url)
        with app.extensions["cairn.db"].session_factory()() as session:
            pathway = pathways.create_pathway(session, title="Concurrent", outcome_kind="onboarding",
                                              activity_iri=f"{CONTENT}/pathway")
            for module in range(3):
                pathways.add_step(session, pathway.id, kind="xapi", title=f"Module {module}",
                                  launch_url=f"{CONTENT}/m{module}", activity_iri=f"{CONTENT}/m{module}")
            pathways.publish_pathway(session, pathway.id)
            for n in range(LEARNERS):
                user = create_user(session, name=f"Learner {n}", email=f"learner{n}@example.org")
                pathways.assign_pathway(session, pathway.id, user_id=user.id)
            session.commit()
        credential = json.loads(cairn.cli("credentials", "create", "--name", "load", "--scopes", "all",
                                          "--json").stdout.strip().splitlines()[-1])
        auth = (credential["key"], credential["secret"])

        statements = [_statement(n) for n in range(600)]
        targets = rng.sample(statements, 60)
        voids = [_voiding(t) for t in targets]
        batches = [statements[i:i + 20] for i in range(0, len(statements), 20)]
        for n, voiding in enumerate(voids):  # in a batch of their own client's, ahead of or behind the target
            batches[(n * 7) % len(batches)].append(voiding)
        work: list[list[list[dict]]] = [[] for _ in range(6)]
        for n, batch in enumerate(batches):
            work[n % 6].append(batch)
        for share in work:
            rng.shuffle(share)

        def post(http: requests.Session, batch: list[dict]) -> int:
            return http.post(f"{cairn.url}/xapi/statements", json=batch, auth=auth, timeout=60,
                             headers={"X-Experience-API-Version": "1.0.3"}).status_code

        def post_all(share: list[list[dict]]) -> list[int]:
            with requests.Session() as http:
                return [post(http, batch) for batch in share]

        with ThreadPoolExecutor(6) as pool:
            codes = [code for result in pool.map(post_all, work) for code in result]
        # Then pairs sent at the same moment: a batch twice, and batches beside the ones voiding them.
        raced = [_statement(n) for n in range(600, 1600)]
        raced_targets = raced[500:]
        raced_voids = [_voiding(t) for t in raced_targets]
        voids += raced_voids
        targets += raced_targets
        statements += raced
        pairs = [(raced[i:i + 100], list(raced[i:i + 100])) for i in range(0, 500, 100)]
        pairs += [(raced_targets[i:i + 100], raced_voids[i:i + 100]) for i in range(0, 500, 100)]
        barrier = threading.Barrier(2)

        def post_at_once(side: int) -> list[int]:
            with requests.Session() as http:
                found = []
                for pair in pairs:
                    time.sleep(0.3)  # both workers done with the pair before (their projection)
                    barrier.wait(timeout=30)
                    found.append(post(http, pair[side]))
                return found

        with ThreadPoolExecutor(2) as pool:
            codes += [code for result in pool.map(post_at_once, (0, 1)) for code in result]
        assert codes == [200] * len(codes)

        with app.extensions["cairn.db"].session_factory()() as session:
            rows = session.execute(select(Statement.statement_id, Statement.sequence, Statement.voided)).all()
            by_id = {row.statement_id: row for row in rows}
            assert len(rows) == len(by_id) == len(statements) + len(voids)
            assert len({row.sequence for row in rows}) == len(rows)
            voided = {t["id"] for t in targets}
            assert {row.statement_id for row in rows if row.voided} == voided
            # The projection (after each response) has seen every statement: its cursor reaches the
            # newest, and rebuilding it from the statements gives what it holds.
            newest = session.scalar(select(func.max(Statement.sequence)))
            deadline = time.monotonic() + 30
            while projection.last_applied_sequence(session) < newest and time.monotonic() < deadline:
                session.rollback()
                time.sleep(0.1)
            assert projection.last_applied_sequence(session) == newest
            incremental = projection_snapshot(session)
            with app.app_context():
                projection.rebuild(session)
            assert projection_snapshot(session) == incremental
            session.rollback()
        app.extensions["cairn.db"].dispose()
