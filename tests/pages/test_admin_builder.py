"""The pathway builder pages: create, add steps, reorder without script, validation beside fields."""
from __future__ import annotations

import re

from pathways import services
from tests import factories
from tests.pagetools import assert_clean_page, post_form, sign_in


def _admin(client, db_session, email: str) -> None:
    factories.admin(db_session, email=email)
    db_session.commit()
    sign_in(client, email)


def _create(client, title: str = "Fire safety") -> int:
    response = post_form(client, "/admin/pathways/new", "/admin/pathways/new",
                         {"title": title, "outcome_kind": "compliance", "ordering": "sequential"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/admin/pathways/(\d+)", response.headers["Location"]).group(1))


def _add_step(client, pathway_id: int, **values: str) -> None:
    url = f"/admin/pathways/{pathway_id}/steps/new"
    response = post_form(client, url + f"?kind={values['kind']}", url, {"required": "true", **values})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_the_builder_is_for_administrators_only(client, db_session) -> None:
    factories.user(db_session, email="learner-b@example.org")
    db_session.commit()
    sign_in(client, "learner-b@example.org")
    assert client.get("/admin/pathways").status_code == 403
    assert client.get("/admin/pathways/new").status_code == 403


def test_an_administrator_creates_a_pathway_and_adds_steps_of_each_kind(client, db_session) -> None:
    _admin(client, db_session, "builder@example.org")
    pathway_id = _create(client)
    _add_step(client, pathway_id, kind="xapi", title="Watch the video", launch_url="https://content.example/v")
    _add_step(client, pathway_id, kind="document", title="Read the policy", document_url="https://docs.example/p")
    _add_step(client, pathway_id, kind="session", title="Drill", session_starts_at="2030-01-02T10:00",
              session_place="Yard", session_capacity="12")
    detail = services.get_pathway(db_session, pathway_id)
    assert [(s.kind, s.title) for s in detail.steps] == [
        ("xapi", "Watch the video"), ("document", "Read the policy"), ("session", "Drill")]
    assert detail.steps[2].session_place == "Yard" and detail.steps[2].session_capacity == 12
    page = client.get(f"/admin/pathways/{pathway_id}").get_data(as_text=True)
    assert_clean_page(page)
    assert "Watch the video" in page and "Review and publish" in page


def test_reordering_works_without_script_by_the_move_buttons(client, db_session) -> None:
    _admin(client, db_session, "order@example.org")
    pathway_id = _create(client, "Ordering")
    for title in ("One", "Two", "Three"):
        _add_step(client, pathway_id, kind="document", title=title, document_url="https://d.example/" + title)
    ids = [s.id for s in services.get_pathway(db_session, pathway_id).steps]
    url = f"/admin/pathways/{pathway_id}"
    response = post_form(client, url, url + "/order", {"order": ids, "move": f"{ids[2]}:up"})
    assert response.status_code == 302
    db_session.expire_all()
    assert [s.title for s in services.get_pathway(db_session, pathway_id).steps] == ["One", "Three", "Two"]


def test_an_invalid_step_is_shown_again_with_the_field_named_and_nothing_saved(client, db_session) -> None:
    _admin(client, db_session, "invalid@example.org")
    pathway_id = _create(client, "Invalid")
    url = f"/admin/pathways/{pathway_id}/steps/new"
    response = post_form(client, url, url, {"kind": "xapi", "title": "No URL", "min_score_percent": "150"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="min_score_percent-error"' in html
    response = post_form(client, url, url, {"kind": "xapi", "title": "No URL"})
    assert response.status_code == 400 and 'id="launch_url-error"' in response.get_data(as_text=True)
    db_session.expire_all()
    assert services.get_pathway(db_session, pathway_id).steps == ()


def test_editing_a_published_pathway_makes_a_draft_whose_dry_run_names_the_learners_affected(
        app, client, db_session) -> None:
    from pathways import actions
    _admin(client, db_session, "versions@example.org")
    learner = factories.user(db_session, email="vera@example.org", name="Vera Version")
    pathway_id = _create(client, "Versioned")
    _add_step(client, pathway_id, kind="document", title="Part one", document_url="https://d.example/1")
    url = f"/admin/pathways/{pathway_id}"
    assert post_form(client, url, url + "/publish", {}).status_code == 302
    services.assign_pathway(db_session, pathway_id, user_id=learner.id)
    step = services.get_pathway(db_session, pathway_id).steps[0]
    with app.app_context():
        actions.record_reading(db_session, learner.id, step.id)
    db_session.commit()

    response = post_form(client, url, url + "/draft", {})
    draft_id = int(re.search(r"/admin/pathways/(\d+)", response.headers["Location"]).group(1))
    assert draft_id != pathway_id
    _add_step(client, draft_id, kind="document", title="Part two", document_url="https://d.example/2")
    review = client.get(f"/admin/pathways/{draft_id}/publish").get_data(as_text=True)
    assert_clean_page(review)
    assert "Vera Version" in review and "completed" in review and "50%" in review
    draft_url = f"/admin/pathways/{draft_id}"
    assert post_form(client, draft_url, draft_url + "/publish", {}).status_code == 302
    db_session.expire_all()
    versions = {v.version: v.status for v in services.versions_of(db_session, services.get_pathway(
        db_session, pathway_id).pathway.lineage)}
    assert versions == {1: "archived", 2: "published"}
