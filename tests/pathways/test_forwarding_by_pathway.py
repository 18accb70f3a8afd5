"""A forwarding target that filters on a pathway gets the statements about the pathway and its steps."""
from __future__ import annotations

import uuid

from benchmarks.recording_lrs import recording_lrs
from lrs.forwarding import targets
from lrs.forwarding.delivery import DeliveryPolicy, deliver_once
from lrs.forwarding.filters import pathway_activities_of
from lrs.services import store_statements
from pathways import services as pathways
from pathways.forwarding import pathway_activities

AUTHORITY = {"objectType": "Agent", "account": {"homePage": "http://localhost", "name": "tests"}}


def about(activity: str) -> dict:
    return {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:pat@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}, "object": {"id": activity}}


def test_a_pathway_covers_its_own_activity_and_its_steps_in_every_version(db_session) -> None:
    pathway = pathways.create_pathway(db_session, title="Forwarded", outcome_kind="compliance",
                                      activity_iri="https://example.org/pathways/fwd")
    pathways.add_step(db_session, pathway.id, kind="xapi", title="One", launch_url="https://c.example.org/1",
                      activity_iri="https://c.example.org/1")
    pathways.publish_pathway(db_session, pathway.id)
    pathways.add_step(db_session, pathway.id, kind="xapi", title="Two", launch_url="https://c.example.org/2",
                      activity_iri="https://c.example.org/2")  # goes into a new draft version
    assert pathway_activities(db_session, "https://example.org/pathways/fwd") == [
        "https://c.example.org/1", "https://c.example.org/2", "https://example.org/pathways/fwd"]
    assert pathway_activities(db_session, "https://example.org/pathways/none") == []


def test_forwarding_by_pathway_sends_only_statements_about_its_steps(app, db_session) -> None:
    pathway = pathways.create_pathway(db_session, title="Forwarded", outcome_kind="compliance",
                                      activity_iri="https://example.org/pathways/fwd2")
    pathways.add_step(db_session, pathway.id, kind="xapi", title="One", launch_url="https://c.example.org/a",
                      activity_iri="https://c.example.org/a")
    inside, outside = about("https://c.example.org/a"), about("https://c.example.org/elsewhere")
    store_statements(db_session, [inside, outside], authority=AUTHORITY)
    with recording_lrs() as remote:
        targets.create_target(db_session, endpoint=remote.endpoint, key="k", secret="s",
                              pathways=["https://example.org/pathways/fwd2"])
        db_session.commit()
        deliver_once(app.extensions["cairn.db"].session_factory(), DeliveryPolicy(),
                     pathway_activities=pathway_activities_of(app))
        assert remote.order == [inside["id"]]
