"""`cairn demo` (the pathways loader) and `cairn progress` commands."""
from __future__ import annotations

import json

from sqlalchemy import select

from cairn.accounts.models import User
from pathways import services
from pathways.models import Pathway
from tests.pathways.snapshot import projection_snapshot


def test_demo_loads_five_kinds_of_pathways_people_and_real_progress(app, db_session) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "--json"])
    assert result.exit_code == 0, result.output
    accounts = json.loads(result.output)["accounts"]
    roles = sorted(a["role"] for a in accounts)
    assert roles.count("learner") == 2 and "instructor" in roles and "administrator" in roles
    kinds = {p.outcome_kind for p in services.list_pathways(db_session, status="published")}
    assert kinds == {"onboarding", "certification", "training_attendance", "compliance", "academic"}
    assert len(services.list_categories(db_session)) >= 3 and len(services.list_audiences(db_session)) >= 2
    lea = db_session.scalar(select(User).where(User.email == "lea@example.org"))
    progress = {p.pathway.title: p for p in services.learner_pathways(db_session, lea.id)}
    assert progress["Fire safety certificate"].status == "completed"
    assert progress["Welcome to the company"].percent == 100
    assert progress["Introduction to history"].status == "in_progress"
    assert [c.status for c in services.learner_certifications(db_session, lea.id)] == ["active"]
    sam = db_session.scalar(select(User).where(User.email == "sam@example.org"))
    statuses = {p.pathway.title: p.status for p in services.learner_pathways(db_session, sam.id)}
    assert statuses["Introduction to history"] == "completed"
    instructor = db_session.scalar(select(User).where(User.email == "instructor@example.org"))
    assert services.learners_taught_by(db_session, instructor.id) == {lea.id, sam.id}
    # Loading again changes nothing and still prints the accounts.
    pathways_before = db_session.query(Pathway).count()
    again = app.test_cli_runner().invoke(args=["demo"])
    assert again.exit_code == 0 and "instructor@example.org" in again.output \
        and "lea@example.org" in again.output
    assert db_session.query(Pathway).count() == pathways_before


def test_progress_rebuild_command_reproduces_the_projection(app, db_session) -> None:
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    before = projection_snapshot(db_session)
    result = app.test_cli_runner().invoke(args=["progress", "rebuild"])
    assert result.exit_code == 0 and "progress rebuilt from" in result.output
    assert projection_snapshot(db_session) == before
    status = app.test_cli_runner().invoke(args=["progress", "status"])
    assert "behind by 0" in status.output
