"""Administration forms: a saved form flashes what it did and redirects; a refused one says why."""
from __future__ import annotations

from pathways import assessments, services
from tests import factories
from tests.pagetools import post_form, sign_in


def _admin(client, db_session, email: str) -> None:
    factories.admin(db_session, email=email)
    db_session.commit()
    sign_in(client, email)


def _followed(client, response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_category_is_added_and_renamed_and_a_blank_name_is_refused_beside_the_field(
        client, db_session) -> None:
    _admin(client, db_session, "categories@example.org")
    added = post_form(client, "/admin/categories", "/admin/categories", {"name": "Safety"})
    assert added.headers["Location"] == "/admin/categories"
    assert "Category “Safety” added." in _followed(client, added)
    [category] = services.list_categories(db_session)
    url = f"/admin/categories/{category.id}"
    renamed = post_form(client, url, url, {"name": "Fire safety"})
    assert "Category “Fire safety” saved." in _followed(client, renamed)
    # The form takes "   " (it is not empty); the service refuses it, and the page shows it beside the name.
    refused = post_form(client, url, url, {"name": "   "})
    assert refused.status_code == 400 and 'id="name-error"' in refused.get_data(as_text=True)
    db_session.expire_all()
    assert [c.name for c in services.list_categories(db_session)] == ["Fire safety"]


def test_a_refused_step_order_is_flashed_on_the_builder_and_the_order_is_kept(client, db_session) -> None:
    _admin(client, db_session, "reorder@example.org")
    pathway = services.create_pathway(db_session, title="Order", outcome_kind="compliance")
    for title in ("One", "Two"):
        services.add_step(db_session, pathway.id, kind="document", title=title,
                          document_url=f"https://d.example/{title}")
    db_session.commit()
    ids = [s.id for s in services.get_pathway(db_session, pathway.id).steps]
    url = f"/admin/pathways/{pathway.id}"
    refused = post_form(client, url, url + "/order", {"order": [ids[1]]})
    assert refused.headers["Location"] == f"{url}#steps"
    assert ("The order could not be saved: step_ids: must list every step of the pathway exactly once"
            in _followed(client, refused))
    saved = post_form(client, url, url + "/order", {"order": [ids[1], ids[0]]})
    assert saved.headers["Location"] == f"{url}#steps"
    assert "Step order saved." in _followed(client, saved)
    db_session.expire_all()
    assert [s.title for s in services.get_pathway(db_session, pathway.id).steps] == ["Two", "One"]


def test_a_step_is_saved_from_its_edit_page_and_an_invalid_one_is_shown_again(client, db_session) -> None:
    _admin(client, db_session, "steps@example.org")
    pathway = services.create_pathway(db_session, title="Steps", outcome_kind="compliance")
    step = services.add_step(db_session, pathway.id, kind="document", title="Read",
                             document_url="https://d.example/read")
    db_session.commit()
    url = f"/admin/steps/{step.id}"
    refused = post_form(client, url, url, {"kind": "document", "title": ""})
    assert refused.status_code == 400 and 'id="title-error"' in refused.get_data(as_text=True)
    saved = post_form(client, url, url, {"kind": "document", "title": "Read it all", "required": "true",
                                         "document_url": "https://d.example/read"})
    assert saved.headers["Location"] == f"/admin/pathways/{pathway.id}#steps"
    assert "Step “Read it all” saved." in _followed(client, saved)


def test_an_audience_and_an_assessment_are_saved_and_a_service_refusal_is_shown_on_the_form(
        client, db_session) -> None:
    _admin(client, db_session, "audiences@example.org")
    audience = services.create_audience(db_session, name="Ward B")
    quiz = assessments.create_assessment(db_session, title="Quiz")
    db_session.commit()
    url = f"/admin/audiences/{audience.id}"
    assert "Audience saved." in _followed(client, post_form(client, url, url, {"name": "Ward C"}))
    refused = post_form(client, url, url, {"name": "  "})
    assert refused.status_code == 400 and 'id="name-error"' in refused.get_data(as_text=True)
    assert services.get_audience(db_session, audience.id).name == "Ward C"
    url = f"/admin/assessments/{quiz.id}"
    saved = post_form(client, url, url, {"title": "Final quiz", "pass_percent": "60"})
    assert saved.headers["Location"] == url
    assert "Assessment saved." in _followed(client, saved)
    refused = post_form(client, url, url, {"title": "Final quiz", "pass_percent": "160"})
    assert refused.status_code == 400 and 'id="pass_percent-error"' in refused.get_data(as_text=True)


def test_a_field_s_extra_attributes_reach_the_browser_as_written_and_escaped(app) -> None:
    """Number fields' bounds and steps, and password fields' autocomplete, as the browser reads them
    (they went out as min="&#34;1&#34;": no bound, and a step of 1 that refused 0.5)."""
    with app.test_request_context():
        forms = app.jinja_env.get_template("_forms.html").module
        number = str(forms.input("points", "Points", 1, None, type="number",
                                 attrs={"min": "0.01", "step": "any"}))
        assert 'type="number" value="1" min="0.01" step="any">' in number
        password = str(forms.input("password", "Password", "", None, type="password",
                                   attrs={"autocomplete": "new-password"}))
        assert 'autocomplete="new-password">' in password
        chooser = str(forms.select("kind", "Kind", [("a", "A")], "a", None, attrs={"data-kind-select": ""}))
        assert '<select id="kind" name="kind" data-kind-select="">' in chooser
        hostile = str(forms.input("q", "Q", "", None, attrs={"title": 'say "hi" <b>'}))
        assert 'title="say &#34;hi&#34; &lt;b&gt;"' in hostile
        assert 'type="text" value="">' in str(forms.input("q", "Q"))
