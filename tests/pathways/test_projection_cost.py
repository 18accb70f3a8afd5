"""The projection's cost per stored batch (issue 8): no re-reading of the batch, rows kept in step."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import delete, select, update

from lrs import services as lrs_services
from pathways import outcomes, projection, refresh, services
from pathways.catalogue import VERB_COMPLETED
from pathways.models import PathwayProgress, ProgressCursor, ProgressFact, StepProgress
from tests import factories
from tests.pathways.conftest import make_pathway, voiding, xapi
from tests.pathways.snapshot import projection_snapshot
from tests.sql_seen import sql_sent, statements_run


def _selects(db_session, work) -> list[str]:
    run, _ = statements_run(db_session, work)
    return [" ".join(sql.split()) for sql in run if sql.lstrip().upper().startswith("SELECT")]


def _world(db_session, learners: int = 3):
    detail = make_pathway(db_session, steps=2)
    other = make_pathway(db_session, steps=2, title="Other")
    users = [factories.user(db_session) for _ in range(learners)]
    for user in users:
        services.assign_pathway(db_session, detail.pathway.id, user_id=user.id)
        services.assign_pathway(db_session, other.pathway.id, user_id=user.id)
    return detail, other, users


def test_the_subscriber_applies_the_batch_it_is_handed_without_reading_it_back(db_session, store) -> None:
    detail, _other, users = _world(db_session)
    batch = [xapi(u.email, VERB_COMPLETED, detail.steps[n % 2].activity_iri, minutes=n)
             for n, u in enumerate(users * 10)]
    selects = _selects(db_session, lambda: store(*batch))
    # The batch follows the cursor: nothing is read after it (later ones are their stores' to project).
    after_cursor = [s for s in selects if "FROM lrs_statements" in s and "lrs_statements.sequence >" in s]
    assert after_cursor == []
    assert projection.last_applied_sequence(db_session) == lrs_services.latest_sequence(db_session)
    view = services.learner_pathway(db_session, users[0].id, detail.pathway.id)
    assert view.progress.status == "completed"


def test_progress_rows_already_loaded_in_the_session_show_the_new_progress(db_session, store) -> None:
    detail, _other, [learner] = _world(db_session, learners=1)
    row = db_session.scalar(select(PathwayProgress).where(PathwayProgress.user_id == learner.id,
                                                          PathwayProgress.pathway_id == detail.pathway.id))
    cell = db_session.scalar(select(StepProgress).where(StepProgress.user_id == learner.id,
                                                        StepProgress.step_id == detail.steps[0].id))
    assert (row.status, cell.state) == ("not_started", "not_started")
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    assert (row.status, row.percent, cell.state) == ("in_progress", 50, "done")


def test_a_statement_leaves_the_learners_other_pathways_as_a_full_refresh_would(db_session, store) -> None:
    detail, other, users = _world(db_session)
    store(xapi(users[0].email, VERB_COMPLETED, other.steps[0].activity_iri))
    store(*[xapi(u.email, VERB_COMPLETED, detail.steps[1].activity_iri, minutes=5) for u in users])
    incremental = projection_snapshot(db_session)
    refresh.refresh_users(db_session, [u.id for u in users])
    assert projection_snapshot(db_session) == incremental
    statuses = {(r.user_id, r.pathway_id): r.status for r in db_session.scalars(select(PathwayProgress))}
    assert statuses[(users[0].id, other.pathway.id)] == "in_progress"
    assert statuses[(users[1].id, other.pathway.id)] == "not_started"


def test_a_rebuild_in_small_batches_equals_the_incremental_projection(app, db_session, store) -> None:
    detail, other, users = _world(db_session)
    for n, user in enumerate(users):
        store(xapi(user.email, VERB_COMPLETED, detail.steps[0].activity_iri, minutes=n),
              xapi(user.email, VERB_COMPLETED, other.steps[n % 2].activity_iri, minutes=n),
              xapi(user.email, VERB_COMPLETED, "https://content.example.org/not-a-step", minutes=n))
    incremental = projection_snapshot(db_session)
    with app.app_context():
        assert projection.rebuild(db_session, batch_size=2) == 9
    assert projection_snapshot(db_session) == incremental


def test_one_failing_outcome_call_loses_only_its_own_change(app, db_session, store) -> None:
    from pathways.outcomes import on_outcome_changed
    detail, _other, [first, second] = _world(db_session, learners=2)
    heard: set[int] = set()

    def picky(session, change) -> None:
        if change.user_id == first.id:
            raise RuntimeError("platform down for this learner")
        heard.add(change.user_id)

    on_outcome_changed(app, picky)
    store(xapi(first.email, VERB_COMPLETED, detail.steps[0].activity_iri),
          xapi(second.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    assert heard == {second.id}
    for learner in (first, second):
        assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.percent == 50


def test_a_batch_on_pathways_that_certify_nothing_reads_no_awards_or_codes(db_session, store) -> None:
    detail, _other, users = _world(db_session)
    db_session.commit()  # the new learners' own refresh comes at the commit after their creation
    selects = _selects(db_session, lambda: store(*[xapi(u.email, VERB_COMPLETED, detail.steps[0].activity_iri)
                                                   for u in users]))
    assert [s for s in selects if "FROM certification_awards" in s or "FROM certificate_codes" in s] == []
    # The versions' keys, one small query: the versions and their steps were read by the learners'
    # refresh at the commit and kept (a version that is not a draft never changes).
    versions = [s for s in selects if "FROM pathways " in s or "pathway_steps.kind" in s]
    assert len(versions) == 1 and "pathway_steps" not in versions[0]
    assert services.learner_pathway(db_session, users[0].id, detail.pathway.id).progress.percent == 50


def test_a_certifying_pathway_reads_its_awards_and_codes_only_when_it_awards(db_session, store) -> None:
    detail = make_pathway(db_session, steps=2, outcome_kind="certification", grants_certification=True,
                          validity_days=365)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    db_session.commit()  # the new learner's own refresh comes at the commit after their creation
    halfway = _selects(db_session,
                       lambda: store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri)))
    assert [s for s in halfway if "FROM certificate_codes" in s] == []
    assert len([s for s in halfway if "FROM certification_awards" in s]) == 1
    second = xapi(learner.email, VERB_COMPLETED, detail.steps[1].activity_iri, minutes=1)
    done = _selects(db_session, lambda: store(second))
    assert len([s for s in done if "FROM certificate_codes" in s]) == 1
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.status == "completed"


def test_a_batch_finds_its_facts_voids_and_affected_learners_in_two_queries(db_session, store) -> None:
    detail, _other, users = _world(db_session)
    first, = store(xapi(users[0].email, VERB_COMPLETED, detail.steps[0].activity_iri))
    db_session.commit()
    batch = [xapi(u.email, VERB_COMPLETED, detail.steps[1].activity_iri, minutes=1) for u in users]
    selects = _selects(db_session, lambda: store(*batch, voiding(first.id)))
    on_facts = [s for s in selects if "FROM progress_voids" in s or "JOIN pathway_step_launches" in s
                or "pathway_steps.activity_iri IN" in s or "pathway_step_launches.registration IN" in s
                or "(user_identities.kind, user_identities.value) IN" in s]
    assert len(on_facts) == 2 and "FROM progress_facts" in on_facts[0]
    percents = [services.learner_pathway(db_session, u.id, detail.pathway.id).progress.percent for u in users]
    assert percents == [50, 50, 50]  # the first learner's voided step no longer counts


def test_a_learner_s_identities_and_launches_are_read_in_one_query(db_session, store) -> None:
    detail, _other, users = _world(db_session)
    db_session.commit()
    selects = _selects(db_session,
                       lambda: store(xapi(users[0].email, VERB_COMPLETED, detail.steps[0].activity_iri)))
    looked_up = [s for s in selects if "FROM user_identities" in s
                 and ("user_identities.user_id IN" in s or "user_identities.user_id = ANY" in s)]
    assert len(looked_up) == 1 and "FROM pathway_step_launches" in looked_up[0]


def test_a_batch_right_after_the_cursor_moves_it_by_one_statement(db_session, store) -> None:
    detail, _other, users = _world(db_session)
    # The cursor row is made by a first batch.
    store(xapi(users[0].email, VERB_COMPLETED, "https://content.example.org/not-a-step"))
    db_session.commit()
    run, _ = statements_run(db_session, lambda: store(*[xapi(u.email, VERB_COMPLETED,
                                                              detail.steps[0].activity_iri) for u in users]))
    seen = [sql for sql in run if "progress_cursor" in sql]
    assert len(seen) == 1 and seen[0].lstrip().upper().startswith("UPDATE")
    assert projection.last_applied_sequence(db_session) == lrs_services.latest_sequence(db_session)


def test_a_batch_after_a_gap_catches_the_cursor_up_first(db_session, store) -> None:
    detail, _other, [first, second, third] = _world(db_session)
    store(xapi(first.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    db_session.execute(update(ProgressCursor).values(last_sequence=0))  # as if that batch's projection failed
    db_session.execute(delete(ProgressFact))
    store(xapi(second.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    assert projection.last_applied_sequence(db_session) == lrs_services.latest_sequence(db_session)
    assert [services.learner_pathway(db_session, u.id, detail.pathway.id).progress.percent
            for u in (first, second, third)] == [50, 50, 0]


def test_the_facts_of_a_batch_are_looked_up_by_index_without_statistics(db_session, store) -> None:
    """The projection reads the facts and early voids of the statements a batch voids by statement
    id (the batch's own statements have no fact yet). With ``= ANY(ids)`` PostgreSQL read the whole
    facts table for every batch while it was small or had no statistics (1.2 ms a batch at 12,000
    facts, growing until an analysis). The affected learners are found from the facts' values."""
    import pytest
    from sqlalchemy import text

    from benchmarks.generator import Population, StatementGenerator, activity_id
    from pathways.models import Pathway, Step
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite uses its indexes for IN lists without statistics")
    population = Population(courses=2)
    gen = StatementGenerator(seed=23, population=population)
    # Every activity of the statements is a step's, so every statement about one has a fact.
    created = services.create_pathway(db_session, title="All", outcome_kind="onboarding")
    row = db_session.get(Pathway, created.id)
    row.steps = [Step(key=str(n), kind="xapi", title=f"Step {n}", activity_iri=activity_id(c, m, a),
                      done_verbs=[], prerequisites=[], position=n)
                 for n, (c, m, a) in enumerate((c, m, a) for c in range(population.courses)
                                               for m in range(population.modules_per_course)
                                               for a in range(population.activities_per_module))]
    db_session.flush()
    for start in range(0, 4000, 500):
        store(*gen.statements(start, 500))
    assert db_session.scalar(text("SELECT count(*) FROM progress_facts")) > 3500
    connection = db_session.connection()
    earlier = gen.statement(3999)["id"]
    batch = [*gen.statements(4000, 99), voiding(earlier)]
    with sql_sent(connection) as sent:
        store(*batch)
    issued = [(sql, parameters) for sql, parameters in sent if sql.lstrip().upper().startswith("SELECT")
              and ("progress_facts" in sql or "progress_voids" in sql)]
    targets = {s["object"]["id"] for s in batch if s["verb"]["id"] == "http://adlnet.gov/expapi/verbs/voided"}
    by_id = [(sql, parameters) for sql, parameters in issued
             if isinstance(parameters, dict) and parameters.get("ids")]
    assert len(by_id) == 1, issued  # the facts and voids; not the affected learners (by values)
    assert earlier in by_id[0][1]["ids"] and set(by_id[0][1]["ids"]) <= targets  # not the batch's own
    assert any("unnest" in sql and "pathway_steps" in sql and "progress_facts" not in sql
               for sql, _ in sent), sent
    for sql, parameters in by_id:
        plan = "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, parameters))
        assert "Seq Scan on progress_facts" not in plan and "Seq Scan on progress_voids" not in plan, plan


def test_the_projection_after_a_response_reuses_its_plans(db_session, monkeypatch) -> None:
    """The projection's transaction after the response runs the same statements every batch: on
    PostgreSQL it lets them reuse their plans (``cairn.db.reuse_plans``) as the store's does, set by
    the cursor claim itself when the batch follows the cursor, and separately when it does not. The
    claim also lets it commit without waiting for the disk (``cairn.db.ASYNC_COMMIT_SQL``); the
    other way round keeps the synchronous commit, and nothing of it outlives the transaction."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from lrs.subscribers import AFTER_COMMIT_KEY
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan cache")
    mode = text("SELECT current_setting('plan_cache_mode')")
    durability = text("SELECT current_setting('synchronous_commit')")
    modes: list[str] = []
    commits: list[str] = []
    claims: list[bool] = []
    claim = projection._claim
    monkeypatch.setattr(projection, "_claim", lambda *args, **kwargs: claims.append(claim(*args, **kwargs))
                        or claims[-1])
    stored = datetime(2026, 1, 1, tzinfo=UTC)
    # A connection of its own: the test's session is one transaction, in which a store has already
    # set the mode for the work after it.
    with db_session.get_bind().engine.connect() as connection, Session(bind=connection) as session:
        session.info[AFTER_COMMIT_KEY] = True  # as the LRS tells a subscriber after the commit
        separately: list[int] = []
        for first in (101, 500):  # right after the cursor (claimed), and not
            assert session.scalar(mode) == "force_custom_plan"
            assert session.scalar(durability) == "on"
            projection.read_cursor(session, lock=False)
            projection.move_cursor(session, 100)
            batch = [SimpleNamespace(id=str(uuid.uuid4()), sequence=first + n, statement={}, stored=stored,
                                     voided=False) for n in range(2)]
            with sql_sent(connection) as sent:
                projection.on_statements(session, batch)
            issued = [sql for sql, _ in sent]
            modes.append(session.scalar(mode))  # the projection's transaction, not yet ended
            commits.append(session.scalar(durability))
            separately.append(sum(sql.lstrip().startswith("SELECT set_config") for sql in issued))
            session.rollback()
        assert session.scalar(mode) == "force_custom_plan"
        assert session.scalar(durability) == "on"
    assert claims == [True, False]
    assert modes == ["auto", "auto"]
    assert commits == ["off", "on"]
    assert separately == [0, 1]  # the claim sets it: no round trip of its own


def test_the_learner_look_ups_have_one_text_whatever_the_number_of_learners(db_session) -> None:
    """The enrolment, LTI-link and certificate-code look-ups of a batch's learners send the same SQL
    text for one learner as for three (one array parameter on PostgreSQL): with IN lists the text
    changed with the count, and PostgreSQL parsed and planned them afresh for most batches."""
    import pytest

    from cairn.db import utcnow
    from lti.grades import outcomes_with_links
    from pathways.people import enrollments_for
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite expands IN lists by design")
    _detail, _other, users = _world(db_session)

    def look_ups(ids: list[int]) -> list[str]:
        changes = [outcomes.OutcomeChange(u, 1, None, None, None, False, utcnow()) for u in ids]
        return _selects(db_session, lambda: (enrollments_for(db_session, ids),
                                             outcomes_with_links(db_session, changes),
                                             refresh._Codes(db_session, ids)._loaded()))

    one, three = look_ups([users[0].id]), look_ups([u.id for u in users])
    assert len(one) >= 3 and one == three


def _generic_plan(db_session, build, arrays: dict[str, tuple[str, list]]) -> str:
    """PostgreSQL's plan for any values (as under ``reuse_plans``) of a built-once statement."""
    import re

    from cairn.db import built_once
    connection = db_session.connection()
    sql = str(built_once(db_session, build).compile(dialect=connection.dialect))
    names = list(arrays)
    sql = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", sql)
    connection.exec_driver_sql(f"PREPARE generic_plan_test AS {sql}")
    try:
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        values = ", ".join("ARRAY[" + ",".join(f"'{v}'" for v in values) + f"]::{kind}[]"
                           for kind, values in arrays.values())
        return "\n".join(row[0] for row in connection.exec_driver_sql(
            f"EXPLAIN EXECUTE generic_plan_test({values})"))
    finally:
        connection.exec_driver_sql("DEALLOCATE generic_plan_test")
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


def test_plans_for_any_values_look_learners_up_by_their_own_index(db_session) -> None:
    """Under ``reuse_plans`` PostgreSQL may run a plan made for any values. A learner's facts,
    progress and step rows are found by the learner's index; the list of pathways or steps only
    filters them: combined with another index (the activities' took a large share of all facts)
    the facts look-up took 2.7 ms a batch at 28,000 facts, 0.2 ms planned for its values. The
    facts' index is (identity, activity): the activities can narrow the look-up in that index
    itself (fetching every fact of each learner took 4.6 ms a batch at 1,000,000 facts, against 1.5)."""
    import uuid

    import pytest

    from cairn.db import utcnow
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's generic plans")
    now = utcnow()
    db_session.execute(ProgressFact.__table__.insert(), [
        {"statement_id": str(uuid.uuid4()), "sequence": n, "identity_kind": "mbox",
         "identity_value": f"mailto:l{n % 300}@example.org", "verb": VERB_COMPLETED,
         "activity_iri": f"https://example.org/activity/{n % 20}", "timestamp": now} for n in range(3000)])
    facts = _generic_plan(db_session, refresh._facts_by_identity_about, {
        "ids": ("varchar", ["mailto:l1@example.org", "mailto:l2@example.org"]),
        "activities": ("varchar", [f"https://example.org/activity/{n}" for n in range(10)])})
    # With a few facts a learner (here 10) the activities may filter what the index found instead.
    assert "ix_progress_facts_identity_activity" in facts and "BitmapAnd" not in facts \
        and "ix_progress_facts_activity_iri" not in facts, facts
    # The learners' pathway and step rows, one query: both looked up by learner only.
    plan = _generic_plan(db_session, refresh._derived_rows_of, {
        "ids": ("integer", [1, 2]), "pathways": ("integer", [3, 4]), "steps": ("integer", [5, 6])})
    assert "_pathway_id" not in plan and "_step_id" not in plan and "BitmapAnd" not in plan, plan
    assert "ix_pathway_progress_user_id" in plan and "ix_step_progress_user_id" in plan, plan


def test_a_few_rows_and_many_are_inserted_alike(db_session) -> None:
    """``insert_rows`` sends a few rows as one INSERT from arrays on PostgreSQL (a COPY is two round
    trips) and more by COPY: the rows come out the same either way, every column type and NULL,
    and a value too long for its column is refused either way on PostgreSQL (not cut short)."""
    import uuid

    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from cairn.db import utcnow
    from pathways import facts
    from tests.sql_seen import sql_sent
    now = utcnow()

    def rows(tag: str, count: int) -> list[dict]:
        return [{"statement_id": str(uuid.uuid4()), "sequence": 10_000 + n, "identity_kind": "mbox",
                 "identity_value": f"mailto:{tag}{n}@example.org", "verb": VERB_COMPLETED,
                 "activity_iri": "https://example.org/a",
                 "registration": None if n % 2 else str(uuid.uuid4()),
                 "timestamp": now, "success": (None, True, False)[n % 3], "completion": n % 2 == 0,
                 "score_scaled": None if n % 2 else n / 10, "voided_by": None} for n in range(count)]

    def stored(tag: str) -> list[tuple]:
        found = db_session.execute(select(
            ProgressFact.sequence, ProgressFact.identity_value, ProgressFact.registration.is_(None),
            ProgressFact.timestamp, ProgressFact.success, ProgressFact.completion, ProgressFact.score_scaled,
            ProgressFact.voided_by).where(ProgressFact.identity_value.like(f"mailto:{tag}%"))
            .order_by(ProgressFact.sequence)).all()
        return [(s, v.replace(tag, ""), *rest) for s, v, *rest in found]

    connection = db_session.connection()
    for tag, count in (("few", 3), ("many", facts.FEW_ROWS + 1)):
        with sql_sent(connection) as sent:
            facts.insert_rows(db_session, ProgressFact, rows(tag, count))
        inserts = [sql for sql, _ in sent if sql.startswith("INSERT INTO progress_facts")]
        if connection.dialect.name == "postgresql":
            assert len(inserts) == (1 if count <= facts.FEW_ROWS else 0), sent  # COPY is not a statement here
    assert stored("few") == stored("many")[:3]
    assert stored("few")[0][3] == now and stored("few")[1][4] is True and stored("few")[0][6] == 0.0
    assert db_session.scalar(text(
        "SELECT count(*) FROM progress_facts WHERE identity_value LIKE 'mailto:many%'")) == facts.FEW_ROWS + 1
    if connection.dialect.name != "postgresql":
        return  # SQLite keeps a string of any length
    for count in (1, facts.FEW_ROWS + 1):
        too_long = rows("long", count)
        too_long[0]["statement_id"] += "-and-more"
        with pytest.raises(DBAPIError), db_session.begin_nested():
            facts.insert_rows(db_session, ProgressFact, too_long)
