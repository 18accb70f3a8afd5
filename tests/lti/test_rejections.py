"""Refused launches in-process: the page, the log line, the JSON form for API paths."""
from __future__ import annotations

import logging

from lti import launches
from lti.models import LoginState, UsedNonce


def test_a_refused_launch_is_logged_with_the_failed_check(client, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="lti.views"):
        response = client.post("/lti/launch", data={"id_token": "x.y.z"})
    assert response.status_code == 400
    assert 'data-check="state"' in response.get_data(as_text=True)
    assert any("LTI launch rejected (state)" in r.getMessage() for r in caplog.records)
    assert "cairn_session" not in response.headers.get("Set-Cookie", "")


def test_a_login_without_login_hint_is_refused(client) -> None:
    response = client.get("/lti/login", query_string={"iss": "https://lms.example", "target_link_uri": "x"})
    assert response.status_code == 400
    assert 'data-check="login_hint"' in response.get_data(as_text=True)


def test_expired_states_and_nonces_are_purged(db_session) -> None:
    from datetime import timedelta

    from cairn.db import utcnow
    from lti import platforms
    platform = platforms.add_platform(db_session, issuer="https://lms.example", client_id="c",
                                      auth_login_url="https://lms.example/a", token_url="https://lms.example/t",
                                      jwks_url="https://lms.example/k", deployment_ids=["d"])
    past, future = utcnow() - timedelta(minutes=1), utcnow() + timedelta(minutes=5)
    db_session.add_all([LoginState(state="old", nonce="n1", platform_id=platform.id, target_link_uri="x",
                                   expires_at=past),
                        LoginState(state="new", nonce="n2", platform_id=platform.id, target_link_uri="x",
                                   expires_at=future),
                        UsedNonce(issuer="https://lms.example", nonce="n0", expires_at=past)])
    db_session.flush()
    assert launches.purge_expired(db_session) == 2
    assert launches.login_state(db_session, "new") is not None
    assert launches.login_state(db_session, "old") is None
