"""Categories, pathways with versions, and steps (issue 6: what administrators build)."""
from __future__ import annotations

import pytest

from pathways import services
from pathways.errors import Conflict, InvalidInput, NotFound
from tests.pathways.conftest import make_pathway


def test_categories_nest_and_list_depth_first(db_session) -> None:
    root = services.create_category(db_session, name="Compliance")
    child = services.create_category(db_session, name="Fire safety", parent_id=root.id)
    services.create_category(db_session, name="Onboarding")
    listed = [(c.name, c.depth, c.path) for c in services.list_categories(db_session)]
    assert ("Compliance", 0, ("Compliance",)) in listed
    assert listed[listed.index(("Compliance", 0, ("Compliance",))) + 1] == \
        ("Fire safety", 1, ("Compliance", "Fire safety"))
    assert child.parent_id == root.id


def test_a_category_cannot_be_moved_inside_itself(db_session) -> None:
    root = services.create_category(db_session, name="A")
    child = services.create_category(db_session, name="B", parent_id=root.id)
    with pytest.raises(InvalidInput) as error:
        services.update_category(db_session, root.id, parent_id=child.id)
    assert error.value.field == "parent_id"


def test_deleting_a_category_moves_its_pathways_to_the_parent(db_session) -> None:
    root = services.create_category(db_session, name="A")
    child = services.create_category(db_session, name="B", parent_id=root.id)
    pathway = services.create_pathway(db_session, title="P", outcome_kind="onboarding", category_id=child.id)
    services.delete_category(db_session, child.id)
    assert services.get_pathway(db_session, pathway.id).pathway.category_id == root.id


def test_pathway_has_outcome_kind_status_ordering_and_its_own_activity_iri(db_session) -> None:
    pathway = services.create_pathway(db_session, title="Welcome", outcome_kind="onboarding",
                                      ordering="sequential")
    assert pathway.status == "draft" and pathway.version == 1 and pathway.ordering == "sequential"
    assert pathway.activity_iri.startswith("urn:uuid:")
    with pytest.raises(InvalidInput) as error:
        services.create_pathway(db_session, title="X", outcome_kind="party")
    assert error.value.field == "outcome_kind"
    with pytest.raises(InvalidInput) as error:
        services.create_pathway(db_session, title=" ", outcome_kind="onboarding")
    assert error.value.field == "title"


def test_recertification_window_needs_a_longer_validity(db_session) -> None:
    with pytest.raises(InvalidInput) as error:
        services.create_pathway(db_session, title="C", outcome_kind="certification",
                                grants_certification=True, validity_days=30, recertification_window_days=30)
    assert error.value.field == "recertification_window_days"


def test_steps_are_ordered_and_reorderable(db_session) -> None:
    detail = make_pathway(db_session, steps=3, publish=False)
    ids = [s.id for s in detail.steps]
    services.reorder_steps(db_session, detail.pathway.id, [ids[2], ids[0], ids[1]])
    steps = services.get_pathway(db_session, detail.pathway.id).steps
    assert [s.id for s in steps] == [ids[2], ids[0], ids[1]]
    assert [s.position for s in steps] == [0, 1, 2]
    with pytest.raises(InvalidInput):
        services.reorder_steps(db_session, detail.pathway.id, [ids[0], ids[1]])


def test_step_kinds_have_their_own_rules(db_session) -> None:
    pathway = services.create_pathway(db_session, title="P", outcome_kind="onboarding")
    with pytest.raises(InvalidInput) as error:
        services.add_step(db_session, pathway.id, kind="cmi5", title="AU", launch_url="https://c.example/au")
    assert error.value.field == "move_on"
    au = services.add_step(db_session, pathway.id, kind="cmi5", title="AU", launch_url="https://c.example/au",
                           move_on="CompletedAndPassed", mastery_score=0.7, activity_iri="https://c.example/au/1")
    assert au.move_on == "CompletedAndPassed" and au.activity_iri == "https://c.example/au/1"
    with pytest.raises(InvalidInput) as error:
        services.add_step(db_session, pathway.id, kind="xapi", title="No URL")
    assert error.value.field == "launch_url"
    doc = services.add_step(db_session, pathway.id, kind="document", title="Policy",
                            document_url="https://intranet.example/policy.pdf")
    assert doc.done_verbs == (services.VERB_READ,)
    session = services.add_step(db_session, pathway.id, kind="session", title="Workshop",
                                session_place="Room 1", session_capacity=12)
    assert session.done_verbs == (services.VERB_ATTENDED,) and session.session_capacity == 12
    content = services.add_step(db_session, pathway.id, kind="xapi", title="Video", launch_url="https://v.example",
                                done_verbs=["http://adlnet.gov/expapi/verbs/experienced"], min_score=0.5)
    assert content.done_verbs == ("http://adlnet.gov/expapi/verbs/experienced",)
    with pytest.raises(InvalidInput) as error:
        services.update_step(db_session, content.id, min_score=1.5)
    assert error.value.field == "min_score"


def test_prerequisites_name_other_steps_and_never_form_a_cycle(db_session) -> None:
    detail = make_pathway(db_session, steps=2, publish=False)
    first, second = detail.steps
    updated = services.update_step(db_session, second.id, prerequisites=[first.id])
    assert updated.prerequisites == (first.key,)
    with pytest.raises(InvalidInput) as error:
        services.update_step(db_session, first.id, prerequisites=[second.key])
    assert error.value.field == "prerequisites"
    with pytest.raises(InvalidInput):
        services.update_step(db_session, first.id, prerequisites=[first.key])


def test_publishing_needs_a_draft_with_steps(db_session) -> None:
    empty = services.create_pathway(db_session, title="Empty", outcome_kind="onboarding")
    with pytest.raises(InvalidInput):
        services.publish_pathway(db_session, empty.id)
    detail = make_pathway(db_session)
    assert detail.pathway.status == "published" and detail.pathway.published_at is not None
    with pytest.raises(Conflict):
        services.publish_pathway(db_session, detail.pathway.id)


def test_editing_a_published_pathway_makes_a_new_version(db_session) -> None:
    detail = make_pathway(db_session, steps=2)
    draft = services.update_pathway(db_session, detail.pathway.id, title="Safety basics 2027")
    assert draft.id != detail.pathway.id and draft.version == 2 and draft.status == "draft"
    assert draft.lineage == detail.pathway.lineage and draft.activity_iri == detail.pathway.activity_iri
    # The published version is untouched until the draft is published.
    assert services.get_pathway(db_session, detail.pathway.id).pathway.title == "Safety basics"
    # A step edit on the published version lands in the same draft, matched by step key.
    step = services.update_step(db_session, detail.steps[0].id, title="Module 1 (new)")
    assert step.pathway_id == draft.id and step.key == detail.steps[0].key
    draft_steps = services.get_pathway(db_session, draft.id).steps
    assert [s.activity_iri for s in draft_steps] == [s.activity_iri for s in detail.steps]
    services.publish_pathway(db_session, draft.id)
    assert services.get_pathway(db_session, detail.pathway.id).pathway.status == "archived"
    assert services.published_version(db_session, detail.pathway.lineage).id == draft.id
    assert [v.version for v in services.versions_of(db_session, detail.pathway.lineage)] == [2, 1]


def test_list_pathways_filters_and_shows_newest_version(db_session) -> None:
    category = services.create_category(db_session, name="Cat")
    make_pathway(db_session, title="Fire drill", category_id=category.id)
    detail = make_pathway(db_session, title="First aid")
    services.update_pathway(db_session, detail.pathway.id, description="now with CPR")
    titles = [(p.title, p.version) for p in services.list_pathways(db_session, search="first")]
    assert titles == [("First aid", 2)]
    assert [p.title for p in services.list_pathways(db_session, category_id=category.id)] == ["Fire drill"]
    assert services.list_pathways(db_session, status="published", search="first")[0].version == 1


def test_unknown_pathway_is_not_found(db_session) -> None:
    with pytest.raises(NotFound):
        services.get_pathway(db_session, 999999)
