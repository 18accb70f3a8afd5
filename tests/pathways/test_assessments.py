"""Native assessments: the xAPI interaction types, attempts, limits, and the statements they record."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest

from lrs import services as lrs_services
from pathways import assessments, services
from pathways.catalogue import VERB_ANSWERED, VERB_FAILED, VERB_PASSED
from pathways.errors import Conflict, Forbidden, InvalidInput
from tests import factories
from tests.pathways.conftest import T0

QUESTIONS = [
    dict(interaction_type="choice", prompt="Pick CO2", correct=["co2"],
         options={"choices": [{"id": "water", "text": "Water"}, {"id": "co2", "text": "CO2"}]}),
    dict(interaction_type="choice", prompt="Pick both primes", correct=["two", "three"],
         options={"choices": [{"id": "two", "text": "2"}, {"id": "three", "text": "3"},
                              {"id": "four", "text": "4"}]}),
    dict(interaction_type="true-false", prompt="Lifts are safe in a fire", correct=False),
    dict(interaction_type="fill-in", prompt="Capital of France", correct=["Paris"]),
    dict(interaction_type="numeric", prompt="Metres to the assembly point", correct={"min": 45, "max": 55}),
    dict(interaction_type="matching", prompt="Match", correct={"fire": "red", "water": "blue"},
         options={"source": [{"id": "fire", "text": "Fire"}, {"id": "water", "text": "Water"}],
                  "target": [{"id": "red", "text": "Red"}, {"id": "blue", "text": "Blue"}]}),
    dict(interaction_type="sequencing", prompt="Order", correct=["alarm", "leave"],
         options={"choices": [{"id": "alarm", "text": "Alarm"}, {"id": "leave", "text": "Leave"}]}),
]
RIGHT = [["co2"], ["three", "two"], False, " paris ", 50, {"fire": "red", "water": "blue"},
         ["alarm", "leave"]]
WRONG = [["water"], ["two"], True, "Lyon", 70, {"fire": "blue", "water": "red"}, ["leave", "alarm"]]


def _bank(db_session, **rules):
    bank = assessments.create_assessment(db_session, title="Fire check", **rules)
    ids = [assessments.add_question(db_session, bank.id, **q).id for q in QUESTIONS]
    return bank, ids


def _answers(ids: list[int], values: list) -> dict[int, object]:
    """One answer per question of the bank, in order (a missing or extra answer is a broken test)."""
    return dict(zip(ids, values, strict=True))


def _pathway_with(db_session, bank):
    pathway = services.create_pathway(db_session, title="Fire", outcome_kind="certification")
    step = services.add_step(db_session, pathway.id, kind="assessment", title="Check", assessment_id=bank.id)
    services.publish_pathway(db_session, pathway.id)
    return pathway, step


def test_every_interaction_type_is_graded(app, db_session) -> None:
    bank, ids = _bank(db_session)
    learner = factories.user(db_session)
    with app.app_context():
        attempt = assessments.start_attempt(db_session, learner.id, bank.id, now=T0)
        result = assessments.submit_attempt(db_session, attempt.id, learner.id, _answers(ids, RIGHT), now=T0)
        assert result.scaled_score == 1.0 and result.passed and all(a.correct for a in result.answers)
        attempt = assessments.start_attempt(db_session, learner.id, bank.id, now=T0)
        result = assessments.submit_attempt(db_session, attempt.id, learner.id, _answers(ids, WRONG), now=T0)
    assert result.scaled_score == 0.0 and not result.passed and not any(a.correct for a in result.answers)


def test_each_answer_is_an_answered_statement_with_the_interaction_definition(app, db_session) -> None:
    bank, ids = _bank(db_session, pass_mark=0.5)
    learner = factories.user(db_session)
    answers = _answers(ids, RIGHT)
    answers[ids[0]] = ["water"]
    with app.app_context():
        attempt = assessments.start_attempt(db_session, learner.id, bank.id, now=T0)
        result = assessments.submit_attempt(db_session, attempt.id, learner.id, answers,
                                            now=T0 + timedelta(minutes=3))
    statements = [lrs_services.get_statement(db_session, i).statement for i in result.statement_ids]
    answered = [s for s in statements if s["verb"]["id"] == VERB_ANSWERED]
    assert len(answered) == len(QUESTIONS)
    by_type = {s["object"]["definition"]["interactionType"]: s for s in answered}
    assert set(by_type) == {"choice", "true-false", "fill-in", "numeric", "matching", "sequencing"}
    assert (by_type["matching"]["object"]["definition"]["correctResponsesPattern"]
            == ["fire[.]red[,]water[.]blue"])
    assert by_type["numeric"]["object"]["definition"]["correctResponsesPattern"] == ["45[:]55"]
    assert by_type["sequencing"]["result"]["response"] == "alarm[,]leave"
    assert answered[0]["result"] == {"response": "water", "success": False,
                                     "score": {"raw": 0, "min": 0, "max": 1.0}}
    assert all(s["context"]["registration"] == attempt.registration for s in statements)
    assert all(s["context"]["contextActivities"]["parent"][0]["id"] == bank.activity_iri for s in answered)
    final = statements[-1]
    assert final["verb"]["id"] == VERB_PASSED and final["object"]["id"] == bank.activity_iri
    assert final["result"]["score"]["scaled"] == round(6 / 7, 4) and final["result"]["success"] is True
    assert final["authority"]["account"]["name"] == "system"


def test_a_passed_attempt_completes_the_assessment_step_with_its_score(app, db_session) -> None:
    bank, ids = _bank(db_session)
    pathway, step = _pathway_with(db_session, bank)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, pathway.id, user_id=learner.id)
    with app.app_context():
        first = assessments.start_attempt(db_session, learner.id, bank.id, step_id=step.id, now=T0)
        failed = assessments.submit_attempt(db_session, first.id, learner.id, _answers(ids, WRONG), now=T0)
        view = services.learner_pathway(db_session, learner.id, pathway.id)
        assert view.steps[0].state == "in_progress" and view.steps[0].attempts == 1
        second = assessments.start_attempt(db_session, learner.id, bank.id, step_id=step.id, now=T0)
        passed = assessments.submit_attempt(db_session, second.id, learner.id, _answers(ids, RIGHT),
                                            now=T0 + timedelta(minutes=5))
    view = services.learner_pathway(db_session, learner.id, pathway.id)
    assert view.steps[0].state == "done" and view.steps[0].best_score == 1.0 and view.steps[0].attempts == 2
    assert view.steps[0].evidence["state"] == [passed.statement_ids[-1]]
    assert set(view.steps[0].evidence["attempts"]) == {failed.statement_ids[-1], passed.statement_ids[-1]}
    assert view.progress.status == "completed"
    fail_statement = lrs_services.get_statement(db_session, failed.statement_ids[-1]).statement
    assert fail_statement["verb"]["id"] == VERB_FAILED


def test_the_attempt_limit_is_enforced(app, db_session) -> None:
    bank, ids = _bank(db_session, attempt_limit=1)
    learner = factories.user(db_session)
    with app.app_context():
        attempt = assessments.start_attempt(db_session, learner.id, bank.id)
        assessments.submit_attempt(db_session, attempt.id, learner.id, {})
        with pytest.raises(Forbidden):
            assessments.start_attempt(db_session, learner.id, bank.id)
        with pytest.raises(Conflict):
            assessments.submit_attempt(db_session, attempt.id, learner.id, {})


def test_an_attempt_submitted_after_its_time_limit_fails_with_zero(app, db_session) -> None:
    bank, ids = _bank(db_session, time_limit_seconds=60)
    learner = factories.user(db_session)
    with app.app_context():
        attempt = assessments.start_attempt(db_session, learner.id, bank.id, now=T0)
        assert attempt.deadline == T0 + timedelta(seconds=60)
        result = assessments.submit_attempt(db_session, attempt.id, learner.id, _answers(ids, RIGHT),
                                            now=T0 + timedelta(minutes=5))
    assert result.late and result.scaled_score == 0.0 and not result.passed


def test_shuffling_changes_the_question_order_and_hides_answers(db_session) -> None:
    bank, ids = _bank(db_session, shuffle=True)
    learner = factories.user(db_session)
    attempt = assessments.start_attempt(db_session, learner.id, bank.id, rng=random.Random(3))
    order = [q.id for q in attempt.questions]
    assert sorted(order) == sorted(ids) and order != ids
    assert all(q.correct is None for q in attempt.questions)


@pytest.mark.parametrize("question, field", [
    (dict(interaction_type="choice", prompt="p", options={"choices": [{"id": "a", "text": "A"}]},
          correct=["a"]), "options.choices"),
    (dict(interaction_type="choice", prompt="p",
          options={"choices": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]},
          correct=["z"]), "correct"),
    (dict(interaction_type="true-false", prompt="p", correct="yes"), "correct"),
    (dict(interaction_type="numeric", prompt="p", correct={"min": 5, "max": 1}), "correct"),
    (dict(interaction_type="matching", prompt="p", options={"source": [{"id": "a", "text": "A"}],
                                                            "target": [{"id": "x", "text": "X"}]},
          correct={}), "correct"),
    (dict(interaction_type="sequencing", prompt="p", options={"choices": [{"id": "a", "text": "A"}]},
          correct=["a", "b"]), "correct"),
    (dict(interaction_type="likert", prompt="p", correct=1), "interaction_type"),
    (dict(interaction_type="fill-in", prompt=" ", correct=["x"]), "prompt"),
])
def test_questions_are_checked_per_interaction_type(db_session, question, field) -> None:
    bank = assessments.create_assessment(db_session, title="Bank")
    with pytest.raises(InvalidInput) as error:
        assessments.add_question(db_session, bank.id, **question)
    assert error.value.field == field


def test_pass_mark_and_limits_are_checked(db_session) -> None:
    for rules, field in ((dict(pass_mark=0), "pass_mark"), (dict(attempt_limit=0), "attempt_limit"),
                         (dict(time_limit_seconds=1), "time_limit_seconds")):
        with pytest.raises(InvalidInput) as error:
            assessments.create_assessment(db_session, title="B", **rules)
        assert error.value.field == field


def test_assessment_outcomes_reach_outcome_listeners_for_grade_passback(app, db_session) -> None:
    from pathways.outcomes import on_outcome_changed
    heard = []
    on_outcome_changed(app, lambda session, change: heard.append(change))
    bank, ids = _bank(db_session)
    pathway, step = _pathway_with(db_session, bank)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, pathway.id, user_id=learner.id)
    with app.app_context():
        attempt = assessments.start_attempt(db_session, learner.id, bank.id, step_id=step.id, now=T0)
        assessments.submit_attempt(db_session, attempt.id, learner.id, _answers(ids, RIGHT), now=T0)
    step_changes = [c for c in heard if c.step_id == step.id]
    assert [(c.user_id, c.score_given, c.score_maximum, c.completed) for c in step_changes] == \
        [(learner.id, 100.0, 100.0, True)]
    assert any(c.step_id is None and c.completed for c in heard)
