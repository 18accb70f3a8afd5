from __future__ import annotations

import re

import pytest

from cairn.accounts import services
from cairn.accounts.models import WebSession
from cairn.errors import Conflict
from tests import factories


def csrf_token(client, path: str = "/signin") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client, email: str, password: str = factories.PASSWORD):
    return client.post("/signin", data={"email": email, "password": password,
                                        "csrf_token": csrf_token(client)})


def test_passwords_are_stored_with_a_standard_kdf(db_session) -> None:
    user = factories.user(db_session)
    assert user.password_hash.startswith("scrypt:")
    assert factories.PASSWORD not in user.password_hash


def test_email_is_unique_case_insensitively(db_session) -> None:
    factories.user(db_session, email="Ann@Example.org")
    with pytest.raises(Conflict):
        factories.user(db_session, email="ann@example.org")


def test_a_user_with_an_email_gets_a_mailto_identity(db_session) -> None:
    user = factories.user(db_session, email="bo@example.org")
    identity = services.Identity.from_agent({"mbox": "mailto:bo@example.org"})
    assert services.user_for_identity(db_session, identity).id == user.id


def test_sign_in_and_out(client, db_session) -> None:
    user = factories.user(db_session)
    db_session.commit()
    response = sign_in(client, user.email)
    assert response.status_code == 302
    cookie = client.get_cookie("cairn_session")
    assert cookie is not None and cookie.http_only
    assert db_session.get(WebSession, cookie.value).user_id == user.id
    home = client.get("/signin").get_data(as_text=True)
    assert user.name in home
    token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    response = client.post("/signout", data={"csrf_token": token})
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(WebSession, cookie.value) is None


def test_wrong_password_is_refused(client, db_session) -> None:
    user = factories.user(db_session)
    db_session.commit()
    response = sign_in(client, user.email, "not the password")
    assert response.status_code == 401
    assert "Wrong email or password" in response.get_data(as_text=True)
    assert client.get_cookie("cairn_session") is None or "user_id" not in str(
        db_session.get(WebSession, client.get_cookie("cairn_session").value).data)


def test_form_without_csrf_token_is_rejected(client, db_session) -> None:
    user = factories.user(db_session)
    db_session.commit()
    client.get("/signin")
    response = client.post("/signin", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_sign_in_never_redirects_off_site(client, db_session) -> None:
    user = factories.user(db_session)
    db_session.commit()
    token = csrf_token(client)
    response = client.post("/signin", data={"email": user.email, "password": factories.PASSWORD,
                                            "csrf_token": token, "next": "https://evil.example/"})
    assert "evil.example" not in response.headers["Location"]


def test_session_cookie_is_secure_outside_development(database_url) -> None:
    from tests.conftest import make_test_app
    app = make_test_app(database_url, ENV="production", TESTING=False)
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_users_among_more_ids_than_a_statement_takes_are_found(db_session, few_sqlite_parameters) -> None:
    """An instructor's learner search names their learners: as one parameter, however many."""
    ann = factories.user(db_session, name="Ann Among", password=None)
    bob = factories.user(db_session, name="Bob Among", password=None)
    db_session.flush()
    among = [*range(10**6, 10**6 + few_sqlite_parameters + 1), ann.id, bob.id]
    found, total = services.find_users(db_session, search="among", limit=1, among=among)
    assert [u.name for u in found] == ["Ann Among"] and total == 2
    assert [u.name for u in services.list_users(db_session, search="among", among=among)] == [
        "Ann Among", "Bob Among"]
    assert services.list_users(db_session, search="among", among=[]) == []
    assert sorted(services.users_by_ids(db_session, among)) == sorted([ann.id, bob.id])
