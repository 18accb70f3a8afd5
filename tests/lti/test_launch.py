"""Launches driven over HTTP by the test platform against a live Cairn (LTI Core 1.3, Security
Framework 1.0): accepted launches, and every rejected one with its page and nothing stored."""
from __future__ import annotations

import itertools
import time

import pytest
import requests

from benchmarks.lti_platform import INSTRUCTOR, LTI, Message, Person, RsaKey, parse_page
from tests.lti.conftest import LtiWorld

pytestmark = pytest.mark.e2e
_n = itertools.count(1)


def person(**kwargs: object) -> Person:
    n = next(_n)
    defaults: dict = {"sub": f"sub-{n}-{time.time_ns()}", "name": f"Lea Learner {n}",
                      "email": f"learner{n}.{time.time_ns()}@school.example"}
    defaults.update(kwargs)
    return Person(**defaults)


def test_learner_launch_creates_the_learner_signs_them_in_and_leads_to_the_destination(
        world: LtiWorld, browser: requests.Session) -> None:
    learner = person(sourcedid="SIS-001")
    response = world.platform.launch(browser, Message(person=learner, context_id="c-learn"))
    assert response.status_code == 302, response.text
    landing = browser.get(world.cairn.url + response.headers["Location"], timeout=10)
    assert landing.status_code == 200
    # with the Learning Portal installed, the learner lands there
    if "/portal/" in response.headers["Location"]:
        assert "Catalogue" in landing.text and learner.name in landing.text  # signed in
    else:
        assert "Course c-learn" in landing.text and "learner" in landing.text
    identity = f"{world.platform.issuer}|{learner.sub}"
    rows = world.query("SELECT u.name, u.attributes FROM users u JOIN user_identities i ON i.user_id = u.id "
                       "WHERE i.kind = 'account' AND i.value = :v", v=identity)
    assert len(rows) == 1 and rows[0][0] == learner.name
    attributes = rows[0][1] if isinstance(rows[0][1], dict) else __import__("json").loads(rows[0][1])
    assert attributes["lis_person_sourcedid"] == "SIS-001" and attributes["email"] == learner.email


def test_a_second_launch_of_the_same_sub_finds_the_same_learner(
        world: LtiWorld, browser: requests.Session) -> None:
    learner = person()
    for _ in range(2):
        with requests.Session() as fresh:
            assert world.platform.launch(fresh, Message(person=learner)).status_code == 302
    identity = f"{world.platform.issuer}|{learner.sub}"
    assert world.query("SELECT COUNT(*) FROM user_identities WHERE value = :v", v=identity) == [(1,)]


def test_instructor_launch_gets_the_instructor_role_in_the_class(
        world: LtiWorld, browser: requests.Session) -> None:
    teacher = person(roles=[INSTRUCTOR])
    response = world.platform.launch(browser, Message(person=teacher, context_id="c-teach"))
    assert response.status_code == 302
    rows = world.query("SELECT m.role, m.active FROM lti_context_members m "
                       "JOIN lti_contexts c ON c.id = m.context_id "
                       "WHERE c.context_id = 'c-teach' AND m.sub = :s", s=teacher.sub)
    assert rows == [("instructor", True)]


def test_login_initiation_by_get_works_like_post(world: LtiWorld, browser: requests.Session) -> None:
    response = world.platform.launch(browser, Message(person=person()), method="GET")
    assert response.status_code == 302


def test_launch_without_third_party_cookies_uses_the_platform_storage(world: LtiWorld) -> None:
    """LTI Client Side postMessages: no cookie comes back, the state is read from the platform's
    storage frame (lti.get_data) and re-posted by Cairn's own page."""
    learner = person()
    with requests.Session() as browser:
        action, fields = world.platform.start_launch(browser, Message(person=learner),
                                                     storage_target="post_message_forwarding")
        browser.cookies.clear()  # the browser kept no third-party cookie
        nonces_before = world.count("lti_used_nonces")
        check_page = world.platform.post_launch(browser, action, fields)
        assert check_page.status_code == 200
        assert parse_page(check_page.text).data_elements["lti-storage"]["mode"] == "get"
        assert world.count("lti_used_nonces") == nonces_before  # nothing accepted before the storage check
        accepted = world.platform.answer_storage_check(browser, check_page.text)
        assert accepted.status_code == 200, accepted.text
        assert world.count("lti_used_nonces") == nonces_before + 1
        continue_path = next(p.split('"', 1)[0] for p in accepted.text.split('href="')
                             if p.startswith("/lti/continue/"))
    with requests.Session() as top_level:
        opened = top_level.get(world.cairn.url + continue_path, allow_redirects=False, timeout=10)
        assert opened.status_code == 302
        assert top_level.get(world.cairn.url + opened.headers["Location"], timeout=10).status_code == 200
        # One-time: the same link does not sign anyone in again.
        assert requests.get(world.cairn.url + continue_path, timeout=10).status_code == 404


def test_storage_checked_repost_from_another_origin_is_refused(world: LtiWorld) -> None:
    with requests.Session() as browser:
        action, fields = world.platform.start_launch(browser, Message(person=person()),
                                                     storage_target="_parent")
        browser.cookies.clear()
        before = world.counts()
        forged = browser.post(action, data={**fields, "lti_storage_state": fields["state"]},
                              headers={"Origin": "http://127.0.0.1:9"}, timeout=10)
    assert_rejected(world, forged, "state", before)


def test_platform_key_rotation_is_followed_by_refetching_the_jwks(
        world: LtiWorld, browser: requests.Session) -> None:
    assert world.platform.launch(browser, Message(person=person())).status_code == 302
    world.platform.rotate_platform_key()  # Cairn's cached JWKS no longer has the signing kid
    with requests.Session() as other:
        assert world.platform.launch(other, Message(person=person())).status_code == 302


# --- rejected launches: a page naming the check, logged, nothing stored --------------------------

def assert_rejected(world: LtiWorld, response: requests.Response, check: str, before: dict[str, int]) -> None:
    assert response.status_code in (400, 401, 403), response.text
    assert "This launch was refused" in response.text
    assert f'data-check="{check}"' in response.text, response.text
    assert world.counts() == before


def rejected_launch(world: LtiWorld, message: Message) -> tuple[requests.Response, dict[str, int]]:
    with requests.Session() as browser:
        action, fields = world.platform.start_launch(browser, message)
        before = world.counts()
        return world.platform.post_launch(browser, action, fields), before


def test_bad_signature_is_rejected_security_framework_5_1_3(world: LtiWorld) -> None:
    response, before = rejected_launch(world, Message(person=person(), sign_with=RsaKey.generate()))
    assert_rejected(world, response, "signature", before)


def test_signature_by_a_published_kid_with_other_key_material_is_rejected(world: LtiWorld) -> None:
    impostor = RsaKey.generate()
    impostor.kid = world.platform.keys[0].kid  # right kid, wrong key
    response, before = rejected_launch(world, Message(person=person(), sign_with=impostor))
    assert_rejected(world, response, "signature", before)


def test_expired_token_is_rejected_security_framework_5_1_3(world: LtiWorld) -> None:
    past = int(time.time()) - 3600
    response, before = rejected_launch(world, Message(person=person(),
                                                      overrides={"iat": past - 60, "exp": past}))
    assert_rejected(world, response, "expiry", before)


def test_token_issued_in_the_future_is_rejected(world: LtiWorld) -> None:
    future = int(time.time()) + 3600
    response, before = rejected_launch(world, Message(person=person(),
                                                      overrides={"iat": future, "exp": future + 60}))
    assert_rejected(world, response, "expiry", before)


def test_replayed_nonce_is_rejected_security_framework_5_1_3(world: LtiWorld) -> None:
    with requests.Session() as browser:
        action, fields = world.platform.start_launch(browser, Message(person=person()))
        state_cookie = {c.name: c.value for c in browser.cookies if c.name.startswith("lti1p3_state_")}
        assert world.platform.post_launch(browser, action, fields).status_code == 302
        before = world.counts()
        # The replay carries everything the first post had, the state cookie included, so only the
        # used-nonce record in the database can tell.
        browser.cookies.clear()
        replay = browser.post(action, data=fields, cookies=state_cookie, allow_redirects=False, timeout=10)
    assert_rejected(world, replay, "nonce", before)


def test_wrong_audience_is_rejected(world: LtiWorld) -> None:
    response, before = rejected_launch(world, Message(person=person(), overrides={"aud": "someone-else",
                                                                                  "azp": "someone-else"}))
    assert_rejected(world, response, "audience", before)


def test_several_audiences_without_azp_are_rejected(world: LtiWorld) -> None:
    response, before = rejected_launch(world, Message(person=person(),
                                                      overrides={"aud": ["cairn-client", "other"]},
                                                      remove=["azp"]))
    assert_rejected(world, response, "audience", before)


def test_unknown_deployment_is_rejected(world: LtiWorld) -> None:
    response, before = rejected_launch(world, Message(person=person(),
                                                      overrides={LTI + "deployment_id": "rogue"}))
    assert_rejected(world, response, "deployment", before)


def test_wrong_lti_version_is_rejected(world: LtiWorld) -> None:
    response, before = rejected_launch(world, Message(person=person(), overrides={LTI + "version": "1.1"}))
    assert_rejected(world, response, "message", before)


def test_missing_state_is_rejected(world: LtiWorld) -> None:
    with requests.Session() as browser:
        action, fields = world.platform.start_launch(browser, Message(person=person()))
        before = world.counts()
        fields.pop("state")
        response = world.platform.post_launch(browser, action, fields)
    assert_rejected(world, response, "state", before)


def test_wrong_state_is_rejected(world: LtiWorld) -> None:
    with requests.Session() as browser:
        action, fields = world.platform.start_launch(browser, Message(person=person()))
        before = world.counts()
        response = world.platform.post_launch(browser, action, {**fields, "state": "not-the-state"})
    assert_rejected(world, response, "state", before)


def test_state_from_another_browser_is_rejected(world: LtiWorld) -> None:
    """The state is bound to the browser that started the login (its cookie)."""
    with requests.Session() as victim_browser, requests.Session() as attacker_browser:
        action, fields = world.platform.start_launch(attacker_browser, Message(person=person()))
        before = world.counts()
        response = world.platform.post_launch(victim_browser, action, fields)
    assert_rejected(world, response, "state", before)


def test_login_from_an_unregistered_issuer_is_refused(world: LtiWorld, browser: requests.Session) -> None:
    before = world.counts()
    response = browser.post(f"{world.cairn.url}/lti/login", data={
        "iss": "http://127.0.0.1:1/unknown", "login_hint": "x",
        "target_link_uri": f"{world.cairn.url}/lti/launch"},
        allow_redirects=False, timeout=10)
    assert_rejected(world, response, "issuer", before)


def test_a_token_just_past_its_expiry_is_accepted_within_the_leeway(
        world: LtiWorld, browser: requests.Session) -> None:
    """Security Framework §5.1.3: a small leeway for clock skew (Cairn allows 60 s)."""
    now = int(time.time())
    response = world.platform.launch(browser, Message(person=person(),
                                                      overrides={"iat": now - 330, "exp": now - 20}))
    assert response.status_code == 302, response.text


def test_several_audiences_with_our_azp_are_accepted(world: LtiWorld, browser: requests.Session) -> None:
    response = world.platform.launch(browser, Message(person=person(), overrides={
        "aud": ["other-tool", world.platform.client_id], "azp": world.platform.client_id}))
    assert response.status_code == 302, response.text


def test_an_institution_administrator_manages_the_class(world: LtiWorld, browser: requests.Session) -> None:
    admin = person(roles=["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"])
    assert world.platform.launch(browser, Message(person=admin, context_id="c-admin")).status_code == 302
    rows = world.query("SELECT cm.role FROM class_members cm JOIN academic_classes ac ON ac.id = cm.class_id "
                       "JOIN user_identities i ON i.user_id = cm.user_id "
                       "WHERE ac.external_id = 'c-admin' AND i.value = :v",
                       v=f"{world.platform.issuer}|{admin.sub}")
    assert rows == [("instructor",)]


def test_a_target_link_uri_other_than_the_login_s_is_rejected(world: LtiWorld) -> None:
    response, before = rejected_launch(world, Message(person=person(), overrides={
        LTI + "target_link_uri": "http://127.0.0.1:9/elsewhere"}))
    assert_rejected(world, response, "target_link_uri", before)
