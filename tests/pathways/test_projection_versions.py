"""The projection's copies of pathway versions: what it may keep between batches, and when it reads again."""
from __future__ import annotations

from pathways import services
from pathways.versions import PathwayVersion, versions_among
from tests import factories
from tests.pathways.conftest import make_pathway, xapi


def _steps(version: PathwayVersion) -> list[tuple[str, float | None]]:
    return [(s.title, s.min_score) for s in version.steps]


def test_a_published_version_is_read_once_and_then_kept(db_session) -> None:
    detail = make_pathway(db_session, steps=2)
    first = versions_among(db_session, [detail.pathway.id])[detail.pathway.id]
    again = versions_among(db_session, [detail.pathway.id])[detail.pathway.id]
    assert again is first and first.status == "published" and len(first.steps) == 2


def test_an_archived_version_is_read_with_its_new_status(db_session) -> None:
    detail = make_pathway(db_session, steps=2)
    published = versions_among(db_session, [detail.pathway.id])[detail.pathway.id]
    services.archive_pathway(db_session, detail.pathway.id)
    archived = versions_among(db_session, [detail.pathway.id])[detail.pathway.id]
    assert archived.status == "archived" and _steps(archived) == _steps(published)


def test_a_version_archived_by_the_next_publish_is_read_with_its_new_status(db_session) -> None:
    detail = make_pathway(db_session, steps=1)
    versions_among(db_session, [detail.pathway.id])
    draft = services.update_pathway(db_session, detail.pathway.id, title="v2")
    services.publish_pathway(db_session, draft.id)
    versions = versions_among(db_session, [detail.pathway.id, draft.id])
    assert versions[detail.pathway.id].status == "archived" and versions[draft.id].status == "published"


def test_a_draft_is_never_kept(db_session) -> None:
    detail = make_pathway(db_session, steps=1, publish=False)
    versions_among(db_session, [detail.pathway.id])
    services.add_step(db_session, detail.pathway.id, kind="xapi", title="Added", launch_url="https://n.example")
    draft = versions_among(db_session, [detail.pathway.id])[detail.pathway.id]
    assert draft.status == "draft" and [t for t, _ in _steps(draft)] == ["Module 1", "Added"]


def test_a_publish_rolled_back_then_edited_and_published_again_is_read_afresh(db_session) -> None:
    detail = make_pathway(db_session, steps=1, publish=False)
    step_id = detail.steps[0].id
    savepoint = db_session.begin_nested()
    services.publish_pathway(db_session, detail.pathway.id)
    assert _steps(versions_among(db_session, [detail.pathway.id])[detail.pathway.id]) == \
        [("Module 1", None)]
    savepoint.rollback()
    services.update_step(db_session, step_id, min_score=0.8)
    services.publish_pathway(db_session, detail.pathway.id)
    assert _steps(versions_among(db_session, [detail.pathway.id])[detail.pathway.id]) == \
        [("Module 1", 0.8)]


def test_progress_on_a_kept_version_follows_its_archiving(db_session, store) -> None:
    detail = make_pathway(db_session, steps=2)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    store(xapi(learner.email, "http://adlnet.gov/expapi/verbs/completed", detail.steps[0].activity_iri))
    draft = services.update_pathway(db_session, detail.pathway.id, title="v2")
    services.publish_pathway(db_session, draft.id)
    # The old version is now archived: a statement about its step still counts on it (history), and
    # the learner's enrolment is on the new version, which the same activity completes as well.
    store(xapi(learner.email, "http://adlnet.gov/expapi/verbs/completed", detail.steps[1].activity_iri,
               minutes=5))
    history = {p.pathway.id: p
               for p in services.learner_pathways(db_session, learner.id, include_history=True)}
    assert history[detail.pathway.id].status == "completed" and history[draft.id].status == "completed"
