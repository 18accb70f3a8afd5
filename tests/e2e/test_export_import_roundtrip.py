"""Export then import into an empty Cairn reproduces the same statements and the same progress (issue 9).

Two real databases of the kind this run tests; each Cairn has the same catalogue (learners, a
pathway, assignments) but the second starts with no statements. The records travel only as the
exported JSON-lines file, through ``cairn statements export`` and ``cairn statements import``.
"""
from __future__ import annotations

import uuid

import pytest

from cairn.accounts.services import create_user
from lrs.services import iter_statements, store_statements
from pathways import services as pathways
from tests.conftest import fresh_database_url, make_test_app, reset_database

pytestmark = pytest.mark.e2e
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
CONTENT = "https://content.example.org/roundtrip"
AUTHORITY = {"objectType": "Agent", "account": {"homePage": "https://origin.example.org", "name": "content"}}


def cairn(tmp_path, name: str):  # type: ignore[no-untyped-def]
    url = fresh_database_url(tmp_path, name)
    reset_database(url).dispose()
    return make_test_app(url)


def build_catalogue(app) -> tuple[dict[str, int], int]:  # type: ignore[no-untyped-def]
    with app.extensions["cairn.db"].session_factory()() as session:
        users = {name: create_user(session, name=name, email=f"{name}@example.org").id
                 for name in ("ann", "bob")}
        pathway = pathways.create_pathway(session, title="Round trip", outcome_kind="onboarding",
                                          activity_iri=f"{CONTENT}/pathway")
        for n in (1, 2):
            pathways.add_step(session, pathway.id, kind="xapi", title=f"Module {n}",
                              launch_url=f"{CONTENT}/m{n}/index.html", activity_iri=f"{CONTENT}/m{n}")
        pathways.publish_pathway(session, pathway.id)
        for user_id in users.values():
            pathways.assign_pathway(session, pathway.id, user_id=user_id)
        session.commit()
        return users, pathway.id


def completed(name: str, module: int, **extra: object) -> dict:
    return {"id": str(uuid.uuid4()), "actor": {"mbox": f"mailto:{name}@example.org", "name": name},
            "verb": {"id": COMPLETED, "display": {"en-US": "completed"}},
            "object": {"id": f"{CONTENT}/m{module}", "definition": {"name": {"en-US": f"Module {module}"}}},
            "timestamp": f"2026-11-2{module}T09:00:00.000Z", **extra}


def snapshot(app, users: dict[str, int], pathway_id: int):  # type: ignore[no-untyped-def]
    with app.extensions["cairn.db"].session_factory()() as session:
        statements = [(s.id, {k: v for k, v in s.statement.items() if k != "stored"}, s.voided)
                      for s in iter_statements(session)]
        progress = {}
        for name, user_id in users.items():
            detail = pathways.learner_pathway(session, user_id, pathway_id)
            progress[name] = (detail.progress.status, detail.progress.percent, detail.progress.completed_at,
                              [(s.step.title, s.state, s.done_at) for s in detail.steps])
        return statements, progress


def test_export_then_import_into_an_empty_cairn_gives_the_same_statements_and_progress(tmp_path) -> None:
    origin, copy = cairn(tmp_path, "rt_origin"), cairn(tmp_path, "rt_copy")
    users, pathway_id = build_catalogue(origin)
    copy_users, copy_pathway_id = build_catalogue(copy)
    bob_m2 = completed("bob", 2)
    # Stored inside the app, as a request would, so the progress projection (a subscriber) sees them.
    with origin.app_context(), origin.extensions["cairn.db"].session_factory()() as session:
        store_statements(session, [completed("ann", 1), completed("ann", 2), completed("bob", 1), bob_m2,
                                   completed("cy", 1, result={"duration": "PT1H30M"})], authority=AUTHORITY)
        store_statements(session, [{"actor": {"mbox": "mailto:admin@example.org"},
                                    "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                                    "object": {"objectType": "StatementRef", "id": bob_m2["id"]}}],
                         authority=AUTHORITY)
        session.commit()

    exported = tmp_path / "records.jsonl"
    result = origin.test_cli_runner().invoke(args=["statements", "export", "--output", str(exported)])
    assert result.exit_code == 0, result.output
    result = copy.test_cli_runner().invoke(args=["statements", "import", str(exported)])
    assert result.exit_code == 0, result.output
    assert "read 6, stored 6, already present 0, rejected 0" in result.output

    statements, progress = snapshot(origin, users, pathway_id)
    copied_statements, copied_progress = snapshot(copy, copy_users, copy_pathway_id)
    assert copied_statements == statements
    assert copied_progress == progress
    assert progress["ann"][:2] == ("completed", 100)
    assert progress["bob"][:2] == ("in_progress", 50)  # bob's second module was voided

    again = copy.test_cli_runner().invoke(args=["statements", "import", str(exported)])
    assert "stored 0, already present 6, rejected 0" in again.output
    for app in (origin, copy):
        app.extensions["cairn.db"].dispose()
