"""Property: the incremental projection and ``cairn progress rebuild`` give identical results (issue 6).

Hypothesis generates random statement streams about two learners (one with two identities) and
the steps of two pathways (a certification with validity and a renewal window, and a sequential
pathway with a cmi5 unit and a minimum score), in random batches, with out-of-order timestamps
and voids of earlier statements. After storing them through the LRS (the subscriber projecting each
batch), a rebuild from scratch must reproduce every derived value and its evidence exactly.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.accounts.services import Identity, add_identity
from pathways import projection, services
from pathways.catalogue import VERB_COMPLETED, VERB_FAILED, VERB_PASSED, VERB_SATISFIED
from tests import factories
from tests.pathways.conftest import T0, voiding
from tests.pathways.snapshot import projection_snapshot

# Weighted towards the verbs that complete steps, so that streams reach completions and awards.
VERBS = [VERB_COMPLETED, VERB_COMPLETED, VERB_PASSED, VERB_PASSED, VERB_PASSED, VERB_FAILED, VERB_SATISFIED,
         "http://adlnet.gov/expapi/verbs/experienced"]

event = st.fixed_dictionaries({
    "actor": st.sampled_from([0, 0, 1, 2, 2]),  # 0: learner A by mbox, 1: learner A by account, 2: learner B
    "activity": st.sampled_from([0, 1, 2, 3, 0, 1, 2, 3, 4]),  # index into the steps' activities
    "verb": st.sampled_from(VERBS),
    "minutes": st.sampled_from(range(-600_000, 600_000, 7_919)),  # over two years: cycles can renew
    "scaled": st.sampled_from([None, 0.3, 0.6, 0.8, 0.8, 1.0]),
})
stream = st.lists(st.lists(st.one_of(event, event, event, st.integers(0, 60).map(lambda i: {"void": i})),
                           min_size=1, max_size=10), min_size=2, max_size=8)


def _world(db_session):
    cert = services.create_pathway(db_session, title="Certificate", outcome_kind="certification",
                                   grants_certification=True, validity_days=200,
                                   recertification_window_days=50)
    a1 = services.add_step(db_session, cert.id, kind="xapi", title="A1", launch_url="https://c.example/a1",
                           activity_iri="https://c.example/a1")
    a2 = services.add_step(db_session, cert.id, kind="xapi", title="A2", launch_url="https://c.example/a2",
                           activity_iri="https://c.example/a2", min_score=0.7)
    services.publish_pathway(db_session, cert.id)
    seq = services.create_pathway(db_session, title="Sequence", outcome_kind="academic",
                                  ordering="sequential")
    b1 = services.add_step(db_session, seq.id, kind="cmi5", title="B1", launch_url="https://c.example/b1",
                           activity_iri="https://c.example/b1", move_on="CompletedAndPassed",
                           mastery_score=0.6)
    services.add_step(db_session, seq.id, kind="xapi", title="B2", launch_url="https://c.example/a1",
                      activity_iri="https://c.example/a1", required=False)
    b3 = services.add_step(db_session, seq.id, kind="xapi", title="B3", launch_url="https://c.example/b3",
                           activity_iri="https://c.example/b3", done_verbs=[VERB_PASSED])
    services.publish_pathway(db_session, seq.id)
    learner_a, learner_b = factories.user(db_session), factories.user(db_session)
    add_identity(db_session, learner_a, Identity("account", "https://lms.example|a"))
    services.assign_pathway(db_session, cert.id, user_id=learner_a.id)
    services.assign_pathway(db_session, seq.id, user_id=learner_b.id, recurrence_months=3)
    activities = [a1.activity_iri, a2.activity_iri, b1.activity_iri, b3.activity_iri, "https://c.example/other"]
    actors = [{"objectType": "Agent", "mbox": f"mailto:{learner_a.email}"},
              {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "a"}},
              {"objectType": "Agent", "mbox": f"mailto:{learner_b.email}"}]
    return activities, actors


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(batches=stream)
def test_incremental_and_rebuilt_projections_are_identical(app, db_session, store, batches) -> None:
    savepoint = db_session.begin_nested()
    try:
        activities, actors = _world(db_session)
        stored_ids: list[str] = []
        voided: set[str] = set()
        for batch in batches:
            statements = []
            for item in batch:
                if "void" in item:
                    candidates = [i for i in stored_ids if i not in voided]
                    if candidates:
                        target = candidates[item["void"] % len(candidates)]
                        voided.add(target)
                        statements.append(voiding(target))
                    continue
                statement = {"id": str(uuid.uuid4()), "actor": actors[item["actor"]],
                             "verb": {"id": item["verb"]},
                             "object": {"objectType": "Activity", "id": activities[item["activity"]]},
                             "timestamp": (T0 + timedelta(minutes=item["minutes"])).isoformat()}
                if item["scaled"] is not None:
                    statement["result"] = {"score": {"scaled": item["scaled"]}}
                statements.append(statement)
            if statements:
                stored = store(*statements)
                stored_ids.extend(s.id for s in stored
                                  if s.statement["verb"]["id"] != "http://adlnet.gov/expapi/verbs/voided")
        incremental = projection_snapshot(db_session)
        with app.app_context():
            projection.rebuild(db_session)
        rebuilt = projection_snapshot(db_session)
        assert rebuilt == incremental
    finally:
        savepoint.rollback()
