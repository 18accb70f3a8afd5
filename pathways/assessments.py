"""Native assessments: question banks of the xAPI interaction types, attempts, grading, statements.

Each answer becomes an ``answered`` statement carrying the interaction definition and the result;
each attempt ends in ``passed`` or ``failed`` with a scaled score. They are stored through
``lrs.services.store_statements`` with Cairn's own authority, and the progress projection completes
the assessment step from them like from any other statement.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cairn.accounts.models import User
from cairn.accounts.services import identities_of
from cairn.db import utcnow
from lrs import services as lrs_services
from pathways.catalogue import VERB_ANSWERED, VERB_FAILED, VERB_PASSED, new_activity_iri
from pathways.errors import Conflict, Forbidden, InvalidInput, NotFound
from pathways.models import INTERACTION_TYPES, Assessment, AssessmentAttempt, Question, Step
from pathways.projection import system_authority

GRACE = timedelta(seconds=30)  # network and clock slack on a time-limited attempt
INTERACTIONS_ACTIVITY_TYPE = "http://adlnet.gov/expapi/activities/cmi.interaction"
ASSESSMENT_ACTIVITY_TYPE = "http://adlnet.gov/expapi/activities/assessment"


@dataclass(frozen=True)
class QuestionInfo:
    id: int
    position: int
    interaction_type: str
    prompt: str
    options: dict[str, Any]
    correct: Any  # None in learner views
    feedback: str
    points: float
    activity_iri: str


@dataclass(frozen=True)
class AssessmentInfo:
    id: int
    title: str
    activity_iri: str
    pass_mark: float
    attempt_limit: int | None
    time_limit_seconds: int | None
    shuffle: bool
    questions: tuple[QuestionInfo, ...] = ()


@dataclass(frozen=True)
class AttemptInfo:
    id: int
    assessment_id: int
    user_id: int
    registration: str
    started_at: datetime
    deadline: datetime | None
    questions: tuple[QuestionInfo, ...]  # in the attempt's order, without correct answers


@dataclass(frozen=True)
class AnswerResult:
    question_id: int
    response: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class AttemptResult:
    attempt_id: int
    scaled_score: float
    passed: bool
    late: bool
    answers: tuple[AnswerResult, ...]
    statement_ids: tuple[str, ...]


def _question_info(row: Question, with_answer: bool = True) -> QuestionInfo:
    return QuestionInfo(row.id, row.position, row.interaction_type, row.prompt, dict(row.options or {}),
                        row.correct if with_answer else None, row.feedback, row.points, row.activity_iri)


def _assessment_info(row: Assessment, with_answers: bool = True) -> AssessmentInfo:
    return AssessmentInfo(row.id, row.title, row.activity_iri, row.pass_mark, row.attempt_limit,
                          row.time_limit_seconds, row.shuffle,
                          tuple(_question_info(q, with_answers) for q in row.questions))


def _check_rules(pass_mark: float, attempt_limit: int | None, time_limit_seconds: int | None) -> None:
    if not 0 < pass_mark <= 1:
        raise InvalidInput("pass_mark", "is a scaled score above 0 and at most 1")
    if attempt_limit is not None and attempt_limit < 1:
        raise InvalidInput("attempt_limit", "must be at least 1")
    if time_limit_seconds is not None and time_limit_seconds < 10:
        raise InvalidInput("time_limit_seconds", "must be at least 10 seconds")


def create_assessment(session: Session, *, title: str, pass_mark: float = 0.8,
                      attempt_limit: int | None = None,
                      time_limit_seconds: int | None = None, shuffle: bool = False,
                      activity_iri: str | None = None) -> AssessmentInfo:
    """Create an empty question bank with its pass mark (scaled), attempt limit and time limit."""
    if not title.strip():
        raise InvalidInput("title", "must not be empty")
    _check_rules(pass_mark, attempt_limit, time_limit_seconds)
    row = Assessment(title=title.strip(), pass_mark=pass_mark, attempt_limit=attempt_limit,
                     time_limit_seconds=time_limit_seconds, shuffle=shuffle,
                     activity_iri=activity_iri or new_activity_iri())
    session.add(row)
    session.flush()
    return _assessment_info(row)


def update_assessment(session: Session, assessment_id: int, **changes: Any) -> AssessmentInfo:
    row = _assessment(session, assessment_id)
    allowed = {"title", "pass_mark", "attempt_limit", "time_limit_seconds", "shuffle"}
    for name in changes:
        if name not in allowed:
            raise InvalidInput(name, "cannot be changed")
    values = {name: changes.get(name, getattr(row, name)) for name in allowed}
    if not str(values["title"]).strip():
        raise InvalidInput("title", "must not be empty")
    _check_rules(values["pass_mark"], values["attempt_limit"], values["time_limit_seconds"])
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()
    return _assessment_info(row)


def get_assessment(session: Session, assessment_id: int, *, with_answers: bool = True) -> AssessmentInfo:
    return _assessment_info(_assessment(session, assessment_id), with_answers)


def list_assessments(session: Session) -> list[AssessmentInfo]:
    return [_assessment_info(r) for r in session.scalars(select(Assessment).order_by(Assessment.title))]


def _assessment(session: Session, assessment_id: int) -> Assessment:
    row = session.get(Assessment, assessment_id)
    if row is None:
        raise NotFound(f"no assessment {assessment_id}")
    return row


# ------------------------------------------------------------------------------------------- questions


def _ids(items: Any, field_name: str) -> list[str]:
    if not isinstance(items, list) or not items:
        raise InvalidInput(field_name, "must be a non-empty list of {id, text}")
    ids = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not str(item.get("id", "")).strip() \
                or not str(item.get("text", "")).strip():
            raise InvalidInput(f"{field_name}.{index}", "needs an id and a text")
        if any(c in str(item["id"]) for c in "[],.: "):
            raise InvalidInput(f"{field_name}.{index}.id", "must not contain spaces or [ ] , . :")
        ids.append(str(item["id"]))
    if len(set(ids)) != len(ids):
        raise InvalidInput(field_name, "ids must be unique")
    return ids


def _check_question(kind: str, options: dict[str, Any], correct: Any) -> tuple[dict[str, Any], Any]:
    """Validate a question of an xAPI interaction type; return its normalised options and answer."""
    if kind not in INTERACTION_TYPES:
        raise InvalidInput("interaction_type", f"must be one of {', '.join(INTERACTION_TYPES)}")
    options = dict(options or {})
    if kind == "choice":
        ids = _ids(options.get("choices"), "options.choices")
        if len(ids) < 2:
            raise InvalidInput("options.choices", "needs at least two choices")
        if isinstance(correct, str):
            correct = [correct]
        if not isinstance(correct, list) or not correct or not set(correct) <= set(ids):
            raise InvalidInput("correct", "must list the ids of the correct choices")
        options["multiple"] = bool(options.get("multiple")) or len(correct) > 1
        return options, sorted(set(correct))
    if kind == "true-false":
        if not isinstance(correct, bool):
            raise InvalidInput("correct", "must be true or false")
        return {}, correct
    if kind == "fill-in":
        if isinstance(correct, str):
            correct = [correct]
        if not isinstance(correct, list) or not correct \
                or not all(isinstance(c, str) and c.strip() for c in correct):
            raise InvalidInput("correct", "must list the accepted answers")
        return {"case_sensitive": bool(options.get("case_sensitive"))}, [c.strip() for c in correct]
    if kind == "numeric":
        if isinstance(correct, int | float) and not isinstance(correct, bool):
            correct = {"min": correct, "max": correct}
        if not isinstance(correct, dict) \
                or not all(isinstance(correct.get(k), int | float) for k in ("min", "max")) \
                or correct["min"] > correct["max"]:
            raise InvalidInput("correct", "must be a number or {min, max} with min <= max")
        return {}, {"min": correct["min"], "max": correct["max"]}
    if kind == "matching":
        sources = _ids(options.get("source"), "options.source")
        targets = _ids(options.get("target"), "options.target")
        if not isinstance(correct, dict) or set(correct) != set(sources) \
                or not set(correct.values()) <= set(targets):
            raise InvalidInput("correct", "must map every source id to a target id")
        return {"source": options["source"], "target": options["target"]}, dict(correct)
    ids = _ids(options.get("choices"), "options.choices")  # sequencing
    if not isinstance(correct, list) or sorted(correct) != sorted(ids):
        raise InvalidInput("correct", "must list every choice id once, in the right order")
    return {"choices": options["choices"]}, list(correct)


def add_question(session: Session, assessment_id: int, *, interaction_type: str, prompt: str,
                 options: dict[str, Any] | None = None, correct: Any = None, feedback: str = "",
                 points: float = 1.0) -> QuestionInfo:
    """Add a question of one of the xAPI interaction types to a bank."""
    assessment = _assessment(session, assessment_id)
    if not prompt.strip():
        raise InvalidInput("prompt", "must not be empty")
    if points <= 0:
        raise InvalidInput("points", "must be positive")
    options, correct = _check_question(interaction_type, options or {}, correct)
    row = Question(interaction_type=interaction_type, prompt=prompt.strip(), options=options, correct=correct,
                   feedback=feedback, points=points, position=len(assessment.questions),
                   activity_iri=f"{assessment.activity_iri}/question/{uuid.uuid4()}"
                   if not assessment.activity_iri.startswith("urn:") else new_activity_iri())
    assessment.questions.append(row)
    session.flush()
    return _question_info(row)


def update_question(session: Session, question_id: int, **changes: Any) -> QuestionInfo:
    row = session.get(Question, question_id)
    if row is None:
        raise NotFound(f"no question {question_id}")
    kind = changes.get("interaction_type", row.interaction_type)
    options, correct = _check_question(kind, changes.get("options", row.options),
                                       changes.get("correct", row.correct))
    prompt = changes.get("prompt", row.prompt)
    if not str(prompt).strip():
        raise InvalidInput("prompt", "must not be empty")
    row.interaction_type, row.options, row.correct, row.prompt = kind, options, correct, prompt
    row.feedback = changes.get("feedback", row.feedback)
    row.points = changes.get("points", row.points)
    session.flush()
    return _question_info(row)


def remove_question(session: Session, question_id: int) -> None:
    row = session.get(Question, question_id)
    if row is None:
        raise NotFound(f"no question {question_id}")
    assessment = _assessment(session, row.assessment_id)
    assessment.questions = [q for q in assessment.questions if q.id != question_id]
    for index, question in enumerate(assessment.questions):
        question.position = index
    session.flush()


# ---------------------------------------------------------------------------------------------- grading


def _response_string(kind: str, answer: Any) -> str:
    """A learner's answer in the xAPI response format of its interaction type."""
    if kind in ("choice", "sequencing"):
        items = answer if isinstance(answer, list) else [answer]
        return "[,]".join(str(i) for i in items)
    if kind == "true-false":
        return "true" if answer is True or str(answer).lower() == "true" else "false"
    if kind == "matching":
        pairs = answer.items() if isinstance(answer, dict) else []
        return "[,]".join(f"{s}[.]{t}" for s, t in sorted(pairs))
    return "" if answer is None else str(answer)


def _is_correct(question: Question, answer: Any) -> bool:
    kind, correct = question.interaction_type, question.correct
    if kind == "choice":
        given = answer if isinstance(answer, list) else [answer]
        return sorted({str(g) for g in given}) == sorted(correct)
    if kind == "true-false":
        return (answer is True or str(answer).lower() == "true") == correct
    if kind == "fill-in":
        text = str(answer or "").strip()
        if question.options.get("case_sensitive"):
            return text in correct
        return text.lower() in {c.lower() for c in correct}
    if kind == "numeric":
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return False
        return correct["min"] <= value <= correct["max"]
    if kind == "matching":
        return isinstance(answer, dict) and {str(k): str(v) for k, v in answer.items()} == correct
    return isinstance(answer, list) and [str(a) for a in answer] == correct


def _definition(question: Question) -> dict[str, Any]:
    """The xAPI interaction activity definition (xAPI 1.0.3 section 2.4.4.1, interaction activities)."""
    kind = "true-false" if question.interaction_type == "true-false" else question.interaction_type
    definition: dict[str, Any] = {"type": INTERACTIONS_ACTIVITY_TYPE, "interactionType": kind,
                                  "description": {"en-US": question.prompt}}
    correct = question.correct
    if kind == "choice":
        definition["choices"] = [{"id": c["id"], "description": {"en-US": c["text"]}}
                                 for c in question.options["choices"]]
        definition["correctResponsesPattern"] = ["[,]".join(correct)]
    elif kind == "sequencing":
        definition["choices"] = [{"id": c["id"], "description": {"en-US": c["text"]}}
                                 for c in question.options["choices"]]
        definition["correctResponsesPattern"] = ["[,]".join(correct)]
    elif kind == "true-false":
        definition["correctResponsesPattern"] = ["true" if correct else "false"]
    elif kind == "fill-in":
        definition["correctResponsesPattern"] = list(correct)
    elif kind == "numeric":
        low, high = correct["min"], correct["max"]
        definition["correctResponsesPattern"] = [str(low) if low == high else f"{low}[:]{high}"]
    elif kind == "matching":
        definition["source"] = [{"id": c["id"], "description": {"en-US": c["text"]}}
                                for c in question.options["source"]]
        definition["target"] = [{"id": c["id"], "description": {"en-US": c["text"]}}
                                for c in question.options["target"]]
        definition["correctResponsesPattern"] = ["[,]".join(f"{s}[.]{t}" for s, t in sorted(correct.items()))]
    return definition


def _actor(session: Session, user: User) -> dict[str, Any]:
    identities = identities_of(session, user.id)
    if not identities:
        raise Conflict(f"user {user.id} has no xAPI identity to record statements about")
    preferred = next((i for i in identities if i.kind == "mbox"), identities[0])
    return preferred.to_agent(user.name)


def attempts_used(session: Session, user_id: int, assessment_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(AssessmentAttempt).where(
        AssessmentAttempt.user_id == user_id, AssessmentAttempt.assessment_id == assessment_id,
        AssessmentAttempt.finished_at.is_not(None))) or 0)


def start_attempt(session: Session, user_id: int, assessment_id: int, *, step_id: int | None = None,
                  now: datetime | None = None, rng: random.Random | None = None) -> AttemptInfo:
    """Start an attempt (refused once the attempt limit is used up); questions shuffled if the bank says
    so."""
    now = now or utcnow()
    assessment = _assessment(session, assessment_id)
    if session.get(User, user_id) is None:
        raise NotFound(f"no user {user_id}")
    if step_id is not None:
        step = session.get(Step, step_id)
        if step is None or step.assessment_id != assessment_id:
            raise InvalidInput("step_id", "is not a step of this assessment")
    if assessment.attempt_limit is not None \
            and attempts_used(session, user_id, assessment_id) >= assessment.attempt_limit:
        raise Forbidden(f"all {assessment.attempt_limit} attempts are used")
    if not assessment.questions:
        raise Conflict("this assessment has no questions yet")
    order = [q.id for q in assessment.questions]
    if assessment.shuffle:
        (rng or random.SystemRandom()).shuffle(order)
    row = AssessmentAttempt(assessment_id=assessment_id, user_id=user_id, step_id=step_id,
                            registration=str(uuid.uuid4()), question_order=order, started_at=now)
    session.add(row)
    session.flush()
    return _attempt_info(session, row, assessment)


def _attempt_info(session: Session, row: AssessmentAttempt, assessment: Assessment) -> AttemptInfo:
    by_id = {q.id: q for q in assessment.questions}
    deadline = row.started_at + timedelta(seconds=assessment.time_limit_seconds) \
        if assessment.time_limit_seconds else None
    return AttemptInfo(row.id, row.assessment_id, row.user_id, row.registration, row.started_at, deadline,
                       tuple(_question_info(by_id[i], with_answer=False)
                             for i in row.question_order if i in by_id))


def get_attempt(session: Session, attempt_id: int) -> AttemptInfo:
    row = session.get(AssessmentAttempt, attempt_id)
    if row is None:
        raise NotFound(f"no attempt {attempt_id}")
    return _attempt_info(session, row, _assessment(session, row.assessment_id))


def submit_attempt(session: Session, attempt_id: int, user_id: int, answers: dict[int, Any], *,
                   now: datetime | None = None) -> AttemptResult:
    """Grade an attempt and record it: one ``answered`` statement per question, then ``passed``/``failed``.

    An attempt submitted after its time limit (plus a short grace) counts as failed with score 0.
    """
    now = now or utcnow()
    row = session.get(AssessmentAttempt, attempt_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"no attempt {attempt_id} of this learner")
    if row.finished_at is not None:
        raise Conflict("this attempt was already submitted")
    assessment = _assessment(session, row.assessment_id)
    user = session.get(User, user_id)
    assert user is not None
    actor = _actor(session, user)
    late = bool(assessment.time_limit_seconds) and \
        now > row.started_at + timedelta(seconds=assessment.time_limit_seconds or 0) + GRACE
    by_id = {q.id: q for q in assessment.questions}
    unknown = [k for k in answers if int(k) not in by_id]
    if unknown:
        raise InvalidInput(f"answers.{unknown[0]}", "is not a question of this assessment")
    parent = {"id": assessment.activity_iri, "objectType": "Activity"}
    context = {"registration": row.registration, "contextActivities": {"parent": [parent]}}
    statements: list[dict[str, Any]] = []
    results: list[AnswerResult] = []
    earned = total = 0.0
    for question_id in row.question_order:
        question = by_id.get(question_id)
        if question is None:
            continue
        answer = answers.get(question_id, answers.get(str(question_id)))  # type: ignore[call-overload]
        correct = answer is not None and not late and _is_correct(question, answer)
        total += question.points
        earned += question.points if correct else 0
        response = _response_string(question.interaction_type, answer)
        results.append(AnswerResult(question.id, response, correct, question.feedback))
        statements.append({
            "id": str(uuid.uuid4()), "actor": actor, "timestamp": now.isoformat(),
            "verb": {"id": VERB_ANSWERED, "display": {"en-US": "answered"}},
            "object": {"objectType": "Activity", "id": question.activity_iri,
                       "definition": _definition(question)},
            "result": {"response": response, "success": correct,
                       "score": {"raw": question.points if correct else 0, "min": 0, "max": question.points}},
            "context": context})
    scaled = round(earned / total, 4) if total and not late else 0.0
    passed = scaled >= assessment.pass_mark
    statements.append({
        "id": str(uuid.uuid4()), "actor": actor, "timestamp": now.isoformat(),
        "verb": {"id": VERB_PASSED if passed else VERB_FAILED,
                 "display": {"en-US": "passed" if passed else "failed"}},
        "object": {"objectType": "Activity", "id": assessment.activity_iri,
                   "definition": {"type": ASSESSMENT_ACTIVITY_TYPE, "name": {"en-US": assessment.title}}},
        "result": {"success": passed, "completion": True,
                   "score": {"scaled": scaled, "raw": earned if not late else 0, "min": 0, "max": total},
                   "duration": _iso_duration(now - row.started_at)},
        "context": {"registration": row.registration}})
    row.finished_at, row.scaled_score, row.passed = now, scaled, passed
    session.flush()
    stored = lrs_services.store_statements(session, statements, authority=system_authority())
    return AttemptResult(row.id, scaled, passed, late, tuple(results), tuple(s.id for s in stored))


def _iso_duration(delta: timedelta) -> str:
    seconds = max(0.0, delta.total_seconds())
    return f"PT{seconds:.2f}S"
