"""Every write of the JSON API (as its OpenAPI document lists them), with bodies nobody should send:
each field in turn a number past any column, U+0000, 5,000 characters, a negative number, null, a
list, an object. Each answer is a refusal in JSON (or the write is taken), never a 500."""
from __future__ import annotations

import re

from cairn.demo import load_demo
from tests.pagetools import sign_in

ODD = (10**30, "a\x00b", "x" * 5000, -1, None, [], {})


def test_every_api_write_refuses_or_takes_odd_values_in_json_and_never_answers_500(app, client,
                                                                                    db_session) -> None:
    with app.app_context():
        info = load_demo(db_session, app.extensions["cairn.demo_loaders"])
        db_session.commit()
    admin = next(a for a in info["accounts"] if a["role"] == "administrator")
    sign_in(client, admin["email"], admin["password"])
    headers = {"X-CSRFToken": client.get("/api/session").get_json()["csrf_token"]}
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    failures, sent = [], 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            schema = body.get("schema", {})
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
            concrete = re.sub(r"\{\w+\}", "1", path)  # the demo's first of everything
            for name in schema.get("properties", {}):
                for odd in ODD:
                    sent += 1
                    answer = client.open(concrete, method=method.upper(), json={name: odd}, headers=headers)
                    refused_in_json = answer.status_code < 400 or (answer.is_json and "error" in answer.json)
                    if answer.status_code >= 500 or not refused_in_json:
                        failures.append((method, concrete, name, repr(odd)[:20], answer.status_code))
    assert failures == []
    assert sent > 500, sent
