"""Launching xAPI content and cmi5 AUs from steps; the step completes from what the content sends."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select

from cairn.db import utcnow
from lrs.services import (StatementQuery, authenticate_credential, get_state_document, query_statements,
                          store_statements)
from pathways import launch
from pathways import services as pathways
from pathways.launch_models import Cmi5Session
from pathways.models import StepLaunch
from pathways.projection import system_authority
from tests import factories
from tests.pathways.cmi5_client import AssignableUnit, Cmi5Error, flask_transport
from tests.sql_seen import statements_run

HEADERS = {"X-Experience-API-Version": "1.0.3"}
CONTENT = "https://content.example.org"


def build(db_session, kind: str = "xapi", **step_fields):  # type: ignore[no-untyped-def]
    learner = factories.user(db_session)
    pathway = pathways.create_pathway(db_session, title="Launch", outcome_kind="training_attendance")
    tag = uuid.uuid4().hex[:8]
    pathways.add_step(db_session, pathway.id, kind=kind, title="Module",
                      launch_url=f"{CONTENT}/{tag}/index.html?lang=en",
                      activity_iri=f"{CONTENT}/{tag}/activity", **step_fields)
    pathways.publish_pathway(db_session, pathway.id)
    pathways.assign_pathway(db_session, pathway.id, user_id=learner.id)
    published = pathways.get_pathway(db_session, pathway.id)
    db_session.commit()
    return learner, published.pathway.id, published.steps[0].id


def step_state(db_session, user_id: int, pathway_id: int) -> str:
    db_session.expire_all()
    return pathways.learner_pathway(db_session, user_id, pathway_id).steps[0].state


def params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def statements(db_session, registration: str, verb: str) -> list[dict]:
    page = query_statements(db_session, StatementQuery(registration=registration, verb=launch.VERB[verb]))
    return [s.statement for s in page.statements]


# -- xAPI content ----------------------------------------------------------------------------------

def test_xapi_content_url_carries_endpoint_auth_actor_registration_and_activity(app, db_session) -> None:
    learner, _, step_id = build(db_session)
    with app.app_context():
        info = launch.launch_xapi_content(db_session, learner.id, step_id)
    query = params(info.url)
    assert info.url.startswith(f"{CONTENT}/") and query["lang"] == "en"  # the content's own parameter kept
    assert query["endpoint"] == "http://localhost/xapi/"
    assert json.loads(query["actor"]) == {"objectType": "Agent", "mbox": f"mailto:{learner.email}",
                                          "name": learner.name}
    assert query["activity_id"] == info.activity_id == pathways.get_step(db_session, step_id).activity_iri
    key, secret = base64.b64decode(query["auth"].removeprefix("Basic ")).decode().split(":", 1)
    credential = authenticate_credential(db_session, key, secret)
    assert credential is not None and credential.launch_registration == query["registration"]
    assert set(credential.scopes) == {"statements/write", "statements/read/mine", "state"}
    assert credential.expires_at is not None and credential.expires_at <= utcnow() + timedelta(hours=4)
    launched = db_session.get(StepLaunch, query["registration"])
    assert (launched.user_id, launched.step_id) == (learner.id, step_id)


def test_relaunching_content_keeps_the_registration_so_content_can_resume(app, db_session) -> None:
    learner, _, step_id = build(db_session)
    with app.app_context():
        first = launch.launch_xapi_content(db_session, learner.id, step_id)
        second = launch.launch_xapi_content(db_session, learner.id, step_id)
    assert first.registration == second.registration
    assert params(first.url)["auth"] != params(second.url)["auth"]


def content_statement(info: launch.LaunchInfo, verb: str = "completed", **overrides: object) -> dict:
    statement = {"actor": info.actor, "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
                 "object": {"id": info.activity_id}, "context": {"registration": info.registration}}
    statement.update(overrides)
    return statement


def test_statements_sent_with_the_launch_token_complete_the_step(app, client, db_session) -> None:
    learner, pathway_id, step_id = build(db_session)
    with app.app_context():
        info = launch.launch_xapi_content(db_session, learner.id, step_id)
    db_session.commit()
    auth = {**HEADERS, "Authorization": params(info.url)["auth"]}
    assert step_state(db_session, learner.id, pathway_id) == "not_started"
    response = client.post(f"{info.endpoint}statements", json=content_statement(info), headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert step_state(db_session, learner.id, pathway_id) == "done"


def test_a_launch_token_is_refused_for_another_learner_another_activity_or_registration(
        app, client, db_session) -> None:
    learner, pathway_id, step_id = build(db_session)
    with app.app_context():
        info = launch.launch_xapi_content(db_session, learner.id, step_id)
    db_session.commit()
    auth = {**HEADERS, "Authorization": params(info.url)["auth"]}
    someone_else = content_statement(info, actor={"mbox": "mailto:someone.else@example.org"})
    other_activity = content_statement(info, object={"id": f"{CONTENT}/another-course"})
    other_registration = content_statement(info, context={"registration": str(uuid.uuid4())})
    for statement in (someone_else, other_activity, other_registration):
        response = client.post(f"{info.endpoint}statements", json=statement, headers=auth)
        assert response.status_code == 403, response.get_data(as_text=True)
    state_of_another = client.get(f"{info.endpoint}activities/state", headers=auth, query_string={
        "activityId": info.activity_id, "stateId": "bookmark", "registration": info.registration,
        "agent": json.dumps({"mbox": "mailto:someone.else@example.org"})})
    assert state_of_another.status_code == 403
    assert step_state(db_session, learner.id, pathway_id) == "not_started"


def test_a_launch_token_cannot_void_statements_cmi5_6_3(app, client, db_session) -> None:
    learner, pathway_id, step_id = build(db_session)
    with app.app_context():
        info = launch.launch_xapi_content(db_session, learner.id, step_id)
    db_session.commit()
    auth = {**HEADERS, "Authorization": params(info.url)["auth"]}
    [statement_id] = client.post(f"{info.endpoint}statements", json=content_statement(info),
                                 headers=auth).get_json()
    void = content_statement(info, "voided", object={"objectType": "StatementRef", "id": statement_id},
                             context={"registration": info.registration,
                                      "contextActivities": {"grouping": [{"id": info.activity_id}]}})
    response = client.post(f"{info.endpoint}statements", json=void, headers=auth)
    assert response.status_code == 403 and "void" in response.get_json()["message"]
    assert step_state(db_session, learner.id, pathway_id) == "done"


def test_only_xapi_steps_launch_as_xapi_content(app, db_session) -> None:
    learner, _, step_id = build(db_session, kind="cmi5", move_on="Completed")
    with app.app_context(), pytest.raises(Exception, match="cmi5 step, not xapi"):
        launch.launch_xapi_content(db_session, learner.id, step_id)


# -- cmi5 ------------------------------------------------------------------------------------------

def cmi5_launch(app, db_session, learner, step_id: int, **kwargs) -> launch.LaunchInfo:  # type: ignore[no-untyped-def]
    with app.app_context():
        info = launch.launch_cmi5(db_session, learner.id, step_id, **kwargs)
    db_session.commit()
    return info


def test_cmi5_launch_url_has_the_five_parameters_and_an_account_actor_8_1(app, db_session) -> None:
    learner, _, step_id = build(db_session, kind="cmi5", move_on="Completed")
    info = cmi5_launch(app, db_session, learner, step_id)
    query = params(info.url)
    assert {"endpoint", "fetch", "actor", "registration", "activityId", "lang"} == set(query)
    assert json.loads(query["actor"]) == {"objectType": "Agent",
                                          "account": {"homePage": "http://localhost",
                                                      "name": str(learner.id)}}
    assert query["fetch"].startswith("http://localhost/cmi5/fetch/")
    assert query["activityId"] == info.activity_id \
        != launch.publisher_id(pathways.get_step(db_session, step_id))


def test_cmi5_launch_writes_launch_data_and_records_launched_first_10_and_9_3_1(app, db_session) -> None:
    learner, _, step_id = build(db_session, kind="cmi5", move_on="Passed", mastery_score=0.8)
    info = cmi5_launch(app, db_session, learner, step_id, return_url="http://localhost/portal/steps/1")
    document = get_state_document(db_session, activity_id=info.activity_id, agent=info.actor,
                                  registration=info.registration, state_id="LMS.LaunchData")
    data = json.loads(document.content)
    assert data["launchMode"] == "Normal" and data["moveOn"] == "Passed" and data["masteryScore"] == 0.8
    assert data["returnURL"] == "http://localhost/portal/steps/1"
    assert data["contextTemplate"]["extensions"][launch.SESSION_ID] == info.session_id
    grouping = {a["id"] for a in data["contextTemplate"]["contextActivities"]["grouping"]}
    assert launch.publisher_id(pathways.get_step(db_session, step_id)) in grouping
    [launched] = statements(db_session, info.registration, "launched")
    extensions = launched["context"]["extensions"]
    assert extensions[launch.SESSION_ID] == info.session_id
    assert extensions[launch.EXT + "launchmode"] == "Normal" and extensions[launch.EXT + "moveon"] == "Passed"
    assert extensions[launch.EXT + "masteryscore"] == 0.8
    assert extensions[launch.EXT + "launchurl"].endswith("/index.html?lang=en")
    assert {"id": launch.CMI5_CATEGORY, "objectType": "Activity"} in \
        launched["context"]["contextActivities"]["category"]
    assert launched["actor"] == info.actor and launched["object"]["id"] == info.activity_id


def test_the_fetch_url_returns_the_auth_token_once_8_2(app, client, db_session) -> None:
    learner, _, step_id = build(db_session, kind="cmi5", move_on="Completed")
    info = cmi5_launch(app, db_session, learner, step_id)
    assert client.get(info.fetch_url).status_code == 405  # POST only (8.2.1)
    first = client.post(info.fetch_url)
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    token = first.get_json()["auth-token"]
    key, secret = base64.b64decode(token).decode().split(":", 1)
    assert authenticate_credential(db_session, key, secret).launch_registration == info.registration
    again = client.post(info.fetch_url)
    assert again.status_code == 200 and again.get_json()["error-code"] == "1"  # 8.2.3.1
    unknown = client.post("/cmi5/fetch/not-a-token")
    assert unknown.status_code == 200 and unknown.get_json()["error-code"] == "2"


@pytest.mark.parametrize("move_on, actions, done", [
    ("Completed", ["complete"], True),
    ("Passed", ["pass"], True),
    ("Passed", ["fail", "complete"], False),
    ("CompletedOrPassed", ["pass"], True),
    ("CompletedAndPassed", ["complete"], False),
    ("CompletedAndPassed", ["complete", "pass"], True),
])
def test_a_cmi5_session_completes_the_step_when_move_on_is_met(app, client, db_session, move_on, actions,
                                                               done) -> None:
    learner, pathway_id, step_id = build(db_session, kind="cmi5", move_on=move_on, mastery_score=0.7)
    info = cmi5_launch(app, db_session, learner, step_id)
    au = AssignableUnit(info.url, flask_transport(client))
    au.start()
    for action in actions:
        {"complete": au.complete, "pass": lambda: au.judge(0.9), "fail": lambda: au.judge(0.5)}[action]()
    au.terminate()
    satisfied = statements(db_session, info.registration, "satisfied")
    assert step_state(db_session, learner.id, pathway_id) == ("done" if done else "in_progress")
    assert len(satisfied) == (1 if done else 0)
    if done:
        assert satisfied[0]["object"]["definition"]["type"] == launch.COURSE_TYPE
        assert satisfied[0]["context"]["extensions"][launch.SESSION_ID] == info.session_id  # 9.3.9
    row = db_session.get(Cmi5Session, info.session_id)
    db_session.refresh(row)
    assert row.terminated_at is not None and row.fetched_at is not None


def test_not_applicable_is_satisfied_when_the_registration_is_made_9_6_1(app, db_session) -> None:
    learner, pathway_id, step_id = build(db_session, kind="cmi5", move_on="NotApplicable")
    info = cmi5_launch(app, db_session, learner, step_id)
    assert len(statements(db_session, info.registration, "satisfied")) == 1
    assert step_state(db_session, learner.id, pathway_id) == "done"


def test_relaunching_abandons_the_active_session_and_stops_its_token_9_3_6(app, client, db_session) -> None:
    learner, _, step_id = build(db_session, kind="cmi5", move_on="Completed")
    first = cmi5_launch(app, db_session, learner, step_id)
    au = AssignableUnit(first.url, flask_transport(client))
    au.start()
    second = cmi5_launch(app, db_session, learner, step_id)
    assert second.registration == first.registration and second.session_id != first.session_id
    [abandoned] = statements(db_session, first.registration, "abandoned")
    assert abandoned["context"]["extensions"][launch.SESSION_ID] == first.session_id
    assert abandoned["result"]["duration"].startswith("PT")
    with pytest.raises(Cmi5Error, match="401"):
        au.complete()  # nothing is recorded for a session after "abandoned"
    assert len(statements(db_session, first.registration, "launched")) == 2


def test_a_terminated_session_is_not_abandoned_on_relaunch(app, client, db_session) -> None:
    learner, _, step_id = build(db_session, kind="cmi5", move_on="Completed")
    au = AssignableUnit(cmi5_launch(app, db_session, learner, step_id).url, flask_transport(client))
    au.start()
    au.terminate()
    info = cmi5_launch(app, db_session, learner, step_id)
    assert statements(db_session, info.registration, "abandoned") == []


def test_the_worker_abandons_silent_sessions_and_stops_tokens_of_terminated_ones(
        app, client, db_session) -> None:
    learner, _, step_id = build(db_session, kind="cmi5", move_on="Completed")
    silent = cmi5_launch(app, db_session, learner, step_id)
    later = utcnow() + launch.CMI5_IDLE_LIMIT + timedelta(minutes=1)
    with app.app_context():
        assert launch.close_stale_sessions(db_session, now=utcnow()) == 0
        assert launch.close_stale_sessions(db_session, now=later) == 1
    assert len(statements(db_session, silent.registration, "abandoned")) == 1

    au = AssignableUnit(cmi5_launch(app, db_session, learner, step_id).url, flask_transport(client))
    au.start()
    au.terminate()
    with app.app_context():
        launch.close_stale_sessions(db_session,
                                    now=utcnow() + launch.CMI5_AFTER_TERMINATED + timedelta(minutes=1))
    db_session.commit()
    status, _ = au.http("POST", f"{au.endpoint}statements", au._headers(), None, au.statement("completed"))
    assert status == 401


def test_waiving_records_waived_with_a_reason_then_satisfied_9_3_7(app, db_session) -> None:
    learner, pathway_id, step_id = build(db_session, kind="cmi5", move_on="CompletedAndPassed")
    with app.app_context():
        waived_id = launch.waive_cmi5(db_session, learner.id, step_id, reason="Tested Out")
        assert launch.waive_cmi5(db_session, learner.id, step_id, reason="Tested Out") == waived_id
    registration = db_session.scalar(select(StepLaunch.registration).where(StepLaunch.user_id == learner.id))
    [waived] = statements(db_session, registration, "waived")
    assert waived["id"] == waived_id
    assert waived["result"] == {"success": True, "completion": True,
                                "extensions": {launch.REASON: "Tested Out"}}
    categories = {a["id"] for a in waived["context"]["contextActivities"]["category"]}
    assert categories == {launch.CMI5_CATEGORY, launch.MOVEON_CATEGORY}
    assert len(statements(db_session, registration, "satisfied")) == 1
    assert step_state(db_session, learner.id, pathway_id) == "done"


def test_a_cmi5_token_is_refused_for_another_learner_or_activity(app, client, db_session) -> None:
    learner, pathway_id, step_id = build(db_session, kind="cmi5", move_on="Completed")
    au = AssignableUnit(cmi5_launch(app, db_session, learner, step_id).url, flask_transport(client))
    au.start()
    impostor = au.statement("completed", {"completion": True, "duration": "PT1S"})
    impostor["actor"] = {"objectType": "Agent", "account": {"homePage": "http://localhost", "name": "999"}}
    elsewhere = au.statement("completed", {"completion": True, "duration": "PT1S"})
    elsewhere["object"]["id"] = f"{CONTENT}/another-au"
    elsewhere["context"]["contextActivities"]["grouping"] = []
    for statement in (impostor, elsewhere):
        status, _ = au.http("POST", f"{au.endpoint}statements", au._headers(), None, statement)
        assert status == 403
    assert step_state(db_session, learner.id, pathway_id) == "in_progress"


def test_statements_naming_no_session_of_ours_cost_one_read_of_ids(app, db_session) -> None:
    # cmi5 content sends a session id with every statement; the subscriber runs on every store,
    # before it commits: finding none of ours is one query of ids, no session rows read.
    learner, _pathway_id, step_id = build(db_session, kind="cmi5", move_on="Completed")
    info = cmi5_launch(app, db_session, learner, step_id)
    ours, theirs = info.session_id, str(uuid.uuid4())

    def sent_in(session_id: str) -> dict:
        return {"actor": {"mbox": f"mailto:{learner.email}"}, "verb": {"id": launch.VERB["terminated"]},
                "object": {"id": f"{CONTENT}/elsewhere"},
                "context": {"extensions": {launch.SESSION_ID: session_id}}}

    def store(session_id: str) -> list[str]:
        with app.test_request_context():
            run, _ = statements_run(db_session, lambda: store_statements(
                db_session, [sent_in(session_id)], authority=system_authority()))
        return [" ".join(sql.split()) for sql in run if "pathway_cmi5_sessions" in sql]

    [read] = store(theirs)
    assert read.startswith("SELECT pathway_cmi5_sessions.id FROM pathway_cmi5_sessions WHERE"), read
    assert db_session.get(Cmi5Session, ours).terminated_at is None
    assert len(store(ours)) > 1  # ours: its row is read and updated
    db_session.expire_all()
    assert db_session.get(Cmi5Session, ours).terminated_at is not None
