"""The people pages: administrators only, search, create with attributes, edit, errors beside fields."""
from __future__ import annotations

from cairn.accounts.services import list_users
from tests import factories
from tests.pagetools import assert_clean_page, post_form, sign_in


def test_people_pages_are_for_administrators_only(client, db_session) -> None:
    factories.user(db_session, email="ann@example.org")
    db_session.commit()
    assert client.get("/admin/people/").status_code == 302  # to the sign-in page
    sign_in(client, "ann@example.org")
    assert client.get("/admin/people/").status_code == 403


def test_an_administrator_adds_a_learner_with_attributes_and_finds_them(client, db_session) -> None:
    factories.admin(db_session, email="root@example.org")
    db_session.commit()
    sign_in(client, "root@example.org")
    response = post_form(client, "/admin/people/", "/admin/people/", {
        "name": "Sam Sales", "email": "sam@example.org", "password": "long enough", "role": "learner",
        "active": "true", "attributes": "department = Sales\nlocation = Lyon"})
    assert response.status_code == 302
    [sam] = list_users(db_session, search="SAM@")
    assert sam.attributes == {"department": "Sales", "location": "Lyon"}
    page = client.get("/admin/people/?q=sales").get_data(as_text=True)
    assert "Sam Sales" in page and "department: Sales" in page
    assert_clean_page(page)


def test_a_bad_person_form_is_shown_again_with_the_field_named(client, db_session) -> None:
    factories.admin(db_session, email="root2@example.org")
    db_session.commit()
    sign_in(client, "root2@example.org")
    response = post_form(client, "/admin/people/", "/admin/people/",
                         {"name": "Xeno Bad", "email": "not-an-email", "attributes": "no equals sign"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="email-error"' in html and 'id="attributes-error"' in html and 'aria-invalid="true"' in html
    assert list_users(db_session, search="Xeno") == []


def test_editing_a_person_changes_role_attributes_and_deactivates(client, db_session) -> None:
    factories.admin(db_session, email="root3@example.org")
    learner = factories.user(db_session, email="pat@example.org", name="Pat")
    db_session.commit()
    sign_in(client, "root3@example.org")
    url = f"/admin/people/{learner.id}"
    assert_clean_page(client.get(url).get_data(as_text=True))
    response = post_form(client, url, url, {"name": "Pat Prime", "role": "learner",
                                            "attributes": "role = nurse"})
    assert response.status_code == 302
    db_session.refresh(learner)
    assert (learner.name, learner.attributes, learner.active) == ("Pat Prime", {"role": "nurse"}, False)


def test_a_short_password_or_a_taken_email_is_said_beside_its_field_and_nothing_changes(
        client, db_session) -> None:
    factories.admin(db_session, email="root4@example.org")
    taken = factories.user(db_session, email="taken@example.org", name="Tess Taken")
    db_session.commit()
    sign_in(client, "root4@example.org")
    short = post_form(client, "/admin/people/", "/admin/people/",
                      {"name": "Shay Short", "email": "shay@example.org", "password": "short"})
    html = short.get_data(as_text=True)
    assert short.status_code == 400
    assert '<p class="field-error" id="password-error">Use at least 8 characters.</p>' in html
    assert 'aria-describedby="password-hint password-error" aria-invalid="true"' in html
    assert 'value="Shay Short"' in html  # the form is kept
    again = post_form(client, "/admin/people/", "/admin/people/",
                      {"name": "Tess Two", "email": "TAKEN@example.org", "password": "long enough"})
    assert again.status_code == 400
    taken_error = 'id="email-error">a user with email taken@example.org already exists</p>'
    assert taken_error in again.get_data(as_text=True)
    assert list_users(db_session, search="Shay") == list_users(db_session, search="Tess Two") == []
    # Editing: the form comes back with the field marked (it was an error page), and the name is not
    # saved without the password.
    url = f"/admin/people/{taken.id}"
    edited = post_form(client, url, url, {"name": "Tess Renamed", "role": "learner", "active": "true",
                                          "password": "short"})
    assert edited.status_code == 400
    assert 'id="password-error">Use at least 8 characters.</p>' in edited.get_data(as_text=True)
    assert_clean_page(edited.get_data(as_text=True))
    db_session.refresh(taken)
    assert taken.name == "Tess Taken"


def test_people_are_listed_a_page_at_a_time_with_the_true_total(client, db_session) -> None:
    """The list stopped at 200 and its caption said '200 people' whatever the number."""
    from cairn.accounts.admin import PER_PAGE
    from cairn.accounts.models import User
    factories.admin(db_session, email="pager@example.org", name="Aaron Pager")
    # No passwords: hashing 62 would take seconds.
    db_session.add_all(User(email=f"p{n:03}@example.org", name=f"Person {n:03}", role="learner",
                            attributes={}) for n in range(PER_PAGE + 12))
    db_session.commit()
    sign_in(client, "pager@example.org")
    first = client.get("/admin/people/").get_data(as_text=True)
    assert f"<caption>1–{PER_PAGE} of {PER_PAGE + 13} people</caption>" in first
    assert "Page 1 of 2" in first and "Previous page" not in first
    assert 'rel="next" href="/admin/people/?page=2"' in first
    second = client.get("/admin/people/?page=2").get_data(as_text=True)
    assert f"<caption>{PER_PAGE + 1}–{PER_PAGE + 13} of {PER_PAGE + 13} people</caption>" in second
    assert "Person 061" in second and "Person 000" not in second and "Next page" not in second
    assert_clean_page(second)
    searched = client.get("/admin/people/?q=person+00&role=learner").get_data(as_text=True)
    assert "<caption>10 people</caption>" in searched and "Page 1" not in searched
    past_the_end = client.get("/admin/people/?page=99").get_data(as_text=True)
    assert "Page 2 of 2" in past_the_end  # the last page
    assert client.get("/admin/people/?page=0").status_code == 200  # a bad page number: the first
