"""Facts for the statements a pathway can read, and only those (``pathways.relevance``)."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathways import actions, projection, services
from pathways.catalogue import VERB_COMPLETED
from pathways.models import ProgressFact, ProgressVoid
from tests import factories
from tests.pathways.conftest import make_pathway, voiding, xapi
from tests.pathways.snapshot import projection_snapshot

STEP = "https://content.example.org/step"
ELSEWHERE = "https://content.example.org/elsewhere"


def _facts(db_session) -> dict[str, str | None]:
    db_session.flush()
    return dict(db_session.execute(select(ProgressFact.statement_id, ProgressFact.voided_by)).tuples().all())


def _rebuilt_equals_incremental(app, db_session) -> None:
    before = projection_snapshot(db_session)
    with app.app_context():
        projection.rebuild(db_session)
    assert projection_snapshot(db_session) == before


def test_only_statements_a_pathway_can_read_get_facts(app, db_session, store) -> None:
    detail = make_pathway(db_session, steps=1)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    registration = actions.record_step_launch(db_session, detail.steps[0].id, learner.id)
    about_step, elsewhere, launched = store(
        xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri),
        xapi(learner.email, VERB_COMPLETED, ELSEWHERE),
        xapi(actor={"objectType": "Agent", "mbox": "mailto:content@example.org"}, verb=VERB_COMPLETED,
             activity=ELSEWHERE + "/part", registration=registration))
    void, = store(voiding(elsewhere.id))
    assert _facts(db_session) == {about_step.id: None, launched.id: None}
    # Every voiding statement is remembered, whether or not its target has a fact.
    assert db_session.scalar(select(ProgressVoid.voiding_id).where(ProgressVoid.target_id == elsewhere.id)) \
        == void.id
    _rebuilt_equals_incremental(app, db_session)


def test_a_draft_step_brings_earlier_statements_and_removing_it_takes_them_away(app, db_session,
                                                                                store) -> None:
    learner = factories.user(db_session)
    first, second = store(xapi(learner.email, VERB_COMPLETED, STEP, minutes=1),
                          xapi(learner.email, "http://adlnet.gov/expapi/verbs/experienced", STEP, minutes=2))
    void, = store(voiding(second.id))
    other, = store(xapi(learner.email, VERB_COMPLETED, ELSEWHERE))
    assert _facts(db_session) == {}
    draft = services.create_pathway(db_session, title="Later", outcome_kind="onboarding")
    step = services.add_step(db_session, draft.id, kind="xapi", title="Step", activity_iri=STEP,
                             launch_url="https://c.example/step")
    assert _facts(db_session) == {first.id: None, second.id: void.id}
    _rebuilt_equals_incremental(app, db_session)
    services.update_step(db_session, step.id, activity_iri=ELSEWHERE)
    assert _facts(db_session) == {other.id: None}
    _rebuilt_equals_incremental(app, db_session)
    services.remove_step(db_session, step.id)
    assert _facts(db_session) == {}
    _rebuilt_equals_incremental(app, db_session)


def test_a_launch_recorded_after_statements_in_its_registration_brings_them(app, db_session,
                                                                             store) -> None:
    detail = make_pathway(db_session, steps=1)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    registration = str(uuid.uuid4())
    done, = store(xapi(actor={"objectType": "Agent", "mbox": "mailto:content@example.org"},
                       verb=VERB_COMPLETED, activity=detail.steps[0].activity_iri + "/au",
                       registration=registration))
    assert _facts(db_session) == {}

    def status() -> str:
        return services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.status
    assert status() == "not_started"
    actions.record_step_launch(db_session, detail.steps[0].id, learner.id, registration=registration)
    assert _facts(db_session) == {done.id: None}
    assert status() == "completed"
    _rebuilt_equals_incremental(app, db_session)


def test_deleting_a_draft_takes_the_facts_only_its_steps_wanted(app, db_session, store) -> None:
    learner = factories.user(db_session)
    kept = make_pathway(db_session, steps=1)
    shared, only_draft = store(xapi(learner.email, VERB_COMPLETED, kept.steps[0].activity_iri),
                               xapi(learner.email, VERB_COMPLETED, STEP))
    draft = services.create_pathway(db_session, title="Draft", outcome_kind="onboarding")
    for activity in (kept.steps[0].activity_iri, STEP):
        services.add_step(db_session, draft.id, kind="xapi", title="Step", activity_iri=activity,
                          launch_url="https://c.example/step")
    assert set(_facts(db_session)) == {shared.id, only_draft.id}
    services.delete_draft(db_session, draft.id)
    assert set(_facts(db_session)) == {shared.id}
    _rebuilt_equals_incremental(app, db_session)


def test_a_draft_of_a_published_pathway_reads_nothing_again(app, db_session, store, monkeypatch) -> None:
    """Its steps are about activities that steps were about already: no statement is read again
    (at scale that would be every statement about the pathway), and its facts stay."""
    from lrs import services as lrs_services
    detail = make_pathway(db_session, steps=2)
    learner = factories.user(db_session)
    done, = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    reads: list[dict] = []
    read_pages = lrs_services.statement_member_pages

    def reading(*args, **kwargs):  # the store's own reader, its calls recorded
        reads.append(kwargs)
        return read_pages(*args, **kwargs)
    monkeypatch.setattr(lrs_services, "statement_member_pages", reading)
    draft = services.draft_version(db_session, detail.pathway.id)
    assert draft.id != detail.pathway.id and reads == []
    services.add_step(db_session, draft.id, kind="xapi", title="New", activity_iri=STEP,
                      launch_url="https://c.example/step")
    assert [r["objects"] for r in reads] == [[STEP]]  # the new activity only
    assert set(_facts(db_session)) == {done.id}
    services.delete_draft(db_session, draft.id)
    assert set(_facts(db_session)) == {done.id}


def test_a_statement_voided_before_it_arrives_is_recorded_voided(app, db_session, store) -> None:
    """The LRS stores a statement that an earlier voiding statement targets as voided; the pass
    looks up the early voids of those statements only (its own statements have no fact yet)."""
    detail = make_pathway(db_session, steps=1)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    late = str(uuid.uuid4())
    void, = store(voiding(late))
    done, kept = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri, statement_id=late),
                       xapi(learner.email, "http://adlnet.gov/expapi/verbs/experienced",
                            detail.steps[0].activity_iri))
    assert done.voided and not kept.voided
    assert _facts(db_session) == {late: void.id, kept.id: None}
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.steps[0].state != "completed"
    _rebuilt_equals_incremental(app, db_session)


def test_a_step_added_before_the_projection_caught_up_leaves_the_rest_to_the_passes(app, db_session,
                                                                                     store) -> None:
    """Facts are recorded up to the cursor: the statements after it are the passes' own."""
    from lrs import services as lrs_services
    learner = factories.user(db_session)
    seen, = store(xapi(learner.email, VERB_COMPLETED, STEP))
    # Stored outside an app context, no subscriber runs: as if the request had stopped before it.
    unseen, = lrs_services.store_statements(db_session, [
        xapi(learner.email, VERB_COMPLETED, STEP, minutes=1)],
        authority=projection.system_authority())
    draft = services.create_pathway(db_session, title="Later", outcome_kind="onboarding")
    services.add_step(db_session, draft.id, kind="xapi", title="Step", activity_iri=STEP,
                      launch_url="https://c.example/step")
    assert _facts(db_session) == {seen.id: None}
    with app.app_context():
        assert projection.catch_up(db_session) == 1
    assert _facts(db_session) == {seen.id: None, unseen.id: None}
    _rebuilt_equals_incremental(app, db_session)


def test_a_pass_waits_for_a_step_being_added_and_then_records_its_statement(tmp_path) -> None:
    """A step added while a batch about its activity is stored: the batch's pass waits for the
    step's transaction (which holds the cursor from its flush on) and then sees the step, so the
    statement stored after the step's look-up of the store still gets its fact."""
    from lrs import services as lrs_services
    with _two_sessions(tmp_path, "relevance_race") as (app, editing, storing):
        app.extensions["lrs.subscribers"] = []  # the pass below runs by hand, in its own thread
        draft = services.create_pathway(editing, title="Draft", outcome_kind="onboarding")
        editing.commit()
        services.add_step(editing, draft.id, kind="xapi", title="Step", activity_iri=STEP,
                          launch_url="https://c.example/step")  # flushed: the step's resync ran
        stored, = lrs_services.store_statements(storing, [xapi("ann@example.org", VERB_COMPLETED, STEP)],
                                                authority=projection.system_authority())
        storing.commit()

        def project() -> None:
            with app.app_context():
                projection.catch_up(storing)
                storing.commit()
        _waits_for(project, editing.commit)
        assert storing.scalar(select(ProgressFact.statement_id)) == stored.id


def test_a_step_added_while_another_transaction_removes_the_last_one_keeps_the_facts(tmp_path) -> None:
    """Whether another step is already about an activity is decided under the cursor's lock: here
    the only other step's removal is committed while the new step waits for the lock, so the new
    step's transaction reads the statements again."""
    from lrs import services as lrs_services
    with _two_sessions(tmp_path, "relevance_removal") as (app, removing, adding):
        first = services.create_pathway(removing, title="First", outcome_kind="onboarding")
        old = services.add_step(removing, first.id, kind="xapi", title="Step", activity_iri=STEP,
                                launch_url="https://c.example/step")
        second = services.create_pathway(removing, title="Second", outcome_kind="onboarding")
        done, = lrs_services.store_statements(removing, [xapi("ann@example.org", VERB_COMPLETED, STEP)],
                                              authority=projection.system_authority())
        removing.commit()
        assert removing.scalar(select(ProgressFact.statement_id)) == done.id
        services.remove_step(removing, old.id)  # flushed: its facts deleted, the cursor locked

        def add() -> None:
            with app.app_context():
                services.add_step(adding, second.id, kind="xapi", title="Step", activity_iri=STEP,
                                  launch_url="https://c.example/step")
                adding.commit()
        _waits_for(add, removing.commit)
        assert removing.scalar(select(ProgressFact.statement_id)) == done.id


@contextmanager
def _two_sessions(tmp_path, name: str) -> Iterator[tuple[Any, Session, Session]]:
    """An app on a fresh PostgreSQL database and two sessions on their own connections, in its context."""
    from sqlalchemy.orm import sessionmaker

    from cairn import create_app
    from tests.conftest import POSTGRES_URL, fresh_database_url, reset_database
    if not POSTGRES_URL:
        pytest.skip("SQLite has one writer at a time: the two transactions cannot overlap")
    url = fresh_database_url(tmp_path, name)
    engine = reset_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", "AUTO_UPGRADE": False,
                      "SKIP_SCHEMA_CHECK": True})
    first, second = sessionmaker(engine)(), sessionmaker(engine)()
    try:
        with app.app_context():
            yield app, first, second
    finally:
        first.close()
        second.close()
        app.extensions["cairn.db"].dispose()
        engine.dispose()


def _waits_for(work: Callable[[], None], release: Callable[[], None]) -> None:
    """Run ``work`` in a thread, see it wait, ``release`` it, and see it end."""
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive()  # waiting for the cursor the other transaction holds
    release()
    thread.join(10)
    assert not thread.is_alive()
