"""The Statement and About resources over HTTP (xAPI 1.0.3 Communication 2.1, 2.8, 1.3, 3.3, 4.0)."""
from __future__ import annotations

import hashlib
import json
import uuid
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.lrs.conftest import XAPIClient, make_credential, statement


def test_about_lists_versions_without_credentials_communication_2_8(client: FlaskClient) -> None:
    response = client.get("/xapi/about")
    assert response.status_code == 200
    assert "1.0.3" in response.json["version"] and "2.0.0" in response.json["version"]
    # Without a version header the newest version answers.
    assert response.headers["X-Experience-API-Version"] == "2.0.0"
    versioned = client.get("/xapi/about", headers={"X-Experience-API-Version": "1.0.1"})
    assert versioned.headers["X-Experience-API-Version"] == "1.0.3"


def test_missing_version_header_is_rejected_communication_3_3(
        client: FlaskClient, db_session: Session) -> None:
    info, secret = make_credential(db_session)
    response = XAPIClient(client, info.key, secret, version=None).get("/statements")
    assert response.status_code == 400 and "X-Experience-API-Version" in response.json["message"]


def test_unsupported_version_is_rejected_communication_3_3(client: FlaskClient, db_session: Session) -> None:
    info, secret = make_credential(db_session)
    assert XAPIClient(client, info.key, secret, version="0.95").get("/statements").status_code == 400
    assert XAPIClient(client, info.key, secret, version="3.0.0").get("/statements").status_code == 400


def test_version_2_requests_are_answered_as_2_0_0(client: FlaskClient, db_session: Session) -> None:
    info, secret = make_credential(db_session)
    response = XAPIClient(client, info.key, secret, version="2.0.0").get("/statements")
    assert response.status_code == 200 and response.headers["X-Experience-API-Version"] == "2.0.0"


def test_missing_credentials_answer_401_with_www_authenticate_communication_4_0(client: FlaskClient) -> None:
    response = client.get("/xapi/statements", headers={"X-Experience-API-Version": "1.0.3"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json["error"] == "unauthorized"


def test_wrong_secret_and_revoked_credentials_answer_401(client: FlaskClient, db_session: Session) -> None:
    from lrs import services
    info, secret = make_credential(db_session)
    assert XAPIClient(client, info.key, secret + "x").get("/statements").status_code == 401
    services.revoke_credential(db_session, info.key)
    db_session.commit()
    assert XAPIClient(client, info.key, secret).get("/statements").status_code == 401


def test_a_credential_without_the_scope_gets_403(client: FlaskClient, db_session: Session) -> None:
    info, secret = make_credential(db_session, scopes=("statements/read",))
    response = XAPIClient(client, info.key, secret).post("/statements", json_body=statement())
    assert response.status_code == 403


def test_post_stores_and_returns_ids_then_get_by_statement_id(xapi: XAPIClient) -> None:
    body = [statement(), statement(id=None)]
    response = xapi.post("/statements", json_body=body)
    assert response.status_code == 200
    ids = response.json
    assert ids[0] == body[0]["id"] and uuid.UUID(ids[1])
    fetched = xapi.get(f"/statements?statementId={ids[1]}")
    assert fetched.status_code == 200
    assert fetched.json["id"] == ids[1] and fetched.json["authority"]["mbox"] == "mailto:client@example.org"
    assert fetched.headers["Last-Modified"] and fetched.headers["X-Experience-API-Consistent-Through"]


def test_put_needs_statement_id_and_answers_204_communication_2_1_1(xapi: XAPIClient) -> None:
    body = statement(id=None)
    assert xapi.put("/statements", json_body=body).status_code == 400
    statement_id = str(uuid.uuid4())
    assert xapi.put(f"/statements?statementId={statement_id}", json_body=body).status_code == 204
    assert xapi.put(f"/statements?statementId={statement_id}", json_body=body).status_code == 204
    conflicting = {**body, "verb": {"id": "http://example.org/verbs/other"}}
    assert xapi.put(f"/statements?statementId={statement_id}", json_body=conflicting).status_code == 409


def test_invalid_statement_answers_400_naming_the_place(xapi: XAPIClient) -> None:
    response = xapi.post("/statements", json_body=statement(actor={"mbox": "ann@example.org"}))
    assert response.status_code == 400
    assert "statement.actor.mbox" in response.json["message"]


def test_duplicate_json_keys_are_rejected_data_2_2(xapi: XAPIClient) -> None:
    raw = json.dumps(statement())[:-1] + ', "verb": {"id": "http://example.org/v"}}'
    assert xapi.post("/statements", data=raw, content_type="application/json").status_code == 400


def test_get_lists_statements_with_more_url_and_voided_ones_hidden(xapi: XAPIClient) -> None:
    activity = f"http://example.org/list/{uuid.uuid4()}"
    ids = xapi.post("/statements", json_body=[statement(object={"id": activity}) for _ in range(3)]).json
    void = statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
                     object={"objectType": "StatementRef", "id": ids[0]})
    assert xapi.post("/statements", json_body=void).status_code == 200
    query = urlencode({"activity": activity, "limit": 2})
    first = xapi.get(f"/statements?{query}").json
    # The voiding statement targets a statement matching the filter, so it matches too (xAPI 1.0.3 2.5).
    assert [s["id"] for s in first["statements"]] == [void["id"], ids[2]]
    assert first["more"].startswith("/xapi/statements?")
    second = xapi.client.get(first["more"], headers=xapi.headers()).json
    assert [s["id"] for s in second["statements"]] == [ids[1]] and second["more"] == ""
    assert xapi.get(f"/statements?statementId={ids[0]}").status_code == 404
    assert xapi.get(f"/statements?voidedStatementId={ids[0]}").json["id"] == ids[0]


def test_statement_id_with_other_filters_is_rejected_communication_2_1_3(xapi: XAPIClient) -> None:
    query = urlencode({"statementId": str(uuid.uuid4()), "verb": "http://example.org/v"})
    assert xapi.get(f"/statements?{query}").status_code == 400


def test_unknown_query_parameter_is_rejected(xapi: XAPIClient) -> None:
    assert xapi.get("/statements?colour=blue").status_code == 400


def test_format_ids_and_canonical_communication_2_1_3(xapi: XAPIClient) -> None:
    body = statement()
    xapi.post("/statements", json_body=body)
    ids = xapi.get(f"/statements?statementId={body['id']}&format=ids").json
    assert ids["actor"] == {"objectType": "Agent", "mbox": "mailto:ann@example.org"}
    assert ids["object"] == {"id": body["object"]["id"]}
    canonical = xapi.get(f"/statements?statementId={body['id']}&format=canonical",
                         headers={"Accept-Language": "fr"}).json
    assert canonical["object"]["definition"]["name"] == {"fr": "Intro FR"}


def test_head_answers_like_get_without_a_body_communication_1_1(xapi: XAPIClient) -> None:
    response = xapi.request("HEAD", "/statements")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["X-Experience-API-Consistent-Through"]


def test_cors_headers_and_preflight_without_credentials(client: FlaskClient) -> None:
    preflight = client.options("/xapi/statements", headers={"Origin": "https://content.example.org",
                                                             "Access-Control-Request-Method": "PUT"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://content.example.org"
    assert "X-Experience-API-Version" in preflight.headers["Access-Control-Allow-Headers"]


def test_alternate_request_syntax_put_through_post_communication_1_3(
        client: FlaskClient, xapi: XAPIClient) -> None:
    statement_id = str(uuid.uuid4())
    form = {"statementId": statement_id, "content": json.dumps(statement(id=None)),
            "Authorization": xapi.auth, "X-Experience-API-Version": "1.0.3",
            "Content-Type": "application/json"}
    response = client.post("/xapi/statements?method=PUT", data=form)
    assert response.status_code == 204
    form = {"statementId": statement_id, "Authorization": xapi.auth, "X-Experience-API-Version": "1.0.3"}
    fetched = client.post("/xapi/statements?method=GET", data=form)
    assert fetched.status_code == 200 and fetched.json["id"] == statement_id


def test_alternate_request_syntax_refuses_other_query_parameters(
        client: FlaskClient, xapi: XAPIClient) -> None:
    form = {"Authorization": xapi.auth, "X-Experience-API-Version": "1.0.3"}
    assert client.post(f"/xapi/statements?method=GET&statementId={uuid.uuid4()}",
                       data=form).status_code == 400


def _multipart(parts: list[tuple[dict[str, str], bytes]], boundary: str = "xyzzy") -> bytes:
    chunks = []
    for headers, content in parts:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        chunks.append(f"--{boundary}\r\n{head}\r\n".encode() + content + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


def test_attachments_in_multipart_are_stored_and_returned_data_2_4_11(xapi: XAPIClient) -> None:
    content = b"hello attachment \x00\xff"
    sha2 = hashlib.sha256(content).hexdigest()
    body = statement(attachments=[{"usageType": "http://example.org/usage", "display": {"en": "file"},
                                   "contentType": "application/octet-stream", "length": len(content),
                                   "sha2": sha2}])
    data = _multipart([({"Content-Type": "application/json"}, json.dumps(body).encode()),
                       ({"Content-Type": "application/octet-stream", "Content-Transfer-Encoding": "binary",
                         "X-Experience-API-Hash": sha2}, content)])
    response = xapi.post("/statements", data=data, content_type="multipart/mixed; boundary=xyzzy")
    assert response.status_code == 200, response.json
    fetched = xapi.get(f"/statements?statementId={body['id']}&attachments=true")
    assert fetched.mimetype == "multipart/mixed"
    assert content in fetched.data and sha2.encode() in fetched.data


def test_attachment_without_content_or_file_url_is_rejected_data_2_4_11(xapi: XAPIClient) -> None:
    body = statement(attachments=[{"usageType": "http://example.org/usage", "display": {"en": "file"},
                                   "contentType": "text/plain", "length": 3, "sha2": "a" * 64}])
    assert xapi.post("/statements", json_body=body).status_code == 400


def test_multipart_part_with_wrong_hash_is_rejected(xapi: XAPIClient) -> None:
    sha2 = hashlib.sha256(b"one").hexdigest()
    body = statement(attachments=[{"usageType": "http://example.org/usage", "display": {"en": "file"},
                                   "contentType": "text/plain", "length": 3, "sha2": sha2}])
    data = _multipart([({"Content-Type": "application/json"}, json.dumps(body).encode()),
                       ({"Content-Type": "text/plain", "X-Experience-API-Hash": sha2}, b"two")])
    assert xapi.post("/statements", data=data,
                     content_type="multipart/mixed; boundary=xyzzy").status_code == 400


def test_read_mine_sees_only_statements_it_vouched_for(
        client: FlaskClient, db_session: Session, xapi: XAPIClient) -> None:
    other = statement()
    xapi.post("/statements", json_body=other)
    info, secret = make_credential(db_session, scopes=("statements/write", "statements/read/mine"),
                                   authority={"objectType": "Agent", "mbox": "mailto:mine@example.org"})
    mine_client = XAPIClient(client, info.key, secret)
    own = statement()
    assert mine_client.post("/statements", json_body=own).status_code == 200
    ids = [s["id"] for s in mine_client.get("/statements").json["statements"]]
    assert ids == [own["id"]]
    assert mine_client.get(f"/statements?statementId={other['id']}").status_code == 404


def test_consistent_through_is_sent_even_on_errors_communication_2_1_3(xapi: XAPIClient) -> None:
    response = xapi.get("/statements?statementId=not-a-uuid")
    assert response.status_code == 400
    assert response.headers["X-Experience-API-Consistent-Through"].endswith("Z")
    assert xapi.get(f"/statements?statementId={uuid.uuid4()}").headers["X-Experience-API-Consistent-Through"]


def test_single_context_activity_is_returned_as_an_array_data_2_4_6_2(xapi: XAPIClient) -> None:
    body = statement(context={"contextActivities": {"parent": {"id": "http://example.org/parent"}}})
    xapi.post("/statements", json_body=body)
    fetched = xapi.get(f"/statements?statementId={body['id']}").json
    assert fetched["context"]["contextActivities"]["parent"] == [{"id": "http://example.org/parent"}]


def test_authority_group_must_be_anonymous_data_2_4_9(xapi: XAPIClient) -> None:
    members = [{"mbox": "mailto:a@example.org"}, {"mbox": "mailto:b@example.org"}]
    identified = {"objectType": "Group", "mbox": "mailto:g@example.org", "member": members}
    assert xapi.post("/statements", json_body=statement(authority=identified)).status_code == 400
    anonymous = {"objectType": "Group", "member": members}
    assert xapi.post("/statements", json_body=statement(authority=anonymous)).status_code == 200


def test_alternate_request_syntax_is_refused_for_xapi_2_0(client: FlaskClient, xapi: XAPIClient) -> None:
    form = {"statementId": str(uuid.uuid4()), "content": json.dumps(statement(id=None)),
            "Authorization": xapi.auth, "X-Experience-API-Version": "2.0.0"}
    response = client.post("/xapi/statements?method=PUT", data=form)
    assert response.status_code == 400 and "2.0" in response.json["message"]


def test_duration_precision_beyond_hundredths_does_not_make_a_conflict_xapi_2_0_4_2_7(
        xapi: XAPIClient) -> None:
    body = statement(result={"duration": "PT1.12S"})
    assert xapi.post("/statements", json_body=body).status_code == 200
    again = {**body, "result": {"duration": "PT1.1299S"}}
    assert xapi.post("/statements", json_body=again).status_code == 200
    different = {**body, "result": {"duration": "PT1.13S"}}
    assert xapi.post("/statements", json_body=different).status_code == 409


def test_a_statement_the_store_cannot_keep_answers_400_and_keeps_what_was_stored(xapi: XAPIClient) -> None:
    kept = statement()
    assert xapi.post("/statements", json_body=kept).status_code == 200
    too_long = statement(object={"id": "http://example.org/" + "a" * 3000})
    response = xapi.post("/statements", json_body=[statement(), too_long])
    assert response.status_code == 400
    assert response.json["message"].startswith("statements[1]: an activity id of 3,019 bytes")
    nul = xapi.post("/statements", json_body=statement(result={"response": "\u0000"}))
    assert nul.status_code == 400 and "U+0000" in nul.json["message"]
    assert xapi.get(f"/statements?statementId={kept['id']}").status_code == 200


@pytest.mark.parametrize("params", [{"activity": "http://example.org/a\u0000"},
                                    {"agent": json.dumps({"mbox": "mailto:a\u0000@example.org"})}])
def test_a_query_naming_u0000_answers_400_not_a_database_error(xapi: XAPIClient, params: dict) -> None:
    response = xapi.get("/statements?" + urlencode(params))
    assert response.status_code == 400 and "U+0000" in response.json["message"]


def test_an_attachment_whose_content_type_is_wider_than_its_column_answers_400(xapi: XAPIClient) -> None:
    sha2 = hashlib.sha256(b"one").hexdigest()
    body = statement(attachments=[{"usageType": "http://example.org/usage", "display": {"en": "file"},
                                   "contentType": "text/plain", "length": 3, "sha2": sha2}])
    data = _multipart([({"Content-Type": "application/json"}, json.dumps(body).encode()),
                       ({"Content-Type": "text/plain; x=" + "a" * 300, "X-Experience-API-Hash": sha2},
                        b"one")])
    response = xapi.post("/statements", data=data, content_type="multipart/mixed; boundary=xyzzy")
    assert response.status_code == 400 and "multipart part 1: its Content-Type" in response.json["message"]
    assert xapi.get(f"/statements?statementId={body['id']}").status_code == 404
