"""What a learner does from the portal: mark a reading as done, take an assessment, launch content."""
from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from werkzeug.datastructures import MultiDict

from cairn.auth import current_user, login_required
from cairn.db import get_session, utcnow
from cairn.errors import CairnError
from cairn.fields import Integer, String
from cairn.pages import form_values, load_form
from pathways import actions, assessments, services
from pathways import launch as content_launch
from pathways.portal.blueprint import bp


def _user_id() -> int:
    user = current_user()
    assert user is not None
    return user.id


def _available_step(step_id: int) -> Any:
    """The learner's state of this step; 404 unless it is on one of their published pathways and not
    locked."""
    session = get_session()
    step = services.get_step(session, step_id)
    detail = services.learner_pathway(session, _user_id(), step.pathway_id)
    if detail.progress.pathway.status != "published" or not detail.progress.assigned:
        abort(404)
    state = next(s for s in detail.steps if s.step.id == step_id)
    if state.availability == "locked":
        flash("Finish " + ", ".join(f"“{t}”" for t in state.locked_by) + " first.", "error")
        return None
    return state


@bp.get("/steps/<int:step_id>", endpoint="step")
@login_required
def step(step_id: int) -> Response:
    """A link to one step (e.g. from an LTI deep link): its assessment, or its place on the pathway page."""
    found = services.get_step(get_session(), step_id)
    if found.kind == "assessment":
        return redirect(url_for("portal.assessment", step_id=step_id))
    return redirect(url_for("portal.pathway", pathway_id=found.pathway_id, _anchor=f"step-{step_id}"))


@bp.post("/steps/<int:step_id>/read", endpoint="mark_read")
@login_required
def mark_read(step_id: int) -> Response:
    state = _available_step(step_id)
    if state is not None:
        actions.record_reading(get_session(), _user_id(), step_id)
        flash(f"“{state.step.title}” is marked as read.")
    return redirect(url_for("portal.pathway", pathway_id=services.get_step(get_session(), step_id).pathway_id,
                            _anchor=f"step-{step_id}"))


@bp.post("/steps/<int:step_id>/launch", endpoint="launch")
@login_required
def launch(step_id: int) -> Response:
    """Open xAPI content or a cmi5 unit for the learner (the launch service issues the scoped token)."""
    state = _available_step(step_id)
    found = services.get_step(get_session(), step_id)
    if state is None or found.kind not in ("xapi", "cmi5") or not found.launch_url:
        return redirect(url_for("portal.pathway", pathway_id=found.pathway_id))
    if found.kind == "cmi5":
        return_url = url_for("portal.pathway", pathway_id=found.pathway_id, _anchor=f"step-{step_id}",
                             _external=True)
        info = content_launch.launch_cmi5(get_session(), _user_id(), step_id, return_url=return_url)
    else:
        info = content_launch.launch_xapi_content(get_session(), _user_id(), step_id)
    return redirect(info.url)


# ------------------------------------------------------------------------------------------ assessments


@bp.get("/steps/<int:step_id>/assessment", endpoint="assessment")
@login_required
def assessment(step_id: int) -> Any:
    state = _available_step(step_id)
    step = services.get_step(get_session(), step_id)
    if state is None or step.assessment_id is None:
        return redirect(url_for("portal.pathway", pathway_id=step.pathway_id))
    info = assessments.get_assessment(get_session(), step.assessment_id, with_answers=False)
    used = assessments.attempts_used(get_session(), _user_id(), info.id)
    return render_template("portal/assessment_start.html", step=step, state=state, assessment=info, used=used)


@bp.post("/steps/<int:step_id>/assessment", endpoint="start_attempt")
@login_required
def start_attempt(step_id: int) -> Response:
    state = _available_step(step_id)
    step = services.get_step(get_session(), step_id)
    if state is None or step.assessment_id is None:
        return redirect(url_for("portal.pathway", pathway_id=step.pathway_id))
    options, _ = load_form(StartForm())
    try:
        attempt = assessments.start_attempt(get_session(), _user_id(), step.assessment_id, step_id=step_id)
    except CairnError as exc:
        flash(exc.message, "error")
        return redirect(url_for("portal.assessment", step_id=step_id))
    return redirect(url_for("portal.attempt", attempt_id=attempt.id, step=step_id,
                            one=1 if options and options["one_per_page"] else None))


class StartForm(Schema):
    class Meta:
        unknown = EXCLUDE

    one_per_page = fields.Boolean(load_default=False)


class PagingForm(Schema):
    class Meta:
        unknown = EXCLUDE

    go = String(load_default="submit", validate=validate.OneOf(("previous", "next", "submit")))
    page = Integer(load_default=0)


def _my_attempt(attempt_id: int) -> Any:
    attempt = assessments.get_attempt(get_session(), attempt_id)
    if attempt.user_id != _user_id():
        abort(404)
    return attempt


def answers_schema(questions: Any) -> Schema:
    """A schema for the answers form of these questions (field ``q<id>``, composite fields expanded)."""
    spec: dict[str, fields.Field] = {}
    for q in questions:
        name = f"q{q.id}"
        if q.interaction_type == "choice" and q.options.get("multiple"):
            spec[name] = fields.List(String(), load_default=list)
        elif q.interaction_type == "numeric":
            spec[name] = fields.Float(load_default=None, allow_none=True)
        elif q.interaction_type in ("matching", "sequencing"):
            items = q.options.get("source" if q.interaction_type == "matching" else "choices", [])
            for item in items:
                spec[f"{name}_{item['id']}"] = String(load_default="")
        else:
            spec[name] = String(load_default=None, allow_none=True)
    return Schema.from_dict(spec)(unknown="exclude")


def collect_answers(questions: Any, data: dict[str, Any]) -> dict[int, Any]:
    """Answers by question id in the form the assessment service grades (lists, maps, orders)."""
    answers: dict[int, Any] = {}
    for q in questions:
        name = f"q{q.id}"
        if q.interaction_type == "matching":
            pairs = {s["id"]: data.get(f"{name}_{s['id']}") for s in q.options.get("source", [])}
            answers[q.id] = {k: v for k, v in pairs.items() if v}
        elif q.interaction_type == "sequencing":
            positions = {c["id"]: data.get(f"{name}_{c['id']}") or "99" for c in q.options.get("choices", [])}
            answers[q.id] = sorted(positions, key=lambda cid: (int(positions[cid]) if positions[cid].isdigit()
                                                               else 99, cid))
        elif data.get(name) not in (None, "", []):
            answers[q.id] = data[name]
    return answers


def _answer_errors(questions: Any, messages: Any) -> list[str]:
    """The form's errors as the learner knows the questions: by number, in order."""
    numbers = {f"q{q.id}": n for n, q in enumerate(questions, start=1)}
    found: dict[int, list[str]] = {}
    for name, problems in (messages.items() if isinstance(messages, dict) else [("", messages)]):
        number = numbers.get(str(name).split("_", 1)[0], 0)
        found.setdefault(number, []).extend(problems if isinstance(problems, list) else [str(problems)])
    return [f"Question {n}: {' '.join(problems)}" if n else " ".join(problems)
            for n, problems in sorted(found.items())]


@bp.get("/attempts/<int:attempt_id>", endpoint="attempt")
@login_required
def attempt(attempt_id: int) -> str:
    info = _my_attempt(attempt_id)
    return _attempt_page(info, paged=request.args.get("one") == "1", page=0)


def _attempt_page(info: Any, *, paged: bool, page: int, values: Any = None, errors: Any = None,
                  status: int = 200) -> Any:
    """The questions of an attempt: all on one page, or one per page carrying the others' answers."""
    page = max(0, min(page, len(info.questions) - 1))
    return render_template("portal/attempt.html", attempt=info, now=utcnow(), errors=errors or [],
                           step_id=request.args.get("step", type=int), paged=paged, page=page,
                           values=values if values is not None else MultiDict(),
                           assessment=assessments.get_assessment(get_session(), info.assessment_id,
                                                                 with_answers=False)), status


@bp.post("/attempts/<int:attempt_id>")
@login_required
def submit_attempt(attempt_id: int) -> Any:
    info = _my_attempt(attempt_id)
    paging, _ = load_form(PagingForm())
    paging = paging or {"go": "submit", "page": 0}
    if paging["go"] != "submit":  # one question per page: move, keeping every answer given so far
        step = 1 if paging["go"] == "next" else -1
        return _attempt_page(info, paged=True, page=paging["page"] + step, values=request.form)
    schema = answers_schema(info.questions)
    # A question left blank is unanswered (graded as wrong), not unreadable: an empty number field
    # sends "", and a timed attempt is submitted as it stands when the time is up.
    posted = {name: value for name, value in form_values(schema).items() if value != ""}
    try:
        data = schema.load(posted)
    except ValidationError as exc:
        return _attempt_page(info, paged="page" in request.form, page=paging["page"], values=request.form,
                             errors=_answer_errors(info.questions, exc.messages), status=400)
    result = assessments.submit_attempt(get_session(), attempt_id, _user_id(),
                                        collect_answers(info.questions, data))
    assessment_info = assessments.get_assessment(get_session(), info.assessment_id, with_answers=False)
    step_id = request.args.get("step", type=int)
    pathway_id = services.get_step(get_session(), step_id).pathway_id if step_id else None
    return render_template("portal/attempt_result.html", attempt=info, result=result,
                           assessment=assessment_info, questions={q.id: q for q in info.questions},
                           step_id=step_id, pathway_id=pathway_id)
