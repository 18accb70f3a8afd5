"""The statement service API other packages use (brief: the LRS service API)."""
from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from lrs import services
from lrs.errors import StatementConflict, StatementInvalid
from lrs.statement_rows import content_hash as services_content_hash
from tests.lrs.conftest import AUTHORITY, statement
from tests.sql_seen import sql_sent

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def void(target_id: str) -> dict:
    return statement(verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": target_id})


def test_store_sets_stored_authority_version_and_id_when_missing_xapi_2_4_1(db_session: Session) -> None:
    [stored] = services.store_statements(db_session, [statement(id=None)], authority=AUTHORITY)
    assert uuid.UUID(stored.id)
    assert stored.statement["id"] == stored.id
    assert stored.statement["authority"] == AUTHORITY
    assert stored.statement["version"] == "1.0.0"
    assert stored.statement["stored"].endswith("Z") and stored.stored.tzinfo is not None
    assert stored.statement["timestamp"] == stored.statement["stored"]


def test_sequence_numbers_increase_in_store_order(db_session: Session) -> None:
    first = services.store_statements(db_session, [statement(), statement()], authority=AUTHORITY)
    second = services.store_statement(db_session, statement(), authority=AUTHORITY)
    sequences = [s.sequence for s in first] + [second.sequence]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3
    assert services.latest_sequence(db_session) == second.sequence


def test_resending_identical_statement_is_idempotent_xapi_2_1_2(db_session: Session) -> None:
    body = statement()
    first = services.store_statement(db_session, body, authority=AUTHORITY)
    again = services.store_statement(db_session, dict(body), authority=AUTHORITY)
    assert again.sequence == first.sequence
    assert services.latest_sequence(db_session) == first.sequence


def test_resending_a_statement_stored_with_the_older_hash_format_is_still_idempotent(
        db_session: Session) -> None:
    # Statements stored before the orjson switch carry a standard-library JSON hash.
    body = statement(result={"response": "caf\u00e9 \u2013 \u00fcber", "score": {"scaled": 0.5}})
    first = services.store_statement(db_session, body, authority=AUTHORITY)
    legacy = hashlib.sha256(json.dumps({k: v for k, v in body.items() if k != "id"}, sort_keys=True,
                                       separators=(",", ":")).encode()).hexdigest()
    assert legacy != services_content_hash(body)
    db_session.execute(text("UPDATE lrs_statements SET content_hash = :h WHERE statement_id = :id"),
                       {"h": legacy, "id": first.id})
    again = services.store_statement(db_session, dict(body), authority=AUTHORITY)
    assert again.sequence == first.sequence
    with pytest.raises(StatementConflict):
        services.store_statement(db_session, {**body, "result": {"response": "other"}}, authority=AUTHORITY)


def test_same_id_with_different_content_conflicts_xapi_2_1_2(db_session: Session) -> None:
    body = statement()
    services.store_statement(db_session, body, authority=AUTHORITY)
    with pytest.raises(StatementConflict):
        services.store_statement(db_session, {**body, "verb": {"id": "http://example.org/other"}},
                                 authority=AUTHORITY)


def test_a_batch_is_all_or_nothing_xapi_2_1_2(db_session: Session) -> None:
    good = statement()
    bad = statement(actor={"objectType": "Agent"})
    with pytest.raises(StatementInvalid, match=r"statements\[1\]\.actor"):
        services.store_statements(db_session, [good, bad], authority=AUTHORITY)
    assert services.get_statement(db_session, good["id"]) is None


def test_duplicate_ids_in_one_batch_are_rejected(db_session: Session) -> None:
    body = statement()
    with pytest.raises(StatementInvalid, match="twice"):
        services.store_statements(db_session, [body, dict(body)], authority=AUTHORITY)


def test_voiding_hides_target_but_keeps_it_by_voided_id_xapi_2_3_2(db_session: Session) -> None:
    target = services.store_statement(db_session, statement(), authority=AUTHORITY)
    voiding = services.store_statement(db_session, void(target.id), authority=AUTHORITY)
    assert services.get_statement(db_session, target.id) is None
    assert services.get_statement(db_session, target.id, voided=True).voided is True
    page = services.query_statements(db_session, services.StatementQuery(verb=statement()["verb"]["id"]))
    ids = [s.id for s in page.statements]
    assert target.id not in ids
    assert voiding.id in ids  # it targets a statement matching the filter (xAPI 2.5 StatementRef rule)


def test_a_voiding_statement_cannot_be_voided_xapi_2_3_2(db_session: Session) -> None:
    target = services.store_statement(db_session, statement(), authority=AUTHORITY)
    voiding = services.store_statement(db_session, void(target.id), authority=AUTHORITY)
    with pytest.raises(StatementInvalid, match="cannot be voided"):
        services.store_statement(db_session, void(voiding.id), authority=AUTHORITY)


def test_iter_statements_yields_everything_in_sequence_order_voided_flagged(db_session: Session) -> None:
    start = services.latest_sequence(db_session)
    target = services.store_statement(db_session, statement(), authority=AUTHORITY)
    services.store_statement(db_session, void(target.id), authority=AUTHORITY)
    services.store_statements(db_session, [statement() for _ in range(5)], authority=AUTHORITY)
    seen = list(services.iter_statements(db_session, after_sequence=start, batch_size=2))
    assert len(seen) == 7
    assert [s.sequence for s in seen] == sorted(s.sequence for s in seen)
    assert seen[0].voided is True and seen[1].voided is False


def test_iter_statement_parts_holds_exactly_the_members_asked_for_nested_as_stored(
        db_session: Session) -> None:
    start = services.latest_sequence(db_session)
    scored = services.store_statement(db_session, statement(
        result={"success": False, "score": {"scaled": 0.5, "raw": 5}, "extensions": {"http://e.org/x": None}},
        context={"registration": str(uuid.uuid4()), "extensions": {"http://e.org/big": "x" * 100}}),
        authority=AUTHORITY)
    bare = services.store_statement(db_session, statement(), authority=AUTHORITY)
    paths = [("actor",), ("verb", "id"), ("result", "success"), ("result", "completion"),
             ("result", "score", "scaled"), ("context", "registration"), ("timestamp",)]
    seen = list(services.iter_statement_parts(db_session, paths, after_sequence=start, batch_size=1))
    assert [(s.id, s.sequence, s.stored, s.voided) for s in seen] == \
        [(x.id, x.sequence, x.stored, x.voided) for x in (scored, bare)]
    full = scored.statement
    assert seen[0].statement == {
        "actor": full["actor"], "verb": {"id": full["verb"]["id"]},
        "result": {"success": False, "score": {"scaled": 0.5}},  # completion is absent: not there either
        "context": {"registration": full["context"]["registration"]}, "timestamp": full["timestamp"]}
    assert seen[1].statement == {"actor": bare.statement["actor"],
                                 "verb": {"id": bare.statement["verb"]["id"]},
                                 "timestamp": bare.statement["timestamp"]}
    with pytest.raises(ValueError, match="member path"):
        list(services.iter_statement_parts(db_session, [("result", "score'); --",)]))


def test_member_pages_of_some_objects_or_registrations_only(db_session: Session) -> None:
    start = services.latest_sequence(db_session)
    registration = str(uuid.uuid4())
    wanted, other = "http://example.org/activities/wanted", "http://example.org/activities/other"
    about = services.store_statement(db_session, statement(object={"objectType": "Activity", "id": wanted}),
                                     authority=AUTHORITY)
    services.store_statement(db_session, statement(object={"objectType": "Activity", "id": other}),
                             authority=AUTHORITY)
    within = services.store_statement(db_session, statement(
        object={"objectType": "Activity", "id": other},
        context={"registration": registration.upper()}), authority=AUTHORITY)  # kept in lower case
    services.store_statement(db_session, statement(context={"registration": str(uuid.uuid4())}),
                             authority=AUTHORITY)

    def ids(**filters: list[str]) -> list[str]:
        pages = services.statement_member_pages(db_session, [("verb", "id")], after_sequence=start,
                                                batch_size=1, **filters)
        return [row[0] for page in pages for row in page]
    assert ids(objects=[wanted]) == [about.id]
    assert ids(registrations=[registration]) == [within.id]
    assert ids(objects=[wanted], registrations=[registration]) == [about.id, within.id]
    assert ids(objects=[], registrations=[]) == []
    assert len(ids()) == 4


def test_query_filters_by_agent_verb_activity_registration_xapi_2_1_3(db_session: Session) -> None:
    registration = str(uuid.uuid4())
    bob = {"mbox": "mailto:bob-q@example.org"}
    mine = services.store_statement(db_session, statement(
        actor=bob, context={"registration": registration,
                            "contextActivities": {"parent": [{"id": "http://example.org/course-q"}]}}),
        authority=AUTHORITY)
    services.store_statement(db_session, statement(), authority=AUTHORITY)
    q = services.StatementQuery
    assert [s.id for s in services.query_statements(db_session, q(agent=bob)).statements] == [mine.id]
    assert [s.id for s in services.query_statements(db_session,
                                                    q(registration=registration)).statements] == [mine.id]
    assert services.query_statements(db_session, q(activity="http://example.org/course-q")).statements == []
    related = services.query_statements(db_session, q(activity="http://example.org/course-q",
                                                      related_activities=True))
    assert [s.id for s in related.statements] == [mine.id]
    other = {"mbox": "mailto:nobody-q@example.org"}
    assert [s.id for s in services.query_statements(db_session,
                                                    q(agents=[other, bob])).statements] == [mine.id]


def test_query_pages_with_a_cursor_stable_while_statements_arrive(db_session: Session) -> None:
    activity = f"http://example.org/paging/{uuid.uuid4()}"
    stored = services.store_statements(
        db_session, [statement(object={"id": activity}) for _ in range(5)], authority=AUTHORITY)
    first = services.query_statements(db_session, services.StatementQuery(activity=activity, limit=2))
    assert [s.id for s in first.statements] == [stored[4].id, stored[3].id] and first.more_cursor
    services.store_statement(db_session, statement(object={"id": activity}), authority=AUTHORITY)
    seen = [s.id for s in first.statements]
    cursor = first.more_cursor
    while cursor:
        page = services.query_statements(db_session,
                                         services.StatementQuery(activity=activity, limit=2, cursor=cursor))
        seen += [s.id for s in page.statements]
        cursor = page.more_cursor
    assert seen == [s.id for s in reversed(stored)]


def test_subscribers_see_each_batch_and_a_failing_one_is_rolled_back_alone(
        app: Flask, db_session: Session) -> None:
    seen: list[list[str]] = []

    def failing(session: Session, batch: list[services.StoredStatement]) -> None:
        session.execute(text("UPDATE lrs_credentials SET name = 'changed-by-subscriber'"))
        raise RuntimeError("boom")

    services.subscribe(app, failing)
    services.subscribe(app, lambda session, batch: seen.append([s.id for s in batch]))
    with app.app_context():
        stored = services.store_statements(db_session, [statement(), statement()], authority=AUTHORITY)
    assert seen == [[s.id for s in stored]]
    assert services.get_statement(db_session, stored[0].id) is not None


def test_an_after_commit_subscriber_runs_once_the_request_has_committed(
        app: Flask, client, db_session: Session) -> None:
    from sqlalchemy import event

    from tests.lrs.conftest import XAPIClient, make_credential
    events: list[str] = []

    def committed(session: Session) -> None:
        events.append("commit")

    def after(session: Session, batch: list[services.StoredStatement]) -> None:
        events.append(f"after-commit subscriber: {len(batch)}")
        # Its own transaction: what it writes commits apart from the statements.
        session.execute(text("UPDATE lrs_credentials SET name = 'changed-after-commit'"))

    def during(session: Session, batch: list[services.StoredStatement]) -> None:
        events.append("in-transaction subscriber")

    info, secret = make_credential(db_session)
    services.subscribe(app, after, after_commit=True)
    services.subscribe(app, during)
    event.listen(Session, "after_commit", committed)
    try:
        response = XAPIClient(client, info.key, secret).post("/statements",
                                                             json_body=[statement(), statement()])
    finally:
        event.remove(Session, "after_commit", committed)
    assert response.status_code == 200, response.get_json()
    # (Other commits come and go: savepoints, the projection's own after-commit transaction.)
    during_at = events.index("in-transaction subscriber")
    after_at = events.index("after-commit subscriber: 2")
    assert during_at < events.index("commit", during_at) < after_at
    assert events[after_at + 1:] == ["commit"]
    assert db_session.scalar(text("SELECT name FROM lrs_credentials")) == "changed-after-commit"


def test_after_commit_work_runs_once_the_response_is_written(app: Flask, db_session: Session) -> None:
    """A server writes the response, then closes it (WSGI): the after-commit subscriber runs at the
    close, so the client does not wait for it."""
    import json

    from werkzeug.test import EnvironBuilder

    from tests.lrs.conftest import basic, make_credential
    seen: list[int] = []
    services.subscribe(app, lambda session, batch: seen.append(len(batch)), after_commit=True)
    info, secret = make_credential(db_session)
    headers = {"Authorization": basic(info.key, secret), "X-Experience-API-Version": "1.0.3"}
    batch = json.dumps([statement(), statement()])
    environ = EnvironBuilder(path="/xapi/statements", method="POST", headers=headers, data=batch,
                             content_type="application/json").get_environ()
    started: list[str] = []
    body = app(environ, lambda status, response_headers, exc_info=None: started.append(status))
    written = b"".join(body)
    assert started == ["200 OK"] and len(json.loads(written)) == 2
    assert seen == []  # the response is complete and the subscriber has not run
    body.close()  # type: ignore[attr-defined]
    assert seen == [2]


def test_a_failing_after_commit_subscriber_loses_no_statement(
        app: Flask, client, db_session: Session) -> None:
    from tests.lrs.conftest import XAPIClient, make_credential

    def failing(session: Session, batch: list[services.StoredStatement]) -> None:
        session.execute(text("UPDATE lrs_credentials SET name = 'changed-by-subscriber'"))
        raise RuntimeError("boom")

    info, secret = make_credential(db_session)
    services.subscribe(app, failing, after_commit=True)
    response = XAPIClient(client, info.key, secret).post("/statements", json_body=statement())
    assert response.status_code == 200, response.get_json()
    [statement_id] = response.get_json()
    assert services.get_statement(db_session, statement_id) is not None
    assert db_session.scalar(text("SELECT name FROM lrs_credentials")) == "test"


def test_outside_a_request_an_after_commit_subscriber_runs_in_the_storing_transaction(
        app: Flask, db_session: Session) -> None:
    seen: list[list[str]] = []
    services.subscribe(app, lambda session, batch: seen.append([s.id for s in batch]), after_commit=True)
    with app.app_context():
        stored = services.store_statements(db_session, [statement()], authority=AUTHORITY)
    assert seen == [[stored[0].id]]


def test_a_store_in_a_request_tells_after_commit_subscribers_at_once_unless_it_asks(
        app: Flask, db_session: Session) -> None:
    # A page that stores and then shows what a subscriber derives must see it in the same request.
    from cairn.db import get_session
    seen: list[str] = []
    services.subscribe(app, lambda session, batch: seen.append(batch[0].id), after_commit=True)
    with app.test_request_context():
        session = get_session()
        [now] = services.store_statements(session, [statement()], authority=AUTHORITY)
        assert seen == [now.id]
        [later] = services.store_statements(session, [statement()], authority=AUTHORITY,
                                            subscribers_after_commit=True)
        assert seen == [now.id]  # deferred to the request's commit


def test_storing_leaves_the_callers_statement_as_it_was(db_session: Session) -> None:
    """The stored statement is completed (id, stored, authority, version; a single context activity
    becomes an array of one, in a SubStatement too) without changing the dict the caller passed."""
    import copy
    parent = {"id": "http://example.org/activities/course"}
    sub = statement(id=None, context={"contextActivities": {"parent": parent}})
    sub["objectType"] = "SubStatement"
    sent = statement(context={"contextActivities": {"parent": parent, "grouping": [parent]}}, object=sub)
    before = copy.deepcopy(sent)
    stored = services.store_statement(db_session, sent, authority=AUTHORITY)
    assert sent == before
    assert stored.statement["context"]["contextActivities"] == {"parent": [parent], "grouping": [parent]}
    assert stored.statement["object"]["context"]["contextActivities"] == {"parent": [parent]}
    assert services.get_statement(db_session, stored.id).statement == stored.statement
    assert services.store_statement(db_session, before, authority=AUTHORITY).sequence == stored.sequence


def test_a_subscriber_without_a_savepoint_opens_one_only_around_its_work(app: Flask,
                                                                         db_session: Session) -> None:
    connection = db_session.connection()

    def savepoints(batch: list[dict]) -> int:
        with sql_sent(connection) as sent, app.app_context():
            services.store_statements(db_session, batch, authority=AUTHORITY)
        return [sql.split()[0].upper() for sql, _ in sent].count("SAVEPOINT")

    def fail() -> None:
        db_session.execute(text("UPDATE lrs_credentials SET name = 'rolled back'"))
        raise RuntimeError("boom")

    def reader(session: Session, batch: list[services.StoredStatement]) -> None:
        session.execute(text("SELECT 1"))
        if len(batch) == 2:  # work to do: in a SAVEPOINT of its own, which fails alone
            services.in_savepoint(session, fail, "test work")

    baseline = savepoints([statement()])
    services.subscribe(app, reader, savepoint=False)
    assert savepoints([statement()]) == baseline
    pair = [statement(), statement()]
    assert savepoints(pair) == baseline + 1
    assert all(services.get_statement(db_session, s["id"]) is not None for s in pair)
    assert db_session.scalar(text("SELECT count(*) FROM lrs_credentials WHERE name = 'rolled back'")) == 0


# Characters a text format escapes (tab, newline, carriage return, backslash, and COPY text's NULL
# marker) and others JSON escapes: the INSERT's JSON and the binary COPY carry them as they are.
AWKWARD = ("tab\there, new\nline, CR\r, back\\slash, \\N, \\., \\u0000 as text, \"quoted\", "
           "caf\u00e9 \U0001F600")


@pytest.mark.parametrize("size", [1, 25])  # PostgreSQL: one INSERT, and COPY from 20 statements
def test_every_character_a_statement_may_hold_is_stored_and_read_back_as_sent(db_session: Session,
                                                                            size: int) -> None:
    actor = {"objectType": "Agent", "account": {"homePage": "http://example.org", "name": AWKWARD}}
    body = statement(actor=actor, result={"response": AWKWARD, "extensions": {
                         "http://example.org/x": {AWKWARD: [AWKWARD, "\\N", 2 ** 70, -(2 ** 64), 0.1]}}},
                     object={"id": "http://example.org/a?q=%5CN", "definition": {"name": {"en": AWKWARD}}})
    *_, stored = services.store_statements(db_session, [statement() for _ in range(size - 1)] + [body],
                                           authority=AUTHORITY)
    db_session.expire_all()
    again = services.get_statement(db_session, stored.id)
    assert again is not None and again.statement == stored.statement
    assert again.statement["result"] == body["result"] and again.statement["actor"] == actor
    found = services.query_statements(db_session, services.StatementQuery(agent=actor))
    assert [s.id for s in found.statements] == [stored.id]


@pytest.mark.parametrize("place", ["response", "key"])
def test_the_character_u0000_is_refused_as_bad_input_and_the_batch_not_stored(db_session: Session, place: str
                                                                              ) -> None:
    before = services.latest_sequence(db_session)
    result = ({"response": "a\u0000b"} if place == "response"
              else {"extensions": {"http://e.org/x": {"a\u0000": 1}}})
    with pytest.raises(StatementInvalid, match=r"statements\[1\]: contains the character U\+0000"):
        services.store_statements(db_session, [statement(), statement(result=result)], authority=AUTHORITY)
    assert services.latest_sequence(db_session) == before


@pytest.mark.parametrize("where, what", [
    ("verb", "a verb id"), ("object", "an activity id"), ("context", "an activity id"),
    ("actor", "an agent identifier"), ("member", "an agent identifier"), ("wide", "an activity id")])
def test_identifiers_wider_than_the_store_keeps_are_refused_as_bad_input(db_session: Session, where: str,
                                                                         what: str) -> None:
    long_iri = "http://example.org/" + "a" * 2030  # 2,049 bytes
    # 719 characters, 2,119 bytes: within varchar(2048), but counted in bytes, the measure an index
    # entry has (2,000 such characters failed in PostgreSQL: "index row size 6080 exceeds btree
    # version 4 maximum 2704").
    wide_iri = "http://example.org/" + "".join(chr(0x4E00 + (n * 7919) % 20000) for n in range(700))
    overrides = {
        "verb": {"verb": {"id": long_iri}},
        "object": {"object": {"id": long_iri}},
        "context": {"context": {"contextActivities": {"parent": [{"id": long_iri}]}}},
        "actor": {"actor": {"mbox": "mailto:" + "a" * 2030 + "@example.org"}},
        "member": {"actor": {"objectType": "Group", "member": [
            {"account": {"homePage": long_iri, "name": "ann"}}]}},
        "wide": {"object": {"id": wide_iri}},
    }[where]
    before = services.latest_sequence(db_session)
    refusal = rf"^statement: {what} of 2,[01]\d\d bytes .*up to 2,048 bytes"
    with pytest.raises(StatementInvalid, match=refusal):
        services.store_statements(db_session, [statement(**overrides)], authority=AUTHORITY)
    assert services.latest_sequence(db_session) == before


def test_identifiers_of_exactly_the_widest_length_are_stored(db_session: Session) -> None:
    widest = "http://example.org/" + "a" * (2048 - 19)
    wide = "http://example.org/" + "".join(chr(0x4E00 + (n * 7919) % 20000) for n in range((2048 - 19) // 3))
    [stored] = services.store_statements(db_session, [statement(verb={"id": widest}, object={"id": wide})],
                                         authority=AUTHORITY)
    assert services.get_statement(db_session, stored.id).statement["object"]["id"] == wide
