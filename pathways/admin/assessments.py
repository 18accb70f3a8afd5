"""The assessment editor: question banks, their rules and questions of every xAPI interaction type."""
from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from cairn.auth import admin_required
from cairn.db import get_session
from cairn.errors import CairnError
from pathways import assessments as bank
from pathways.admin.blueprint import bp
from pathways.admin.common import errors_from, handle_form
from pathways.admin.forms import AssessmentForm, QuestionForm, question_form_values

INTERACTION_LABELS = {"choice": "Choice (one or several answers)", "true-false": "True or false",
                      "fill-in": "Fill in the blank", "numeric": "Number", "matching": "Matching pairs",
                      "sequencing": "Put in order"}
_SERVICE_TO_FORM = {"pass_mark": "pass_percent", "time_limit_seconds": "time_limit_minutes",
                    "options.choices": "choices", "options.source": "pairs", "options.target": "pairs",
                    "correct": "choices"}


def _errors(exc: CairnError) -> dict[str, list[str]]:
    return {_SERVICE_TO_FORM.get(k, k.split(".")[0] if k.startswith("options.") else k): v
            for k, v in errors_from(exc).items()}


def _assessment_values(a: Any) -> dict[str, Any]:
    return {"title": a.title, "pass_percent": round(a.pass_mark * 100, 2), "attempt_limit": a.attempt_limit,
            "time_limit_minutes": (None if a.time_limit_seconds is None
                                   else round(a.time_limit_seconds / 60, 2)),
            "shuffle": a.shuffle}


@bp.get("/assessments", endpoint="assessments")
@admin_required
def assessments() -> str:
    return render_template("pathways_admin/assessments.html",
                           assessments=bank.list_assessments(get_session()),
                           form={"pass_percent": 80}, errors={})


@bp.post("/assessments")
@admin_required
def create_assessment() -> Any:
    return handle_form(
        AssessmentForm(), lambda data: bank.create_assessment(get_session(), **data),
        lambda created: f"Assessment “{created.title}” created. Add its questions.",
        lambda created: url_for("pathways_admin.assessment", assessment_id=created.id),
        lambda errors: (render_template("pathways_admin/assessments.html",
                                        assessments=bank.list_assessments(get_session()),
                                        form=request.form, errors=errors), 400),
        errors_of=_errors)


def _assessment_page(assessment_id: int, *, form: Any = None, errors: dict | None = None,
                     question_form: Any = None, question_errors: dict | None = None,
                     status: int = 200) -> Any:
    assessment = bank.get_assessment(get_session(), assessment_id)
    kind = request.args.get("kind", "choice")
    return render_template(
        "pathways_admin/assessment.html", assessment=assessment, kinds=INTERACTION_LABELS,
        form=form if form is not None else _assessment_values(assessment), errors=errors or {},
        qform=question_form if question_form is not None else {"interaction_type": kind, "points": 1},
        qerrors=question_errors or {}, question_values=question_form_values, editing=None), status


@bp.get("/assessments/<int:assessment_id>", endpoint="assessment")
@admin_required
def assessment(assessment_id: int) -> Any:
    return _assessment_page(assessment_id)


@bp.post("/assessments/<int:assessment_id>")
@admin_required
def update_assessment(assessment_id: int) -> Any:
    return handle_form(
        AssessmentForm(), lambda data: bank.update_assessment(get_session(), assessment_id, **data),
        "Assessment saved.", url_for("pathways_admin.assessment", assessment_id=assessment_id),
        lambda errors: _assessment_page(assessment_id, form=request.form, errors=errors, status=400),
        errors_of=_errors)


@bp.post("/assessments/<int:assessment_id>/questions", endpoint="add_question")
@admin_required
def add_question(assessment_id: int) -> Any:
    return handle_form(
        QuestionForm(), lambda data: bank.add_question(get_session(), assessment_id, **data),
        "Question added.", _questions_of(assessment_id),
        lambda errors: _assessment_page(assessment_id, question_form=request.form, question_errors=errors,
                                        status=400),
        errors_of=_errors)


@bp.get("/questions/<int:question_id>", endpoint="question")
@admin_required
def question(question_id: int) -> str:
    assessment_id, found = _find_question(question_id)
    return render_template("pathways_admin/question.html", assessment_id=assessment_id, question=found,
                           kinds=INTERACTION_LABELS, qform=question_form_values(found), qerrors={})


@bp.post("/questions/<int:question_id>")
@admin_required
def update_question(question_id: int) -> Any:
    assessment_id, found = _find_question(question_id)
    return handle_form(
        QuestionForm(), lambda data: bank.update_question(get_session(), question_id, **data),
        "Question saved.", _questions_of(assessment_id),
        lambda errors: (render_template("pathways_admin/question.html", assessment_id=assessment_id,
                                        question=found, kinds=INTERACTION_LABELS, qform=request.form,
                                        qerrors=errors), 400),
        errors_of=_errors)


@bp.post("/questions/<int:question_id>/delete", endpoint="remove_question")
@admin_required
def remove_question(question_id: int) -> Response:
    assessment_id, _ = _find_question(question_id)
    bank.remove_question(get_session(), question_id)
    flash("Question removed.")
    return redirect(_questions_of(assessment_id))


def _questions_of(assessment_id: int) -> str:
    return url_for("pathways_admin.assessment", assessment_id=assessment_id, _anchor="questions")


def _find_question(question_id: int) -> tuple[int, Any]:
    for a in bank.list_assessments(get_session()):
        for q in a.questions:
            if q.id == question_id:
                return a.id, q
    from cairn.errors import NotFound
    raise NotFound(f"no question {question_id}")
