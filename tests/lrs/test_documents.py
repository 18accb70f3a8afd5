"""The document service: xAPI 1.0.3 Communication 2.2-2.7 and 3.1 (Concurrency), on both databases."""
from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cairn.db import utcnow
from lrs import documents
from lrs.document_models import Document
from lrs.documents import (
    DocumentConflict,
    DocumentError,
    DocumentPreconditionFailed,
    DocumentTooLarge,
    Preconditions,
)

ACTIVITY = "http://example.com/activities/course-1"
AGENT = {"objectType": "Agent", "mbox": "mailto:learner@example.com"}
REGISTRATION = "8f0b4a52-6f4a-4c53-9b1e-3b5f7c5d2a10"


def state(state_id: str = "bookmark", registration: str | None = None,
          agent: dict = AGENT) -> documents.DocumentKey:
    return documents.state_key(activity_id=ACTIVITY, agent=agent, registration=registration,
                               state_id=state_id)


def profile(profile_id: str = "settings") -> documents.DocumentKey:
    return documents.activity_profile_key(activity_id=ACTIVITY, profile_id=profile_id)


def count_documents(session) -> int:
    return session.scalar(select(func.count()).select_from(Document))


def test_document_is_stored_byte_for_byte_with_its_content_type_comm_2_2(db_session) -> None:
    content = b"\x00\x01binary\xff" * 10
    documents.put_document(db_session, state(), content, "application/octet-stream")
    stored = documents.get_document(db_session, state())
    assert stored.content == content
    assert stored.content_type == "application/octet-stream"


def test_etag_is_the_lowercase_hex_sha1_of_the_bytes_comm_3_1(db_session) -> None:
    content = b'{"a": 1}'
    stored = documents.put_document(db_session, profile(), content, "application/json")
    assert stored.etag == hashlib.sha1(content).hexdigest()
    assert documents.get_document(db_session, profile()).etag == stored.etag


def test_put_replaces_the_whole_document_comm_2_3(db_session) -> None:
    documents.put_document(db_session, state(), b'{"x": 1, "y": 2}', "application/json")
    documents.put_document(db_session, state(), b'{"z": 3}', "application/json")
    assert json.loads(documents.get_document(db_session, state()).content) == {"z": 3}


def test_agents_are_matched_by_their_identifier_not_their_name_comm_2_3(db_session) -> None:
    documents.put_document(db_session, state(), b"one", "text/plain")
    same_person = {"name": "Someone", "mbox": "mailto:learner@example.com"}
    assert documents.get_document(db_session, state(agent=same_person)).content == b"one"
    other = {"account": {"homePage": "http://example.com", "name": "learner"}}
    assert documents.get_document(db_session, state(agent=other)) is None


def test_agent_needs_exactly_one_inverse_functional_identifier_comm_2_3(db_session) -> None:
    with pytest.raises(DocumentError):
        state(agent={"name": "nobody"})
    with pytest.raises(DocumentError):
        state(agent={"mbox": "mailto:a@example.com", "openid": "http://example.com/a"})
    with pytest.raises(DocumentError):
        state(agent={"account": {"name": "no home page"}})


def test_registration_must_be_a_uuid_comm_2_3(db_session) -> None:
    with pytest.raises(DocumentError):
        state(registration="true")


def test_state_with_a_registration_is_a_different_document_comm_2_3(db_session) -> None:
    documents.put_document(db_session, state(), b"none", "text/plain")
    documents.put_document(db_session, state(registration=REGISTRATION), b"reg", "text/plain")
    assert documents.get_document(db_session, state()).content == b"none"
    assert documents.get_document(db_session, state(registration=REGISTRATION.upper())).content == b"reg"


def test_post_merges_top_level_properties_of_json_objects_comm_2_2_json_procedure(db_session) -> None:
    documents.merge_document(db_session, state(), b'{"x": "foo", "y": "bar", "n": {"a": 1, "b": 2}}',
                             "application/json")
    documents.merge_document(db_session, state(), b'{"x": "bash", "z": "faz", "n": {"c": 3}}',
                             "application/json; charset=utf-8")
    stored = documents.get_document(db_session, state())
    assert json.loads(stored.content) == {"x": "bash", "y": "bar", "z": "faz", "n": {"c": 3}}
    assert stored.is_json
    assert stored.etag == hashlib.sha1(stored.content).hexdigest()


def test_post_to_a_missing_document_stores_it_as_a_put_would_comm_2_2(db_session) -> None:
    documents.merge_document(db_session, state(), b"plain text", "text/plain")
    stored = documents.get_document(db_session, state())
    assert (stored.content, stored.content_type) == (b"plain text", "text/plain")


@pytest.mark.parametrize("existing, existing_type, posted, posted_type", [
    (b'{"a": 1}', "application/json", b"abcdefg", "not/json"),
    (b"/ asdf / undefined", "application/octet-stream", b'{"a": 1}', "application/json"),
    (b'{"a": 1}', "application/json", b'{"a": 1}{', "application/json"),
    (b'{"a": 1}', "application/json", b"[1, 2]", "application/json"),
    (b"[1, 2]", "application/json", b'{"a": 1}', "application/json"),
])
def test_post_merge_when_either_side_is_not_a_json_object_is_400_and_changes_nothing_comm_2_2(
        db_session, existing, existing_type, posted, posted_type) -> None:
    documents.put_document(db_session, state(), existing, existing_type)
    before = documents.get_document(db_session, state())
    with pytest.raises(DocumentError) as raised:
        documents.merge_document(db_session, state(), posted, posted_type)
    assert raised.value.status == 400
    assert documents.get_document(db_session, state()) == before


def test_profile_put_without_precondition_on_an_existing_document_is_409_comm_3_1(db_session) -> None:
    required = Preconditions(required=True)
    documents.put_document(db_session, profile(), b"first", "text/plain", preconditions=required)
    with pytest.raises(DocumentConflict) as raised:
        documents.put_document(db_session, profile(), b"second", "text/plain", preconditions=required)
    assert "If-Match" in raised.value.message
    assert documents.get_document(db_session, profile()).content == b"first"


def test_put_creating_without_a_precondition_where_one_is_required_is_428(db_session) -> None:
    strict = Preconditions(required=True, required_to_create=True)
    with pytest.raises(documents.DocumentPreconditionRequired):
        documents.put_document(db_session, profile(), b"first", "text/plain", preconditions=strict)
    assert documents.get_document(db_session, profile()) is None
    created = Preconditions(if_none_match="*", required=True, required_to_create=True)
    documents.put_document(db_session, profile(), b"first", "text/plain", preconditions=created)
    assert documents.get_document(db_session, profile()).content == b"first"


def test_put_with_a_matching_if_match_replaces_the_document_comm_3_1(db_session) -> None:
    first = documents.put_document(db_session, profile(), b"first", "text/plain")
    documents.put_document(db_session, profile(), b"second", "text/plain",
                           preconditions=Preconditions(if_match=f'"{first.etag}"', required=True))
    assert documents.get_document(db_session, profile()).content == b"second"


@pytest.mark.parametrize("header", ['"1111111111111111111111111111111111111111"', '"1234"', 'W/"abc", "def"'])
def test_put_with_a_wrong_if_match_is_412_and_changes_nothing_comm_3_1(db_session, header) -> None:
    documents.put_document(db_session, profile(), b"first", "text/plain")
    with pytest.raises(DocumentPreconditionFailed):
        documents.put_document(db_session, profile(), b"second", "text/plain",
                               preconditions=Preconditions(if_match=header, required=True))
    assert documents.get_document(db_session, profile()).content == b"first"


def test_if_match_on_a_missing_document_is_412_comm_3_1(db_session) -> None:
    with pytest.raises(DocumentPreconditionFailed):
        documents.put_document(db_session, profile(), b"x", "text/plain",
                               preconditions=Preconditions(if_match="*"))
    assert documents.get_document(db_session, profile()) is None


def test_if_none_match_star_creates_but_never_overwrites_comm_3_1(db_session) -> None:
    create_only = Preconditions(if_none_match="*", required=True)
    documents.put_document(db_session, profile(), b"first", "text/plain", preconditions=create_only)
    with pytest.raises(DocumentPreconditionFailed):
        documents.put_document(db_session, profile(), b"second", "text/plain", preconditions=create_only)
    assert documents.get_document(db_session, profile()).content == b"first"


def test_post_and_delete_honour_if_match_comm_3_1(db_session) -> None:
    first = documents.put_document(db_session, profile(), b'{"a": 1}', "application/json")
    wrong = Preconditions(if_match='"1234"')
    with pytest.raises(DocumentPreconditionFailed):
        documents.merge_document(db_session, profile(), b'{"b": 2}', "application/json", preconditions=wrong)
    with pytest.raises(DocumentPreconditionFailed):
        documents.delete_document(db_session, profile(), preconditions=wrong)
    assert documents.get_document(db_session, profile()).content == b'{"a": 1}'
    right = Preconditions(if_match=f'"{first.etag}"')
    assert documents.delete_document(db_session, profile(), preconditions=right)
    assert documents.get_document(db_session, profile()) is None


def test_document_above_the_size_limit_is_413_and_nothing_is_stored(db_session) -> None:
    documents.put_document(db_session, state(), b"kept", "text/plain", max_bytes=10)
    with pytest.raises(DocumentTooLarge) as raised:
        documents.put_document(db_session, state(), b"x" * 11, "text/plain", max_bytes=10)
    assert raised.value.status == 413 and "at most 10 bytes" in raised.value.message
    with pytest.raises(DocumentTooLarge):
        documents.put_document(db_session, state("new"), b"x" * 11, "text/plain", max_bytes=10)
    assert documents.get_document(db_session, state()).content == b"kept"
    assert documents.get_document(db_session, state("new")) is None


def test_merge_whose_result_exceeds_the_size_limit_is_413(db_session) -> None:
    documents.put_document(db_session, state(), b'{"a": "12345"}', "application/json", max_bytes=20)
    with pytest.raises(DocumentTooLarge):
        documents.merge_document(db_session, state(), b'{"b": "12345"}', "application/json", max_bytes=20)
    assert documents.get_document(db_session, state()).content == b'{"a": "12345"}'


def test_ids_listing_with_since_is_exclusive_and_gives_last_modified_comm_2_3(db_session) -> None:
    documents.put_document(db_session, state("old"), b"1", "text/plain")
    old = documents.get_document(db_session, state("old"))
    db_session.execute(Document.__table__.update().where(Document.document_id == "old")
                       .values(updated=utcnow() - timedelta(hours=1)))
    documents.put_document(db_session, state("new"), b"2", "text/plain")
    documents.put_document(db_session, state("registered", registration=REGISTRATION), b"3", "text/plain")
    documents.put_document(db_session, state("elsewhere", agent={"mbox": "mailto:x@example.com"}), b"4",
                           "text/plain")
    scope = documents.state_scope(activity_id=ACTIVITY, agent=AGENT)
    everything = documents.list_document_ids(db_session, scope)
    assert sorted(everything.ids) == ["new", "old", "registered"]
    recent = documents.list_document_ids(db_session, scope, since=old.updated)
    assert sorted(recent.ids) == ["new", "registered"]
    registered = documents.state_scope(activity_id=ACTIVITY, agent=AGENT, registration=REGISTRATION)
    assert documents.list_document_ids(db_session, registered).ids == ["registered"]
    newest = documents.get_document(db_session, state("registered", REGISTRATION))
    assert recent.last_modified == newest.updated


def test_state_delete_without_state_id_deletes_the_whole_context_comm_2_3(db_session) -> None:
    for state_id in ("a", "b"):
        documents.put_document(db_session, state(state_id), b"1", "text/plain")
    documents.put_document(db_session, state("r", registration=REGISTRATION), b"1", "text/plain")
    other_agent = {"mbox": "mailto:x@example.com"}
    documents.put_document(db_session, state("other", agent=other_agent), b"1", "text/plain")
    registered = documents.state_scope(activity_id=ACTIVITY, agent=AGENT, registration=REGISTRATION)
    assert documents.delete_documents(db_session, registered) == 1
    every_registration = documents.state_scope(activity_id=ACTIVITY, agent=AGENT)
    assert documents.delete_documents(db_session, every_registration) == 2
    assert count_documents(db_session) == 1


def test_profiles_of_activities_and_agents_are_separate_namespaces_comm_2_6_2_7(db_session) -> None:
    documents.put_document(db_session, profile("p"), b"activity", "text/plain")
    agent_key = documents.agent_profile_key(agent=AGENT, profile_id="p")
    documents.put_document(db_session, agent_key, b"agent", "text/plain")
    documents.put_document(db_session, state("p"), b"state", "text/plain")
    assert documents.get_document(db_session, profile("p")).content == b"activity"
    assert documents.get_document(db_session, agent_key).content == b"agent"
    assert documents.list_document_ids(db_session, documents.agent_profile_scope(agent=AGENT)).ids == ["p"]


def test_state_shortcuts_for_other_packages(db_session) -> None:
    from lrs import services
    services.put_state_document(db_session, activity_id=ACTIVITY, agent=AGENT, registration=REGISTRATION,
                                state_id="LMS.LaunchData", content=b'{"launchMode": "Normal"}',
                                content_type="application/json")
    stored = services.get_state_document(db_session, activity_id=ACTIVITY, agent=AGENT,
                                         registration=REGISTRATION, state_id="LMS.LaunchData")
    assert json.loads(stored.content) == {"launchMode": "Normal"}
    assert services.delete_state_document(db_session, activity_id=ACTIVITY, agent=AGENT,
                                          registration=REGISTRATION, state_id="LMS.LaunchData")


def test_concurrent_creations_of_one_document_leave_one_and_refuse_the_other(tmp_path) -> None:
    """Two writers racing with If-None-Match: * — exactly one wins, the other gets 412."""
    from sqlalchemy.orm import Session

    from tests.conftest import fresh_database_url, reset_database
    engine = reset_database(fresh_database_url(tmp_path, "docrace"))
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def writer(body: bytes) -> None:
        with Session(engine) as session:
            barrier.wait()
            try:
                documents.put_document(session, profile(), body, "text/plain",
                                       preconditions=Preconditions(if_none_match="*", required=True))
                session.commit()
                outcomes.append("stored")
            except DocumentPreconditionFailed:
                session.rollback()
                outcomes.append("412")

    try:
        threads = [threading.Thread(target=writer, args=(body,)) for body in (b"one", b"two")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["412", "stored"]
        with Session(engine) as session:
            assert count_documents(session) == 1
    finally:
        engine.dispose()
