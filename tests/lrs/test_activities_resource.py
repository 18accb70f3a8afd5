"""The Activities resource: the canonical definition merged from stored statements (xAPI 1.0.3
Communication 2.5, Data 2.4.4.1), on both databases."""
from __future__ import annotations

import uuid

from lrs.activities import canonical_activity
from lrs.credentials import create_credential
from lrs.services import store_statements

ACTIVITY = "http://example.com/activities/meeting-1"
TRUSTED = {"objectType": "Agent", "account": {"homePage": "http://example.com/lrs", "name": "author"}}
UNTRUSTED = {"objectType": "Agent", "account": {"homePage": "http://example.com/lrs", "name": "writer"}}


def statement(definition: dict | None = None, *, as_context: bool = False) -> dict:
    activity: dict = {"objectType": "Activity", "id": ACTIVITY}
    if definition is not None:
        activity["definition"] = definition
    result = {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:learner@example.com"},
              "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
              "object": activity}
    if as_context:
        result["object"] = {"objectType": "Activity", "id": "http://example.com/activities/other"}
        result["context"] = {"contextActivities": {"parent": [activity]}}
    return result


def test_unknown_activity_still_gets_an_activity_object_comm_2_5(db_session) -> None:
    assert canonical_activity(db_session, "http://example.com/never-seen") == {
        "objectType": "Activity", "id": "http://example.com/never-seen"}


def test_definition_merges_language_maps_of_every_statement_comm_2_5_xapi_00254(db_session) -> None:
    store_statements(db_session, [statement({"name": {"en-US": "meeting"}, "type": "http://example.com/t1"})],
                     authority=TRUSTED)
    store_statements(db_session, [statement({"name": {"fr-FR": "réunion"}, "description": {"en-US": "d"},
                                             "type": "http://example.com/t2"}, as_context=True)],
                     authority=TRUSTED)
    assert canonical_activity(db_session, ACTIVITY) == {
        "objectType": "Activity", "id": ACTIVITY,
        "definition": {"name": {"en-US": "meeting", "fr-FR": "réunion"}, "description": {"en-US": "d"},
                       "type": "http://example.com/t2"}}


def test_only_credentials_with_define_change_the_definition_data_2_4_4_1(db_session) -> None:
    create_credential(db_session, name="author", scopes=["define", "statements/write"], authority=TRUSTED)
    create_credential(db_session, name="writer", scopes=["statements/write"], authority=UNTRUSTED)
    store_statements(db_session, [statement({"name": {"en-US": "meeting"}})], authority=TRUSTED)
    store_statements(db_session, [statement({"name": {"en-US": "vandalised"}})], authority=UNTRUSTED)
    assert canonical_activity(db_session, ACTIVITY)["definition"] == {"name": {"en-US": "meeting"}}


def test_the_newest_statement_wins_even_when_it_repeats_an_older_definition_data_2_4_4_1(db_session) -> None:
    first = {"name": {"en-US": "first"}, "type": "http://example.com/t1"}
    store_statements(db_session, [statement(first)], authority=TRUSTED)
    store_statements(db_session, [statement({"name": {"en-US": "second"}, "type": "http://example.com/t2"})],
                     authority=TRUSTED)
    store_statements(db_session, [statement(first)], authority=TRUSTED)
    assert canonical_activity(db_session, ACTIVITY)["definition"] == first


def test_definitions_inside_sub_statements_count_comm_2_5(db_session) -> None:
    inner = statement({"description": {"de-DE": "innen"}})
    sub = {"objectType": "SubStatement", "actor": inner["actor"], "verb": inner["verb"],
           "object": inner["object"]}
    outer = statement()
    outer["object"] = sub
    store_statements(db_session, [outer], authority=TRUSTED)
    assert canonical_activity(db_session, ACTIVITY)["definition"] == {"description": {"de-DE": "innen"}}
