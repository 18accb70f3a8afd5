"""The progress projection: step states, pathway progress, evidence, voids, catch-up
(issue 6: what is derived)."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from cairn.accounts.services import Identity, add_identity
from lrs import services as lrs_services
from pathways import actions, projection, refresh, services
from pathways.catalogue import VERB_COMPLETED, VERB_PASSED
from pathways.models import ProgressCursor
from pathways.outcomes import OutcomeChange, on_outcome_changed
from pathways.projection import system_authority
from tests import factories
from tests.pathways.conftest import T0, make_pathway, voiding, xapi
from tests.sql_seen import sql_sent

EXPERIENCED = "http://adlnet.gov/expapi/verbs/experienced"


def _assigned(db_session, steps=2, **fields):
    detail = make_pathway(db_session, steps=steps, **fields)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    return detail, learner


def test_a_completed_statement_about_the_step_activity_completes_the_step(db_session, store) -> None:
    detail, learner = _assigned(db_session)
    [stored] = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.steps[0].state == "done" and view.steps[0].evidence["state"] == [stored.id]
    assert view.steps[1].state == "not_started"
    assert view.progress.status == "in_progress" and view.progress.percent == 50
    assert view.progress.last_activity_at == T0


def test_other_verbs_start_a_step_without_completing_it(db_session, store) -> None:
    detail, learner = _assigned(db_session)
    [stored] = store(xapi(learner.email, EXPERIENCED, detail.steps[0].activity_iri))
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.steps[0].state == "in_progress" and view.steps[0].evidence["state"] == [stored.id]


def test_statements_by_any_identity_of_the_learner_count(db_session, store) -> None:
    detail, learner = _assigned(db_session)
    add_identity(db_session, learner, Identity("account", "https://lms.example|sub-42"))
    store(xapi(actor={"objectType": "Agent",
                      "account": {"homePage": "https://lms.example", "name": "sub-42"}},
               verb=VERB_COMPLETED, activity=detail.steps[0].activity_iri))
    store(xapi(learner.email, VERB_PASSED, detail.steps[1].activity_iri, minutes=5))
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.progress.status == "completed" and view.progress.percent == 100
    assert view.progress.completed_at == T0.replace(minute=5)


def test_statements_of_someone_else_do_not_count(db_session, store) -> None:
    detail, learner = _assigned(db_session)
    store(xapi("stranger@example.org", VERB_COMPLETED, detail.steps[0].activity_iri))
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).steps[0].state == "not_started"


def test_statements_in_a_registration_the_step_launched_count_whatever_the_actor(db_session, store) -> None:
    detail = make_pathway(db_session, steps=1)
    learner = factories.user(db_session)
    registration = actions.record_step_launch(db_session, detail.steps[0].id, learner.id)
    store(xapi(actor={"objectType": "Agent",
                      "account": {"homePage": "https://content.example", "name": "anon-7"}},
               verb=VERB_COMPLETED, activity="https://content.example.org/inner-page",
               registration=registration))
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.steps[0].state == "done"


def test_minimum_score_is_required_where_the_step_sets_one(db_session, store) -> None:
    detail, learner = _assigned(db_session, steps=1, publish=False)
    services.update_step(db_session, detail.steps[0].id, min_score=0.8)
    services.publish_pathway(db_session, detail.pathway.id)
    activity = detail.steps[0].activity_iri
    low, = store(xapi(learner.email, VERB_PASSED, activity, scaled=0.5))
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.steps[0].state == "in_progress" and view.steps[0].best_score == 0.5
    high, = store(xapi(learner.email, VERB_PASSED, activity, minutes=10, scaled=0.9))
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.steps[0].state == "done" and view.steps[0].evidence["state"] == [high.id]
    assert view.steps[0].best_score == 0.9 and view.steps[0].evidence["best_score"] == [high.id]
    assert view.steps[0].attempts == 2 and set(view.steps[0].evidence["attempts"]) == {low.id, high.id}


def test_step_named_verbs_replace_the_defaults(db_session, store) -> None:
    pathway = services.create_pathway(db_session, title="Video", outcome_kind="onboarding")
    step = services.add_step(db_session, pathway.id, kind="xapi", title="Watch", launch_url="https://v.example/w",
                             done_verbs=[EXPERIENCED])
    services.publish_pathway(db_session, pathway.id)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, pathway.id, user_id=learner.id)
    store(xapi(learner.email, VERB_COMPLETED, step.activity_iri))
    assert services.learner_pathway(db_session, learner.id, pathway.id).steps[0].state == "in_progress"
    store(xapi(learner.email, EXPERIENCED, step.activity_iri, minutes=1))
    assert services.learner_pathway(db_session, learner.id, pathway.id).steps[0].state == "done"


def test_optional_steps_do_not_count_towards_the_percentage(db_session, store) -> None:
    detail, learner = _assigned(db_session, steps=2, publish=False)
    services.update_step(db_session, detail.steps[1].id, required=False)
    services.publish_pathway(db_session, detail.pathway.id)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    progress = services.learner_pathway(db_session, learner.id, detail.pathway.id).progress
    assert progress.status == "completed" and progress.percent == 100


def test_cmi5_move_on_completed_and_passed_needs_both(db_session, store) -> None:
    pathway = services.create_pathway(db_session, title="cmi5 course", outcome_kind="training_attendance")
    au = services.add_step(db_session, pathway.id, kind="cmi5", title="AU", launch_url="https://c.example/au",
                           move_on="CompletedAndPassed", mastery_score=0.6)
    services.publish_pathway(db_session, pathway.id)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, pathway.id, user_id=learner.id)
    store(xapi(learner.email, VERB_COMPLETED, au.activity_iri))
    assert services.learner_pathway(db_session, learner.id, pathway.id).steps[0].state == "in_progress"
    store(xapi(learner.email, VERB_PASSED, au.activity_iri, minutes=3, scaled=0.5))
    assert services.learner_pathway(db_session, learner.id, pathway.id).steps[0].state == "in_progress"
    store(xapi(learner.email, VERB_PASSED, au.activity_iri, minutes=6, scaled=0.7))
    view = services.learner_pathway(db_session, learner.id, pathway.id)
    assert view.steps[0].state == "done" and view.steps[0].done_at == T0.replace(minute=6)


def test_cmi5_satisfied_from_the_lms_completes_the_unit(db_session, store) -> None:
    pathway = services.create_pathway(db_session, title="cmi5", outcome_kind="training_attendance")
    au = services.add_step(db_session, pathway.id, kind="cmi5", title="AU", launch_url="https://c.example/au",
                           move_on="Passed")
    services.publish_pathway(db_session, pathway.id)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, pathway.id, user_id=learner.id)
    store(xapi(learner.email, "https://w3id.org/xapi/adl/verbs/satisfied", au.activity_iri))
    assert services.learner_pathway(db_session, learner.id, pathway.id).steps[0].state == "done"


def test_a_voided_statement_withdraws_what_it_justified_and_it_is_recorded(db_session, store) -> None:
    detail, learner = _assigned(db_session, steps=1)
    [done] = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.status == "completed"
    [void] = store(voiding(done.id))
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.steps[0].state == "not_started" and view.progress.status == "not_started"
    assert view.steps[0].withdrawn == ({"statement": done.id, "voided_by": void.id},)


def test_sequential_pathways_lock_later_steps_and_name_the_blocker(db_session) -> None:
    detail = make_pathway(db_session, steps=2, ordering="sequential")
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert [s.availability for s in view.steps] == ["available", "locked"]
    assert view.steps[1].locked_by == ("Module 1",)


def test_prerequisites_lock_a_step_until_done(db_session, store) -> None:
    detail = make_pathway(db_session, steps=2, publish=False)
    services.update_step(db_session, detail.steps[0].id, prerequisites=[detail.steps[1].id])
    services.publish_pathway(db_session, detail.pathway.id)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.steps[0].availability == "locked" and view.steps[0].locked_by == ("Module 2",)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[1].activity_iri))
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.steps[0].availability == "available" and view.steps[1].availability == "done"


def test_a_new_version_keeps_completions_on_the_old_one_and_carries_shared_steps(db_session, store) -> None:
    detail, learner = _assigned(db_session, steps=1)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    draft = services.update_pathway(db_session, detail.pathway.id, title="v2")
    extra = services.add_step(db_session, draft.id, kind="xapi", title="New module", launch_url="https://n.example")
    changes = projection.publish_dry_run(db_session, draft.id)
    assert [(c.user_id, c.status_before, c.status_after, c.percent_after) for c in changes] == \
        [(learner.id, "completed", "in_progress", 50)]
    services.publish_pathway(db_session, draft.id)
    history = {p.pathway.id: p
               for p in services.learner_pathways(db_session, learner.id, include_history=True)}
    assert history[detail.pathway.id].status == "completed"
    assert history[draft.id].status == "in_progress" and history[draft.id].percent == 50
    new_view = services.learner_pathway(db_session, learner.id, draft.id)
    assert [s.state for s in new_view.steps] == ["done", "not_started"] and \
        new_view.steps[1].step.id == extra.id


def test_out_of_order_timestamps_give_the_earliest_completion(db_session, store) -> None:
    detail, learner = _assigned(db_session, steps=1)
    late, = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri, minutes=30))
    early, = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri, minutes=1))
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.steps[0].done_at == T0.replace(minute=1) and view.steps[0].evidence["state"] == [early.id]
    assert view.steps[0].evidence["last_activity"] == [late.id]


def test_the_projection_catches_up_after_statements_it_did_not_see(db_session, store) -> None:
    detail, learner = _assigned(db_session, steps=2)
    # Stored outside an app context, no subscriber runs: as if the subscriber had failed.
    lrs_services.store_statements(db_session,
                                  [xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri)],
                                  authority=system_authority())
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.percent == 0
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[1].activity_iri, minutes=1))
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.percent == 100
    cursor = db_session.scalar(select(ProgressCursor.last_sequence))
    assert cursor == lrs_services.latest_sequence(db_session)


def test_a_failing_subscriber_loses_nothing_and_is_caught_up_later(
        app, db_session, store, monkeypatch) -> None:
    detail, learner = _assigned(db_session, steps=1)

    def broken(session, affected):
        raise RuntimeError("projection bug")

    monkeypatch.setattr(projection, "refresh_affected", broken)
    [stored] = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    assert lrs_services.get_statement(db_session, stored.id) is not None
    view = services.learner_pathway(db_session, learner.id, detail.pathway.id)
    assert view.progress.status == "not_started"  # the projection failed
    monkeypatch.undo()
    with app.app_context():
        projection.catch_up(db_session)
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.status == "completed"


def test_an_identity_linked_later_brings_its_earlier_statements(db_session, store) -> None:
    detail, learner = _assigned(db_session, steps=1)
    store(xapi(actor={"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "s-1"}},
               verb=VERB_COMPLETED, activity=detail.steps[0].activity_iri))
    add_identity(db_session, learner, Identity("account", "https://lms.example|s-1"))
    refresh.refresh_user(db_session, learner.id)
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.status == "completed"


def test_outcome_listeners_hear_pathway_changes(app, db_session, store) -> None:
    heard: list[OutcomeChange] = []
    on_outcome_changed(app, lambda session, change: heard.append(change))
    detail, learner = _assigned(db_session, steps=2)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[1].activity_iri, minutes=2))
    mine = [c for c in heard if c.user_id == learner.id and c.step_id is None]
    assert [(c.score_given, c.score_maximum, c.completed) for c in mine] == \
        [(50.0, 100.0, False), (100.0, 100.0, True)]
    assert mine[-1].pathway_id == detail.pathway.id and mine[-1].timestamp == T0.replace(minute=2)


def test_a_failing_outcome_listener_does_not_undo_progress(app, db_session, store) -> None:
    def broken(session, change):
        raise RuntimeError("platform down")

    on_outcome_changed(app, broken)
    detail, learner = _assigned(db_session, steps=1)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.status == "completed"


def test_rebuild_gives_the_incremental_result(app, db_session, store) -> None:
    from tests.pathways.snapshot import projection_snapshot
    detail, learner = _assigned(db_session, steps=2)
    other = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=other.id)
    a, = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri, minutes=9))
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[1].activity_iri, minutes=3))
    store(xapi(other.email, EXPERIENCED, detail.steps[0].activity_iri))
    store(voiding(a.id))
    before = projection_snapshot(db_session)
    with app.app_context():
        count = projection.rebuild(db_session)
    assert count >= 4
    assert projection_snapshot(db_session) == before


def test_rebuild_reads_every_fact_member_as_the_incremental_projection_did(app, db_session, store) -> None:
    """The rebuild reads only some members of each statement: every fact column must still match."""
    from pathways.models import ProgressFact, ProgressVoid
    detail, learner = _assigned(db_session, steps=2)
    step = detail.steps[0].activity_iri
    registration = str(uuid.uuid4()).upper()
    early_void = str(uuid.uuid4())
    shapes = [xapi(learner.email, VERB_COMPLETED, step, registration=registration, scaled=0.75),
              xapi(actor={"objectType": "Group", "mbox": "mailto:team@example.org", "member": []},
                   activity=step),
              xapi(actor={"objectType": "Agent",
                          "account": {"homePage": "https://lms.example", "name": "Zed"}},
                   activity=step),
              xapi(actor={"mbox_sha1sum": "A" * 40}, activity=step),
              {**xapi(learner.email, EXPERIENCED, step),
               "result": {"success": True, "completion": False, "score": {"raw": 3, "min": 0, "max": 4},
                          "extensions": {"https://e.example/x": [1]}}},
              {**xapi(learner.email, EXPERIENCED, step),
               "object": {"id": detail.steps[1].activity_iri, "definition": {"name": {"en": "No type"}}}},
              {**xapi(learner.email), "object": {"objectType": "SubStatement",
                                                  "actor": {"mbox": "mailto:s@e.org"},
                                                  "verb": {"id": VERB_COMPLETED},
                                                  "object": {"id": step}}},
              {**xapi(learner.email, EXPERIENCED, step), "timestamp": "2024-01-02T03:04:05.123456+02:00"},
              voiding(early_void)]
    stored = store(*shapes)
    store({**xapi(learner.email, VERB_COMPLETED, step), "id": early_void}, voiding(stored[1].id))

    def facts_and_voids():
        db_session.expire_all()
        facts = sorted(tuple(getattr(f, c.key) for c in ProgressFact.__table__.columns)
                       for f in db_session.scalars(select(ProgressFact)))
        return facts, sorted((v.target_id, v.voiding_id) for v in db_session.scalars(select(ProgressVoid)))

    before = facts_and_voids()
    assert len(before[0]) == 8 and {f[2] for f in before[0]} == {"mbox", "account", "mbox_sha1sum"}
    with app.app_context():
        projection.rebuild(db_session, batch_size=3)  # voids and their targets in different batches
    assert facts_and_voids() == before


def test_a_rebuild_that_fails_leaves_the_previous_projection_and_its_indexes(app, db_session, store,
                                                                             monkeypatch) -> None:
    """The facts are replayed into a table without indexes (on PostgreSQL a table of their own): a
    failure after that, while deriving the learners, must leave the facts, their indexes and the
    derived rows as they were."""
    from sqlalchemy import inspect, text

    from pathways import rebuild
    from pathways.models import ProgressFact
    from tests.pathways.snapshot import projection_snapshot
    detail, learner = _assigned(db_session, steps=2)
    a, = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    store(voiding(a.id), xapi(learner.email, VERB_COMPLETED, detail.steps[1].activity_iri))
    before = projection_snapshot(db_session)
    indexes = {i["name"] for i in inspect(db_session.connection()).get_indexes("progress_facts")}
    assert indexes == {i.name for i in ProgressFact.__table__.indexes}

    def fail(*args, **kwargs):
        raise RuntimeError("interrupted while deriving")

    monkeypatch.setattr(rebuild, "refresh_users", fail)
    with app.app_context():
        try:
            with db_session.begin_nested():
                projection.rebuild(db_session)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the rebuild did not fail")
    assert projection_snapshot(db_session) == before
    connection = db_session.connection()
    assert {i["name"] for i in inspect(connection).get_indexes("progress_facts")} == indexes
    if connection.dialect.name == "postgresql":
        assert connection.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :n"),
                                 {"n": rebuild.REBUILD_SCHEMA}) == 0
        assert rebuild.REBUILD_SCHEMA not in connection.scalar(text("SELECT current_setting('search_path')"))


def test_a_rebuild_on_its_own_connection_reads_ahead_and_gives_the_incremental_result(tmp_path,
                                                                                     monkeypatch) -> None:
    """As ``cairn progress rebuild`` runs it (committed data, no outer transaction): on PostgreSQL a
    thread reads each next page of statements on a connection of its own while the facts of the
    page before are written. Every page is read, in order, and the projection is the incremental one."""
    import threading

    from tests.conftest import fresh_database_url, make_test_app, reset_database
    from tests.pathways.snapshot import projection_snapshot
    engine = reset_database(fresh_database_url(tmp_path, "rebuildahead"))
    app = make_test_app(engine.url.render_as_string(hide_password=False))
    factory = app.extensions["cairn.db"].session_factory()
    pages: list[tuple[str, list[int]]] = []
    read_pages = lrs_services.statement_member_pages

    def recording(session, paths, **kwargs):
        for page in read_pages(session, paths, **kwargs):
            pages.append((threading.current_thread().name, [members[1] for members in page]))
            yield page

    try:
        with app.app_context(), factory() as session:
            detail, learner = _assigned(session, steps=2)
            other = factories.user(session)
            services.assign_pathway(session, detail.pathway.id, user_id=other.id)
            stored = []
            for minute in range(10):
                stored += lrs_services.store_statements(session, [
                    xapi(learner.email, EXPERIENCED, detail.steps[minute % 2].activity_iri, minutes=minute),
                    xapi(other.email, VERB_COMPLETED, detail.steps[minute % 2].activity_iri, minutes=minute)],
                    authority=system_authority())
            stored += lrs_services.store_statements(session, [voiding(stored[1].id)],
                                                    authority=system_authority())
            session.commit()
            before = projection_snapshot(session)
            # 20 facts, one voided; the other learner completed both steps (the voided statement was
            # their first completion of step 1: a later one completes it again)
            assert len(before["facts"]) == 20 and sum(1 for _, by in before["facts"] if by) == 1
            assert (other.id, detail.pathway.id, "completed") in {p[:3] for p in before["pathways"]}
            monkeypatch.setattr(lrs_services, "statement_member_pages", recording)
            assert projection.rebuild(session, batch_size=4) == 21
            session.commit()
            assert projection_snapshot(session) == before
        assert [s for _, page in pages for s in page] == sorted(s.sequence for s in stored)
        readers = {name for name, _ in pages}
        if engine.dialect.name == "postgresql":
            assert len(pages) == 6 and all(name.startswith("rebuild-reader") for name in readers)
        else:
            assert readers == {threading.current_thread().name}
    finally:
        app.extensions["cairn.db"].dispose()
        engine.dispose()


def test_a_rebuild_while_a_transaction_reads_the_facts_copies_them_in_place(app, db_session, store,
                                                                             engine) -> None:
    """PostgreSQL: the new facts table replaces the old one only if no transaction holds the old one
    (one that read facts and then waits for the cursor this rebuild holds would deadlock with it);
    otherwise its rows are copied in, and the result is the same."""
    import pytest
    from sqlalchemy import inspect, text

    from pathways import rebuild
    from pathways.models import ProgressFact
    from tests.pathways.snapshot import projection_snapshot
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite rebuilds the facts in place (its readers see the last commit)")
    detail, learner = _assigned(db_session, steps=2)
    a, = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[1].activity_iri, minutes=2), voiding(a.id))
    before = projection_snapshot(db_session)
    facts_before = sorted(tuple(row) for row in db_session.execute(select(ProgressFact.__table__)))
    with engine.connect() as reader:
        reader.execute(text("SELECT count(*) FROM progress_facts"))  # holds the table until it ends
        table_before = reader.scalar(text("SELECT 'progress_facts'::regclass::oid"))
        with app.app_context():
            projection.rebuild(db_session)
        reader.rollback()
    connection = db_session.connection()
    # copied into the same table, not swapped
    assert connection.scalar(text("SELECT 'progress_facts'::regclass::oid")) == table_before
    assert projection_snapshot(db_session) == before
    assert sorted(tuple(row) for row in db_session.execute(select(ProgressFact.__table__))) == facts_before
    assert {i["name"] for i in inspect(connection).get_indexes("progress_facts")} == \
        {i.name for i in ProgressFact.__table__.indexes}
    assert connection.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :n"),
                             {"n": rebuild.REBUILD_SCHEMA}) == 0


def test_a_rebuild_replaces_the_facts_table_when_no_one_holds_it(app, db_session, store, engine) -> None:
    from sqlalchemy import text
    if engine.dialect.name != "postgresql":
        import pytest
        pytest.skip("PostgreSQL only")
    detail, learner = _assigned(db_session, steps=1)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    connection = db_session.connection()
    table_before = connection.scalar(text("SELECT 'progress_facts'::regclass::oid"))
    # A reporting role's grant outlives the swap (roles are the cluster's: this one is rolled back).
    connection.execute(text("CREATE ROLE cairn_test_reporting NOLOGIN"))
    connection.execute(text("GRANT SELECT ON progress_facts TO cairn_test_reporting WITH GRANT OPTION"))
    connection.execute(text("GRANT INSERT ON progress_facts TO PUBLIC"))
    with app.app_context():
        projection.rebuild(db_session)
    assert connection.scalar(text("SELECT 'progress_facts'::regclass::oid")) != table_before
    assert connection.scalar(text(
        "SELECT has_table_privilege('cairn_test_reporting', 'progress_facts', 'SELECT WITH GRANT OPTION')"))
    assert not connection.scalar(text("SELECT has_table_privilege('cairn_test_reporting', 'progress_facts', "
                                      "'UPDATE')"))
    assert connection.scalar(text("SELECT has_table_privilege('public', 'progress_facts', 'INSERT')"))


def test_statements_not_about_activities_are_ignored(db_session, store) -> None:
    detail, learner = _assigned(db_session, steps=1)
    statement = xapi(learner.email, VERB_COMPLETED)
    statement["object"] = {"objectType": "Agent", "mbox": "mailto:someone@example.org"}
    store(statement)
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.status == \
        "not_started"
    assert uuid.UUID(statement["id"])


def test_publishing_a_step_for_an_activity_already_done_counts_earlier_statements(db_session, store) -> None:
    learner = factories.user(db_session)
    store(xapi(learner.email, VERB_COMPLETED, "https://content.example.org/legacy"))
    pathway = services.create_pathway(db_session, title="Later", outcome_kind="onboarding")
    services.add_step(db_session, pathway.id, kind="xapi", title="Legacy", launch_url="https://c.example/l",
                      activity_iri="https://content.example.org/legacy")
    services.publish_pathway(db_session, pathway.id)
    history = services.learner_pathways(db_session, learner.id, include_history=True)
    assert [(p.pathway.id, p.status) for p in history] == [(pathway.id, "completed")]


def test_a_changed_attribute_enrols_by_audience_rule_at_commit(db_session) -> None:
    detail = make_pathway(db_session, steps=1)
    audience = services.create_audience(db_session, name="Nurses",
                                        rules=[{"attribute": "department", "value": "Nursing"}])
    services.assign_pathway(db_session, detail.pathway.id, audience_id=audience.id)
    learner = factories.user(db_session, department="Radiology")
    db_session.commit()
    assert services.learner_pathways(db_session, learner.id) == []
    learner.attributes = {"department": "Nursing"}
    db_session.commit()
    assert [p.pathway.id for p in services.learner_pathways(db_session, learner.id)] == [detail.pathway.id]


def test_an_identity_added_later_counts_its_statements_at_commit(db_session, store) -> None:
    detail, learner = _assigned(db_session, steps=1)
    store(xapi(actor={"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "s-9"}},
               verb=VERB_COMPLETED, activity=detail.steps[0].activity_iri))
    add_identity(db_session, learner, Identity("account", "https://lms.example|s-9"))
    db_session.commit()
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.status == "completed"


def test_over_http_progress_is_there_when_the_response_arrives(app, client, db_session) -> None:
    # The projection runs after the statements' transaction commits, still inside the request.
    from tests.lrs.conftest import XAPIClient, make_credential
    detail, learner = _assigned(db_session, steps=2)
    info, secret = make_credential(db_session)
    response = XAPIClient(client, info.key, secret).post(
        "/statements", json_body=[xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri)])
    assert response.status_code == 200, response.get_json()
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.percent == 50
    assert db_session.scalar(select(ProgressCursor.last_sequence)) == lrs_services.latest_sequence(db_session)


def test_a_post_reads_the_statements_table_once_and_projects_without_reading_it_back(
        app, client, db_session) -> None:
    # The store reads the ids it needs and the newest statement in one query; the projection then
    # applies the batch it was handed, since it follows the cursor, without reading anything back.
    from tests.lrs.conftest import XAPIClient, make_credential
    detail, learner = _assigned(db_session, steps=2)
    info, secret = make_credential(db_session)
    xapi_client = XAPIClient(client, info.key, secret)
    assert xapi_client.post("/statements", json_body=[xapi(learner.email)]).status_code == 200
    with sql_sent(db_session.get_bind().engine) as sent:
        response = xapi_client.post(
            "/statements", json_body=[xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri)])
    reads = [sql for sql, _ in sent
             if "FROM lrs_statements" in sql and not sql.lstrip().startswith(("WITH", "INSERT"))]
    assert response.status_code == 200, response.get_json()
    assert len(reads) == 1 and "max(lrs_statements.sequence)" in reads[0], reads
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.percent == 50


def test_cairn_worker_applies_statements_a_request_did_not_project(app, db_session) -> None:
    detail, learner = _assigned(db_session, steps=1)
    db_session.commit()
    assert projection.worker_catch_up(app) is False  # nothing behind: no work found
    # Stored outside an app context, no subscriber runs: as if the request had stopped after committing.
    lrs_services.store_statements(db_session,
                                  [xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri)],
                                  authority=system_authority())
    db_session.commit()
    assert projection.worker_catch_up(app) is True
    db_session.expire_all()
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.status == "completed"
    assert projection.worker_catch_up(app) is False


def test_two_workers_making_the_cursor_at_once_both_go_on(tmp_path) -> None:
    """On a new database two workers may both find no cursor row: the second waits for the first's
    row and goes on from where the first left it, instead of failing on the duplicate key."""
    import threading

    import pytest
    from sqlalchemy.orm import sessionmaker

    from tests.conftest import POSTGRES_URL, fresh_database_url, reset_database
    if not POSTGRES_URL:
        pytest.skip("SQLite has one writer at a time: the second cannot begin before the first commits")
    engine = reset_database(fresh_database_url(tmp_path, "cursor_race"))
    factory = sessionmaker(engine)
    first, second = factory(), factory()
    try:
        assert projection.read_cursor(first) == 0  # made and locked, not committed yet
        found: list[int] = []
        waiting = threading.Thread(target=lambda: found.append(projection.read_cursor(second)))
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive() and found == []  # it waits for the first's row
        projection.move_cursor(first, 5)
        first.commit()
        waiting.join(10)
        assert found == [5]
        second.commit()
    finally:
        first.close()
        second.close()
        engine.dispose()


def test_a_statements_fact_members_in_hand_are_those_the_database_extracts(db_session, store) -> None:
    """``fact_members`` (a batch in hand) and ``statement_member_pages`` (a rebuild's pages) read the
    same members, absent and present alike, whatever the statement's shape: the incremental
    projection and the rebuild must derive the same facts."""
    from pathways.facts import FACT_PATHS, fact_members
    scored = xapi("a@example.org", VERB_PASSED, "https://content.example.org/x",
                  registration=str(uuid.uuid4()), scaled=0.5)
    scored["result"].update(success=True, completion=False)
    bare = xapi("b@example.org")
    del bare["timestamp"], bare["object"]["objectType"]
    odd = [scored, bare,
           {**xapi("c@example.org"), "result": {"score": {"raw": 3}}, "context": {"language": "en"}},
           {**xapi("d@example.org"), "result": {"duration": "PT1M"}},
           {**xapi("e@example.org"), "object": {"objectType": "Agent", "mbox": "mailto:f@example.org"}},
           {**xapi("g@example.org"), "object": {"objectType": "SubStatement", "actor": {
               "mbox": "mailto:h@example.org"}, "verb": {"id": VERB_COMPLETED}, "object": {
               "id": "https://content.example.org/y"}}}]
    before = lrs_services.latest_sequence(db_session)
    stored = store(*odd)
    stored.append(store(voiding(stored[0].id))[0])
    pages = [members for page in lrs_services.statement_member_pages(db_session, FACT_PATHS,
                                                                    after_sequence=before)
             for *_, members in page]
    assert [fact_members(s.statement) for s in stored] == pages
    # Absent stays absent (the LRS fills in a missing timestamp, not an objectType).
    assert pages[1][2] is None and pages[1][8] is not None and pages[0][4:7] == [[True], [False], [0.5]]
    assert pages[2][6] is None and pages[3][6] is None and pages[2][7] is None
