"""AGS scores queued from pathway outcome changes, in-process (the end-to-end runs are in test_advantage)."""
from __future__ import annotations

from sqlalchemy import select

from lrs import services as lrs_services
from lti.adapter import AGS_SCOPE_SCORE
from lti.models import Context, ContextMember, Platform, ResourceLink, ScoreDelivery
from pathways import services
from pathways.catalogue import VERB_COMPLETED
from pathways.projection import system_authority
from tests import factories
from tests.pathways.conftest import make_pathway, xapi
from tests.sql_seen import sql_sent


def _linked_course(db_session, lineage: str, learner) -> None:
    """A platform course whose resource link leads to the pathway, with ``learner`` in it."""
    vle = "https://vle.example.edu"
    platform = Platform(issuer=vle, client_id="cairn", auth_login_url=f"{vle}/a", token_url=f"{vle}/t",
                        jwks_url=f"{vle}/k")
    db_session.add(platform)
    db_session.flush()
    context = Context(platform_id=platform.id, context_id="course-1")
    db_session.add(context)
    db_session.flush()
    db_session.add_all([
        ContextMember(context_id=context.id, user_id=learner.id, sub="sub-1"),
        ResourceLink(platform_id=platform.id, context_id=context.id, resource_link_id="link-1",
                     target_kind="pathway", target_id=lineage, lineitem_url="https://vle.example.edu/li/1",
                     ags_scopes=[AGS_SCOPE_SCORE])])
    db_session.flush()


def _statements_while(app, db_session, *statements: dict) -> list[str]:
    with sql_sent(db_session.connection()) as sent, app.app_context():
        lrs_services.store_statements(db_session, list(statements), authority=system_authority())
    return [" ".join(sql.split()) for sql, _ in sent]


def test_a_learner_in_a_linked_course_gets_the_changed_pathway_score_queued(app, db_session) -> None:
    detail = make_pathway(db_session, steps=2)
    linked, unlinked = factories.user(db_session), factories.user(db_session)
    for learner in (linked, unlinked):
        services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    _linked_course(db_session, detail.pathway.lineage, linked)
    _statements_while(app, db_session, *(xapi(u.email, VERB_COMPLETED, detail.steps[0].activity_iri)
                                         for u in (linked, unlinked)))
    queued = db_session.scalars(select(ScoreDelivery)).all()
    assert [(q.user_id, q.sub, q.score_given, q.activity_progress) for q in queued] == \
        [(linked.id, "sub-1", 50.0, "InProgress")]


def test_outcome_changes_of_learners_in_no_linked_course_cost_one_query_and_no_savepoint(app,
                                                                                        db_session) -> None:
    detail = make_pathway(db_session, steps=2)
    learners = [factories.user(db_session) for _ in range(3)]
    for learner in learners:
        services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    unrelated = _statements_while(
        app, db_session, *(xapi(u.email, VERB_COMPLETED, "https://example.org/elsewhere") for u in learners))
    changing = _statements_while(
        app, db_session, *(xapi(u.email, VERB_COMPLETED, detail.steps[0].activity_iri) for u in learners))
    assert all(services.learner_pathway(db_session, u.id, detail.pathway.id).progress.percent == 50
               for u in learners)
    # Three changes, none with a link to go to: no SAVEPOINT beyond the ones any batch has, one look.
    savepoints = [[s for s in run if s.startswith("SAVEPOINT")] for run in (unrelated, changing)]
    assert len(savepoints[1]) == len(savepoints[0])
    assert len([s for s in changing if "lti_resource_links" in s]) == 1
    assert db_session.scalars(select(ScoreDelivery)).all() == []


def test_score_timestamps_have_one_width_so_their_text_order_is_their_time_order() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from lti.grades import score_timestamp
    whole = datetime(2026, 11, 29, 6, 44, 35, tzinfo=UTC)
    later = whole + timedelta(milliseconds=250)
    assert score_timestamp(whole) == "2026-11-29T06:44:35.000000Z"
    assert score_timestamp(later) == "2026-11-29T06:44:35.250000Z"
    assert score_timestamp(whole) < score_timestamp(later)
    assert score_timestamp(whole.astimezone(timezone(timedelta(hours=2)))) == "2026-11-29T06:44:35.000000Z"
