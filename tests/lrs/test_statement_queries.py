"""GET /statements filters and ordering (xAPI 1.0.3 Communication 2.1.3, Data 2.5 StatementRef filtering)."""
from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from cairn.db import make_engine
from lrs import services
from tests.lrs.conftest import AUTHORITY, statement

Q = services.StatementQuery


def ref(target_id: str, verb: str = "http://example.org/verbs/commented") -> dict:
    return statement(verb={"id": verb}, object={"objectType": "StatementRef", "id": target_id})


def test_statements_targeting_a_match_match_too_recursively_data_2_5(db_session: Session) -> None:
    activity = f"http://example.org/ref/{uuid.uuid4()}"
    c = services.store_statement(db_session, statement(object={"id": activity}), authority=AUTHORITY)
    b = services.store_statement(db_session, ref(c.id), authority=AUTHORITY)
    a = services.store_statement(db_session, ref(b.id), authority=AUTHORITY)
    services.store_statement(db_session, statement(), authority=AUTHORITY)
    page = services.query_statements(db_session, Q(activity=activity))
    assert [s.id for s in page.statements] == [a.id, b.id, c.id]


def test_since_and_until_apply_to_the_targeting_statement_itself_data_2_5(db_session: Session) -> None:
    activity = f"http://example.org/ref/{uuid.uuid4()}"
    target = services.store_statement(db_session, statement(object={"id": activity}), authority=AUTHORITY)
    time.sleep(0.01)
    later = services.store_statement(db_session, ref(target.id), authority=AUTHORITY)
    page = services.query_statements(db_session, Q(activity=activity, since=target.stored))
    assert [s.id for s in page.statements] == [later.id]
    page = services.query_statements(db_session, Q(activity=activity, until=target.stored))
    assert [s.id for s in page.statements] == [target.id]


def test_ascending_orders_oldest_first_communication_2_1_3(db_session: Session) -> None:
    activity = f"http://example.org/asc/{uuid.uuid4()}"
    stored = services.store_statements(db_session, [statement(object={"id": activity}) for _ in range(3)],
                                       authority=AUTHORITY)
    page = services.query_statements(db_session, Q(activity=activity, ascending=True, limit=2))
    assert [s.id for s in page.statements] == [stored[0].id, stored[1].id]
    rest = services.query_statements(db_session,
                                     Q(activity=activity, ascending=True, cursor=page.more_cursor))
    assert [s.id for s in rest.statements] == [stored[2].id] and rest.more_cursor is None


def test_related_agents_matches_instructor_team_and_authority_communication_2_1_3(
        db_session: Session) -> None:
    teacher = {"mbox": f"mailto:teacher-{uuid.uuid4()}@example.org"}
    stored = services.store_statement(db_session, statement(context={"instructor": teacher}),
                                      authority=AUTHORITY)
    assert services.query_statements(db_session, Q(agent=teacher)).statements == []
    related = services.query_statements(db_session, Q(agent=teacher, related_agents=True))
    assert [s.id for s in related.statements] == [stored.id]


def test_agent_filter_matches_an_agent_object_communication_2_1_3(db_session: Session) -> None:
    friend = {"objectType": "Agent", "mbox": f"mailto:friend-{uuid.uuid4()}@example.org"}
    stored = services.store_statement(db_session, statement(object=friend), authority=AUTHORITY)
    assert [s.id for s in services.query_statements(db_session, Q(agent=friend)).statements] == [stored.id]


@pytest.mark.parametrize("ascending", [False, True])
def test_agent_filter_pages_through_actor_and_object_statements_in_order_once_each_communication_2_1_3(
        db_session: Session, ascending: bool) -> None:
    """The agent's statements as actor and as object are read apart and merged: a statement with the
    agent as both comes once, and every page is in sequence order."""
    learner = {"objectType": "Agent", "mbox": f"mailto:both-{uuid.uuid4()}@example.org"}
    expected = []
    for round_ in range(3):
        services.store_statement(db_session, statement(), authority=AUTHORITY)
        expected.append(services.store_statement(db_session, statement(actor=learner),
                                                 authority=AUTHORITY).id)
        expected.append(services.store_statement(db_session, statement(object=learner),
                                                 authority=AUTHORITY).id)
        if round_ == 1:
            expected.append(services.store_statement(db_session, statement(actor=learner, object=learner),
                                                     authority=AUTHORITY).id)
    query = Q(agent=learner, limit=2, ascending=ascending)
    assert _all_pages(db_session, query) == (expected if ascending else expected[::-1])


def test_limit_zero_means_the_server_maximum_communication_2_1_3(db_session: Session) -> None:
    activity = f"http://example.org/limit/{uuid.uuid4()}"
    services.store_statements(db_session, [statement(object={"id": activity}) for _ in range(3)],
                              authority=AUTHORITY)
    assert len(services.query_statements(db_session, Q(activity=activity, limit=0)).statements) == 3


def test_statement_arriving_before_its_voiding_target_is_voided_on_arrival_data_2_3_2(
        db_session: Session) -> None:
    target_id = str(uuid.uuid4())
    services.store_statement(db_session, ref(target_id, "http://adlnet.gov/expapi/verbs/voided"),
                             authority=AUTHORITY)
    services.store_statement(db_session, statement(id=target_id), authority=AUTHORITY)
    assert services.get_statement(db_session, target_id) is None
    assert services.get_statement(db_session, target_id, voided=True) is not None


def test_sequences_follow_commit_order_under_concurrent_writers(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A writer that starts later but commits first must not get the smaller sequence (brief: service API)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's single writer serialises transactions already (BEGIN IMMEDIATE)")
    from tests.conftest import fresh_database_url, reset_database
    url = fresh_database_url(tmp_path, "sequence_order")
    engine = reset_database(url)
    try:
        first = Session(engine)
        services.store_statement(first, statement(), authority=AUTHORITY)  # holds the sequence lock
        result: dict[str, int] = {}

        def second_writer() -> None:
            other = make_engine(url)
            with Session(other) as second:
                result["second"] = services.store_statement(second, statement(), authority=AUTHORITY).sequence
                second.commit()
            other.dispose()

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second writer must wait for the first one's commit"
        first.commit()
        thread.join(timeout=10)
        with Session(engine) as check:
            sequences = [s.sequence for s in services.iter_statements(check)]
        assert result["second"] == max(sequences) and len(sequences) == 2
    finally:
        first.close()
        engine.dispose()


def test_since_filter_is_exclusive_on_stored_communication_2_1_3(db_session: Session) -> None:
    activity = f"http://example.org/since/{uuid.uuid4()}"
    stored = services.store_statement(db_session, statement(object={"id": activity}), authority=AUTHORITY)
    assert services.query_statements(db_session, Q(activity=activity, since=stored.stored)).statements == []
    earlier = stored.stored - timedelta(milliseconds=1)
    assert len(services.query_statements(db_session, Q(activity=activity, since=earlier)).statements) == 1


def _all_pages(session: Session, query: services.StatementQuery) -> list[str]:
    ids: list[str] = []
    page = services.query_statements(session, query)
    while True:
        ids += [s.id for s in page.statements]
        if page.more_cursor is None:
            return ids
        page = services.query_statements(session, Q(**{**query.__dict__, "cursor": page.more_cursor}))


@pytest.mark.parametrize("few_matches", [1000, 0], ids=["from-matches", "from-references"])
@pytest.mark.parametrize("ascending", [False, True])
def test_pages_of_matches_and_statements_targeting_them_are_complete_and_ordered_data_2_5(
        db_session: Session, ascending: bool, few_matches: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Matches and StatementRefs to them, interleaved with other statements, page by page (limit 2):
    every page's sequence range must also hold the statements that target a match from far away.
    Both ways of finding those are checked (from the filter's matches, from the range's StatementRefs)."""
    from lrs import statement_queries
    monkeypatch.setattr(statement_queries, "FEW_MATCHES", few_matches)
    learner = {"objectType": "Agent", "mbox": f"mailto:pages-{uuid.uuid4()}@example.org"}
    activity = f"http://example.org/pages/{uuid.uuid4()}"
    old_match = services.store_statement(db_session, statement(actor=learner, object={"id": activity}),
                                         authority=AUTHORITY)
    other = services.store_statement(db_session, statement(), authority=AUTHORITY)
    expected = [old_match.id]
    for round_ in range(4):
        services.store_statements(db_session, [statement() for _ in range(3)], authority=AUTHORITY)
        expected.append(services.store_statement(db_session, ref(old_match.id), authority=AUTHORITY).id)
        services.store_statement(db_session, ref(other.id), authority=AUTHORITY)
        if round_ % 2:
            expected.append(services.store_statement(
                db_session, statement(actor=learner, object={"id": activity}), authority=AUTHORITY).id)
    expected.append(services.store_statement(db_session, ref(expected[-1]), authority=AUTHORITY).id)
    ordered = expected if ascending else expected[::-1]
    for query in (Q(agent=learner), Q(activity=activity), Q(activity=activity, related_activities=True),
                  Q(agent=learner, verb="http://adlnet.gov/expapi/verbs/experienced", activity=activity)):
        query.limit, query.ascending = 2, ascending
        assert _all_pages(db_session, query) == ordered, query


@pytest.mark.parametrize("few_matches", [1000, 0], ids=["from-matches", "from-references"])
def test_chain_whose_middle_arrives_last_still_matches_data_2_5(
        db_session: Session, few_matches: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A StatementRef to a statement not stored yet: when that one arrives and is itself a StatementRef,
    the first becomes part of a chain and matches what the end of the chain matches."""
    from lrs import statement_queries
    monkeypatch.setattr(statement_queries, "FEW_MATCHES", few_matches)
    activity = f"http://example.org/chain/{uuid.uuid4()}"
    end = services.store_statement(db_session, statement(object={"id": activity}), authority=AUTHORITY)
    middle_id = str(uuid.uuid4())
    head = services.store_statement(db_session, ref(middle_id), authority=AUTHORITY)
    assert [s.id for s in services.query_statements(db_session, Q(activity=activity)).statements] == [end.id]
    middle = services.store_statement(db_session, {**ref(end.id), "id": middle_id}, authority=AUTHORITY)
    page = services.query_statements(db_session, Q(activity=activity))
    assert [s.id for s in page.statements] == [middle.id, head.id, end.id]


def test_a_cycle_of_statement_refs_ends_data_2_5(db_session: Session) -> None:
    verb = f"http://example.org/verbs/{uuid.uuid4()}"
    first_id, second_id = str(uuid.uuid4()), str(uuid.uuid4())
    services.store_statement(db_session, {**ref(second_id, verb), "id": first_id}, authority=AUTHORITY)
    services.store_statement(db_session, {**ref(first_id), "id": second_id}, authority=AUTHORITY)
    assert [s.id for s in services.query_statements(db_session, Q(verb=verb)).statements] == \
        [second_id, first_id]
    assert services.query_statements(db_session, Q(verb=f"{verb}/none")).statements == []


def test_page_statements_carry_their_stored_json_text(db_session: Session) -> None:
    activity = f"http://example.org/text/{uuid.uuid4()}"
    stored = services.store_statement(db_session, statement(object={"id": activity}), authority=AUTHORITY)
    found = services.query_statements(db_session, Q(activity=activity)).statements
    assert [json.loads(s.json_text) for s in found] == [stored.statement]
    assert found == [services.get_statement(db_session, stored.id)]


def test_stored_never_goes_back_as_the_sequence_grows(db_session: Session) -> None:
    """since/until become sequence bounds, which is exact only while ``stored`` follows the sequence;
    a clock that steps back (here: a newest ``stored`` ahead of the clock) must not break that."""
    from sqlalchemy import update

    from lrs.models import Statement
    first = services.store_statement(db_session, statement(), authority=AUTHORITY)
    ahead = first.stored + timedelta(minutes=5)
    db_session.execute(update(Statement).where(Statement.sequence == first.sequence).values(stored=ahead))
    second = services.store_statement(db_session, statement(), authority=AUTHORITY)
    assert second.sequence > first.sequence and second.stored >= ahead


@pytest.mark.parametrize("ascending", [False, True])
def test_since_until_window_pages_through_exactly_its_statements_communication_2_1_3(
        db_session: Session, ascending: bool) -> None:
    activity = f"http://example.org/window/{uuid.uuid4()}"
    stored = []
    for _ in range(6):
        stored.append(services.store_statement(db_session, statement(object={"id": activity}),
                                               authority=AUTHORITY))
        time.sleep(0.002)
    inside = [s.id for s in stored[1:5]]
    for query in (Q(since=stored[0].stored, until=stored[4].stored, limit=1),
                  Q(activity=activity, since=stored[0].stored, until=stored[4].stored, limit=3)):
        query.ascending = ascending
        found = [i for i in _all_pages(db_session, query) if i in {s.id for s in stored}]
        assert found == (inside if ascending else inside[::-1])
