"""Learning Portal pages with the test client: launching content, locks, attempts, catalogue, exports."""
from __future__ import annotations

import csv
import io
import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

from pathways import services
from tests import factories
from tests.pagetools import assert_clean_page, post_form, sign_in


def _pathway(db_session, learner_id: int, *, ordering: str = "sequential", mandatory: bool = True):
    pathway = services.create_pathway(db_session, title="Onboarding", outcome_kind="onboarding",
                                      ordering=ordering)
    services.add_step(db_session, pathway.id, kind="xapi", title="Welcome video",
                      launch_url="https://content.example.org/welcome/index.html?lang=en",
                      activity_iri="https://content.example.org/welcome")
    services.add_step(db_session, pathway.id, kind="document", title="Handbook",
                      document_url="https://docs.example.org/handbook.pdf")
    services.publish_pathway(db_session, pathway.id)
    services.assign_pathway(db_session, pathway.id, user_id=learner_id, mandatory=mandatory)
    db_session.commit()
    return services.get_pathway(db_session, pathway.id)


def test_launch_passes_the_xapi_launch_parameters_and_the_token_completes_the_step(
        client, db_session) -> None:
    learner = factories.user(db_session, email="launch@example.org", name="Lou Launch")
    detail = _pathway(db_session, learner.id)
    video, handbook = detail.steps
    sign_in(client, "launch@example.org")
    page = client.get(f"/portal/pathways/{detail.pathway.id}").get_data(as_text=True)
    assert_clean_page(page)
    assert "Locked: finish “Welcome video” first." in page

    response = post_form(client, f"/portal/pathways/{detail.pathway.id}",
                         f"/portal/steps/{video.id}/launch", {})
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert (target.netloc, target.path) == ("content.example.org", "/welcome/index.html")
    params = parse_qs(target.query)
    assert params["lang"] == ["en"] and params["endpoint"] == ["http://localhost/xapi/"]
    assert params["activity_id"] == ["https://content.example.org/welcome"]
    assert json.loads(params["actor"][0])["mbox"] == "mailto:launch@example.org"
    registration = params["registration"][0]
    assert uuid.UUID(registration)

    # The content reports with the token it was given; the step is done and the reading unlocks.
    statement = {"actor": json.loads(params["actor"][0]), "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                 "object": {"id": params["activity_id"][0]}, "context": {"registration": registration}}
    stored = client.post("/xapi/statements", json=statement,
                         headers={"Authorization": params["auth"][0], "X-Experience-API-Version": "1.0.3"})
    assert stored.status_code == 200, stored.get_data(as_text=True)
    page = client.get(f"/portal/pathways/{detail.pathway.id}").get_data(as_text=True)
    assert 'value="50"' in page and "Locked:" not in page


def test_a_locked_step_cannot_be_marked_read(client, db_session) -> None:
    learner = factories.user(db_session, email="locked@example.org")
    detail = _pathway(db_session, learner.id)
    sign_in(client, "locked@example.org")
    response = post_form(client, f"/portal/pathways/{detail.pathway.id}",
                         f"/portal/steps/{detail.steps[1].id}/read", {}, follow_redirects=True)
    assert "Finish “Welcome video” first." in response.get_data(as_text=True)
    db_session.expire_all()
    assert services.learner_pathway(db_session, learner.id, detail.pathway.id).progress.percent == 0


def test_a_pathway_not_given_to_the_learner_is_not_found(client, db_session) -> None:
    owner = factories.user(db_session, email="owner@example.org")
    factories.user(db_session, email="stranger@example.org")
    detail = _pathway(db_session, owner.id)
    sign_in(client, "stranger@example.org")
    assert client.get(f"/portal/pathways/{detail.pathway.id}").status_code == 404
    response = post_form(client, "/portal/", f"/portal/steps/{detail.steps[0].id}/launch", {})
    assert response.status_code == 404


def test_an_optional_pathway_is_offered_in_the_catalogue_and_self_enrolment_puts_it_on_home(
        client, db_session) -> None:
    learner = factories.user(db_session, email="optional@example.org")
    detail = _pathway(db_session, learner.id, mandatory=False)
    sign_in(client, "optional@example.org")
    assert "Onboarding" not in client.get("/portal/").get_data(as_text=True)
    catalogue = client.get("/portal/catalogue?q=onboard").get_data(as_text=True)
    assert_clean_page(catalogue)
    assert "Enrol in Onboarding" in catalogue
    assert "Onboarding" not in client.get("/portal/catalogue?q=nothing-like-it").get_data(as_text=True)
    response = post_form(client, "/portal/catalogue", "/portal/catalogue", {"pathway_id": detail.pathway.id})
    assert response.status_code == 302
    home = client.get("/portal/").get_data(as_text=True)
    assert "Onboarding" in home
    assert_clean_page(home)


def test_someone_elses_attempt_is_not_found(client, db_session) -> None:
    from pathways import assessments
    first = factories.user(db_session, email="first@example.org")
    factories.user(db_session, email="second@example.org")
    quiz = assessments.create_assessment(db_session, title="Quiz")
    assessments.add_question(db_session, quiz.id, interaction_type="true-false", prompt="Sky is blue",
                             correct=True)
    attempt = assessments.start_attempt(db_session, first.id, quiz.id)
    db_session.commit()
    sign_in(client, "second@example.org")
    assert client.get(f"/portal/attempts/{attempt.id}").status_code == 404


def test_every_question_type_is_graded_from_the_form(client, db_session) -> None:
    from pathways import assessments
    learner = factories.user(db_session, email="quiz@example.org")
    quiz = assessments.create_assessment(db_session, title="All kinds", pass_mark=1.0)
    add = lambda kind, **kw: assessments.add_question(db_session, quiz.id, interaction_type=kind,  # noqa: E731
                                                      prompt=kind, **kw)
    q_choice = add("choice", options={"choices": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"},
                                                  {"id": "c", "text": "C"}]}, correct=["a", "c"])
    q_tf = add("true-false", correct=False)
    q_fill = add("fill-in", correct=["Paris"])
    q_num = add("numeric", correct={"min": 9, "max": 11})
    q_match = add("matching", options={"source": [{"id": "s1", "text": "Fire"},
                                                  {"id": "s2", "text": "Flood"}],
                                       "target": [{"id": "t1", "text": "Extinguisher"},
                                                  {"id": "t2", "text": "Pump"}]},
                  correct={"s1": "t1", "s2": "t2"})
    q_seq = add("sequencing", options={"choices": [{"id": "x", "text": "Stop"}, {"id": "y", "text": "Look"},
                                                   {"id": "z", "text": "Go"}]}, correct=["x", "y", "z"])
    attempt = assessments.start_attempt(db_session, learner.id, quiz.id)
    db_session.commit()
    sign_in(client, "quiz@example.org")
    url = f"/portal/attempts/{attempt.id}"
    page = client.get(url).get_data(as_text=True)
    assert_clean_page(page)
    response = post_form(client, url, url, {
        f"q{q_choice.id}": ["a", "c"], f"q{q_tf.id}": "false", f"q{q_fill.id}": " paris ",
        f"q{q_num.id}": "10",
        f"q{q_match.id}_s1": "t1", f"q{q_match.id}_s2": "t2",
        f"q{q_seq.id}_x": "1", f"q{q_seq.id}_y": "2", f"q{q_seq.id}_z": "3"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "All kinds: passed" in html and "Your score: <strong>100%</strong>" in html
    assert html.count(">correct<") == 6


def test_history_exports_csv_and_xapi_json_of_the_learners_statements(client, db_session) -> None:
    learner = factories.user(db_session, email="history@example.org")
    detail = _pathway(db_session, learner.id, ordering="free")
    sign_in(client, "history@example.org")
    post_form(client, f"/portal/pathways/{detail.pathway.id}", f"/portal/steps/{detail.steps[1].id}/read", {})
    page = client.get("/portal/history").get_data(as_text=True)
    assert_clean_page(page)
    assert "Handbook" in page
    rows = list(csv.DictReader(io.StringIO(client.get("/portal/history.csv").get_data(as_text=True))))
    assert [r["activity_name"] for r in rows] == ["Handbook"]
    exported = client.get("/portal/history.json").get_json()
    assert len(exported) == 1 and exported[0]["id"] == rows[0]["statement_id"]
    assert re.match(r"https?://", exported[0]["verb"]["id"])


def _two_question_attempt(client, db_session, email: str, title: str, pass_mark: float):
    """A signed-in learner's attempt at a fill-in question (Paris) and a numeric one (4): its page
    URL and the two question ids."""
    from pathways import assessments
    learner = factories.user(db_session, email=email)
    quiz = assessments.create_assessment(db_session, title=title, pass_mark=pass_mark)
    first = assessments.add_question(db_session, quiz.id, interaction_type="fill-in",
                                     prompt="Capital of France", correct=["Paris"])
    second = assessments.add_question(db_session, quiz.id, interaction_type="numeric", prompt="Two plus two",
                                      correct=4)
    attempt = assessments.start_attempt(db_session, learner.id, quiz.id)
    db_session.commit()
    sign_in(client, email)
    return f"/portal/attempts/{attempt.id}", first, second


def test_one_question_per_page_keeps_earlier_answers_until_the_last_page_submits(client, db_session) -> None:
    url, first, second = _two_question_attempt(client, db_session, "paged@example.org", "Paged", 1.0)
    page = client.get(url + "?one=1").get_data(as_text=True)
    assert "Capital of France" in page and "Two plus two" not in page and "Next question" in page
    page = post_form(client, url + "?one=1", url, {"page": "0", "go": "next", f"q{first.id}": "Paris"})
    html = page.get_data(as_text=True)
    assert "Two plus two" in html and "Capital of France" not in html
    assert f'<input type="hidden" name="q{first.id}" value="Paris">' in html
    back = post_form(client, url + "?one=1", url, {"page": "1", "go": "previous", f"q{first.id}": "Paris",
                                                   f"q{second.id}": "4"}).get_data(as_text=True)
    assert 'value="Paris"' in back and f'<input type="hidden" name="q{second.id}" value="4">' in back
    done = post_form(client, url + "?one=1", url, {"page": "1", "go": "submit", f"q{first.id}": "Paris",
                                                   f"q{second.id}": "4"}).get_data(as_text=True)
    assert "Paged: passed" in done


def test_a_question_left_blank_is_graded_unanswered_and_an_unreadable_answer_is_named_by_number(
        client, db_session) -> None:
    url, first, second = _two_question_attempt(client, db_session, "blank@example.org", "Blanks", 0.5)
    # A number field left empty sends "": that answer is missing, not unreadable (a timed attempt is
    # submitted as it stands when its time is up, and must not be refused for it).
    unreadable = post_form(client, url, url, {"go": "submit", f"q{first.id}": "Paris",
                                              f"q{second.id}": "four"})
    html = unreadable.get_data(as_text=True)
    assert unreadable.status_code == 400
    assert "<li>Question 2: Not a valid number.</li>" in html and f"q{second.id}:" not in html
    assert_clean_page(html)
    done = post_form(client, url, url, {"go": "submit", f"q{first.id}": "Paris", f"q{second.id}": ""})
    assert done.status_code == 200
    result = done.get_data(as_text=True)
    assert "Blanks: passed" in result and "Your score: <strong>50%</strong>" in result  # 1 of 2 right
