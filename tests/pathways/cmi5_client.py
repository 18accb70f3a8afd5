"""A cmi5 assignable unit's side of the protocol, written from the cmi5 specification (github
AICC/CMI-5_Spec_Current, cmi5_spec.md), to test Cairn's LMS side the way real content uses it.

It does what an AU MUST: read the launch parameters in any order (8.1), POST once to the fetch URL for
its auth token (8.2), read ``LMS.LaunchData`` (10) and the learner preferences (11), build every
statement's context from the ``contextTemplate`` (10.2.1) with the registration (9.6.1), send
``initialized`` first and ``terminated`` last (7.1), include the cmi5 and moveOn categories (9.6.2),
durations (9.5.4), success/completion (9.5.2-3) and the masteryScore extension (9.6.3.2).
The HTTP transport is pluggable: Flask's test client in-process, ``requests`` against a live server.
"""
from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

VERBS = {name: f"http://adlnet.gov/expapi/verbs/{name}"
         for name in ("initialized", "completed", "passed", "failed", "terminated")}
CMI5_CATEGORY = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
MOVEON_CATEGORY = "https://w3id.org/xapi/cmi5/context/categories/moveon"
MASTERY_SCORE = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"
XAPI_VERSION = "1.0.3"

# (method, url, headers, params, json body) -> (status, parsed JSON body or None)
Transport = Callable[[str, str, dict[str, str], dict[str, str] | None, Any], tuple[int, Any]]


class Cmi5Error(Exception):
    pass


def requests_transport(method: str, url: str, headers: dict[str, str], params: dict[str, str] | None,
                       body: Any) -> tuple[int, Any]:
    import requests
    response = requests.request(method, url, headers=headers, params=params, json=body, timeout=10)
    return response.status_code, (response.json() if response.content else None)


def flask_transport(client: Any) -> Transport:
    def send(method: str, url: str, headers: dict[str, str], params: dict[str, str] | None,
             body: Any) -> tuple[int, Any]:
        response = client.open(url, method=method, headers=headers, query_string=params, json=body)
        return response.status_code, (response.get_json(silent=True) if response.data else None)
    return send


@dataclass
class AssignableUnit:
    launch_url: str
    http: Transport
    params: dict[str, str] = field(init=False)
    auth: str | None = None
    launch_data: dict[str, Any] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    started_at: datetime | None = None

    def __post_init__(self) -> None:
        # 8.1: name/value pairs in the query string, URL-encoded, in any order.
        self.params = dict(parse_qsl(urlsplit(self.launch_url).query))
        missing = {"endpoint", "fetch", "actor", "registration", "activityId"} - set(self.params)
        if missing:
            raise Cmi5Error(f"launch URL lacks {sorted(missing)}")
        self.actor = json.loads(self.params["actor"])
        if "account" not in self.actor:  # 9.2
            raise Cmi5Error("the actor must be an Agent with an account")
        self.endpoint = self.params["endpoint"]
        self.registration = self.params["registration"]
        self.activity_id = self.params["activityId"]

    # -- 8.2: the one-time fetch URL ------------------------------------------------------------
    def fetch_token(self) -> dict[str, Any]:
        status, body = self.http("POST", self.params["fetch"], {}, None, None)
        if status != 200 or not isinstance(body, dict):
            raise Cmi5Error(f"fetch answered {status}: {body}")
        return body

    def _headers(self) -> dict[str, str]:
        if self.auth is None:
            raise Cmi5Error("no auth token yet")
        return {"Authorization": f"Basic {self.auth}", "X-Experience-API-Version": XAPI_VERSION}

    def start(self) -> None:
        """Fetch the token, read LMS.LaunchData and the learner preferences, send ``initialized``."""
        answer = self.fetch_token()
        if "auth-token" not in answer:
            raise Cmi5Error(f"fetch refused: {answer}")
        self.auth = answer["auth-token"]
        status, data = self.http("GET", f"{self.endpoint}activities/state", self._headers(), {
            "stateId": "LMS.LaunchData", "activityId": self.activity_id, "agent": json.dumps(self.actor),
            "registration": self.registration}, None)
        if status != 200:
            raise Cmi5Error(f"LMS.LaunchData: {status} {data}")
        for required in ("contextTemplate", "launchMode", "moveOn"):  # 10.2
            if required not in data:
                raise Cmi5Error(f"LMS.LaunchData lacks {required}")
        self.launch_data = data
        # 11: the AU SHOULD read cmi5LearnerPreferences; absent (404) or not granted means none.
        status, _ = self.http("GET", f"{self.endpoint}agents/profile", self._headers(),
                              {"agent": json.dumps(self.actor), "profileId": "cmi5LearnerPreferences"}, None)
        if status not in (200, 403, 404):
            raise Cmi5Error(f"learner preferences: {status}")
        self.started_at = datetime.now(UTC)
        self.send("initialized")

    # -- 9: statements --------------------------------------------------------------------------
    def statement(self, verb: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
        context = copy.deepcopy(self.launch_data["contextTemplate"])  # 10.2.1: never overwrite it
        context["registration"] = self.registration
        categories = context.setdefault("contextActivities", {}).setdefault("category", [])
        categories.append({"objectType": "Activity", "id": CMI5_CATEGORY})
        if result and ("success" in result or "completion" in result):
            categories.append({"objectType": "Activity", "id": MOVEON_CATEGORY})  # 9.6.2.2
        statement: dict[str, Any] = {
            "id": str(uuid.uuid4()), "actor": self.actor,  # 9.1, 9.2
            "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
            "object": {"objectType": "Activity", "id": self.activity_id},  # 9.4
            "context": context, "timestamp": datetime.now(UTC).isoformat()}  # 9.7
        if result is not None:
            statement["result"] = result
        return statement

    def send(self, verb: str, result: dict[str, Any] | None = None,
             extensions: dict[str, Any] | None = None) -> int:
        statement = self.statement(verb, result)
        if extensions:
            statement["context"].setdefault("extensions", {}).update(extensions)
        status, body = self.http("POST", f"{self.endpoint}statements", self._headers(), None, statement)
        if status != 200:
            raise Cmi5Error(f"{verb}: {status} {body}")
        self.sent.append(statement)
        return status

    def _duration(self) -> str:
        assert self.started_at is not None
        return f"PT{(datetime.now(UTC) - self.started_at).total_seconds():.2f}S"

    def complete(self) -> None:
        self.send("completed", {"completion": True, "duration": self._duration()})  # 9.5.3, 9.5.4.1

    def judge(self, scaled: float) -> None:
        """``passed`` or ``failed`` by the masteryScore, if the LMS gave one (9.3.4-5, 10.2.4)."""
        mastery = self.launch_data.get("masteryScore")
        passed = mastery is None or scaled >= mastery
        extensions = {MASTERY_SCORE: mastery} if mastery is not None else None
        self.send("passed" if passed else "failed",
                  {"success": passed, "score": {"scaled": scaled}, "duration": self._duration()}, extensions)

    def terminate(self) -> None:
        self.send("terminated", {"duration": self._duration()})  # 7.1.2
