"""Attendance sheets for sessions: administrators for everyone, instructors for their classes' learners."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from marshmallow import fields

from cairn.auth import current_user, login_required
from cairn.db import get_session
from cairn.errors import CairnError
from cairn.fields import Integer
from cairn.pages import load_form
from pathways import actions, services
from pathways.admin.blueprint import bp
from pathways.admin.forms import PageForm


class AttendanceForm(PageForm):
    learner_ids = fields.List(Integer(), load_default=list)  # everyone on the sheet
    attended = fields.List(Integer(), load_default=list)     # the boxes ticked


def staff_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Administrators, or instructors of at least one class."""
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None or not (user.is_admin or services.is_instructor(get_session(), user.id)):
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def _learners_for(step: Any) -> list[int]:
    """Who belongs on this session's sheet for the viewer: enrolled learners (an instructor: theirs only)."""
    session = get_session()
    user = current_user()
    assert user is not None
    pathway = services.get_pathway(session, step.pathway_id).pathway
    learners = set(services.learners_of_lineage(session, pathway.lineage))
    if not user.is_admin:
        learners &= services.learners_taught_by(session, user.id)
    return sorted(learners)


@bp.get("/sessions", endpoint="sessions")
@staff_required
def sessions() -> str:
    session = get_session()
    rows = []
    for pathway in services.list_pathways(session, status="published"):
        for step in services.get_pathway(session, pathway.id).steps:
            if step.kind == "session":
                rows.append((pathway, step))
    rows.sort(key=lambda row: (row[1].session_starts_at is None, row[1].session_starts_at, row[1].title))
    user = current_user()
    layout = "admin_layout.html" if user is not None and user.is_admin else "base.html"
    return render_template("pathways_admin/sessions.html", rows=rows, layout=layout)


@bp.get("/steps/<int:step_id>/attendance", endpoint="attendance")
@staff_required
def attendance(step_id: int) -> str:
    step = services.get_step(get_session(), step_id)
    if step.kind != "session":
        abort(404)
    sheet = actions.attendance_sheet(get_session(), step_id, _learners_for(step))
    user = current_user()
    layout = "admin_layout.html" if user is not None and user.is_admin else "base.html"
    return render_template("pathways_admin/attendance.html", step=step, sheet=sheet, layout=layout,
                           present=sum(1 for e in sheet if e.attended))


@bp.post("/steps/<int:step_id>/attendance")
@staff_required
def mark_attendance(step_id: int) -> Any:
    step = services.get_step(get_session(), step_id)
    data, errors = load_form(AttendanceForm())
    if data is None:
        abort(400)
    allowed = set(_learners_for(step))
    before = {e.user_id: e.attended
              for e in actions.attendance_sheet(get_session(), step_id, sorted(allowed))}
    user = current_user()
    assert user is not None
    changed = 0
    try:
        for learner_id in data["learner_ids"]:
            if learner_id not in allowed:
                continue
            wanted = learner_id in data["attended"]
            if before.get(learner_id) != wanted:
                actions.mark_attendance(get_session(), step_id, learner_id, attended=wanted,
                                        marked_by=user.id)
                changed += 1
    except CairnError as exc:
        flash(f"Attendance not saved: {exc.message}", "error")
        # Nothing of this submission is kept: the request rolls back on the error status.
        return render_template("pathways_admin/attendance.html", step=step, layout="admin_layout.html"
                               if user.is_admin else "base.html",
                               sheet=actions.attendance_sheet(get_session(), step_id, sorted(allowed)),
                               present=sum(1 for v in before.values() if v)), exc.status
    flash(f"Attendance saved ({changed} change{'' if changed == 1 else 's'}).")
    return redirect(url_for("pathways_admin.attendance", step_id=step_id))
