"""Platform registrations (admin pages, JSON API, CLI), the tool configuration and the tool keys."""
from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import select

from lti import keys, platforms
from lti.models import Platform, ToolKey
from tests import factories
from tests.cairn.test_accounts import sign_in

PLATFORM = {"issuer": "https://lms.example.edu", "client_id": "abc", "auth_login_url": "https://lms.example.edu/auth",
            "token_url": "https://lms.example.edu/token", "jwks_url": "https://lms.example.edu/jwks",
            "deployment_ids": ["d1", "d2"]}


def _admin_client(client, db_session):
    admin = factories.admin(db_session)
    db_session.commit()
    sign_in(client, admin.email)
    return client


def _csrf(client, path: str = "/lti/admin") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_one_issuer_may_have_several_client_ids_and_deployments(db_session) -> None:
    platforms.add_platform(db_session, **PLATFORM)
    platforms.add_platform(db_session, **{**PLATFORM, "client_id": "def", "deployment_ids": ["d9"]})
    assert platforms.find_platform(db_session, PLATFORM["issuer"], "def").deployments[0].deployment_id == "d9"
    # Without a client_id the issuer is ambiguous: no guess.
    assert platforms.find_platform(db_session, PLATFORM["issuer"], None) is None


def test_the_same_issuer_and_client_id_cannot_be_registered_twice(db_session) -> None:
    platforms.add_platform(db_session, **PLATFORM)
    try:
        platforms.add_platform(db_session, **PLATFORM)
    except Exception as exc:  # noqa: BLE001 - checking the domain error's status
        assert getattr(exc, "status", None) == 409
    else:
        raise AssertionError("a duplicate registration was accepted")


def test_admin_page_shows_the_tool_configuration_to_copy(client, db_session) -> None:
    _admin_client(client, db_session)
    page = client.get("/lti/admin").get_data(as_text=True)
    assert "http://localhost/lti/login" in page and "http://localhost/lti/jwks.json" in page
    assert "canvas.instructure.com" in page


def test_admin_registers_and_removes_a_platform_with_a_csrf_protected_form(client, db_session) -> None:
    _admin_client(client, db_session)
    form = {**PLATFORM, "deployment_ids": "d1 d2", "name": "Moodle"}
    assert client.post("/lti/admin/platforms", data=form).status_code == 400  # no csrf_token
    response = client.post("/lti/admin/platforms", data={**form, "csrf_token": _csrf(client)})
    assert response.status_code == 302
    platform = db_session.scalar(select(Platform).where(Platform.issuer == PLATFORM["issuer"]))
    assert [d.deployment_id for d in platform.deployments] == ["d1", "d2"]
    platform_id = platform.id
    removed = client.post(f"/lti/admin/platforms/{platform_id}/delete", data={"csrf_token": _csrf(client)})
    assert removed.status_code == 302
    db_session.expunge_all()
    assert db_session.get(Platform, platform_id) is None


def test_admin_form_with_a_bad_url_is_shown_again_with_the_error(client, db_session) -> None:
    _admin_client(client, db_session)
    response = client.post("/lti/admin/platforms", data={**PLATFORM, "deployment_ids": "d1",
                                                         "jwks_url": "nope", "csrf_token": _csrf(client)})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


def test_learners_cannot_see_the_lti_administration(client, db_session) -> None:
    learner = factories.user(db_session)
    db_session.commit()
    sign_in(client, learner.email)
    assert client.get("/lti/admin").status_code == 403
    assert client.get("/lti/api/platforms").get_json()["error"] == "forbidden"


def test_json_api_registers_lists_and_removes_platforms(client, db_session) -> None:
    _admin_client(client, db_session)
    token = _csrf(client)
    created = client.post("/lti/api/platforms", json=PLATFORM, headers={"X-CSRFToken": token})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["deployment_ids"] == ["d1", "d2"] and body["issuer"] == PLATFORM["issuer"]
    assert [p["client_id"] for p in client.get("/lti/api/platforms").get_json()] == ["abc"]
    invalid = client.post("/lti/api/platforms", json={"issuer": "x"}, headers={"X-CSRFToken": token})
    assert invalid.status_code == 400 and "client_id" in invalid.get_json()["fields"]
    assert client.delete(f"/lti/api/platforms/{body['id']}",
                         headers={"X-CSRFToken": token}).status_code == 204
    assert client.get("/lti/api/platforms").get_json() == []


def test_cli_adds_lists_and_removes_platforms(app, db_session) -> None:
    runner = app.test_cli_runner()
    added = runner.invoke(args=["lti", "platform", "add", "--issuer", PLATFORM["issuer"], "--client-id",
                                "abc", "--deployment-id", "d1", "--deployment-id", "d2", "--auth-login-url",
                                PLATFORM["auth_login_url"], "--token-url", PLATFORM["token_url"],
                                "--jwks-url", PLATFORM["jwks_url"]])
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(args=["lti", "platform", "list", "--json"]).output)
    assert listed[0]["deployment_ids"] == ["d1", "d2"]
    duplicate = runner.invoke(args=["lti", "platform", "add", "--issuer", PLATFORM["issuer"], "--client-id",
                                    "abc", "--auth-login-url", PLATFORM["auth_login_url"], "--token-url",
                                    PLATFORM["token_url"], "--jwks-url", PLATFORM["jwks_url"]])
    assert duplicate.exit_code != 0 and "already registered" in duplicate.output
    removed = runner.invoke(args=["lti", "platform", "remove", str(listed[0]["id"])])
    assert removed.exit_code == 0, removed.output
    assert json.loads(runner.invoke(args=["lti", "platform", "list", "--json"]).output) == []


def test_cli_prints_the_tool_configuration_as_json(app) -> None:
    result = app.test_cli_runner().invoke(args=["lti", "tool-config", "--json"])
    config = json.loads(result.output)
    assert config["oidc_initiation_url"] == "http://localhost/lti/login"
    assert config["target_link_uri"] == "http://localhost/lti/launch"
    assert config["public_jwk_url"] == "http://localhost/lti/jwks.json"
    placements = config["extensions"][0]["settings"]["placements"]
    assert {p["message_type"] for p in placements} == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}


def test_jwks_publishes_the_signing_key_with_its_kid(client, db_session) -> None:
    jwks = client.get("/lti/jwks.json").get_json()
    assert len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and "d" not in key
    assert keys.signing_key(db_session).kid == key["kid"]


def test_rotation_publishes_the_new_key_before_it_signs_and_keeps_the_old_one_published(db_session) -> None:
    old = keys.signing_key(db_session)
    new = keys.rotate(db_session, publish_ahead=timedelta(hours=1), keep_old=timedelta(hours=1))
    published = {k["kid"] for k in keys.published_jwks(db_session)["keys"]}
    assert published == {old.kid, new.kid}
    assert keys.signing_key(db_session).kid == old.kid  # the new key does not sign yet
    # Once the new key's time has come it signs, and the old one stays published for a while.
    row = db_session.scalar(select(ToolKey).where(ToolKey.kid == new.kid))
    row.activates_at -= timedelta(hours=2)
    old_row = db_session.scalar(select(ToolKey).where(ToolKey.kid == old.kid))
    old_row.retired_at -= timedelta(hours=2)
    old_row.expires_at -= timedelta(minutes=90)
    assert keys.signing_key(db_session).kid == new.kid
    assert {k["kid"] for k in keys.published_jwks(db_session)["keys"]} == {old.kid, new.kid}
    old_row.expires_at -= timedelta(hours=1)
    assert {k["kid"] for k in keys.published_jwks(db_session)["keys"]} == {new.kid}
