"""The State, Activity Profile, Agent Profile and Agents resources over HTTP.

xAPI 1.0.3 Communication 2.2-2.7 and 3.1; xAPI 2.0 4.1.4; on both databases.
"""
from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

import pytest

from tests.conftest import make_test_app
from tests.lrs.conftest import basic, make_credential

ACTIVITY = "http://example.com/activities/course-1"
AGENT = {"objectType": "Agent", "account": {"homePage": "http://example.com/people", "name": "rick"}}
REGISTRATION = "8f0b4a52-6f4a-4c53-9b1e-3b5f7c5d2a10"


class DocumentsClient:
    """Sends xAPI requests with query parameters, the version header and a credential."""

    def __init__(self, client, key: str, secret: str, version: str = "1.0.3") -> None:
        self.client = client
        self.version = version
        self.headers: dict[str, str] = {"Authorization": basic(key, secret)}

    def __call__(self, method: str, path: str, params: dict | None = None, body: object = None,
                 content_type: str | None = None, **headers: str):
        query = urlencode({k: json.dumps(v) if isinstance(v, dict) else v for k, v in (params or {}).items()})
        if isinstance(body, dict | list):
            body, content_type = json.dumps(body).encode(), content_type or "application/json"
        all_headers = {"X-Experience-API-Version": self.version, **self.headers,
                       **{k.replace("_", "-"): v for k, v in headers.items()}}
        return self.client.open(f"/xapi{path}?{query}", method=method, data=body, headers=all_headers,
                                content_type=content_type)


@pytest.fixture()
def xapi(client, db_session) -> DocumentsClient:
    info, secret = make_credential(db_session, ("all",))
    return DocumentsClient(client, info.key, secret)


def state(state_id: str | None = "bookmark", **extra: object) -> dict:
    params = {"activityId": ACTIVITY, "agent": AGENT, **extra}
    if state_id is not None:
        params["stateId"] = state_id
    return params


def activity_profile(profile_id: str | None = "settings") -> dict:
    return {"activityId": ACTIVITY, **({"profileId": profile_id} if profile_id else {})}


def agent_profile(profile_id: str | None = "settings") -> dict:
    return {"agent": AGENT, **({"profileId": profile_id} if profile_id else {})}


RESOURCES = [("/activities/state", state), ("/activities/profile", activity_profile),
             ("/agents/profile", agent_profile)]


@pytest.mark.parametrize("path, params", RESOURCES)
def test_get_returns_the_stored_bytes_with_content_type_etag_and_last_modified_comm_2_2_3_1(
        xapi, path, params) -> None:
    content = b"\x89PNG\r\n\x1a\n binary"
    assert xapi("PUT", path, params(), content, "image/png", If_None_Match="*").status_code == 204
    response = xapi("GET", path, params())
    assert response.status_code == 200
    assert response.data == content
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["ETag"] == f'"{hashlib.sha1(content).hexdigest()}"'
    assert response.headers["Last-Modified"].endswith("GMT")


@pytest.mark.parametrize("path, params", RESOURCES)
def test_get_of_a_missing_document_is_404_comm_3_2(xapi, path, params) -> None:
    assert xapi("GET", path, params("never-stored")).status_code == 404


@pytest.mark.parametrize("path, params", RESOURCES)
def test_post_merges_json_objects_and_answers_204_comm_2_2(xapi, path, params) -> None:
    assert xapi("POST", path, params(), {"x": "foo", "y": "bar"}).status_code == 204
    assert xapi("POST", path, params(), {"x": "bash", "z": "faz"}).status_code == 204
    response = xapi("GET", path, params())
    assert response.get_json() == {"x": "bash", "y": "bar", "z": "faz"}
    assert response.headers["ETag"] == f'"{hashlib.sha1(response.data).hexdigest()}"'


@pytest.mark.parametrize("path, params", RESOURCES)
@pytest.mark.parametrize("first, first_type, second, second_type", [
    ({"a": 1}, None, b"abcdefg", "not/json"),
    (b"/ asdf / undefined", "application/octet-stream", {"a": 1}, None),
    ({"a": 1}, None, b'{"a": 1}{', "application/json"),
])
def test_post_merge_with_a_non_json_side_is_400_and_leaves_the_document_comm_2_2(
        xapi, path, params, first, first_type, second, second_type) -> None:
    assert xapi("POST", path, params(), first, first_type).status_code == 204
    before = xapi("GET", path, params()).data
    response = xapi("POST", path, params(), second, second_type)
    assert response.status_code == 400
    assert response.get_json()["message"]
    assert xapi("GET", path, params()).data == before


@pytest.mark.parametrize("path, params", RESOURCES[1:])
def test_profile_put_without_if_match_or_if_none_match_on_existing_document_is_409_comm_3_1(
        xapi, path, params) -> None:
    assert xapi("PUT", path, params(), {"v": 1}, If_None_Match="*").status_code == 204
    response = xapi("PUT", path, params(), {"v": 2})
    assert response.status_code == 409
    assert "If-Match" in response.get_json()["message"]
    assert xapi("GET", path, params()).get_json() == {"v": 1}


@pytest.mark.parametrize("version, expected", [("1.0.3", 400), ("2.0.0", 428)])
@pytest.mark.parametrize("path, params", RESOURCES[1:])
def test_profile_put_creating_a_document_without_if_none_match_is_refused_comm_3_1(
        xapi, path, params, version, expected) -> None:
    """1.0.3 Communication 3.1: a client MUST send If-Match or If-None-Match on a profile PUT; the
    1.0.3 suite wants 400 (XAPI-00273), 2.0 answers 428 Precondition Required (RFC 6585)."""
    xapi.version = version
    response = xapi("PUT", path, params(), {"v": 1})
    assert response.status_code == expected
    assert "If-None-Match" in response.get_json()["message"]
    assert xapi("GET", path, params()).status_code == 404


def test_state_put_without_concurrency_headers_overwrites_in_xapi_1_0_3_comm_3_1(xapi) -> None:
    assert xapi("PUT", "/activities/state", state(), {"v": 1}).status_code == 204
    assert xapi("PUT", "/activities/state", state(), {"v": 2}).status_code == 204
    assert xapi("GET", "/activities/state", state()).get_json() == {"v": 2}


def test_state_put_without_concurrency_headers_on_existing_document_is_409_in_xapi_2_0_4_1_4(xapi) -> None:
    xapi.version = "2.0.0"
    assert xapi("PUT", "/activities/state", state(), {"v": 1}).status_code == 204
    assert xapi("PUT", "/activities/state", state(), {"v": 2}).status_code == 409
    etag = xapi("GET", "/activities/state", state()).headers["ETag"]
    assert xapi("PUT", "/activities/state", state(), {"v": 3}, If_Match=etag).status_code == 204
    assert xapi("GET", "/activities/state", state()).get_json() == {"v": 3}


@pytest.mark.parametrize("path, params", RESOURCES)
def test_wrong_if_match_is_412_for_put_post_and_delete_and_changes_nothing_comm_3_1(
        xapi, path, params) -> None:
    assert xapi("PUT", path, params(), {"v": 1}, If_None_Match="*").status_code == 204
    wrong = '"1111111111111111111111111111111111111111"'
    assert xapi("PUT", path, params(), {"v": 2}, If_Match=wrong).status_code == 412
    assert xapi("POST", path, params(), {"w": 2}, If_Match=wrong).status_code == 412
    assert xapi("DELETE", path, params(), If_Match=wrong).status_code == 412
    response = xapi("GET", path, params())
    assert response.get_json() == {"v": 1}
    assert xapi("DELETE", path, params(), If_Match=response.headers["ETag"]).status_code == 204
    assert xapi("GET", path, params()).status_code == 404


@pytest.mark.parametrize("path, params", RESOURCES)
def test_if_none_match_star_on_existing_document_is_412_comm_3_1(xapi, path, params) -> None:
    assert xapi("PUT", path, params(), {"v": 1}, If_None_Match="*").status_code == 204
    assert xapi("PUT", path, params(), {"v": 2}, If_None_Match="*").status_code == 412
    assert xapi("GET", path, params()).get_json() == {"v": 1}


@pytest.mark.parametrize("path, params", RESOURCES)
def test_get_without_document_id_lists_ids_since_a_timestamp_with_last_modified_comm_2_3_2_6_2_7(
        xapi, path, params) -> None:
    for document_id in ("one", "two"):
        assert xapi("POST", path, params(document_id), {"id": document_id}).status_code == 204
    response = xapi("GET", path, params(None))
    assert response.status_code == 200
    assert sorted(response.get_json()) == ["one", "two"]
    assert "Last-Modified" in response.headers
    later = xapi("GET", path, {**params(None), "since": "2999-01-01T00:00:00Z"})
    assert later.get_json() == []
    earlier = xapi("GET", path, {**params(None), "since": "2000-01-01T00:00:00.000+02:00"})
    assert sorted(earlier.get_json()) == ["one", "two"]


@pytest.mark.parametrize("path, params", RESOURCES)
def test_since_that_is_not_a_timestamp_is_400_comm_2_3(xapi, path, params) -> None:
    assert xapi("GET", path, {**params(None), "since": "not a timestamp"}).status_code == 400


def test_state_delete_without_state_id_deletes_every_state_of_the_context_comm_2_3(xapi) -> None:
    for state_id in ("a", "b"):
        xapi("PUT", "/activities/state", state(state_id), {"s": state_id})
    xapi("PUT", "/activities/state", state("c", registration=REGISTRATION), {"s": "c"})
    assert xapi("DELETE", "/activities/state", state(None, registration=REGISTRATION)).status_code == 204
    assert sorted(xapi("GET", "/activities/state", state(None)).get_json()) == ["a", "b"]
    assert xapi("DELETE", "/activities/state", state(None)).status_code == 204
    assert xapi("GET", "/activities/state", state(None)).get_json() == []


@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE"])
@pytest.mark.parametrize("missing", ["activityId", "agent"])
def test_state_without_activity_id_or_agent_is_400_comm_2_3(xapi, method, missing) -> None:
    params = state()
    del params[missing]
    assert xapi(method, "/activities/state", params, {"a": 1}).status_code == 400


@pytest.mark.parametrize("method", ["PUT", "POST"])
@pytest.mark.parametrize("path, params, id_name", [("/activities/state", state, "stateId"),
                                                   ("/activities/profile", activity_profile, "profileId"),
                                                   ("/agents/profile", agent_profile, "profileId")])
def test_put_and_post_without_document_id_are_400_comm_2_3_2_6_2_7(
        xapi, method, path, params, id_name) -> None:
    response = xapi(method, path, params(None), {"a": 1})
    assert response.status_code == 400
    assert id_name in response.get_json()["message"]


@pytest.mark.parametrize("bad", [
    {"agent": "not json"},
    {"agent": {"name": "no identifier"}},
    {"agent": {"mbox": "mailto:a@example.com", "openid": "http://example.com/a"}},
    {"registration": "true"},
    {"activityId": "true"},
])
def test_malformed_state_parameters_are_400_comm_2_3(xapi, bad) -> None:
    params = {**state(), **bad}
    if params["agent"] == "not json":
        params["agent"] = '{"objectType": "Agent", "account"'
    assert xapi("PUT", "/activities/state", params, {"a": 1}).status_code == 400
    assert xapi("GET", "/activities/state", state(None)).get_json() == []


def test_document_above_the_configured_limit_is_413_and_nothing_is_stored(database_url, connection) -> None:
    app = make_test_app(database_url, DOCUMENT_MAX_BYTES=100)
    app.extensions["cairn.db"].bind_to(connection)
    session = app.extensions["cairn.db"].session_factory()()
    info, secret = make_credential(session, ("state",))
    session.close()
    xapi = DocumentsClient(app.test_client(), info.key, secret)
    assert xapi("PUT", "/activities/state", state(), b"x" * 100, "text/plain").status_code == 204
    response = xapi("PUT", "/activities/state", state(), b"y" * 101, "text/plain")
    assert response.status_code == 413
    assert "at most 100 bytes" in response.get_json()["message"]
    assert xapi("GET", "/activities/state", state()).data == b"x" * 100


def test_state_documents_are_kept_per_registration_comm_2_3(xapi) -> None:
    xapi("PUT", "/activities/state", state(), b"no registration", "text/plain")
    xapi("PUT", "/activities/state", state(registration=REGISTRATION), b"registered", "text/plain")
    assert xapi("GET", "/activities/state", state()).data == b"no registration"
    assert xapi("GET", "/activities/state", state(registration=REGISTRATION)).data == b"registered"


def test_agents_resource_returns_a_person_for_an_unknown_agent_comm_2_4(xapi) -> None:
    response = xapi("GET", "/agents", {"agent": {"name": "Rick James", **AGENT}})
    assert response.status_code == 200
    assert response.get_json() == {"objectType": "Person", "name": ["Rick James"],
                                   "account": [AGENT["account"]]}


def test_agents_resource_combines_the_identities_of_a_known_user_comm_2_4(xapi, db_session) -> None:
    from cairn.accounts.services import Identity, add_identity
    from tests import factories
    user = factories.user(db_session, name="Ada Lovelace", email="ada@example.com")
    add_identity(db_session, user, Identity.from_agent(AGENT))
    db_session.commit()
    response = xapi("GET", "/agents", {"agent": AGENT})
    assert response.get_json() == {"objectType": "Person", "name": ["Ada Lovelace"],
                                   "mbox": ["mailto:ada@example.com"], "account": [AGENT["account"]]}


@pytest.mark.parametrize("params", [{}, {"agent": {"name": "no identifier"}}])
def test_agents_resource_without_a_valid_agent_is_400_comm_2_4(xapi, params) -> None:
    assert xapi("GET", "/agents", params).status_code == 400


def client_with(client, db_session, *scopes: str, version: str = "1.0.3") -> DocumentsClient:
    info, secret = make_credential(db_session, scopes)
    return DocumentsClient(client, info.key, secret, version)


def test_document_resources_need_credentials_comm_4_0(client) -> None:
    response = client.get("/xapi/activities/state?" + urlencode({"activityId": ACTIVITY,
                                                                 "agent": json.dumps(AGENT)}),
                          headers={"X-Experience-API-Version": "1.0.3"})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize("scopes, method, path, params, expected", [
    (("state",), "PUT", "/activities/state", state, 204),
    (("state",), "PUT", "/activities/profile", activity_profile, 403),
    (("profile",), "PUT", "/agents/profile", agent_profile, 204),
    (("profile",), "PUT", "/activities/profile", activity_profile, 204),
    (("profile",), "GET", "/activities/state", state, 403),
    (("all/read",), "GET", "/activities/profile", activity_profile, 404),
    (("all/read",), "PUT", "/activities/profile", activity_profile, 403),
    (("all/read",), "DELETE", "/activities/state", state, 403),
    (("statements/write",), "GET", "/agents/profile", agent_profile, 403),
    (("define",), "POST", "/activities/state", state, 403),
])
def test_scopes_state_profile_and_all_read_are_enforced_comm_4_2(
        client, db_session, scopes, method, path, params, expected) -> None:
    api = client_with(client, db_session, *scopes)
    assert api(method, path, params(), {"a": 1}, If_None_Match="*").status_code == expected


@pytest.mark.parametrize("scopes, expected", [(("define",), 200), (("all/read",), 200),
                                              (("statements/write",), 403)])
def test_activities_and_agents_resources_need_a_reading_or_define_scope_comm_4_2(
        client, db_session, scopes, expected) -> None:
    api = client_with(client, db_session, *scopes)
    assert api("GET", "/activities", {"activityId": ACTIVITY}).status_code == expected
    assert api("GET", "/agents", {"agent": AGENT}).status_code == expected


def test_launch_credential_may_only_use_its_own_learners_state(client, db_session) -> None:
    from lrs.services import issue_launch_credential
    key, secret = issue_launch_credential(db_session, agent=AGENT, registration=REGISTRATION,
                                          activity_id=ACTIVITY)
    db_session.commit()
    api = DocumentsClient(client, key, secret)
    own = state(registration=REGISTRATION)
    assert api("PUT", "/activities/state", own, {"bookmark": 3}).status_code == 204
    assert api("GET", "/activities/state", own).get_json() == {"bookmark": 3}
    someone_else = {**own, "agent": {"mbox": "mailto:other@example.com"}}
    assert api("GET", "/activities/state", someone_else).status_code == 403
    assert api("GET", "/activities/state", state()).status_code == 403  # no registration


def test_launch_credential_with_profile_scope_reaches_only_its_learner_and_activity(
        client, db_session) -> None:
    from lrs.services import issue_launch_credential
    key, secret = issue_launch_credential(db_session, agent=AGENT, registration=REGISTRATION,
                                          activity_id=ACTIVITY, scopes=("state", "profile"))
    db_session.commit()
    api = DocumentsClient(client, key, secret)
    preferences = {"agent": AGENT, "profileId": "cmi5LearnerPreferences"}
    assert api("PUT", "/agents/profile", preferences, {"languagePreference": "en-US"},
               If_None_Match="*").status_code == 204
    assert api("GET", "/agents/profile", preferences).status_code == 200
    other_learner = {**preferences, "agent": {"mbox": "mailto:other@example.com"}}
    assert api("GET", "/agents/profile", other_learner).status_code == 403
    assert api("GET", "/activities/profile", {"activityId": ACTIVITY, "profileId": "p"}).status_code == 404
    other_activity = {"activityId": "http://example.com/activities/other", "profileId": "p"}
    assert api("GET", "/activities/profile", other_activity).status_code == 403


@pytest.mark.parametrize("path, params", RESOURCES)
def test_head_answers_the_headers_of_get_without_a_body_comm_1_1(xapi, path, params) -> None:
    xapi("PUT", path, params(), {"a": 1}, If_None_Match="*")
    get = xapi("GET", path, params())
    head = xapi("HEAD", path, params())
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert xapi("GET", path, params()).get_json() == {"a": 1}  # HEAD changed nothing


def test_alternate_request_syntax_puts_a_state_document_comm_1_3(xapi) -> None:
    form = {"activityId": ACTIVITY, "agent": json.dumps(AGENT), "stateId": "alt",
            "Authorization": xapi.headers["Authorization"], "X-Experience-API-Version": "1.0.3",
            "Content-Type": "application/json", "content": json.dumps({"via": "form"})}
    response = xapi.client.post("/xapi/activities/state?method=PUT", data=form,
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 204
    assert xapi("GET", "/activities/state", state("alt")).get_json() == {"via": "form"}


def test_activities_resource_answers_the_canonical_definition_comm_2_5(xapi, db_session) -> None:
    from lrs.services import store_statements
    from tests.lrs.conftest import AUTHORITY, statement
    activity = {"objectType": "Activity", "id": ACTIVITY, "definition": {"name": {"en-US": "Course"}}}
    store_statements(db_session, [statement(object=activity)], authority=AUTHORITY)
    db_session.commit()
    response = xapi("GET", "/activities", {"activityId": ACTIVITY})
    assert response.status_code == 200
    assert response.get_json() == activity


@pytest.mark.parametrize("params", [{}, {"activityId": "not an iri"}])
def test_activities_resource_without_a_valid_activity_id_is_400_comm_2_5(xapi, params) -> None:
    assert xapi("GET", "/activities", params).status_code == 400


# What a PostgreSQL column cannot hold is refused as bad input, before anything is written; it
# failed there with a 500 (SQLite kept it).
WIDE_ACTIVITY = "http://example.com/" + "a" * 3000  # its column and index take 2,048 bytes


@pytest.mark.parametrize("path, params, message", [
    ("/activities/state", {**state(), "activityId": WIDE_ACTIVITY}, "activityId"),
    ("/activities/profile", {"activityId": WIDE_ACTIVITY, "profileId": "p"}, "activityId"),
    ("/activities/state", state("x\u0000y"), "parameter stateId: contains the character U+0000"),
    ("/agents/profile", {"agent": {"objectType": "Agent", "mbox": "mailto:a@example.com", "name": "a\u0000"},
                         "profileId": "p"}, "parameter agent: contains the character U+0000"),
])
def test_a_document_the_store_cannot_keep_is_refused_with_400_and_nothing_written(
        xapi, path: str, params: dict, message: str) -> None:
    response = xapi("PUT", path, params, {"a": 1}, If_None_Match="*")
    assert response.status_code == 400 and message in response.get_json()["message"], response.get_json()
    assert xapi("PUT", "/activities/state", state(), {"kept": True}).status_code == 204  # the session goes on


def test_a_content_type_wider_than_its_column_is_refused_with_400(xapi) -> None:
    response = xapi("PUT", "/activities/state", state(), b"x", content_type="text/plain; x=" + "a" * 300)
    assert response.status_code == 400
    assert "Content-Type header is 314 characters" in response.get_json()["message"]
    assert xapi("GET", "/activities/state", state()).status_code == 404


def test_a_parameter_with_a_nul_in_its_json_is_refused_but_an_escaped_backslash_is_not(xapi) -> None:
    agent = {"objectType": "Agent", "mbox": "mailto:a@example.com", "name": "back\\u0000slash"}
    assert xapi("PUT", "/agents/profile", {"agent": agent, "profileId": "p"}, {"a": 1},
                If_None_Match="*").status_code == 204
    raw = '{"objectType": "Agent", "mbox": "mailto:a@example.com", "name": "a\\u0000"}'
    response = xapi("GET", "/agents", {"agent": raw})
    assert response.status_code == 400 and "parameter agent" in response.get_json()["message"]
