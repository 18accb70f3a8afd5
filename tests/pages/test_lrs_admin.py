"""LRS admin pages: a credential made on the page works on the xAPI endpoint until revoked; the browser
filters."""
from __future__ import annotations

import base64
import re
import uuid

from tests import factories
from tests.pagetools import assert_clean_page, post_form, sign_in

VERSION = {"X-Experience-API-Version": "1.0.3"}


def _basic(key: str, secret: str) -> dict[str, str]:
    return {**VERSION, "Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


def _statement(verb: str, activity: str) -> dict:
    return {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:someone@example.org", "name": "Someone"},
            "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
            "object": {"id": activity, "definition": {"name": {"en-US": "Intro video"}}}}


def test_credential_pages_are_for_administrators_only(client, db_session) -> None:
    factories.user(db_session, email="plain@example.org")
    db_session.commit()
    sign_in(client, "plain@example.org")
    assert client.get("/admin/lrs/credentials").status_code == 403
    assert client.get("/admin/lrs/statements").status_code == 403


def test_a_credential_created_on_the_page_writes_statements_until_it_is_revoked(client, db_session) -> None:
    factories.admin(db_session, email="lrs-admin@example.org")
    db_session.commit()
    sign_in(client, "lrs-admin@example.org")
    response = post_form(client, "/admin/lrs/credentials", "/admin/lrs/credentials",
                         {"name": "Video player", "scopes": ["statements/write", "statements/read"]})
    html = response.get_data(as_text=True)
    assert response.status_code == 201
    assert_clean_page(html)
    key = re.search(r'id="new-key">([^<]+)<', html).group(1)
    secret = re.search(r'id="new-secret-value">([^<]+)<', html).group(1)
    headers = _basic(key, secret)
    posted = client.post("/xapi/statements", json=_statement("http://adlnet.gov/expapi/verbs/completed",
                                                             "https://content.example/intro"),
                         headers=headers)
    assert posted.status_code == 200, posted.get_data(as_text=True)
    # The secret is never shown again.
    assert secret not in client.get("/admin/lrs/credentials").get_data(as_text=True)

    listing = client.get("/admin/lrs/credentials").get_data(as_text=True)
    assert "Video player" in listing
    response = post_form(client, "/admin/lrs/credentials", f"/admin/lrs/credentials/{key}/revoke", {})
    assert response.status_code == 302
    again = client.post("/xapi/statements", json=_statement("http://adlnet.gov/expapi/verbs/completed",
                                                            "https://content.example/intro"), headers=headers)
    assert again.status_code == 401


def test_a_credential_needs_a_scope_and_the_form_says_so(client, db_session) -> None:
    factories.admin(db_session, email="lrs-admin2@example.org")
    db_session.commit()
    sign_in(client, "lrs-admin2@example.org")
    response = post_form(client, "/admin/lrs/credentials", "/admin/lrs/credentials", {"name": "No scopes"})
    assert response.status_code == 400 and 'id="scopes-error"' in response.get_data(as_text=True)


def test_the_statement_browser_filters_by_verb_and_shows_the_stored_json(client, db_session) -> None:
    from lrs import services
    factories.admin(db_session, email="lrs-admin3@example.org")
    completed = _statement("http://adlnet.gov/expapi/verbs/completed", "https://content.example/a")
    attempted = _statement("http://adlnet.gov/expapi/verbs/attempted", "https://content.example/b")
    services.store_statements(db_session, [completed, attempted],
                              authority={"objectType": "Agent", "mbox": "mailto:lrs@example.org"})
    db_session.commit()
    sign_in(client, "lrs-admin3@example.org")
    page = client.get("/admin/lrs/statements?verb=http://adlnet.gov/expapi/verbs/attempted").get_data(as_text=True)
    assert_clean_page(page)
    assert attempted["id"] in page and completed["id"] not in page
    detail = client.get(f"/admin/lrs/statements/{attempted['id']}").get_data(as_text=True)
    assert "https://content.example/b" in detail
    bad = client.get("/admin/lrs/statements?agent=not-an-agent")
    assert bad.status_code == 400 and 'id="agent-error"' in bad.get_data(as_text=True)
