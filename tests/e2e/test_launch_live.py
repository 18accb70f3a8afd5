"""Content launched from steps, against a real Cairn over HTTP (issue 9, "Done when").

An xAPI content launch completes its step from statements sent with the launch token, and the token
is refused for another learner or activity; a cmi5 AU (the spec-written client in tests/pathways)
completes its step through moveOn.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from cairn.accounts.services import create_user
from pathways import launch
from pathways import services as pathways
from tests.conftest import make_test_app
from tests.live import live_cairn
from tests.pathways.cmi5_client import AssignableUnit, requests_transport

pytestmark = pytest.mark.e2e
CONTENT = "https://content.example.org/live"


def test_launched_content_and_a_cmi5_au_complete_their_steps_over_http(tmp_path) -> None:
    with live_cairn(tmp_path, "launch") as cairn:
        app = make_test_app(cairn.database_url, BASE_URL=cairn.url)
        factory = app.extensions["cairn.db"].session_factory()
        with app.app_context(), factory() as session:
            learner = create_user(session, name="Lena", email="lena@example.org")
            pathway = pathways.create_pathway(session, title="Live launch", outcome_kind="onboarding")
            content = pathways.add_step(session, pathway.id, kind="xapi", title="Video",
                                        launch_url=f"{CONTENT}/video/index.html",
                                        activity_iri=f"{CONTENT}/video")
            au = pathways.add_step(session, pathway.id, kind="cmi5", title="Quiz",
                                   move_on="CompletedAndPassed",
                                   mastery_score=0.6, launch_url=f"{CONTENT}/quiz/index.html",
                                   activity_iri=f"{CONTENT}/quiz")
            pathways.publish_pathway(session, pathway.id)
            pathways.assign_pathway(session, pathway.id, user_id=learner.id)
            steps = {s.title: s.id for s in pathways.get_pathway(session, pathway.id).steps}
            video = launch.launch_xapi_content(session, learner.id, steps["Video"])
            quiz = launch.launch_cmi5(session, learner.id, steps["Quiz"])
            session.commit()
        assert content.id and au.id

        query = dict(parse_qsl(urlsplit(video.url).query))
        assert query["endpoint"] == f"{cairn.url}/xapi/"
        headers = {"X-Experience-API-Version": "1.0.3", "Authorization": query["auth"]}
        completed = {"actor": json.loads(query["actor"]), "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                     "object": {"id": query["activity_id"]},
                     "context": {"registration": query["registration"]}}
        impostor = {**completed, "actor": {"mbox": "mailto:not-lena@example.org"}}
        other_activity = {**completed, "object": {"id": f"{CONTENT}/not-this-one"}}
        for refused in (impostor, other_activity):
            response = requests.post(f"{query['endpoint']}statements", json=refused, headers=headers,
                                     timeout=10)
            assert response.status_code == 403, response.text
        response = requests.post(f"{query['endpoint']}statements", json=completed, headers=headers,
                                 timeout=10)
        assert response.status_code == 200, response.text

        unit = AssignableUnit(quiz.url, requests_transport)
        unit.start()
        unit.complete()
        unit.judge(0.75)
        unit.terminate()
        assert unit.fetch_token()["error-code"] == "1"  # the fetch URL worked once only

        with factory() as session:
            detail = pathways.learner_pathway(session, learner.id, pathway.id)
            assert {s.step.title: s.state for s in detail.steps} == {"Video": "done", "Quiz": "done"}
            assert detail.progress.status == "completed" and detail.progress.percent == 100
        app.extensions["cairn.db"].dispose()
